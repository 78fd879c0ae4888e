"""What every board build shares: the board description, the clock plan and the top level.

A board module (:mod:`boards.icebreaker`, ...) subclasses :class:`Board` with its platform,
pins, clock sources and default capacity, and :class:`BoardTop` with how its clock domain,
serial lines and LED are wired. :mod:`rtl.build` drives the build from a :class:`Board`.

The clock of the core is either a board oscillator used directly (the platform makes the
``sync`` domain and its power-on reset), a PLL output (the board top makes the domain and
holds it in reset until the PLL has locked), or, below the range of the iCE40 PLL, the
oscillator divided by a counter in logic (:func:`ice40_divided_clock`). :func:`ice40_pll`
and :func:`ecp5_pll` pick the PLL dividers the way Project IceStorm's ``icepll`` and
Project Trellis' ``ecppll`` do.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from amaranth.hdl import (
    Cat,
    ClockDomain,
    ClockSignal,
    Elaboratable,
    Instance,
    Module,
    Mux,
    Signal,
    Value,
)
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer

__all__ = [
    "MHZ",
    "ActivityLED",
    "Board",
    "BoardTop",
    "ClockPlan",
    "ClockSource",
    "PLLSettings",
    "Programmer",
    "ecp5_pll",
    "ecp5_pll_outputs",
    "ice40_divided_clock",
    "ice40_pll",
    "ice40_pll_outputs",
    "request_input",
    "request_output",
    "request_uart",
]

MHZ = 1e6

#: Largest relative difference between a requested clock and the one a PLL makes.
CLOCK_TOLERANCE = 0.005


@dataclasses.dataclass(frozen=True)
class ClockSource:
    """An oscillator the core's clock can be made from.

    Attributes
    ----------
    name : str
        Value of ``--clock-source``.
    freq : float
        Frequency in Hz.
    description : str
        Where it comes from, for ``--list-boards`` and error messages.
    direct : tuple of float
        Frequencies available without a PLL (the oscillator itself, or its dividers).
    divisors : tuple of int
        Ratios by which a counter in logic may divide the oscillator (each at least 2), for
        clocks below what the PLL makes.
    """

    name: str
    freq: float
    description: str
    direct: tuple[float, ...]
    divisors: tuple[int, ...] = ()

    def __post_init__(self):
        for n in self.divisors:
            if not (isinstance(n, int) and n >= 2):
                raise ValueError(f"a clock divisor must be an integer of at least 2, got {n!r}")

    def divided(self) -> dict[float, int]:
        """Frequencies the divisors make, with their divisor; those given directly left out."""
        return {self.freq / n: n for n in self.divisors
                if not any(abs(f - self.freq / n) <= 1e-6 * f for f in self.direct)}


@dataclasses.dataclass(frozen=True)
class PLLSettings:
    """Divider settings of a PLL and the frequencies they give.

    ``dividers`` holds the primitive's parameters by name (``DIVR``, ``DIVF``, ... on iCE40;
    ``CLKI_DIV``, ``CLKFB_DIV``, ``CLKOP_DIV`` on ECP5).
    """

    input_freq: float
    output_freq: float
    vco_freq: float
    dividers: dict[str, int]


@dataclasses.dataclass(frozen=True)
class ClockPlan:
    """How the ``sync`` clock of a build is made.

    Attributes
    ----------
    source : ClockSource
    freq : float
        Frequency of the ``sync`` clock in Hz (what a PLL actually makes, which may differ
        from the request by up to 0.5 %).
    requested : float
        Frequency asked for.
    pll : PLLSettings or None
        ``None`` when the clock is a direct frequency of the source.
    divider : int or None
        The source divided by this in logic (:func:`ice40_divided_clock`), or ``None``.
    """

    source: ClockSource
    freq: float
    requested: float
    pll: PLLSettings | None = None
    divider: int | None = None

    def describe(self) -> str:
        text = f"{self.freq / MHZ:g} MHz from {self.source.name}"
        if self.pll is not None:
            text += f" through the PLL ({self.pll.input_freq / MHZ:g} MHz in)"
        if self.divider is not None:
            text += f" divided by {self.divider} in logic"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "mhz": self.freq / MHZ,
            "requested_mhz": self.requested / MHZ,
            "source": self.source.name,
            "source_mhz": self.source.freq / MHZ,
            "divider": self.divider,
            "pll": None if self.pll is None else {
                "input_mhz": self.pll.input_freq / MHZ,
                "vco_mhz": self.pll.vco_freq / MHZ,
                **self.pll.dividers,
            },
        }


@dataclasses.dataclass(frozen=True)
class Programmer:
    """A program that can load a bitstream onto the board.

    Attributes
    ----------
    tool : str
        Executable name.
    args : tuple of str
        Arguments; ``{bitstream}`` is replaced by the bitstream path.
    package : str
        What to install to get it (Debian/Ubuntu package name).
    """

    tool: str
    args: tuple[str, ...]
    package: str

    def command(self, bitstream: str) -> list[str]:
        return [self.tool] + [a.format(bitstream=bitstream) for a in self.args]


# -- PLL dividers -------------------------------------------------------------------------------

def ice40_pll(input_freq: float, output_freq: float) -> PLLSettings:
    """iCE40 ``SB_PLL40_*`` settings in simple feedback mode, as ``icepll`` computes them.

    ``f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)``, with the phase detector input
    ``f_in / (DIVR + 1)`` in [10, 133] MHz and the VCO in [533, 1066] MHz. ``FILTER_RANGE``
    follows the phase detector frequency.

    Raises
    ------
    ValueError
        ``output_freq`` is outside the PLL's output range [16, 275] MHz.
    """
    if not 16 * MHZ <= output_freq <= 275 * MHZ:
        raise ValueError(f"the iCE40 PLL makes 16 to 275 MHz, not {output_freq / MHZ:g} MHz")
    best = None
    for divr in range(16):
        f_pfd = input_freq / (divr + 1)
        if not 10 * MHZ <= f_pfd <= 133 * MHZ:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533 * MHZ <= f_vco <= 1066 * MHZ:
                continue
            for divq in range(1, 7):
                f_out = f_vco / 2 ** divq
                error = abs(f_out - output_freq)
                if best is None or error < best[0]:
                    best = (error, divr, divf, divq, f_pfd, f_vco, f_out)
    if best is None:
        raise ValueError(f"the iCE40 PLL cannot run from {input_freq / MHZ:g} MHz")
    _, divr, divf, divq, f_pfd, f_vco, f_out = best
    filter_range = next(n for n, limit in enumerate((17, 26, 44, 66, 101), start=1)
                        if f_pfd < limit * MHZ) if f_pfd < 101 * MHZ else 6
    return PLLSettings(input_freq=input_freq, output_freq=f_out, vco_freq=f_vco, dividers={
        "DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filter_range})


def ecp5_pll(input_freq: float, output_freq: float) -> PLLSettings:
    """ECP5 ``EHXPLLL`` settings with ``CLKOP`` feedback, as ``ecppll`` computes them.

    ``f_out = f_in / CLKI_DIV * CLKFB_DIV``, with the VCO ``f_out * CLKOP_DIV`` in
    [400, 800] MHz (nearest 600 MHz among equally good settings) and the phase detector
    input in [3.125, 400] MHz.

    Raises
    ------
    ValueError
        ``output_freq`` is outside the PLL's output range [10, 400] MHz.
    """
    if not 10 * MHZ <= output_freq <= 400 * MHZ:
        raise ValueError(f"the ECP5 PLL makes 10 to 400 MHz, not {output_freq / MHZ:g} MHz")
    best = None
    for clki_div in range(1, 129):
        f_pfd = input_freq / clki_div
        if not 3.125 * MHZ <= f_pfd <= 400 * MHZ:
            continue
        for clkfb_div in range(1, 81):
            f_out = f_pfd * clkfb_div
            # Only the output dividers that put the VCO in its range.
            first = max(1, math.ceil(400 * MHZ / f_out))
            last = min(128, math.floor(800 * MHZ / f_out))
            for clkop_div in range(first, last + 1):
                f_vco = f_out * clkop_div
                error = abs(f_out - output_freq)
                # Equal errors: the VCO nearest the middle of its range, as ecppll does.
                if (best is None or error < best[0]
                        or (error == best[0] and abs(f_vco - 600 * MHZ) < abs(best[4] - 600 * MHZ))):
                    best = (error, clki_div, clkfb_div, clkop_div, f_vco, f_out)
    if best is None:
        raise ValueError(f"the ECP5 PLL cannot run from {input_freq / MHZ:g} MHz")
    _, clki_div, clkfb_div, clkop_div, f_vco, f_out = best
    return PLLSettings(input_freq=input_freq, output_freq=f_out, vco_freq=f_vco, dividers={
        "CLKI_DIV": clki_div, "CLKFB_DIV": clkfb_div, "CLKOP_DIV": clkop_div})


def ice40_pll_outputs(input_freq: float) -> set[float]:
    """Every frequency the iCE40 PLL makes from ``input_freq`` (see :func:`ice40_pll`)."""
    outputs = set()
    for divr in range(16):
        f_pfd = input_freq / (divr + 1)
        if not 10 * MHZ <= f_pfd <= 133 * MHZ:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if 533 * MHZ <= f_vco <= 1066 * MHZ:
                outputs.update(f for q in range(1, 7)
                               if 16 * MHZ <= (f := f_vco / 2 ** q) <= 275 * MHZ)
    return outputs


def ecp5_pll_outputs(input_freq: float) -> set[float]:
    """Every frequency the ECP5 PLL makes from ``input_freq`` (see :func:`ecp5_pll`)."""
    outputs = set()
    for clki_div in range(1, 129):
        f_pfd = input_freq / clki_div
        if not 3.125 * MHZ <= f_pfd <= 400 * MHZ:
            continue
        for clkfb_div in range(1, 81):
            f_out = f_pfd * clkfb_div
            if (10 * MHZ <= f_out <= 400 * MHZ
                    and math.ceil(400 * MHZ / f_out) <= min(128, math.floor(800 * MHZ / f_out))):
                outputs.add(f_out)
    return outputs


def ice40_divided_clock(m, source_clk, divider: int):
    """``source_clk`` divided by ``divider`` in logic, on an iCE40 global buffer.

    A counter in a reset-less domain of the source clock makes a register that is high for
    the first ``divider // 2`` of every ``divider`` source cycles; the register drives the
    clock net through ``SB_GB``, so the divided clock reaches every cell with the skew of a
    global net, as a PLL output does. The design uses rising edges only, so an odd divisor's
    uneven duty cycle costs nothing. The divided clock is in phase with the source but no
    path crosses between the two: only the counter runs on the source.

    Returns
    -------
    Signal
        The divided clock.
    """
    if not (isinstance(divider, int) and divider >= 2):
        raise ValueError(f"the clock divisor must be an integer of at least 2, got {divider!r}")
    m.domains.board_div = ClockDomain("board_div", reset_less=True, local=True)
    m.d.comb += ClockSignal("board_div").eq(source_clk)
    count = Signal(range(divider), name="clk_div_count")
    nxt = Mux(count == divider - 1, 0, count + 1)
    phase = Signal(name="clk_div_phase")
    m.d.board_div += [count.eq(nxt), phase.eq(nxt < divider // 2)]
    # Kept under its own name, which the clock constraint refers to: otherwise Yosys keeps
    # one of the names of the domains it drives, and nextpnr finds no net "clk_div".
    clk = Signal(name="clk_div", attrs={"keep": 1})
    m.submodules.clk_div_buffer = Instance(
        "SB_GB",
        i_USER_SIGNAL_TO_GLOBAL_BUFFER=phase,
        o_GLOBAL_BUFFER_OUTPUT=clk,
    )
    return clk


# -- boards -------------------------------------------------------------------------------------

class Board:
    """Description of a board that delaycore builds for.

    Subclasses set the class attributes and implement :meth:`platform` and :meth:`top`.

    Attributes
    ----------
    name : str
        Value of ``--board``.
    title : str
        Human-readable name.
    family : {"ice40", "ecp5"}
        FPGA family (selects the tools).
    devices : tuple of str
        FPGA variants the board is made with (values of ``--device``); the first is the
        default.
    clock_sources : tuple of ClockSource
        Oscillators; the first is the default.
    default_clock : float
        Clock of the core in Hz unless ``--clock`` says otherwise.
    default_params : dict
        :class:`~rtl.params.CoreParams` arguments of the default build.
    learning_params : dict or None
        Where set, the default build is this learning core instead, and ``--no-learning``
        gives ``default_params``.
    learning_clock : float or None
        Clock of a learning build in Hz unless ``--clock`` says otherwise (default:
        ``default_clock``).
    uart_pins, led : str
        Where the serial lines and the activity LED are, for the board guide.
    programmers : tuple of Programmer
        Tried in order by ``--program``.
    synth_opts : str
        Extra options of Yosys' ``synth_<family>`` (``-dsp`` maps multipliers to the
        UltraPlus DSP blocks).
    """

    name: str
    title: str
    family: str
    devices: tuple[str, ...]
    clock_sources: tuple[ClockSource, ...]
    default_clock: float
    default_params: dict[str, Any]
    learning_params: dict[str, Any] | None = None
    learning_clock: float | None = None
    uart_pins: str
    led: str
    programmers: tuple[Programmer, ...]
    synth_opts: str = ""

    # -- devices and platforms --------------------------------------------------------------

    @property
    def default_device(self) -> str:
        return self.devices[0]

    def params_for(self, device: str, learning: bool | None = None) -> dict[str, Any]:
        """:class:`~rtl.params.CoreParams` arguments of the default build on ``device``.

        ``learning`` is what ``--learning/--no-learning`` asked for (``None``: neither); a
        board with :attr:`learning_params` builds those unless it is ``False``.
        """
        if self.learning_params is not None and learning is not False:
            return dict(self.learning_params)
        return dict(self.default_params)

    def default_clock_for(self, params=None) -> float:
        """Default clock in Hz of a build of ``params`` (a learning core may run slower)."""
        if params is not None and params.learning and self.learning_clock is not None:
            return self.learning_clock
        return self.default_clock

    def platform(self, device: str):
        """A new Amaranth platform of the board with FPGA ``device``."""
        raise NotImplementedError

    def has_spram(self, device: str) -> bool:
        """Whether the FPGA has ``SB_SPRAM256KA`` blocks (iCE40 UltraPlus)."""
        return False

    # -- clock --------------------------------------------------------------------------------

    def clock_source(self, name: str | None) -> ClockSource:
        if name is None:
            return self.clock_sources[0]
        for source in self.clock_sources:
            if source.name == name:
                return source
        names = ", ".join(s.name for s in self.clock_sources)
        raise ValueError(f"--clock-source must be one of {names} on {self.name}, got {name!r}")

    def plan_clock(self, freq: float | None = None, source: str | None = None,
                   params=None) -> ClockPlan:
        """How to make a ``sync`` clock of ``freq`` Hz (if ``None``, the default clock of a
        build of ``params``: :meth:`default_clock_for`).

        A frequency the source gives directly uses no PLL, nor does one its divisors make
        (divided in logic); any other goes through the PLL, whose output must be within
        0.5 % of the request.

        Raises
        ------
        ValueError
            The clock cannot be made; the message names ``--clock`` and what is possible.
        """
        src = self.clock_source(source)
        requested = self.default_clock_for(params) if freq is None else freq
        is_number = isinstance(requested, (int, float)) and not isinstance(requested, bool)
        if not (is_number and math.isfinite(requested) and requested > 0):
            shown = f"{requested / MHZ:g}" if is_number else repr(requested)
            raise ValueError(f"--clock must be a positive frequency in MHz, got {shown}")
        for direct in src.direct:
            if abs(direct - requested) <= 1e-6 * direct:
                return ClockPlan(source=src, freq=direct, requested=requested)
        for divided, divider in src.divided().items():
            if abs(divided - requested) <= 1e-6 * divided:
                return ClockPlan(source=src, freq=divided, requested=requested,
                                 divider=divider)
        direct_text = ", ".join(f"{f / MHZ:g}" for f in src.direct) + " MHz"
        if src.divided():
            direct_text += ("; divided in logic: "
                            + ", ".join(f"{f / MHZ:g}" for f in src.divided()) + " MHz")
        try:
            pll = self._pll(src, requested)
        except ValueError as err:
            raise ValueError(f"--clock {requested / MHZ:g} MHz cannot be made on {self.name}: "
                             f"{err} (without the PLL: {direct_text})") from None
        if abs(pll.output_freq - requested) > CLOCK_TOLERANCE * requested:
            raise ValueError(f"--clock {requested / MHZ:g} MHz cannot be made on {self.name}: "
                             f"the nearest PLL output from {src.freq / MHZ:g} MHz is "
                             f"{pll.output_freq / MHZ:.4g} MHz")
        return ClockPlan(source=src, freq=pll.output_freq, requested=requested, pll=pll)

    def fastest_clock(self, limit: float, source: str | None = None) -> ClockPlan | None:
        """The fastest clock of at most ``limit`` Hz that the board makes, or ``None``."""
        src = self.clock_source(source)
        candidates = [f for f in (*src.direct, *src.divided()) if f <= limit]
        pll_input = self.pll_input(src)
        outputs = (ice40_pll_outputs if self.family == "ice40" else ecp5_pll_outputs)(pll_input)
        candidates += [f for f in outputs if f <= limit]
        if not candidates:
            return None
        return self.plan_clock(max(candidates), source)

    def _pll(self, source: ClockSource, freq: float) -> PLLSettings:
        if self.family == "ice40":
            return ice40_pll(self.pll_input(source), freq)
        return ecp5_pll(self.pll_input(source), freq)

    def pll_input(self, source: ClockSource) -> float:
        """Frequency the PLL gets from ``source``."""
        return source.freq

    # -- top level ----------------------------------------------------------------------------

    def top(self, params, clock: ClockPlan, baud: float) -> BoardTop:
        """The top-level elaboratable of a build."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Facts about the board, for ``--list-boards``."""
        return {
            "name": self.name,
            "title": self.title,
            "family": self.family,
            "devices": list(self.devices),
            "clock_sources": [f"{s.name} ({s.freq / MHZ:g} MHz, {s.description})"
                              for s in self.clock_sources],
            "default_clock_mhz": self.default_clock / MHZ,
            "uart": self.uart_pins,
            "led": self.led,
            "programmers": [p.tool for p in self.programmers],
        }


class ActivityLED(Elaboratable):
    """Lights an LED for a while after any activity on a set of active-low lines.

    The serial lines idle high, and every byte starts with a low start bit, so a stretched
    "line is low" shows host link traffic at a glance.

    Parameters
    ----------
    clk_freq : float
        Frequency of the ``sync`` clock in Hz.
    hold : float
        Seconds the LED stays on after the last activity.
    """

    def __init__(self, clk_freq: float, hold: float = 0.05):
        self._cycles = max(1, int(clk_freq * hold))
        self.lines_n = Signal(2, init=0b11)
        self.led = Signal()

    def elaborate(self, platform):
        m = Module()
        # The received line comes straight from a pin.
        lines_n = Signal(2, init=0b11)
        m.submodules.synchroniser = FFSynchronizer(self.lines_n, lines_n, init=0b11)
        timer = Signal(range(self._cycles + 1))
        with m.If(~lines_n.all()):
            m.d.sync += timer.eq(self._cycles)
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        m.d.comb += self.led.eq(timer != 0)
        return m


def request_input(m, platform, name, number=0):
    """An input buffer on the one-pin resource ``name``; returns its value."""
    m.submodules[f"{name}_{number}"] = buffer = io.Buffer(
        "i", platform.request(name, number, dir="-"))
    return buffer.i


def request_output(m, platform, name, number=0):
    """An output buffer on the one-pin resource ``name``; returns its driver."""
    m.submodules[f"{name}_{number}"] = buffer = io.Buffer(
        "o", platform.request(name, number, dir="-"))
    return buffer.o


def request_uart(m, platform, number=0):
    """Buffers on the ``rx`` and ``tx`` pins of UART resource ``number``.

    Returns
    -------
    (Value, Value)
        The received line, and the transmitted line to drive.
    """
    pins = platform.request("uart", number, dir="-")
    m.submodules[f"uart_{number}_rx"] = rx = io.Buffer("i", pins.rx)
    m.submodules[f"uart_{number}_tx"] = tx = io.Buffer("o", pins.tx)
    return rx.i, tx.o


class BoardTop(Elaboratable):
    """Top level of a board build: a :class:`~rtl.link_top.LinkedCore` on the board's pins.

    Subclasses implement :meth:`uart` (the serial lines), :meth:`activity_led`, for PLL
    clocks :meth:`pll` (the PLL instance), for clocks divided in logic
    :meth:`divided_clock`, and :meth:`direct_clock` when the platform's default clock is
    not the one to use.

    Parameters
    ----------
    params : CoreParams
    clock : ClockPlan
    baud : float
        Baud rate of the host link.

    Raises
    ------
    ValueError
        The baud rate cannot be made from the clock (see :func:`rtl.uart.uart_divisor`).
    """

    def __init__(self, params, clock: ClockPlan, baud: float):
        from rtl.link_top import LinkedCore

        self.params = params
        self.clock = clock
        self.baud = baud
        self.linked = LinkedCore(params, clock.freq, baud)

    def elaborate(self, platform):
        m = Module()
        if self.clock.pll is not None:
            self._own_domain(m, platform, *self.pll(m, platform))
        elif self.clock.divider is not None:
            # The divider starts with the configured chip: no lock to wait for.
            self._own_domain(m, platform, self.divided_clock(m, platform), 1)
        else:
            source = self.direct_clock(m, platform)
            if source is not None:
                self._own_domain(m, platform, *source)
        m.submodules.linked = linked = self.linked
        rx, tx = self.uart(m, platform)
        m.d.comb += [
            linked.uart_rx.eq(rx),
            tx.eq(linked.uart_tx),
        ]
        led = self.activity_led(m, platform)
        if led is not None:
            m.submodules.activity = activity = ActivityLED(self.clock.freq)
            m.d.comb += [
                activity.lines_n.eq(Cat(rx, linked.uart_tx)),
                led.eq(activity.led),
            ]
        return m

    def _own_domain(self, m, platform, clk, ready):
        """The ``sync`` domain on ``clk``, in reset until ``ready`` has been high for 100 us.

        100 us covers the start-up of the iCE40 internal oscillators, and the 3 us after
        configuration during which iCE40 block RAMs read as zero (the delays Amaranth's own
        power-on reset uses).
        """
        ready = Value.cast(ready)
        m.domains.sync = sync = ClockDomain("sync")
        # The reset timer itself runs without a reset.
        m.domains.board_por = ClockDomain("board_por", reset_less=True, local=True)
        m.d.comb += [
            ClockSignal("sync").eq(clk),
            ClockSignal("board_por").eq(clk),
        ]
        delay = max(1, int(100e-6 * self.clock.freq))
        timer = Signal(range(delay + 1))
        with m.If(~ready):
            m.d.board_por += timer.eq(0)
        with m.Elif(timer != delay):
            m.d.board_por += timer.eq(timer + 1)
        m.d.comb += sync.rst.eq(timer != delay)
        platform.add_clock_constraint(clk, self.clock.freq)

    # -- board specific -----------------------------------------------------------------------

    def uart(self, m, platform):
        """The received line (a value) and the transmitted line (assignable)."""
        raise NotImplementedError

    def activity_led(self, m, platform):
        """An assignable LED that lights when set, or ``None``."""
        return

    def pll(self, m, platform):
        """Instantiate the PLL of :attr:`clock`; returns its output clock and lock signal."""
        raise NotImplementedError

    def divided_clock(self, m, platform):
        """The source of :attr:`clock` divided by its ``divider`` in logic (a clock signal)."""
        raise NotImplementedError

    def direct_clock(self, m, platform):
        """The clock of a plan without PLL and a "ready" signal, or ``None``.

        ``None`` (the default) lets the platform make the ``sync`` domain from its default
        clock, with its own power-on reset.
        """
        return
