"""ULX3S (Radiona): ECP5 LFE5U-12F/25F/45F/85F-CABGA381 with an FT231X for UART.

- Clock: 25 MHz oscillator (pin G2).
- UART: the FT231X on the "US1" USB port (e.g. ``/dev/ttyUSB0``): FPGA pin M1 receives,
  pin L4 transmits. The same port loads the bitstream (``openFPGALoader -b ulx3s``).
- LED: LED 0 (pin B2) shows host link traffic.

ECP5 has no SPRAM: the synapse words go to block RAM (``DP16KD``, 18 kbit each), and the
multiplier of the neuron unit to a ``MULT18X18D``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from amaranth.hdl import Instance, Signal
from amaranth_boards.ulx3s import (
    ULX3S_12F_Platform,
    ULX3S_25F_Platform,
    ULX3S_45F_Platform,
    ULX3S_85F_Platform,
)

from .base import (
    MHZ,
    Board,
    BoardTop,
    ClockSource,
    Programmer,
    request_input,
    request_output,
    request_uart,
)

__all__ = ["BOARD", "ULX3S", "ULX3STop"]

_PLATFORMS = {
    "85F": ULX3S_85F_Platform,
    "45F": ULX3S_45F_Platform,
    "25F": ULX3S_25F_Platform,
    "12F": ULX3S_12F_Platform,
}


class ULX3STop(BoardTop):
    """LinkedCore on the ULX3S's FT231X serial port, with LED 0 as activity light."""

    def uart(self, m, platform):
        return request_uart(m, platform, 0)

    def activity_led(self, m, platform):
        return request_output(m, platform, "led", 0)

    def pll(self, m, platform):
        reference = request_input(m, platform, "clk25", 0)
        clk, locked = Signal(name="pll_clk"), Signal(name="pll_locked")
        settings = self.clock.pll.dividers
        m.submodules.pll = Instance(
            "EHXPLLL",
            # Loop filter settings that ecppll uses for every configuration.
            a_ICP_CURRENT="12",
            a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            a_FREQUENCY_PIN_CLKI=f"{self.clock.pll.input_freq / MHZ:g}",
            a_FREQUENCY_PIN_CLKOP=f"{self.clock.freq / MHZ:g}",
            p_PLLRST_ENA="DISABLED",
            p_INTFB_WAKE="DISABLED",
            p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED",
            p_OUTDIVIDER_MUXA="DIVA",
            p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC",
            p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=settings["CLKI_DIV"],
            p_CLKOP_ENABLE="ENABLED",
            p_CLKOP_DIV=settings["CLKOP_DIV"],
            p_CLKOP_CPHASE=(settings["CLKOP_DIV"] - 1) // 2,  # as ecppll sets it
            p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP",
            p_CLKFB_DIV=settings["CLKFB_DIV"],
            i_RST=0,
            i_STDBY=0,
            i_CLKI=reference,
            i_CLKFB=clk,
            i_PHASESEL0=0,
            i_PHASESEL1=0,
            i_PHASEDIR=1,
            i_PHASESTEP=1,
            i_PHASELOADREG=1,
            i_PLLWAKESYNC=0,
            i_ENCLKOP=0,
            o_CLKOP=clk,
            o_LOCK=locked,
        )
        return clk, locked


class ULX3S(Board):
    name = "ulx3s"
    title = "ULX3S (ECP5 LFE5U-85F/45F/25F/12F-CABGA381)"
    family = "ecp5"
    devices = tuple(_PLATFORMS)
    clock_sources = (
        ClockSource("clk25", 25 * MHZ, "on-board oscillator, pin G2", (25 * MHZ,)),
    )
    default_clock = 25 * MHZ
    # Per device, what its block RAM holds (measured). 85F: close to the 65536-word limit of
    # the memory map's SYN region (128 inputs, 192 hidden neurons, recurrent, 16 readouts,
    # 64512 synapses, delays up to 63 steps) with the learning engine; 45F: the same without
    # it; 25F: the iCEBreaker's capacity (26624 synapses); 12F: 16896 synapses.
    device_params: ClassVar[dict[str, dict[str, Any]]] = {
        "85F": {"max_in": 128, "max_hidden": 192, "max_out": 16, "d_max": 64,
                "recurrent": True, "synapse_memory": "bram", "learning": True},
        "45F": {"max_in": 128, "max_hidden": 192, "max_out": 16, "d_max": 64,
                "recurrent": True, "synapse_memory": "bram"},
        "25F": {"max_in": 64, "max_hidden": 128, "max_out": 16, "d_max": 32,
                "recurrent": True, "synapse_memory": "bram"},
        "12F": {"max_in": 64, "max_hidden": 96, "max_out": 16, "d_max": 32,
                "recurrent": True, "synapse_memory": "bram"},
    }
    default_params: ClassVar[dict[str, Any]] = device_params["85F"]
    uart_pins = "FT231X (US1 port): FPGA rx pin M1, tx pin L4"
    led = "LED 0 (pin B2)"
    programmers = (
        Programmer("openFPGALoader", ("-b", "ulx3s", "{bitstream}"), "openfpgaloader"),
    )

    def platform(self, device):
        return _PLATFORMS[device]()

    def params_for(self, device, learning=None):
        # Each device's default says whether it learns; --learning/--no-learning override it.
        return dict(self.device_params[device])

    def top(self, params, clock, baud):
        return ULX3STop(params, clock, baud)


BOARD = ULX3S()
