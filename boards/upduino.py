"""UPduino v3 (tinyVision.ai): iCE40 UP5K-SG48 with an FT232H for programming.

- Clock: the UP5K's internal 48 MHz oscillator (``SB_HFOSC``, divided to 48/24/12/6 MHz),
  so that no soldering is needed; 12 MHz for the inference core, 6 MHz for the learning
  core (the default build). It is only specified to +-10 %, which a UART at 2 %
  tolerance may not survive on every chip; ``--clock-source clk12`` uses the board's
  12 MHz crystal oscillator instead, once the ``OSC`` jumper connects it to pin 20.
- UART: the FT232H is the board's only USB device. After configuration it works as a serial
  port (``/dev/ttyUSB0``) over the lines that reach the SPI flash: FPGA pin 15 (flash
  clock) receives, pin 14 (flash data in) transmits, and the flash's chip select (pin 16)
  is held high so that the flash ignores the traffic.
- LED: the green channel of the RGB LED (``SB_RGBA_DRV``, pin 39) shows host link traffic.
- Programming: the SPI flash through the FT232H (``iceprog``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from amaranth.build import Attrs, Pins, Resource
from amaranth.hdl import Instance, Signal
from amaranth_boards.resources import UARTResource
from amaranth_boards.upduino_v3 import UpduinoV3Platform

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
from .icebreaker import ICEBreaker

__all__ = ["BOARD", "UPduino", "UPduinoTop"]

# HFOSC divider exponent (CLKHF_DIV) for each frequency it makes.
_HFOSC_DIV = {48 * MHZ: 0, 24 * MHZ: 1, 12 * MHZ: 2, 6 * MHZ: 3}

# The serial lines of the FT232H in UART mode and the flash chip select that must stay high.
_RESOURCES = [
    UARTResource(1, rx="15", tx="14", attrs=Attrs(IO_STANDARD="SB_LVCMOS", PULLUP=1)),
    Resource("flash_cs_n", 0, Pins("16", dir="o"), Attrs(IO_STANDARD="SB_LVCMOS")),
]


class UPduinoTop(BoardTop):
    """LinkedCore on the UPduino's FT232H serial lines, with the green LED as activity light."""

    def uart(self, m, platform):
        platform.add_resources(_RESOURCES)
        m.d.comb += request_output(m, platform, "flash_cs_n", 0).eq(1)
        return request_uart(m, platform, 1)

    def activity_led(self, m, platform):
        # Pins 39-41 are the UP5K's constant-current LED drivers, not ordinary I/O.
        pads = platform.request("rgb_led", 0, dir="-")
        green = Signal()
        m.submodules.rgb_driver = Instance(
            "SB_RGBA_DRV",
            p_CURRENT_MODE="0b1",         # half current: 2 mA steps
            p_RGB0_CURRENT="0b000001",    # 2 mA: bright enough, and gentle on the LED
            p_RGB1_CURRENT="0b000001",
            p_RGB2_CURRENT="0b000001",
            i_CURREN=1,
            i_RGBLEDEN=1,
            i_RGB0PWM=green,
            i_RGB1PWM=0,
            i_RGB2PWM=0,
            o_RGB0=pads.g.io,
            o_RGB1=pads.b.io,
            o_RGB2=pads.r.io,
        )
        return green

    def _hfosc(self, m, freq):
        hfosc_clk = Signal()
        m.submodules.hfosc = Instance(
            "SB_HFOSC",
            p_CLKHF_DIV=f"0b{_HFOSC_DIV[freq]:02b}",
            i_CLKHFEN=1,
            i_CLKHFPU=1,
            o_CLKHF=hfosc_clk,
        )
        return hfosc_clk

    def direct_clock(self, m, platform):
        # Amaranth's own HFOSC domain gives nextpnr no frequency to check timing against.
        if self.clock.source.name == "hfosc":
            return self._hfosc(m, self.clock.freq), 1
        return request_input(m, platform, "clk12", 0), 1

    def divided_clock(self, m, platform):
        # Only the 12 MHz oscillator is divided in logic: SB_HFOSC divides itself.
        return ice40_divided_clock(m, request_input(m, platform, "clk12", 0),
                                   self.clock.divider)

    def pll(self, m, platform):
        clk, locked = Signal(name="pll_clk"), Signal(name="pll_locked")
        if self.clock.source.name == "hfosc":
            reference = self._hfosc(m, UPDUINO_PLL_REFERENCE)
        else:
            reference = request_input(m, platform, "clk12", 0)
        settings = self.clock.pll.dividers
        m.submodules.pll = Instance(
            "SB_PLL40_CORE",
            p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=settings["DIVR"],
            p_DIVF=settings["DIVF"],
            p_DIVQ=settings["DIVQ"],
            p_FILTER_RANGE=settings["FILTER_RANGE"],
            i_REFERENCECLK=reference,
            i_RESETB=1,
            i_BYPASS=0,
            o_PLLOUTGLOBAL=clk,
            o_LOCK=locked,
        )
        return clk, locked


#: HFOSC frequency fed to the PLL: 12 MHz keeps the dividers those of a 12 MHz crystal.
UPDUINO_PLL_REFERENCE = 12 * MHZ


class UPduino(Board):
    name = "upduino"
    title = "UPduino v3 (iCE40 UP5K-SG48)"
    family = "ice40"
    devices = ("UP5K",)
    clock_sources = (
        ClockSource("hfosc", 48 * MHZ, "internal oscillator SB_HFOSC, +-10 %",
                    tuple(sorted(_HFOSC_DIV, reverse=True))),
        # 6, 4 and 3 MHz divided in logic, as on the iCEBreaker.
        ClockSource("clk12", 12 * MHZ, "12 MHz oscillator on pin 20, needs the OSC jumper",
                    (12 * MHZ,), divisors=(2, 3, 4)),
    )
    default_clock = 12 * MHZ
    # The same device as the iCEBreaker: the same default capacities, the learning core by
    # default at the same 6 MHz (here SB_HFOSC's own divider).
    default_params: ClassVar[dict[str, Any]] = {
        "max_in": 64, "max_hidden": 128, "max_out": 16, "d_max": 32, "recurrent": True,
        "synapse_memory": "spram",
    }
    learning_params: ClassVar[dict[str, Any]] = ICEBreaker.learning_params
    learning_clock = ICEBreaker.learning_clock
    uart_pins = ("FT232H in UART mode: FPGA rx pin 15, tx pin 14 (the flash lines; flash "
                 "chip select pin 16 held high)")
    led = "green channel of the RGB LED (pin 39, SB_RGBA_DRV)"
    programmers = (
        Programmer("iceprog", ("{bitstream}",), "fpga-icestorm"),
        Programmer("openFPGALoader", ("-b", "ice40_generic", "-c", "ft232", "{bitstream}"),
                   "openfpgaloader"),
    )
    synth_opts = "-dsp"

    def platform(self, device):
        return UpduinoV3Platform()

    def has_spram(self, device):
        return True

    def pll_input(self, source):
        return UPDUINO_PLL_REFERENCE if source.name == "hfosc" else source.freq

    def top(self, params, clock, baud):
        return UPduinoTop(params, clock, baud)


BOARD = UPduino()
