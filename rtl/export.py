"""Verilog output of a core.

From Python::

    from rtl.export import verilog
    text = verilog(CoreParams(max_in=16, max_hidden=32, max_out=4, recurrent=True))

From the command line (every :class:`~rtl.params.CoreParams` parameter is an option)::

    python -m rtl.export --out core.v --max-in 16 --max-hidden 32 --max-out 4 --recurrent
    python -m rtl.export --out core.v --network examples/net_small.json --max-hidden 64

The top-level module has a synchronous reset ``rst`` and clock ``clk`` (Amaranth's ``sync``
domain) and the ports of :class:`~rtl.core.Core`, with the bus flattened as ``bus__addr``,
``bus__w_data``, ``bus__w_en``, ``bus__r_en`` and ``bus__r_data``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys

from .params import SYNAPSE_MEMORIES, CoreParams

__all__ = ["convert", "main", "verilog"]


def verilog(params: CoreParams, name: str = "delaycore_core", *, platform=None) -> str:
    """Verilog source of a :class:`~rtl.core.Core` built with ``params``.

    Parameters
    ----------
    params : CoreParams
        Capacity and number formats.
    name : str
        Name of the top-level module.
    platform : optional
        Passed to the elaboration. Without one, vendor blocks are replaced by behavioural
        models (the SPRAM synapse memory of ``synapse_memory="spram"``); with
        :class:`rtl.spram.SPRAMPrimitivePlatform` they are ``SB_SPRAM256KA`` instances.
    """
    from .core import Core

    if not isinstance(params, CoreParams):
        raise TypeError(f"params must be a CoreParams, got {type(params).__name__}")
    _check_name(name)
    return convert(Core(params), name=name, platform=platform)


def _check_name(name):
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Verilog identifier, got {name!r}")


def convert(component, name: str, *, platform=None) -> str:
    """Verilog of any Amaranth component, made safe for event-driven simulators.

    :func:`amaranth.back.verilog.convert` (ports from the component's signature, no source
    locations, elaborated for ``platform``), with the ``always @*`` blocks triggered at time 0
    in every Verilog mode (see :func:`_trigger_at_time_zero`). Use this for every top level
    that is simulated with Icarus Verilog through cocotb.
    """
    from amaranth.back import verilog as back_verilog

    _check_name(name)
    text = back_verilog.convert(component, name=name, platform=platform, emit_src=False)
    return _trigger_at_time_zero(text)


# Yosys gives every ``always @*`` block a dummy read of this register, initialised to 0, so that
# the change of its value at time 0 runs each block once. In SystemVerilog mode (Icarus
# ``-g2012``, which cocotb uses) a declaration initialiser makes no event, so blocks whose
# inputs never change (a state register held at its reset value, constants) stay ``x``.
_TRIGGER = re.compile(
    r"^(?P<indent>[ \t]*)reg "
    r"(?P<name>\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) +=[ ]*0;$",
    re.MULTILINE)


def _trigger_at_time_zero(text: str) -> str:
    """Set the ``always @*`` trigger from an ``initial`` block, which makes an event in every mode.

    The assignment is non-blocking, so it takes effect after every ``always`` block has reached
    its event control at time 0, without a delay (which Verilator would need ``--timing`` for).
    """
    def replace(match):
        indent, name = match["indent"], match["name"]
        return f"{indent}reg {name} ;\n{indent}initial {name} <= 1'h0;"

    return _TRIGGER.sub(replace, text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rtl.export",
        description="Write the Verilog of a delaycore core.")
    parser.add_argument("--out", default="-",
                        help="output file (default: standard output)")
    parser.add_argument("--name", default="delaycore_core",
                        help="top-level module name (default: %(default)s)")
    parser.add_argument("--network", metavar="FILE",
                        help="size the core for this network file (.json/.toml); the options "
                             "below override single parameters")
    defaults = {f.name: f.default for f in dataclasses.fields(CoreParams)}
    for field in dataclasses.fields(CoreParams):
        option = "--" + field.name.replace("_", "-")
        if field.name == "recurrent":
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=None,
                                help="build the recurrent projection (default: no)")
        elif field.name == "synapse_memory":
            parser.add_argument(option, choices=SYNAPSE_MEMORIES, default=None,
                                help="synapse memory: block RAM or iCE40 UltraPlus SPRAM (a "
                                     "behavioural model in this Verilog) (default: bram)")
        elif isinstance(defaults[field.name], bool):
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=None,
                                help=f"(default: {'yes' if defaults[field.name] else 'no'})")
        else:
            default = defaults[field.name]
            shown = default if default is not None else (
                "dense maximum" if field.name == "max_synapses" else "derived from the others")
            parser.add_argument(option, type=int, default=None, metavar="N",
                                help=f"(default: {shown})")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(CoreParams)
                 if getattr(args, f.name) is not None}
    try:
        if args.network is not None:
            from golden.network import NetworkError, load_network
            try:
                net = load_network(args.network)
            except NetworkError as err:
                parser.error(str(err))
            params = CoreParams.for_network(net, **overrides)
        else:
            params = CoreParams(**overrides)
        text = verilog(params, name=args.name)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    if args.out == "-":
        sys.stdout.write(text)
    else:
        try:
            with open(args.out, "w") as f:
                f.write(text)
        except OSError as err:
            parser.error(f"cannot write {args.out}: {err.strerror}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
