"""Framed serial protocol between a host computer and a delaycore board.

Pure Python, no hardware or HDL imports: this module encodes and decodes frames, computes
their CRC-8, and packs and unpacks the payload of every command. The gateware of the link
(:mod:`rtl.host_link`) takes its command and status codes and its ``PING`` reply from here,
so both sides of the link share one definition. ``docs/protocol.md`` is the written
specification.

Request frame (host to device)::

    0xA5  CMD  LEN_LO LEN_HI  PAYLOAD[LEN]  CRC

Reply frame (device to host)::

    0x5A  CMD  STATUS  LEN_LO LEN_HI  PAYLOAD[LEN]  CRC

``CRC`` is CRC-8 (polynomial 0x07, initial value 0, no reflection, no final XOR) over every
byte after the sync byte up to the end of the payload.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from typing import Callable, Iterable, Sequence

__all__ = [
    "SYNC_REQUEST",
    "SYNC_REPLY",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "MAGIC",
    "REQUEST_HEADER_BYTES",
    "REPLY_HEADER_BYTES",
    "MAX_PAYLOAD",
    "MAX_READ_WORDS",
    "ADDR_BITS",
    "Command",
    "Status",
    "StepFlag",
    "ProtocolError",
    "DeviceError",
    "crc8",
    "Request",
    "Reply",
    "encode_request",
    "decode_request",
    "encode_reply",
    "decode_reply",
    "read_reply",
    "PingInfo",
    "StatusInfo",
    "write_payload",
    "read_payload",
    "step_payload",
    "spike_bytes",
    "pack_bits",
    "unpack_bits",
    "pack_words",
    "unpack_words",
    "region_sizes",
    "check_range",
]

#: First byte of every request frame.
SYNC_REQUEST = 0xA5
#: First byte of every reply frame.
SYNC_REPLY = 0x5A
#: Version of the frame format and command set described in ``docs/protocol.md``. Version 2
#: defines the ``STEP`` learn flag and appends the learning-engine words to the ``PING`` reply.
PROTOCOL_VERSION = 2
#: Protocol versions this driver can talk to (version 1 devices have no learning engine).
SUPPORTED_VERSIONS = (1, 2)
#: First word of the ``PING`` reply: the bytes ``b"DLYC"`` read as a little-endian word.
MAGIC = int.from_bytes(b"DLYC", "little")
#: Sync, command and two length bytes.
REQUEST_HEADER_BYTES = 4
#: Sync, command, status and two length bytes.
REPLY_HEADER_BYTES = 5
#: Largest payload the 16-bit length field can describe.
MAX_PAYLOAD = 0xFFFF
#: Largest ``READ`` burst: its reply payload of ``4 * count`` bytes must fit ``MAX_PAYLOAD``.
MAX_READ_WORDS = MAX_PAYLOAD // 4
#: Width of a ConfigBus word address.
ADDR_BITS = 20

_WORD_MIN = -(1 << 31)
_WORD_MAX = (1 << 32) - 1


class Command(enum.IntEnum):
    """Command byte of a request (echoed in the reply)."""

    #: Identify the device: magic, protocol version and core capacity (:class:`PingInfo`).
    PING = 0x01
    #: Burst write: ``addr`` (u32) then ``N >= 1`` words (u32) to ``addr .. addr + N - 1``.
    WRITE = 0x02
    #: Burst read: ``addr`` (u32) and ``count`` (u16); replies with ``count`` words.
    READ = 0x03
    #: One time step: input spike bytes and a flags byte; replies with the hidden spikes.
    STEP = 0x04
    #: Zero the core state (membranes, readouts, spike rings, step counter).
    CLEAR = 0x05
    #: Link and core status (:class:`StatusInfo`).
    STATUS = 0x06


class Status(enum.IntEnum):
    """Status byte of a reply. Every status other than ``OK`` comes with an empty payload and
    means that the request changed nothing in the core."""

    #: The command was carried out.
    OK = 0x00
    #: The CRC byte does not match the frame.
    BAD_CRC = 0x01
    #: The payload length does not fit the command or the device's buffer.
    BAD_LEN = 0x02
    #: Unknown command byte.
    BAD_CMD = 0x03
    #: An address range lies outside the memory map (or beyond a region's end).
    BAD_ADDR = 0x04
    #: The core was busy (a step or clear started elsewhere was still running).
    BUSY = 0x05
    #: The frame stopped arriving: too long a gap between two of its bytes.
    TIMEOUT = 0x06
    #: An argument has a value the device does not accept (a zero ``READ`` count, a ``READ``
    #: count above :data:`MAX_READ_WORDS`, a reserved ``STEP`` flag, the learn flag on a
    #: core built without learning).
    BAD_ARG = 0x07


class StepFlag(enum.IntFlag):
    """Bits of the ``STEP`` flags byte (the other bits are reserved and must be 0)."""

    #: Learning step: the core learns in this step from the label in ``CTRL.LABEL``
    #: (the sample's ``target_mask`` is set at this step). Only on cores built with learning.
    LEARN = 0x01


_STATUS_TEXT = {
    Status.OK: "ok",
    Status.BAD_CRC: "the device saw a CRC error in the request",
    Status.BAD_LEN: "the request payload length is wrong for the command or too long for the "
                    "device's buffer",
    Status.BAD_CMD: "the device does not know the command",
    Status.BAD_ADDR: "the address range is outside the memory map",
    Status.BUSY: "the core was busy",
    Status.TIMEOUT: "the device timed out waiting for the rest of the request",
    Status.BAD_ARG: "an argument has a value the device does not accept",
}


class ProtocolError(Exception):
    """A frame is malformed, truncated, or does not match the request it answers."""


class DeviceError(ProtocolError):
    """The device answered with an error status.

    Attributes
    ----------
    status : Status or int
        The status byte of the reply (an ``int`` if the code is unknown).
    command : Command or int
        The command the reply answers.
    """

    def __init__(self, command: int, status: int, detail: str = ""):
        self.command = _as_enum(Command, command)
        self.status = _as_enum(Status, status)
        name = self.command.name if isinstance(self.command, Command) else f"0x{command:02X}"
        if isinstance(self.status, Status):
            what = f"{self.status.name} ({_STATUS_TEXT[self.status]})"
        else:
            what = f"unknown status 0x{status:02X}"
        super().__init__(f"{name} failed: {what}" + (f"; {detail}" if detail else ""))


def _as_enum(cls, value: int):
    try:
        return cls(value)
    except ValueError:
        return value


# -- CRC --------------------------------------------------------------------------------------

def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _crc8_table()


def crc8(data: bytes | bytearray | Iterable[int], crc: int = 0) -> int:
    """CRC-8 with polynomial ``x^8 + x^2 + x + 1`` (0x07), MSB first, no final XOR.

    Parameters
    ----------
    data : bytes-like or iterable of int
        Bytes to cover.
    crc : int
        Running value to continue from (0 to start).

    Returns
    -------
    int
        The CRC in ``[0, 255]``. ``crc8(b"123456789") == 0xF4`` (the CRC-8/SMBUS check value).
    """
    for byte in data:
        crc = _CRC8_TABLE[(crc ^ byte) & 0xFF]
    return crc


# -- frames -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Request:
    """A decoded request frame."""

    command: Command | int
    payload: bytes = b""


@dataclasses.dataclass(frozen=True)
class Reply:
    """A decoded reply frame."""

    command: Command | int
    status: Status | int
    payload: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


def _check_byte(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must be in [0, 255], got {value}")
    return value


def _check_payload(payload) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload must be at most {MAX_PAYLOAD} bytes, got {len(payload)}")
    return payload


def encode_request(command: int, payload: bytes = b"") -> bytes:
    """Frame a request: sync, command, length, payload and CRC.

    Any command byte can be framed (the device answers unknown ones with ``BAD_CMD``).

    Raises
    ------
    TypeError, ValueError
        ``command`` is not a byte or ``payload`` is not bytes or is longer than 65535 bytes.
    """
    body = bytes([_check_byte("command", command)]) + _length_and(_check_payload(payload))
    return bytes([SYNC_REQUEST]) + body + bytes([crc8(body)])


def encode_reply(command: int, status: int, payload: bytes = b"") -> bytes:
    """Frame a reply: sync, command, status, length, payload and CRC (for device models)."""
    body = (bytes([_check_byte("command", command), _check_byte("status", status)])
            + _length_and(_check_payload(payload)))
    return bytes([SYNC_REPLY]) + body + bytes([crc8(body)])


def _length_and(payload: bytes) -> bytes:
    return len(payload).to_bytes(2, "little") + payload


def _check_frame(frame, sync: int, header: int, kind: str) -> bytes:
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise TypeError(f"{kind} frame must be bytes, got {type(frame).__name__}")
    frame = bytes(frame)
    if len(frame) < header + 1:
        raise ProtocolError(f"{kind} frame truncated: {len(frame)} bytes, a frame has at "
                            f"least {header + 1}")
    if frame[0] != sync:
        raise ProtocolError(f"{kind} frame must start with sync byte 0x{sync:02X}, "
                            f"got 0x{frame[0]:02X}")
    length = int.from_bytes(frame[header - 2:header], "little")
    expected = header + length + 1
    if len(frame) != expected:
        raise ProtocolError(f"{kind} frame length field says {length} payload bytes "
                            f"({expected} bytes in all), but the frame has {len(frame)} bytes")
    computed = crc8(frame[1:-1])
    if computed != frame[-1]:
        raise ProtocolError(f"{kind} frame CRC mismatch: computed 0x{computed:02X}, "
                            f"frame has 0x{frame[-1]:02X}")
    return frame


def decode_request(frame: bytes) -> Request:
    """Check and decode one complete request frame (for device models and tests).

    Raises
    ------
    ProtocolError
        Wrong sync byte, length field disagreeing with the frame size, or CRC mismatch.
    """
    frame = _check_frame(frame, SYNC_REQUEST, REQUEST_HEADER_BYTES, "request")
    return Request(_as_enum(Command, frame[1]), frame[REQUEST_HEADER_BYTES:-1])


def decode_reply(frame: bytes) -> Reply:
    """Check and decode one complete reply frame.

    Raises
    ------
    ProtocolError
        Wrong sync byte, length field disagreeing with the frame size, or CRC mismatch.
    """
    frame = _check_frame(frame, SYNC_REPLY, REPLY_HEADER_BYTES, "reply")
    return Reply(_as_enum(Command, frame[1]), _as_enum(Status, frame[2]),
                 frame[REPLY_HEADER_BYTES:-1])


def read_reply(read: Callable[[int], bytes]) -> Reply:
    """Read one reply frame with ``read(n)`` and decode it.

    ``read`` is a blocking read of up to ``n`` bytes that returns fewer on a timeout, as
    :meth:`serial.Serial.read` does. Bytes before the sync byte are skipped (they can only be
    the remains of an earlier, abandoned reply).

    Raises
    ------
    ProtocolError
        No reply arrived, the reply stopped early, or it fails :func:`decode_reply`.
    """
    skipped = 0
    while True:
        first = read(1)
        if not first:
            extra = f" (after skipping {skipped} stray bytes)" if skipped else ""
            raise ProtocolError(f"no reply from the device within the read timeout{extra}")
        if first[0] == SYNC_REPLY:
            break
        skipped += 1
    header = first + _read_exactly(read, REPLY_HEADER_BYTES - 1, "reply header")
    length = int.from_bytes(header[3:5], "little")
    rest = _read_exactly(read, length + 1, f"reply payload of {length} bytes and its CRC")
    return decode_reply(header + rest)


def _read_exactly(read: Callable[[int], bytes], count: int, what: str) -> bytes:
    data = b""
    while len(data) < count:
        chunk = read(count - len(data))
        if not chunk:
            raise ProtocolError(f"reply truncated: timed out after {len(data)} of {count} "
                                f"bytes of the {what}")
        data += bytes(chunk)
    return data


# -- payloads ---------------------------------------------------------------------------------

def _check_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = value.__index__()
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def pack_words(words: Iterable[int], name: str = "words") -> bytes:
    """Words as little-endian u32 bytes; negative values (down to ``-2**31``) are written as
    two's complement, so signed fields can be given as they are."""
    out = bytearray()
    for index, word in enumerate(words):
        value = _check_int(f"{name}[{index}]", word, _WORD_MIN, _WORD_MAX)
        out += (value & 0xFFFF_FFFF).to_bytes(4, "little")
    return bytes(out)


def unpack_words(payload: bytes, *, signed: bool = False) -> list[int]:
    """Little-endian u32 words of ``payload`` (whose length must be a multiple of 4)."""
    if len(payload) % 4:
        raise ProtocolError(f"a word payload must be a multiple of 4 bytes, got {len(payload)}")
    fmt = f"<{len(payload) // 4}{'i' if signed else 'I'}"
    return list(struct.unpack(fmt, payload))


def spike_bytes(count: int) -> int:
    """Bytes that carry ``count`` spike bits: ``ceil(count / 8)``."""
    return (count + 7) // 8


def pack_bits(bits: Sequence[int], width: int, name: str = "spikes") -> bytes:
    """Pack 0/1 values LSB first: element ``j`` goes to bit ``j % 8`` of byte ``j // 8``.

    Parameters
    ----------
    bits : sequence of 0/1 (int, bool or numpy values)
        At most ``width`` elements; missing ones are 0.
    width : int
        Number of bits the packed field holds; the result has ``ceil(width / 8)`` bytes.
    name : str
        Name of the argument in error messages.
    """
    bits = list(bits)
    if len(bits) > width:
        raise ValueError(f"{name} has {len(bits)} elements, at most {width} fit")
    out = bytearray(spike_bytes(width))
    for index, bit in enumerate(bits):
        try:
            value = int(bit)
        except (TypeError, ValueError):
            raise TypeError(f"{name}[{index}] must be 0 or 1, got {bit!r}") from None
        if value not in (0, 1) or value != bit:
            raise ValueError(f"{name}[{index}] must be 0 or 1, got {bit!r}")
        if value:
            out[index // 8] |= 1 << (index % 8)
    return bytes(out)


def unpack_bits(payload: bytes, count: int) -> list[bool]:
    """The first ``count`` bits of ``payload``, LSB first (inverse of :func:`pack_bits`)."""
    if len(payload) * 8 < count:
        raise ProtocolError(f"{count} bits need {spike_bytes(count)} bytes, got {len(payload)}")
    return [bool(payload[j // 8] >> (j % 8) & 1) for j in range(count)]


def write_payload(addr: int, words: Sequence[int]) -> bytes:
    """Payload of ``WRITE``: ``addr`` (u32) then the words (u32 each, at least one)."""
    addr = _check_int("addr", addr, 0, (1 << ADDR_BITS) - 1)
    words = list(words)
    if not words:
        raise ValueError("words must hold at least one word")
    return addr.to_bytes(4, "little") + pack_words(words)


def read_payload(addr: int, count: int) -> bytes:
    """Payload of ``READ``: ``addr`` (u32) and ``count`` (u16, 1 .. MAX_READ_WORDS)."""
    addr = _check_int("addr", addr, 0, (1 << ADDR_BITS) - 1)
    count = _check_int("count", count, 1, MAX_READ_WORDS)
    return addr.to_bytes(4, "little") + count.to_bytes(2, "little")


def step_payload(spikes: Sequence[int], max_in: int, flags: int = 0) -> bytes:
    """Payload of ``STEP``: ``ceil(max_in / 8)`` spike bytes (LSB first) and a flags byte.

    Parameters
    ----------
    spikes : sequence of 0/1
        Input spikes, at most ``max_in`` of them (missing ones are 0).
    max_in : int
        Input capacity of the core (from :class:`PingInfo`).
    flags : int
        Flags byte: :class:`StepFlag` bits (``StepFlag.LEARN`` for a learning step).
    """
    max_in = _check_int("max_in", max_in, 1, 1 << 16)
    return pack_bits(spikes, max_in, "spikes") + bytes([_check_int("flags", flags, 0, 255)])


_PING_WORDS_V1 = 10
_PING_WORDS = 12

# Bits of PING word 10 (build options). Devices older than the neuron options send bits 5
# and 6 as 0, which decodes as a core without them, as those devices were.
_PING_LEARNING = 1 << 0
_PING_DELAY_LEARNING = 1 << 1
_PING_SOFTMAX = 1 << 2
_PING_RANDOM_FEEDBACK = 1 << 3
_PING_SPRAM = 1 << 4
_PING_SYNAPSE_CURRENT = 1 << 5
_PING_ADAPTATION = 1 << 6
_PING_NEURON_LEARNING = 1 << 7
# Word 8 bits 24 to 31: elig_bits with neuron_learning, else 0 (as on devices built before
# it), which decodes as the default width: the width is unused without neuron_learning.
_PING_ELIG_SHIFT = 24
_DEFAULT_ELIG_BITS = 24
# Word 10 bits 16 to 30: rec_kernel_taps (at most 2 * 16384 - 1), 0 on older devices.
_PING_KERNEL_SHIFT = 16


@dataclasses.dataclass(frozen=True)
class PingInfo:
    """The ``PING`` reply: protocol version and the capacity and formats of the core.

    Payload: 12 little-endian u32 words (10 in protocol version 1; later versions may append
    more, which older hosts ignore):

    ====  ==========================================================================
    word  content
    ====  ==========================================================================
    0     ``MAGIC`` (``b"DLYC"``)
    1     protocol version
    2     ``max_in``
    3     ``max_hidden``
    4     ``max_out``
    5     ``max_synapses``
    6     ``d_max``
    7     ``weight_bits | weight_frac << 8 | delay_frac << 16 | decay_bits << 24``
    8     ``v_bits | y_bits << 8 | recurrent << 16 | elig_bits << 24``
    9     ``max_write_words``: most words one ``WRITE`` frame may carry
    10    ``learning | delay_learning << 1 | softmax << 2 | random_feedback << 3 |
          spram << 4 | synapse_current << 5 | adaptation << 6 | neuron_learning << 7 |
          rec_kernel_taps << 16`` (``spram``: ``synapse_memory == "spram"``)
    11    ``trace_bits | u_bits << 8 | l_bits << 16 | kernel_max_half_width << 24``
    ====  ==========================================================================

    A version 1 reply has no words 10 and 11: a core without learning or neuron options,
    synapses in block RAM, and the default values of the other learning fields. Word 10 bits
    5 to 7 and bits 16 and up, and word 8 bits 24 and up, are 0 in the replies of devices
    built before the neuron options, their learning and the recurrent kernel, which had none.
    """

    version: int
    max_in: int
    max_hidden: int
    max_out: int
    max_synapses: int
    d_max: int
    weight_bits: int
    weight_frac: int
    delay_frac: int
    decay_bits: int
    v_bits: int
    y_bits: int
    recurrent: bool
    max_write_words: int
    learning: bool = False
    delay_learning: bool = True
    softmax: bool = True
    random_feedback: bool = True
    synapse_memory: str = "bram"
    trace_bits: int = 8
    u_bits: int = 8
    l_bits: int = 16
    kernel_max_half_width: int = 0
    synapse_current: bool = False
    adaptation: bool = False
    rec_kernel_taps: int = 0
    neuron_learning: bool = False
    elig_bits: int = _DEFAULT_ELIG_BITS

    def to_words(self) -> list[int]:
        words = [
            MAGIC, self.version, self.max_in, self.max_hidden, self.max_out,
            self.max_synapses, self.d_max,
            self.weight_bits | self.weight_frac << 8 | self.delay_frac << 16
            | self.decay_bits << 24,
            self.v_bits | self.y_bits << 8 | int(self.recurrent) << 16
            | (self.elig_bits << _PING_ELIG_SHIFT if self.neuron_learning else 0),
            self.max_write_words,
        ]
        if self.version >= 2:
            words += [
                (_PING_LEARNING if self.learning else 0)
                | (_PING_DELAY_LEARNING if self.delay_learning else 0)
                | (_PING_SOFTMAX if self.softmax else 0)
                | (_PING_RANDOM_FEEDBACK if self.random_feedback else 0)
                | (_PING_SPRAM if self.synapse_memory == "spram" else 0)
                | (_PING_SYNAPSE_CURRENT if self.synapse_current else 0)
                | (_PING_ADAPTATION if self.adaptation else 0)
                | (_PING_NEURON_LEARNING if self.neuron_learning else 0)
                | self.rec_kernel_taps << _PING_KERNEL_SHIFT,
                self.trace_bits | self.u_bits << 8 | self.l_bits << 16
                | self.kernel_max_half_width << 24,
            ]
        return words

    def to_payload(self) -> bytes:
        return pack_words(self.to_words())

    def core_params(self):
        """The :class:`rtl.params.CoreParams` of the core that sent this reply."""
        from rtl.params import CoreParams

        return CoreParams(**self.core_params_kwargs())

    @classmethod
    def from_payload(cls, payload: bytes) -> "PingInfo":
        """Decode a ``PING`` reply payload.

        Raises
        ------
        ProtocolError
            The payload is too short for its version or does not start with :data:`MAGIC`.
        """
        if len(payload) < 4 * _PING_WORDS_V1 or len(payload) % 4:
            raise ProtocolError(f"PING reply must have at least {4 * _PING_WORDS_V1} bytes in "
                                f"whole words, got {len(payload)}")
        words = unpack_words(payload)
        if words[0] != MAGIC:
            raise ProtocolError(f"PING reply does not start with the delaycore magic "
                                f"0x{MAGIC:08X} (got 0x{words[0]:08X}): not a delaycore link")
        version = words[1]
        if version >= 2 and len(words) < _PING_WORDS:
            raise ProtocolError(f"PING reply of protocol version {version} must have at least "
                                f"{4 * _PING_WORDS} bytes, got {len(payload)}")
        fmt, widths = words[7], words[8]
        learning = {}
        if version >= 2:
            flags, learn_widths = words[10], words[11]
            learning = dict(
                learning=bool(flags & _PING_LEARNING),
                delay_learning=bool(flags & _PING_DELAY_LEARNING),
                softmax=bool(flags & _PING_SOFTMAX),
                random_feedback=bool(flags & _PING_RANDOM_FEEDBACK),
                synapse_memory="spram" if flags & _PING_SPRAM else "bram",
                synapse_current=bool(flags & _PING_SYNAPSE_CURRENT),
                adaptation=bool(flags & _PING_ADAPTATION),
                rec_kernel_taps=flags >> _PING_KERNEL_SHIFT & 0x7FFF,
                neuron_learning=bool(flags & _PING_NEURON_LEARNING),
                elig_bits=widths >> _PING_ELIG_SHIFT or _DEFAULT_ELIG_BITS,
                trace_bits=learn_widths & 0xFF, u_bits=learn_widths >> 8 & 0xFF,
                l_bits=learn_widths >> 16 & 0xFF,
                kernel_max_half_width=learn_widths >> 24 & 0xFF)
        else:
            learning = dict(kernel_max_half_width=min(3, max(0, (words[6] - 1) // 2)))
        return cls(
            version=version, max_in=words[2], max_hidden=words[3], max_out=words[4],
            max_synapses=words[5], d_max=words[6],
            weight_bits=fmt & 0xFF, weight_frac=fmt >> 8 & 0xFF, delay_frac=fmt >> 16 & 0xFF,
            decay_bits=fmt >> 24 & 0xFF,
            v_bits=widths & 0xFF, y_bits=widths >> 8 & 0xFF, recurrent=bool(widths >> 16 & 1),
            max_write_words=words[9], **learning,
        )

    @classmethod
    def from_params(cls, params, max_write_words: int) -> "PingInfo":
        """The ``PING`` reply of a core built with :class:`rtl.params.CoreParams` ``params``."""
        return cls(
            version=PROTOCOL_VERSION, max_in=params.max_in, max_hidden=params.max_hidden,
            max_out=params.max_out, max_synapses=params.max_synapses, d_max=params.d_max,
            weight_bits=params.weight_bits, weight_frac=params.weight_frac,
            delay_frac=params.delay_frac, decay_bits=params.decay_bits,
            v_bits=params.v_bits, y_bits=params.y_bits, recurrent=params.recurrent,
            max_write_words=max_write_words, learning=params.learning,
            delay_learning=params.delay_learning, softmax=params.softmax,
            random_feedback=params.random_feedback, synapse_memory=params.synapse_memory,
            trace_bits=params.trace_bits, u_bits=params.u_bits, l_bits=params.l_bits,
            kernel_max_half_width=params.kernel_max_half_width,
            synapse_current=params.synapse_current, adaptation=params.adaptation,
            rec_kernel_taps=params.rec_kernel_taps, neuron_learning=params.neuron_learning,
            elig_bits=params.elig_bits,
        )

    def core_params_kwargs(self) -> dict:
        """Keyword arguments of :class:`rtl.params.CoreParams` for the core that replied."""
        return dict(
            max_in=self.max_in, max_hidden=self.max_hidden, max_out=self.max_out,
            max_synapses=self.max_synapses, d_max=self.d_max, weight_bits=self.weight_bits,
            weight_frac=self.weight_frac, delay_frac=self.delay_frac,
            decay_bits=self.decay_bits, v_bits=self.v_bits, y_bits=self.y_bits,
            recurrent=self.recurrent, synapse_memory=self.synapse_memory,
            learning=self.learning, trace_bits=self.trace_bits, u_bits=self.u_bits,
            l_bits=self.l_bits, kernel_max_half_width=self.kernel_max_half_width,
            delay_learning=self.delay_learning, softmax=self.softmax,
            random_feedback=self.random_feedback, synapse_current=self.synapse_current,
            adaptation=self.adaptation, rec_kernel_taps=self.rec_kernel_taps,
            neuron_learning=self.neuron_learning, elig_bits=self.elig_bits,
        )


@dataclasses.dataclass(frozen=True)
class StatusInfo:
    """The ``STATUS`` reply (6 bytes).

    ====  =====  ==========================================================================
    byte  type   content
    ====  =====  ==========================================================================
    0     u8     flags: bit 0 the core is busy
    1     u8     status code of the most recent error reply (0 if there was none)
    2     u16    error replies sent since reset (wraps at 65536)
    4     u16    frames carried out with status ``OK`` since reset, this one excluded
                 (wraps at 65536)
    ====  =====  ==========================================================================
    """

    busy: bool
    last_error: Status | int
    error_count: int
    frame_count: int

    def to_payload(self) -> bytes:
        return struct.pack("<BBHH", int(self.busy), int(self.last_error),
                           self.error_count & 0xFFFF, self.frame_count & 0xFFFF)

    @classmethod
    def from_payload(cls, payload: bytes) -> "StatusInfo":
        if len(payload) != 6:
            raise ProtocolError(f"STATUS reply must have 6 bytes, got {len(payload)}")
        flags, last_error, errors, frames = struct.unpack("<BBHH", payload)
        return cls(busy=bool(flags & 1), last_error=_as_enum(Status, last_error),
                   error_count=errors, frame_count=frames)


# -- memory map ranges ------------------------------------------------------------------------

def region_sizes(params) -> dict[int, int]:
    """Words in each region of the memory map of a core built with ``params``.

    The link answers ``BAD_ADDR`` to a ``WRITE`` or ``READ`` whose words do not all lie inside
    one of these regions (``docs/protocol.md``); regions that are not listed have no words.
    This is :func:`rtl.memory_map.region_words`, the one definition the core, the link and
    the driver share.

    Parameters
    ----------
    params : rtl.params.CoreParams
        The core's build parameters (``PingInfo.core_params()`` for a connected device).

    Returns
    -------
    dict of int to int
        Region number (``rtl.memory_map.REGION_*``) to its size in words.
    """
    from rtl.memory_map import region_words

    return region_words(params)


def check_range(addr: int, count: int, sizes: dict[int, int] | None = None) -> None:
    """Raise unless words ``addr .. addr + count - 1`` lie in one region of the memory map.

    This is the rule behind the link's ``BAD_ADDR`` reply; the host checks it first so that
    the error can name the region and its size.

    Parameters
    ----------
    addr : int
        First word address, in ``[0, 2**20 - 1]``.
    count : int
        Number of words, in ``[1, 65536]``.
    sizes : dict of int to int, optional
        :func:`region_sizes` of the core; without it only the arguments are checked.

    Raises
    ------
    TypeError
        ``addr`` or ``count`` is not an int.
    ValueError
        An argument is out of range, or the words leave their region.
    """
    addr = _check_int("addr", addr, 0, (1 << ADDR_BITS) - 1)
    count = _check_int("count", count, 1, 1 << 16)
    if sizes is None:
        return
    region, offset = addr >> 16, addr & 0xFFFF
    size = sizes.get(region, 0)
    if size == 0:
        raise ValueError(f"addr 0x{addr:05X} is in region {region}, which is not mapped")
    if offset + count > size:
        raise ValueError(f"addr 0x{addr:05X} + count {count} runs past the end of region "
                         f"{region} ({size} words: offsets 0 .. {size - 1})")
