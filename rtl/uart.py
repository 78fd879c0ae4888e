"""Minimal 8N1 UART: a receiver and a transmitter with byte streams.

Both run from the ``sync`` domain and time their bits with a clock divisor (clock cycles per
bit), so the baud rate is ``clk_freq / divisor``. :func:`uart_divisor` picks the divisor for
a clock and a baud rate and refuses combinations whose rate error would corrupt bytes.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["MIN_DIVISOR", "MAX_BAUD_ERROR", "uart_divisor", "UARTReceiver", "UARTTransmitter"]

#: Smallest clock divisor. The receiver finds a start bit to within one clock cycle, so with
#: fewer than 4 cycles per bit its sampling point could drift out of the bit's middle half.
MIN_DIVISOR = 4
#: Largest relative baud rate error :func:`uart_divisor` accepts. Over the 9.5 bit times from
#: a start edge to the middle of the stop bit, 2 % moves the sampling point by a fifth of a
#: bit, which leaves margin for the other side's clock error.
MAX_BAUD_ERROR = 0.02


def _check_divisor(divisor) -> int:
    if isinstance(divisor, bool) or not isinstance(divisor, int):
        raise TypeError(f"divisor must be an int, got {type(divisor).__name__} {divisor!r}")
    if divisor < MIN_DIVISOR:
        raise ValueError(f"divisor must be at least {MIN_DIVISOR} clock cycles per bit, "
                         f"got {divisor}")
    return divisor


def uart_divisor(clk_freq: float, baud: float) -> int:
    """Clock cycles per bit for a UART at ``baud`` clocked at ``clk_freq``.

    Parameters
    ----------
    clk_freq : float
        Clock frequency in Hz.
    baud : float
        Baud rate in bit/s.

    Returns
    -------
    int
        ``round(clk_freq / baud)``.

    Raises
    ------
    TypeError
        ``clk_freq`` or ``baud`` is not a number.
    ValueError
        A rate is not positive, the divisor would be below :data:`MIN_DIVISOR`, or the
        achieved baud rate differs from ``baud`` by more than :data:`MAX_BAUD_ERROR`.
    """
    for name, value in (("clk_freq", clk_freq), ("baud", baud)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")
    divisor = round(clk_freq / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"baud {baud:g} is too fast for clk_freq {clk_freq:g}: the UART needs "
                         f"at least {MIN_DIVISOR} clock cycles per bit (baud <= "
                         f"{clk_freq / MIN_DIVISOR:g})")
    error = abs(clk_freq / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"baud {baud:g} cannot be made from clk_freq {clk_freq:g}: the nearest "
                         f"divisor {divisor} gives {clk_freq / divisor:g} baud, "
                         f"{100 * error:.1f} % off (at most {100 * MAX_BAUD_ERROR:g} % works)")
    return divisor


class UARTReceiver(wiring.Component):
    """8N1 UART receiver.

    The line goes through a two-flip-flop synchroniser. A falling edge starts a byte; the
    start bit is checked again half a bit later (a shorter pulse is a glitch and ignored),
    then each data bit is sampled in its middle, LSB first. A byte whose stop bit is low
    (a framing error, or a break) is dropped, and the receiver waits for the line to return
    high before it looks for the next start bit.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Attributes
    ----------
    rx : In(1)
        Serial line (idle high).
    bytes : Out(stream.Signature(8))
        Received bytes. A byte stays valid until taken; if it is still not taken when the
        next one has been received, the next one replaces it.
    framing_error : Out(1)
        One-cycle pulse when a byte is dropped because its stop bit was low.
    """

    def __init__(self, divisor: int):
        self._divisor = _check_divisor(divisor)
        super().__init__({
            "rx": In(1, init=1),
            "bytes": Out(stream.Signature(8)),
            "framing_error": Out(1),
        })

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        divisor = self._divisor

        line = Signal(init=1)
        m.submodules.synchroniser = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(divisor))
        bit_index = Signal(range(8))
        shift = Signal(8)

        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += self.bytes.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    # Wait half a bit so that every later sample lands mid-bit.
                    m.d.sync += timer.eq(divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.next = "IDLE"  # glitch, not a start bit
                with m.Else():
                    m.d.sync += [timer.eq(divisor - 1), bit_index.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(divisor - 1),
                                 bit_index.eq(bit_index + 1)]
                    with m.If(bit_index == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.d.sync += [self.bytes.payload.eq(shift), self.bytes.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.framing_error.eq(1)
                    m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTransmitter(wiring.Component):
    """8N1 UART transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Attributes
    ----------
    tx : Out(1)
        Serial line (idle high), driven from a flip-flop so it never glitches.
    bytes : In(stream.Signature(8))
        Bytes to send; one is taken whenever the transmitter is idle.
    """

    def __init__(self, divisor: int):
        self._divisor = _check_divisor(divisor)
        super().__init__({
            "tx": Out(1, init=1),
            "bytes": In(stream.Signature(8)),
        })

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        divisor = self._divisor

        sending = Signal()
        timer = Signal(range(divisor))
        bits_left = Signal(range(10))
        shift = Signal(9)  # data bits, LSB first, then the stop bit

        # One unconditional assignment (a continuous assignment in Verilog) rather than one
        # inside the If below: some Verilog simulators never evaluate a combinational process
        # whose inputs do not change after time 0, which would leave ``ready`` undefined.
        m.d.comb += self.bytes.ready.eq(~sending)
        with m.If(~sending):
            with m.If(self.bytes.valid):
                m.d.sync += [
                    self.tx.eq(0),  # start bit
                    shift.eq(Cat(self.bytes.payload, 1)),
                    bits_left.eq(9),
                    timer.eq(divisor - 1),
                    sending.eq(1),
                ]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Elif(bits_left != 0):
            m.d.sync += [
                self.tx.eq(shift[0]),
                shift.eq(shift[1:]),
                bits_left.eq(bits_left - 1),
                timer.eq(divisor - 1),
            ]
        with m.Else():
            # The stop bit has been on the line for a full bit time.
            m.d.sync += sending.eq(0)
        return m
