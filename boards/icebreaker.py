"""iCEBreaker (1BitSquared): iCE40 UP5K-SG48 with an FT2232H for programming and UART.

- Clock: 12 MHz oscillator on pin 35, the input pad of the UP5K's PLL. The learning core
  (the default build) runs at 6 MHz, the oscillator divided by 2 in logic, since the PLL
  makes nothing below 16 MHz.
- UART: FT2232H channel B (the second serial port of the board, e.g. ``/dev/ttyUSB1``),
  FPGA pin 6 receives, pin 9 transmits.
- LED: the green user LED (pin 37) shows host link traffic.
- Programming: the SPI flash through FT2232H channel A (``iceprog``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from amaranth.hdl import Instance, Signal
from amaranth_boards.icebreaker import ICEBreakerPlatform

from .base import (
    MHZ,
    Board,
    BoardTop,
    ClockSource,
    Programmer,
    ice40_divided_clock,
    request_input,
    request_output,
    request_uart,
)

__all__ = ["BOARD", "ICEBreaker", "ICEBreakerTop"]


class ICEBreakerTop(BoardTop):
    """LinkedCore on the iCEBreaker's UART, with the green LED as activity light."""

    def uart(self, m, platform):
        return request_uart(m, platform, 0)

    def activity_led(self, m, platform):
        return request_output(m, platform, "led_g", 0)

    def pll(self, m, platform):
        # The oscillator pin is the PLL's own input pad: SB_PLL40_PAD takes it directly,
        # without an SB_IO in between.
        pad = platform.request("clk12", 0, dir="-")
        clk, locked = Signal(name="pll_clk"), Signal(name="pll_locked")
        settings = self.clock.pll.dividers
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=settings["DIVR"],
            p_DIVF=settings["DIVF"],
            p_DIVQ=settings["DIVQ"],
            p_FILTER_RANGE=settings["FILTER_RANGE"],
            i_PACKAGEPIN=pad.io,
            i_RESETB=1,
            i_BYPASS=0,
            o_PLLOUTGLOBAL=clk,
            o_LOCK=locked,
        )
        return clk, locked

    def divided_clock(self, m, platform):
        return ice40_divided_clock(m, request_input(m, platform, "clk12", 0),
                                   self.clock.divider)


class ICEBreaker(Board):
    name = "icebreaker"
    title = "iCEBreaker (iCE40 UP5K-SG48)"
    family = "ice40"
    devices = ("UP5K",)
    clock_sources = (
        # 6, 4 and 3 MHz divided in logic: the PLL starts at 16 MHz.
        ClockSource("clk12", 12 * MHZ, "on-board oscillator, pin 35", (12 * MHZ,),
                    divisors=(2, 3, 4)),
    )
    default_clock = 12 * MHZ
    # Without learning (--no-learning): 64 inputs, 128 hidden neurons (recurrent), 16
    # readouts: 26624 synapses with delays up to 31 steps, in two of the four SPRAM blocks
    # (13-bit words: 8-bit weight, 5-bit delay).
    default_params: ClassVar[dict[str, Any]] = {
        "max_in": 64, "max_hidden": 128, "max_out": 16, "d_max": 32, "recurrent": True,
        "synapse_memory": "spram",
    }
    # The default: the learning core with weight and delay learning, 32 inputs, 112 hidden
    # neurons (recurrent), 10 readouts: 17248 synapses with delays up to 31 steps. It fills
    # about 98 % of the logic cells with the lean parts and formats below (10-bit v, y and
    # l with 6-bit traces did not fit); the synapses take two SPRAM blocks and the x and u trace rings one each,
    # since in block RAM the rings alone would need more blocks than the UP5K has.
    learning_params: ClassVar[dict[str, Any]] = {
        "max_in": 32, "max_hidden": 112, "max_out": 10, "d_max": 32, "recurrent": True,
        "synapse_memory": "spram", "learning": True, "trace_memory": "spram",
        "softmax": False, "random_feedback": False, "stochastic_rounding": False,
        "v_bits": 8, "y_bits": 8, "l_bits": 8, "trace_bits": 5, "u_bits": 5,
        "kernel_max_half_width": 1,
    }
    # That dense placement reaches about 12 MHz, no margin at the oscillator's 12 MHz: half
    # of it leaves margin on every placement.
    learning_clock = 6 * MHZ
    uart_pins = "FT2232H channel B: FPGA rx pin 6, tx pin 9"
    led = "green LED (pin 37)"
    programmers = (
        Programmer("iceprog", ("{bitstream}",), "fpga-icestorm"),
        Programmer("openFPGALoader", ("-b", "ice40_generic", "{bitstream}"), "openfpgaloader"),
    )
    synth_opts = "-dsp"

    def platform(self, device):
        return ICEBreakerPlatform()

    def has_spram(self, device):
        return True

    def top(self, params, clock, baud):
        return ICEBreakerTop(params, clock, baud)


BOARD = ICEBreaker()
