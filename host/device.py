"""Driver for a delaycore board (or simulation) behind the serial host link.

:class:`Device` speaks the protocol of ``docs/protocol.md`` over any byte transport with
``write(data)`` and ``read(n)`` methods (``read`` returning fewer bytes on a timeout), such as
a :class:`serial.Serial` or a simulation transport. Every method sends one or more request
frames and waits for their replies; an error reply raises :class:`~host.protocol.DeviceError`
and a malformed or missing reply raises :class:`~host.protocol.ProtocolError`.

Typical use::

    from host.device import Device

    with Device.open("/dev/ttyUSB1", baud=115200) as dev:
        print(dev.ping())
        dev.load_network(net)
        for spikes in sample:
            z = dev.step(spikes)
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence

import numpy as np

from . import protocol as proto
from .protocol import (MAX_READ_WORDS, Command, DeviceError, PingInfo, ProtocolError, Reply,
                       StatusInfo)

__all__ = ["Transport", "Device", "DEFAULT_BAUD"]

#: Baud rate of the board builds unless they say otherwise.
DEFAULT_BAUD = 115200


class Transport(Protocol):
    """What :class:`Device` needs from a byte channel (a subset of :class:`serial.Serial`)."""

    def write(self, data: bytes) -> object:
        """Send all of ``data``."""

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer (possibly none) if the read timeout expires first."""


class Device:
    """A delaycore core behind the serial host link.

    Parameters
    ----------
    transport : Transport
        Byte channel to the link. Its read timeout must be longer than the longest command
        (a ``STEP`` of a large network, or a long ``READ`` at a low baud rate).

    Notes
    -----
    The device's capacity and number formats are asked for with ``PING`` the first time they
    are needed (:attr:`info`), so constructing a ``Device`` sends nothing.
    """

    def __init__(self, transport: Transport):
        for method in ("write", "read"):
            if not callable(getattr(transport, method, None)):
                raise TypeError(f"transport must have a {method}() method, got "
                                f"{type(transport).__name__}")
        self._transport = transport
        self._info: PingInfo | None = None
        self._sizes: dict[int, int] | None = None
        self._n_hidden: int | None = None

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def open(cls, port: str, baud: int = DEFAULT_BAUD, *, timeout: float = 1.0) -> "Device":
        """Open serial port ``port`` (e.g. ``"/dev/ttyUSB1"``) with pyserial.

        Parameters
        ----------
        port : str
            Serial device name.
        baud : int
            Baud rate of the board's UART.
        timeout : float
            Read timeout in seconds; also the silence that :meth:`resync` waits for.
        """
        import serial

        return cls(serial.Serial(port, baudrate=baud, timeout=timeout))

    def close(self) -> None:
        """Close the transport, if it can be closed."""
        close = getattr(self._transport, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def transport(self) -> Transport:
        return self._transport

    # -- frames ---------------------------------------------------------------------------

    def request(self, command: int, payload: bytes = b"") -> Reply:
        """Send one request frame and return its reply, whatever its status.

        Raises
        ------
        ProtocolError
            No reply, a malformed reply, or a reply to another command.
        """
        self._transport.write(proto.encode_request(command, payload))
        reply = proto.read_reply(self._transport.read)
        if reply.command != command:
            raise ProtocolError(f"reply answers command {_name(reply.command)}, but "
                                f"{_name(command)} was sent (a stale reply: call resync())")
        return reply

    def _call(self, command: Command, payload: bytes = b"", *,
              reply_len: int | None = None) -> bytes:
        reply = self.request(command, payload)
        if reply.status != proto.Status.OK:
            raise DeviceError(command, reply.status)
        if reply_len is not None and len(reply.payload) != reply_len:
            raise ProtocolError(f"{command.name} reply must have {reply_len} payload bytes, "
                                f"got {len(reply.payload)}")
        return reply.payload

    def resync(self) -> int:
        """Bring the link back to a known state after an error or an interrupted exchange.

        Reads and discards bytes until a read returns none. With a read timeout longer than
        the link's inter-byte timeout, any half-received frame has been abandoned by then and
        its ``TIMEOUT`` reply discarded, so the next request is parsed from its sync byte.

        Returns
        -------
        int
            Number of bytes discarded.
        """
        discarded = 0
        while True:
            chunk = self._transport.read(256)
            if not chunk:
                return discarded
            discarded += len(chunk)

    # -- commands -------------------------------------------------------------------------

    def ping(self) -> PingInfo:
        """Identify the device and learn its capacity (cached for later calls).

        Raises
        ------
        ProtocolError
            The reply is not from a delaycore link, or from one with another protocol version.
        """
        info = PingInfo.from_payload(self._call(Command.PING))
        if info.version != proto.PROTOCOL_VERSION:
            raise ProtocolError(f"device speaks protocol version {info.version}, this driver "
                                f"version {proto.PROTOCOL_VERSION}")
        self._info = info
        self._sizes = proto.region_sizes(info.core_params())
        return info

    @property
    def info(self) -> PingInfo:
        """Capacity and formats of the device (from ``PING``, sent on first use)."""
        if self._info is None:
            self.ping()
        return self._info

    @property
    def params(self):
        """:class:`rtl.params.CoreParams` of the core on the device."""
        from rtl.params import CoreParams

        return CoreParams(**self.info.core_params_kwargs())

    def write(self, addr: int, words: Sequence[int]) -> None:
        """Write ``words`` to consecutive bus addresses from ``addr``.

        Bursts longer than the device's write buffer are split into several frames.
        Negative words are written as 32-bit two's complement.

        Raises
        ------
        TypeError, ValueError
            ``addr`` or a word is not an int or out of range, or the range runs past the end
            of its region of the memory map; the message names the argument.
        DeviceError
            The device refused a frame (nothing of that frame was written).
        """
        words = list(words)
        if not words:
            raise ValueError("words must hold at least one word")
        proto.pack_words(words)  # validates every word before anything is sent
        self._check_range(addr, len(words))
        burst = self.info.max_write_words
        for start in range(0, len(words), burst):
            self._call(Command.WRITE, proto.write_payload(addr + start, words[start:start + burst]),
                       reply_len=0)

    def read(self, addr: int, count: int = 1) -> list[int]:
        """Read ``count`` words from consecutive bus addresses from ``addr``.

        Returns the words as unsigned 32-bit integers (see
        :func:`rtl.memory_map.decode_signed` for signed fields).

        Raises
        ------
        TypeError, ValueError
            ``addr`` or ``count`` is out of range, or the range runs past the end of its
            region; the message names the argument.
        DeviceError
            The device refused a frame.
        """
        self._check_range(addr, count)
        words: list[int] = []
        for start in range(0, count, MAX_READ_WORDS):
            n = min(MAX_READ_WORDS, count - start)
            payload = self._call(Command.READ, proto.read_payload(addr + start, n),
                                 reply_len=4 * n)
            words.extend(proto.unpack_words(payload))
        return words

    def step(self, spikes: Sequence[int], *, flags: int = 0) -> np.ndarray:
        """Run one time step with input spikes ``spikes`` and return the hidden spikes.

        Parameters
        ----------
        spikes : sequence of 0/1
            Input spikes ``s[t]``, at most ``max_in`` of them (missing ones are 0).
        flags : int
            ``STEP`` flags byte; protocol version 1 defines none, so it must be 0.

        Returns
        -------
        numpy.ndarray
            Hidden spikes ``z[t]``, bool, of the loaded network's ``n_hidden`` neurons (all
            ``max_hidden`` if no network was loaded through this object).
        """
        info = self.info
        payload = self._call(Command.STEP, proto.step_payload(spikes, info.max_in, flags),
                             reply_len=proto.spike_bytes(info.max_hidden))
        n = self._n_hidden if self._n_hidden is not None else info.max_hidden
        return np.array(proto.unpack_bits(payload, n), dtype=bool)

    def clear(self) -> None:
        """Zero the core state: membranes, readouts, spike rings and the step counter."""
        self._call(Command.CLEAR, reply_len=0)

    def status(self) -> StatusInfo:
        """Link and core status: busy flag, last error, error and frame counters."""
        return StatusInfo.from_payload(self._call(Command.STATUS, reply_len=6))

    # -- networks and state ---------------------------------------------------------------

    def load_network(self, net, *, clear: bool = True) -> int:
        """Load a :class:`golden.network.Network` into the core.

        Writes every word of :func:`rtl.memory_map.network_writes` (consecutive addresses in
        bursts), then clears the state unless ``clear`` is false.

        Returns
        -------
        int
            Number of words written.

        Raises
        ------
        ValueError
            The network does not fit the device's core (the message names the field).
        """
        from rtl.memory_map import network_writes

        writes = network_writes(net, self.params)
        for addr, words in _bursts(writes):
            self.write(addr, words)
        self._n_hidden = int(net.n_hidden)
        if clear:
            self.clear()
        return len(writes)

    def read_state(self) -> dict:
        """Read the run-time sizes, counters and neuron state of the core.

        Returns
        -------
        dict
            ``n_in``, ``n_hidden``, ``n_out``, ``flags``, ``step`` (steps since the last
            clear), ``cycles`` (clock cycles of the last step), ``v`` (int64 array of the
            hidden membranes) and ``y`` (int64 array of the readouts).
        """
        from rtl import memory_map as mm

        ctrl = self.read(mm.address(mm.REGION_CTRL, 0), mm.CTRL_CYCLES + 1)
        n_hidden, n_out = ctrl[mm.CTRL_N_HIDDEN], ctrl[mm.CTRL_N_OUT]
        v = self.read(mm.address(mm.REGION_V, 0), n_hidden)
        y = self.read(mm.address(mm.REGION_Y, 0), n_out)
        return {
            "n_in": ctrl[mm.CTRL_N_IN],
            "n_hidden": n_hidden,
            "n_out": n_out,
            "flags": ctrl[mm.CTRL_FLAGS],
            "step": ctrl[mm.CTRL_STEP],
            "cycles": ctrl[mm.CTRL_CYCLES],
            "v": np.array([mm.decode_signed(word) for word in v], dtype=np.int64),
            "y": np.array([mm.decode_signed(word) for word in y], dtype=np.int64),
        }

    # -- helpers --------------------------------------------------------------------------

    def _check_range(self, addr: int, count: int) -> None:
        proto.check_range(addr, count)  # argument types and the address space first
        if self._sizes is None:
            self.ping()
        proto.check_range(addr, count, self._sizes)


def _bursts(writes: Iterable[tuple[int, int]]) -> list[tuple[int, list[int]]]:
    """Group ``(addr, data)`` writes into runs of consecutive addresses."""
    runs: list[tuple[int, list[int]]] = []
    for addr, data in writes:
        if runs and runs[-1][0] + len(runs[-1][1]) == addr:
            runs[-1][1].append(data)
        else:
            runs.append((addr, [data]))
    return runs


def _name(command: int) -> str:
    try:
        return Command(command).name
    except ValueError:
        return f"0x{command:02X}"
