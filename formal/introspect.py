"""Looking inside an elaborated Amaranth module from a formal harness.

A harness elaborates the design under proof itself (``module = dut.elaborate(platform)``)
and adds the resulting :class:`~amaranth.hdl.Module` as a submodule; these helpers then
reach the design's FSM state and internal registers without a debug port in the design.
They use Amaranth 0.5 internals (``Module._generated``, ``Module._statements``), which the
project pins (``amaranth>=0.5.10,<0.6``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module

__all__ = ["find_signal", "fsm_state"]


def find_signal(module: Module, name: str):
    """The signal named ``name`` that an elaborated ``module`` assigns (in any domain).

    Harnesses use it to read a register of the design under proof without a debug port: an
    assertion that the register equals its counterpart in the reference model is a lemma
    that keeps the solver from re-deriving the equivalence over every earlier cycle.
    """
    from amaranth.hdl._ast import Assign, Switch
    from amaranth.hdl._ast import Signal as _Signal

    found = {}

    def walk(statements):
        for statement in statements:
            if isinstance(statement, Assign):
                for signal in statement.lhs._lhs_signals():
                    if isinstance(signal, _Signal) and signal.name == name:
                        found[id(signal)] = signal
            elif isinstance(statement, Switch):
                for _patterns, body, _src in statement.cases:
                    walk(body)

    for statements in module._statements.values():
        walk(statements)
    if len(found) != 1:
        raise LookupError(f"expected one signal named {name!r}, found {len(found)}")
    return next(iter(found.values()))


def fsm_state(module: Module, fsm_name: str, *states: str):
    """A signal that is 1 while FSM ``fsm_name`` of an elaborated ``module`` is in ``states``.

    Reads the FSM's state register after elaboration (Amaranth 0.5 keeps it in
    ``Module._generated``), so harnesses observe the state without a debug port.
    """
    fsm = module._generated[fsm_name]
    signal = fsm._data["signal"]
    return Cat(signal == fsm.encoding[state] for state in states).any()
