"""A core with its host link: the top level that boards and link simulations build.

:class:`LinkedCore` joins a :class:`~rtl.core.Core`, a :class:`~rtl.host_link.HostLink` and a
UART, so that the whole design has two ports: the serial lines. :func:`verilog` turns it into
Verilog for the HDL simulators.
"""

from __future__ import annotations

import math

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .core import Core
from .export import convert
from .host_link import DEFAULT_MAX_WRITE_WORDS, HostLink
from .params import CoreParams
from .uart import UARTReceiver, UARTTransmitter, uart_divisor

__all__ = ["LinkedCore", "DEFAULT_TIMEOUT", "verilog"]

#: Default inter-byte timeout of the link in seconds. Long enough for the gaps a USB serial
#: adapter leaves inside one write (a few milliseconds), short enough that a host recovering
#: from a broken frame waits only briefly.
DEFAULT_TIMEOUT = 0.02

# The timeout must leave room for at least this many byte times between two bytes, or the
# link would abandon frames sent at full speed.
_MIN_TIMEOUT_BYTES = 2


class LinkedCore(wiring.Component):
    """A delaycore core that a host drives over a serial line.

    Parameters
    ----------
    params : CoreParams
        Core parameters.
    clk_freq : float
        Frequency of the ``sync`` clock in Hz.
    baud : float
        Baud rate of the serial line (8N1).
    timeout : float
        Inter-byte timeout of the link in seconds (see ``docs/protocol.md``); at least two
        byte times at ``baud``.
    max_write_words : int
        Most data words in one ``WRITE`` frame (the link's write buffer).

    Attributes
    ----------
    uart_rx : In(1)
        Serial data from the host (idle high).
    uart_tx : Out(1)
        Serial data to the host (idle high).

    Raises
    ------
    TypeError
        A parameter has the wrong type.
    ValueError
        The baud rate cannot be made from ``clk_freq`` (see :func:`rtl.uart.uart_divisor`),
        or ``timeout`` is shorter than two byte times.
    """

    def __init__(self, params: CoreParams, clk_freq: float, baud: float, *,
                 timeout: float = DEFAULT_TIMEOUT,
                 max_write_words: int = DEFAULT_MAX_WRITE_WORDS):
        if not isinstance(params, CoreParams):
            raise TypeError(f"params must be a CoreParams, got {type(params).__name__}")
        self._divisor = uart_divisor(clk_freq, baud)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of seconds, got "
                            f"{type(timeout).__name__} {timeout!r}")
        timeout_cycles = math.ceil(timeout * clk_freq)
        min_cycles = _MIN_TIMEOUT_BYTES * 10 * self._divisor
        if timeout_cycles < min_cycles:
            raise ValueError(f"timeout must be at least {_MIN_TIMEOUT_BYTES} byte times "
                             f"({min_cycles / clk_freq:g} s at baud {baud:g}), got {timeout:g}")
        self._params = params
        self._clk_freq = clk_freq
        self._baud = baud
        self._timeout_cycles = timeout_cycles
        # Build the link here so that its parameters are checked now, not at elaboration.
        self._link = HostLink(params, timeout_cycles=timeout_cycles,
                              max_write_words=max_write_words)
        super().__init__({
            "uart_rx": In(1, init=1),
            "uart_tx": Out(1, init=1),
        })

    @property
    def params(self) -> CoreParams:
        return self._params

    @property
    def divisor(self) -> int:
        """Clock cycles per bit of the UART."""
        return self._divisor

    @property
    def timeout_cycles(self) -> int:
        """Inter-byte timeout of the link in clock cycles."""
        return self._timeout_cycles

    @property
    def link(self) -> HostLink:
        return self._link

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = Core(self._params)
        m.submodules.link = link = self._link
        m.submodules.uart_rx = receiver = UARTReceiver(self._divisor)
        m.submodules.uart_tx = transmitter = UARTTransmitter(self._divisor)

        wiring.connect(m, receiver.bytes, link.rx)
        wiring.connect(m, link.tx, transmitter.bytes)
        wiring.connect(m, link.bus, core.bus)
        m.d.comb += [
            receiver.rx.eq(self.uart_rx),
            self.uart_tx.eq(transmitter.tx),
            core.start.eq(link.start),
            core.clear.eq(link.clear),
            core.in_spikes.eq(link.in_spikes),
            link.busy.eq(core.busy),
            link.done.eq(core.done),
            link.out_spikes.eq(core.out_spikes),
        ]
        if self._params.learning:
            m.d.comb += core.learn.eq(link.learn)
        return m


def verilog(top: LinkedCore, *, name: str = "delaycore_link") -> str:
    """Verilog of ``top``; its ports are ``clk``, ``rst``, ``uart_rx`` and ``uart_tx``."""
    if not isinstance(top, LinkedCore):
        raise TypeError(f"top must be a LinkedCore, got {type(top).__name__}")
    return convert(top, name)
