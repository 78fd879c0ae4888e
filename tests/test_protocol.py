"""Host side of the serial link, in pure Python: frames, CRC, payloads and the Device driver.

The driver is exercised against :class:`FakeLink`, a byte-level model of the device side of
``docs/protocol.md`` (checks in the documented order, a memory map with the documented region
sizes), so these tests need no HDL tools.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from golden.network import Network
from golden.random import random_network
from host import protocol as proto
from host.device import Device, LearningUnsupportedError
from host.protocol import (Command, DeviceError, PingInfo, ProtocolError, Reply, Status,
                           StatusInfo, StepFlag)
from rtl import memory_map as mm
from rtl.params import CoreParams

PARAMS = CoreParams(max_in=12, max_hidden=10, max_out=4, d_max=32, recurrent=True)
LEARNING_PARAMS = CoreParams(max_in=6, max_hidden=5, max_out=3, d_max=8, weight_bits=12,
                             weight_frac=4, delay_frac=2, recurrent=True, learning=True,
                             trace_bits=6, u_bits=7, l_bits=12, kernel_max_half_width=2,
                             softmax=False, random_feedback=True, synapse_memory="spram")


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text)


# -- CRC --------------------------------------------------------------------------------------

def test_crc8_check_value():
    assert proto.crc8(b"123456789") == 0xF4  # CRC-8/SMBUS check value
    assert proto.crc8(b"") == 0


def test_crc8_continues_a_running_value():
    data = bytes(range(40))
    assert proto.crc8(data[17:], proto.crc8(data[:17])) == proto.crc8(data)


def test_crc8_detects_every_single_bit_error():
    frame = proto.encode_request(Command.WRITE, proto.write_payload(0x30000, [1, 2, 3]))
    for index in range(1, len(frame)):
        for bit in range(8):
            bad = bytearray(frame)
            bad[index] ^= 1 << bit
            with pytest.raises(ProtocolError):
                proto.decode_request(bytes(bad))


# -- frames -----------------------------------------------------------------------------------

@pytest.mark.parametrize("frame, expected", [
    (proto.encode_request(Command.PING), "A5 01 00 00 6B"),
    (proto.encode_request(Command.WRITE, proto.write_payload(0x30000, [200, 180])),
     "A5 02 0C 00 00 00 03 00 C8 00 00 00 B4 00 00 00 4E"),
    (proto.encode_request(Command.READ, proto.read_payload(0x50000, 2)),
     "A5 03 06 00 00 00 05 00 02 00 85"),
    (proto.encode_request(Command.STEP, proto.step_payload([1, 0, 0, 1, 0, 0, 0, 0, 0, 1], 12)),
     "A5 04 03 00 09 02 00 12"),
    (proto.encode_request(Command.CLEAR), "A5 05 00 00 C0"),
    (proto.encode_request(Command.STATUS), "A5 06 00 00 7D"),
    (proto.encode_reply(Command.READ, Status.OK, proto.pack_words([5, -3])),
     "5A 03 00 08 00 05 00 00 00 FD FF FF FF 03"),
    (proto.encode_reply(Command.STEP, Status.OK, bytes([0x05, 0x02])), "5A 04 00 02 00 05 02 C7"),
    (proto.encode_reply(Command.PING, Status.BAD_CRC), "5A 01 01 00 00 7D"),
    (proto.encode_reply(Command.WRITE, Status.BAD_ADDR), "5A 02 04 00 00 87"),
    (proto.encode_reply(0, Status.TIMEOUT), "5A 00 06 00 00 7D"),
])
def test_examples_of_the_protocol_document(frame, expected):
    assert frame == hexbytes(expected)


def test_request_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(50):
        command = int(rng.integers(0, 256))
        payload = rng.integers(0, 256, size=int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
        request = proto.decode_request(proto.encode_request(command, payload))
        assert request.command == command and request.payload == payload


def test_reply_round_trip():
    rng = np.random.default_rng(2)
    for _ in range(50):
        command, status = int(rng.integers(0, 256)), int(rng.integers(0, 256))
        payload = rng.integers(0, 256, size=int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
        reply = proto.decode_reply(proto.encode_reply(command, status, payload))
        assert (reply.command, reply.status, reply.payload) == (command, status, payload)
    assert proto.decode_reply(proto.encode_reply(3, 4)).status is Status.BAD_ADDR
    assert proto.decode_reply(proto.encode_reply(3, 0)).ok


def test_encode_rejects_bad_arguments():
    with pytest.raises(ValueError, match="command must be in"):
        proto.encode_request(256)
    with pytest.raises(TypeError, match="command must be an int"):
        proto.encode_request("PING")
    with pytest.raises(TypeError, match="payload must be bytes"):
        proto.encode_request(Command.PING, [1, 2])
    with pytest.raises(ValueError, match="at most 65535 bytes"):
        proto.encode_request(Command.WRITE, bytes(65536))
    with pytest.raises(ValueError, match="status must be in"):
        proto.encode_reply(1, -1)


@pytest.mark.parametrize("mangle, message", [
    (lambda f: f[:4], "truncated"),
    (lambda f: b"\x00" + f[1:], "sync byte 0x5A"),
    (lambda f: f[:3] + bytes([f[3] + 1]) + f[4:], "length field says"),
    (lambda f: f + b"\x00", "length field says"),
    (lambda f: f[:-1] + bytes([f[-1] ^ 0xFF]), "CRC mismatch"),
])
def test_decode_reply_rejects_bad_frames(mangle, message):
    frame = proto.encode_reply(Command.READ, Status.OK, b"\x01\x02\x03\x04")
    with pytest.raises(ProtocolError, match=message):
        proto.decode_reply(mangle(frame))


def test_decode_request_rejects_a_reply():
    with pytest.raises(ProtocolError, match="sync byte 0xA5"):
        proto.decode_request(proto.encode_reply(1, 0))


class Chunks:
    """A read function over fixed bytes, returning at most ``chunk`` bytes per call."""

    def __init__(self, data: bytes, chunk: int = 3):
        self.data = bytearray(data)
        self.chunk = chunk

    def __call__(self, size: int) -> bytes:
        out = bytes(self.data[:min(size, self.chunk)])
        del self.data[:len(out)]
        return out


def test_read_reply_skips_stray_bytes_and_reassembles_chunks():
    frame = proto.encode_reply(Command.READ, Status.OK, bytes(range(12)))
    reply = proto.read_reply(Chunks(b"\x00\xA5\x13" + frame))
    assert reply == Reply(Command.READ, Status.OK, bytes(range(12)))


def test_read_reply_reports_silence_and_truncation():
    with pytest.raises(ProtocolError, match="no reply"):
        proto.read_reply(Chunks(b""))
    with pytest.raises(ProtocolError, match=r"no reply .*after skipping 2 stray bytes"):
        proto.read_reply(Chunks(b"\x01\x02"))
    frame = proto.encode_reply(Command.READ, Status.OK, bytes(8))
    with pytest.raises(ProtocolError, match="reply truncated: timed out after 3 of 9 bytes"):
        proto.read_reply(Chunks(frame[:8]))


# -- payloads ---------------------------------------------------------------------------------

def test_write_payload_layout_and_validation():
    assert proto.write_payload(0x10002, [1, -1]) == hexbytes("02 00 01 00 01 00 00 00 FF FF FF FF")
    with pytest.raises(ValueError, match=r"addr must be in \[0, 1048575\]"):
        proto.write_payload(1 << 20, [1])
    with pytest.raises(ValueError, match="at least one word"):
        proto.write_payload(0, [])
    with pytest.raises(ValueError, match=r"words\[1\] must be in"):
        proto.write_payload(0, [0, 1 << 32])
    with pytest.raises(TypeError, match=r"words\[0\] must be an int"):
        proto.write_payload(0, [True])
    with pytest.raises(TypeError, match="addr must be an int"):
        proto.write_payload(1.0, [1])


def test_read_payload_validation():
    assert proto.read_payload(0x80003, 7) == hexbytes("03 00 08 00 07 00")
    with pytest.raises(ValueError, match=r"count must be in \[1, 16383\]"):
        proto.read_payload(0, 0)
    with pytest.raises(ValueError, match=r"count must be in \[1, 16383\]"):
        proto.read_payload(0, proto.MAX_READ_WORDS + 1)


def test_step_payload_and_spike_bits():
    spikes = [1, 0, 1] + [0] * 6 + [1]
    payload = proto.step_payload(spikes, 12)
    assert payload == bytes([0b101, 0b10, 0])
    assert proto.unpack_bits(payload[:2], 10) == [bool(s) for s in spikes]
    assert proto.step_payload(np.array([True, False]), 8, flags=3) == bytes([1, 3])
    with pytest.raises(ValueError, match="spikes has 13 elements, at most 12 fit"):
        proto.step_payload([0] * 13, 12)
    with pytest.raises(ValueError, match=r"spikes\[1\] must be 0 or 1, got 2"):
        proto.step_payload([0, 2], 12)
    with pytest.raises(ValueError, match=r"flags must be in \[0, 255\]"):
        proto.step_payload([1], 12, flags=256)
    with pytest.raises(ProtocolError, match="10 bits need 2 bytes"):
        proto.unpack_bits(b"\x00", 10)


def test_words_round_trip_and_signed_view():
    words = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
    assert proto.unpack_words(proto.pack_words(words)) == words
    assert proto.unpack_words(proto.pack_words([-1, -2]), signed=True) == [-1, -2]
    with pytest.raises(ProtocolError, match="multiple of 4"):
        proto.unpack_words(b"\x00" * 5)


def test_ping_info_round_trip_and_checks():
    info = PingInfo.from_params(PARAMS, 64)
    assert PingInfo.from_payload(info.to_payload()) == info
    assert len(info.to_payload()) == 48
    # Words appended by a later version are ignored.
    assert PingInfo.from_payload(info.to_payload() + bytes(8)) == info
    assert CoreParams(**info.core_params_kwargs()) == PARAMS
    assert info.core_params() == PARAMS
    with pytest.raises(ProtocolError, match="not a delaycore link"):
        PingInfo.from_payload(bytes(40))
    with pytest.raises(ProtocolError, match="at least 40 bytes"):
        PingInfo.from_payload(info.to_payload()[:36])
    with pytest.raises(ProtocolError, match="version 2 must have at least 48 bytes"):
        PingInfo.from_payload(info.to_payload()[:40])


def test_ping_info_rebuilds_a_learning_core_exactly():
    info = PingInfo.from_params(LEARNING_PARAMS, 16)
    back = PingInfo.from_payload(info.to_payload())
    assert back == info and back.learning
    assert back.core_params() == LEARNING_PARAMS
    words = proto.unpack_words(info.to_payload())
    assert words[10] == 0b11011  # learning, delay_learning, random_feedback, spram
    assert words[11] == 6 | 7 << 8 | 12 << 16 | 2 << 24


NEURON_PARAMS = CoreParams(max_in=6, max_hidden=5, max_out=3, d_max=8, recurrent=True,
                           synapse_current=True, adaptation=True)


def test_ping_info_rebuilds_the_neuron_options_exactly():
    for synapse_current, adaptation, bits in ((True, False, 1 << 5), (False, True, 1 << 6),
                                              (True, True, 3 << 5)):
        params = dataclasses.replace(NEURON_PARAMS, synapse_current=synapse_current,
                                     adaptation=adaptation)
        info = PingInfo.from_params(params, 16)
        assert proto.unpack_words(info.to_payload())[10] & (3 << 5) == bits
        assert PingInfo.from_payload(info.to_payload()).core_params() == params
        assert mm.REGION_NEURON in proto.region_sizes(info.core_params())


def test_ping_info_rebuilds_neuron_learning_exactly():
    params = CoreParams(max_in=6, max_hidden=5, max_out=3, recurrent=True, learning=True,
                        adaptation=True, neuron_learning=True, elig_bits=20)
    words = proto.unpack_words(PingInfo.from_params(params, 16).to_payload())
    assert words[10] & (1 << 7) and words[8] >> 24 == 20
    assert PingInfo.from_payload(proto.pack_words(words)).core_params() == params
    # A device built before neuron learning sent bit 7 and word 8's top byte as 0.
    words[10] &= ~(1 << 7)
    words[8] &= 0xFFFFFF
    info = PingInfo.from_payload(proto.pack_words(words))
    assert info.core_params() == dataclasses.replace(params, neuron_learning=False,
                                                     elig_bits=24)


def test_ping_info_rebuilds_a_kernel_core_exactly():
    params = CoreParams(max_in=6, max_hidden=5, max_out=3, recurrent=True, rec_kernel_taps=9)
    info = PingInfo.from_params(params, 16)
    assert proto.unpack_words(info.to_payload())[10] >> 16 == 9
    assert PingInfo.from_payload(info.to_payload()).core_params() == params


def test_ping_info_of_a_device_before_the_neuron_options():
    # Such a device sent word 10 bits 5 and 6 as 0: a core without the options.
    words = PingInfo.from_params(NEURON_PARAMS, 16).to_words()
    words[10] &= ~(3 << 5)
    info = PingInfo.from_payload(proto.pack_words(words))
    assert not info.synapse_current and not info.adaptation
    assert info.core_params() == dataclasses.replace(NEURON_PARAMS, synapse_current=False,
                                                     adaptation=False)


def test_ping_info_of_protocol_version_1():
    words = PingInfo.from_params(PARAMS, 64).to_words()[:10]
    words[1] = 1
    info = PingInfo.from_payload(proto.pack_words(words))
    assert info.version == 1 and not info.learning
    assert info.core_params() == PARAMS


def test_status_info_round_trip():
    status = StatusInfo(busy=True, last_error=Status.TIMEOUT, error_count=300, frame_count=65535)
    assert StatusInfo.from_payload(status.to_payload()) == status
    with pytest.raises(ProtocolError, match="6 bytes"):
        StatusInfo.from_payload(b"\x00")


def test_region_sizes_and_range_check():
    sizes = proto.region_sizes(PARAMS)
    assert sizes[mm.REGION_CTRL] == 6
    assert sizes[mm.REGION_SYN] == PARAMS.max_synapses
    assert sizes[mm.REGION_AXON] == PARAMS.axon_depth
    assert sizes[mm.REGION_HIST] == PARAMS.n_sources
    assert sizes[mm.REGION_Y] == PARAMS.max_out
    proto.check_range(mm.address(mm.REGION_ALPHA, 8), 2, sizes)
    with pytest.raises(ValueError, match=r"0x30008 \+ count 3 runs past the end of region 3 "
                                         r"\(10 words"):
        proto.check_range(mm.address(mm.REGION_ALPHA, 8), 3, sizes)
    with pytest.raises(ValueError, match="region 9, which is not mapped"):
        proto.check_range(9 << 16, 1, sizes)
    with pytest.raises(ValueError, match=r"count must be in \[1, 65536\]"):
        proto.check_range(0, 0, sizes)


def test_device_error_message():
    err = DeviceError(Command.WRITE, Status.BAD_ADDR)
    assert err.status is Status.BAD_ADDR and err.command is Command.WRITE
    assert str(err).startswith("WRITE failed: BAD_ADDR (the address range is outside")
    assert "unknown status 0x99" in str(DeviceError(0x42, 0x99))
    assert isinstance(err, ProtocolError)


# -- the Device driver against a model of the link --------------------------------------------

class FakeLink:
    """Device side of the protocol in Python: a transport with ``write`` and ``read``.

    It parses whole frames (no inter-byte timeout: a frame is taken as soon as it is
    complete), checks them in the order of ``docs/protocol.md``, and keeps a word memory.
    ``STEP`` answers with hidden spike ``i`` = input spike ``i`` and counts ``CTRL.STEP``.
    """

    def __init__(self, params: CoreParams, max_write_words: int = 4):
        self.params = params
        self.info = PingInfo.from_params(params, max_write_words)
        self.sizes = proto.region_sizes(params)
        self.memory: dict[int, int] = {
            mm.address(mm.REGION_CTRL, mm.CTRL_N_IN): params.max_in,
            mm.address(mm.REGION_CTRL, mm.CTRL_N_HIDDEN): params.max_hidden,
            mm.address(mm.REGION_CTRL, mm.CTRL_N_OUT): params.max_out,
        }
        self.rx = bytearray()
        self.tx = bytearray()
        self.requests: list[proto.Request] = []
        self.force_status: int | None = None
        self.reply_command: int | None = None
        self.learn_steps = 0

    def write(self, data: bytes) -> int:
        self.rx += data
        while True:
            start = self.rx.find(proto.SYNC_REQUEST)
            if start < 0:
                self.rx.clear()
                return len(data)
            del self.rx[:start]
            if len(self.rx) < 4:
                return len(data)
            total = 5 + int.from_bytes(self.rx[2:4], "little")
            if len(self.rx) < total:
                return len(data)
            frame = bytes(self.rx[:total])
            del self.rx[:total]
            command, status, payload = self.handle(frame)
            if self.reply_command is not None:
                command = self.reply_command
            self.tx += proto.encode_reply(command, status, payload if status == 0 else b"")

    def read(self, size: int) -> bytes:
        out = bytes(self.tx[:size])
        del self.tx[:len(out)]
        return out

    def handle(self, frame: bytes) -> tuple[int, int, bytes]:
        command, payload = frame[1], frame[4:-1]
        if proto.crc8(frame[1:-1]) != frame[-1]:
            return command, Status.BAD_CRC, b""
        self.requests.append(proto.Request(command, payload))
        if self.force_status is not None:
            return command, self.force_status, b""
        if command not in set(Command):
            return command, Status.BAD_CMD, b""
        n = len(payload)
        in_bytes = proto.spike_bytes(self.params.max_in)
        length_ok = {
            Command.PING: n == 0, Command.CLEAR: n == 0, Command.STATUS: n == 0,
            Command.WRITE: n >= 8 and n % 4 == 0 and n <= 4 + 4 * self.info.max_write_words,
            Command.READ: n == 6, Command.STEP: n == in_bytes + 1,
        }[command]
        if not length_ok:
            return command, Status.BAD_LEN, b""
        if command == Command.PING:
            return command, Status.OK, self.info.to_payload()
        if command == Command.STATUS:
            return command, Status.OK, StatusInfo(False, 0, 0, 0).to_payload()
        if command == Command.CLEAR:
            self.memory[mm.address(mm.REGION_CTRL, mm.CTRL_STEP)] = 0
            return command, Status.OK, b""
        if command == Command.STEP:
            allowed = StepFlag.LEARN if self.params.learning else 0
            if payload[-1] & ~allowed:
                return command, Status.BAD_ARG, b""
            self.learn_steps += bool(payload[-1] & StepFlag.LEARN)
            spikes = proto.unpack_bits(payload[:-1], self.params.max_in)
            hidden = (spikes + [False] * self.params.max_hidden)[:self.params.max_hidden]
            key = mm.address(mm.REGION_CTRL, mm.CTRL_STEP)
            self.memory[key] = self.memory.get(key, 0) + 1
            return command, Status.OK, proto.pack_bits(hidden, self.params.max_hidden)
        addr = int.from_bytes(payload[:4], "little")
        if command == Command.READ:
            count = int.from_bytes(payload[4:6], "little")
            if not 1 <= count <= proto.MAX_READ_WORDS:
                return command, Status.BAD_ARG, b""
        else:
            count = (n - 4) // 4
        try:
            proto.check_range(addr, count, self.sizes)
        except ValueError:
            return command, Status.BAD_ADDR, b""
        if command == Command.WRITE:
            for index, word in enumerate(proto.unpack_words(payload[4:])):
                self.memory[addr + index] = word
            return command, Status.OK, b""
        return command, Status.OK, proto.pack_words(
            [self.memory.get(addr + index, 0) for index in range(count)])


def test_device_needs_a_transport():
    with pytest.raises(TypeError, match="transport must have a read"):
        Device(type("OnlyWrite", (), {"write": lambda self, data: None})())


def test_device_ping_is_cached():
    link = FakeLink(PARAMS)
    device = Device(link)
    assert link.requests == []  # nothing sent on construction
    assert device.info == PingInfo.from_params(PARAMS, 4)
    assert device.params == PARAMS
    assert device.info is device.info  # cached: no second PING
    assert [r.command for r in link.requests] == [Command.PING]


def test_device_write_splits_bursts_and_reads_back():
    link = FakeLink(PARAMS, max_write_words=4)
    device = Device(link)
    words = list(range(100, 110)) + [-5]
    device.write(mm.address(mm.REGION_SYN, 3), words)
    writes = [r for r in link.requests if r.command == Command.WRITE]
    assert [len(r.payload) // 4 - 1 for r in writes] == [4, 4, 3]
    back = device.read(mm.address(mm.REGION_SYN, 3), len(words))
    assert back == [w & 0xFFFF_FFFF for w in words]
    assert mm.decode_signed(back[-1]) == -5


def test_device_validates_arguments_before_sending():
    link = FakeLink(PARAMS)
    device = Device(link)
    device.ping()
    sent = len(link.requests)
    with pytest.raises(ValueError, match="runs past the end of region 3"):
        device.write(mm.address(mm.REGION_ALPHA, 9), [1, 2])
    with pytest.raises(ValueError, match=r"words\[1\] must be in"):
        device.write(mm.address(mm.REGION_ALPHA), [1, 1 << 40])
    with pytest.raises(ValueError, match="at least one word"):
        device.write(mm.address(mm.REGION_ALPHA), [])
    with pytest.raises(ValueError, match=r"count must be in \[1, 65536\]"):
        device.read(mm.address(mm.REGION_ALPHA), 0)
    with pytest.raises(TypeError, match="count must be an int"):
        device.read(mm.address(mm.REGION_ALPHA), 2.0)
    with pytest.raises(ValueError, match=r"addr must be in \[0, 1048575\]"):
        device.read(-1)
    with pytest.raises(ValueError, match="region 12, which is not mapped"):
        device.read(12 << 16)
    with pytest.raises(ValueError, match="spikes has 13 elements"):
        device.step([0] * 13)
    assert len(link.requests) == sent


def test_device_raises_device_error_with_the_status():
    link = FakeLink(PARAMS)
    device = Device(link)
    device.ping()
    link.force_status = Status.BUSY
    with pytest.raises(DeviceError, match="CLEAR failed: BUSY") as info:
        device.clear()
    assert info.value.status is Status.BUSY
    link.force_status = None
    with pytest.raises(DeviceError, match="BAD_ARG"):
        device.step([1], flags=1)


def test_device_detects_a_stale_reply_and_resyncs():
    link = FakeLink(PARAMS)
    device = Device(link)
    device.ping()
    link.reply_command = Command.PING
    with pytest.raises(ProtocolError, match="reply answers command PING, but CLEAR was sent"):
        device.clear()
    link.reply_command = None
    link.tx += b"\x5A\x01garbage"
    assert device.resync() == 9
    device.clear()


def test_device_reports_a_silent_link():
    class Silent:
        def write(self, data):
            return len(data)

        def read(self, size):
            return b""

    with pytest.raises(ProtocolError, match="no reply from the device"):
        Device(Silent()).ping()


def test_device_step_returns_the_loaded_network_size():
    link = FakeLink(PARAMS)
    device = Device(link)
    z = device.step([1, 0, 1])
    assert z.dtype == bool and z.shape == (PARAMS.max_hidden,)
    assert list(z[:4]) == [True, False, True, False]
    net = random_network(np.random.default_rng(3), n_in=5, n_hidden=6, n_out=2,
                         recurrent=True, delay_in="synaptic", delay_rec="axonal",
                         delay_out="axonal", d_max=32)
    device.load_network(net)
    assert device.step([0, 1]).shape == (6,)


def test_device_load_network_writes_every_word_in_bursts():
    link = FakeLink(PARAMS, max_write_words=8)
    device = Device(link)
    net = random_network(np.random.default_rng(4), n_in=7, n_hidden=5, n_out=3,
                         recurrent=True, delay_in="synaptic", delay_rec="axonal",
                         delay_out="axonal", d_max=20)
    expected = mm.network_writes(net, PARAMS)
    assert device.load_network(net) == len(expected)
    for addr, data in expected:
        assert link.memory[addr] == data, f"word at 0x{addr:05X}"
    commands = [r.command for r in link.requests]
    assert commands[-1] == Command.CLEAR
    # Consecutive addresses travel together: far fewer frames than words.
    assert commands.count(Command.WRITE) < len(expected) // 4


def test_device_load_network_checks_the_fit():
    device = Device(FakeLink(PARAMS))
    net = random_network(np.random.default_rng(5), n_in=13, n_hidden=4, n_out=2, d_max=16)
    with pytest.raises(ValueError, match="n_in = 13 exceeds the core capacity max_in = 12"):
        device.load_network(net)


def test_device_loads_a_network_with_the_neuron_options():
    rng = np.random.default_rng(8)
    data = random_network(rng, n_in=5, n_hidden=4, n_out=3, recurrent=True,
                          delay_in="synaptic", delay_rec="axonal", d_max=8).to_dict()
    data.update(synapse="current", beta=rng.integers(0, 256, 4),
                adaptation="threshold", rho=rng.integers(0, 256, 4),
                coupling=rng.integers(0, 1000, 4))
    net = Network.from_dict(data)
    link = FakeLink(NEURON_PARAMS, max_write_words=8)
    device = Device(link)
    expected = mm.network_writes(net, NEURON_PARAMS)
    assert any(addr >> 16 == mm.REGION_NEURON for addr, _ in expected)
    assert device.load_network(net) == len(expected)
    for addr, data in expected:
        assert link.memory[addr] == data, f"word at 0x{addr:05X}"
    assert device.export_network().to_dict() == net.to_dict()
    # What the core learned comes back: beta of neuron 2 and rho of neuron 0 changed.
    link.memory[mm.address(mm.REGION_NEURON, mm.neuron_offset("BETA", 2, NEURON_PARAMS))] = 7
    link.memory[mm.address(mm.REGION_NEURON, mm.neuron_offset("RHO", 0, NEURON_PARAMS))] = 9
    learned = device.export_network()
    assert learned.beta[2] == 7 and learned.rho[0] == 9
    assert list(learned.coupling) == list(net.coupling)
    # A core without the options refuses the network before anything is sent.
    bare = FakeLink(dataclasses.replace(NEURON_PARAMS, synapse_current=False))
    device = Device(bare)
    device.ping()
    with pytest.raises(ValueError, match="synapse_current"):
        device.load_network(net)
    assert [r.command for r in bare.requests] == [Command.PING]


def test_device_loads_and_exports_a_kernel_network():
    rng = np.random.default_rng(9)
    data = random_network(rng, n_in=5, n_hidden=4, n_out=3, recurrent=True,
                          delay_in="synaptic", delay_rec="axonal", delay_out="axonal",
                          d_max=8).to_dict()
    data.update(rec_kernel=3, w_rec=[-7, 12, 3])
    net = Network.from_dict(data)
    params = CoreParams(max_in=6, max_hidden=5, max_out=3, d_max=8, recurrent=True,
                        rec_kernel_taps=5)
    device = Device(FakeLink(params, max_write_words=8))
    assert device.params == params
    device.load_network(net)
    assert device.export_network().to_dict() == net.to_dict()


def test_device_read_state_decodes_signed_state():
    link = FakeLink(PARAMS)
    device = Device(link)
    device.write(mm.address(mm.REGION_CTRL, mm.CTRL_N_HIDDEN), [3, 2])
    device.write(mm.address(mm.REGION_V), [5, -7, 0])
    device.write(mm.address(mm.REGION_Y), [-1, 1000])
    device.step([1])
    state = device.read_state()
    assert state["n_hidden"] == 3 and state["n_out"] == 2 and state["step"] == 1
    assert state["v"].tolist() == [5, -7, 0] and state["v"].dtype == np.int64
    assert state["y"].tolist() == [-1, 1000]


def test_device_open_uses_pyserial(monkeypatch):
    serial = pytest.importorskip("serial")
    opened = {}

    class FakeSerial:
        def __init__(self, port, baudrate, timeout):
            opened.update(port=port, baudrate=baudrate, timeout=timeout)

        def write(self, data):
            return len(data)

        def read(self, size):
            return b""

        def close(self):
            opened["closed"] = True

    monkeypatch.setattr(serial, "Serial", FakeSerial)
    with Device.open("/dev/ttyUSB1", 115200, timeout=0.5):
        pass
    assert opened == {"port": "/dev/ttyUSB1", "baudrate": 115200, "timeout": 0.5,
                      "closed": True}


def test_device_refuses_learning_on_a_core_without_it():
    link = FakeLink(PARAMS)
    device = Device(link)
    device.ping()
    sent = len(link.requests)
    with pytest.raises(LearningUnsupportedError, match="a learning step needs a core built "
                                                       "with learning"):
        device.step([1], learn=True)
    with pytest.raises(LearningUnsupportedError, match="learning engine"):
        device.set_label(1)
    with pytest.raises(LearningUnsupportedError):
        device.run_sample(np.zeros((3, 2)), label=0, learn=[0, 1, 0])
    assert len(link.requests) == sent
    # The raw flag reaches the link, which refuses it.
    with pytest.raises(DeviceError, match="STEP failed: BAD_ARG"):
        device.step([1], flags=StepFlag.LEARN)


def test_device_learning_sample_and_export():
    link = FakeLink(LEARNING_PARAMS, max_write_words=8)
    device = Device(link)
    assert device.learning and device.params == LEARNING_PARAMS
    from golden.train import default_rule
    rule = default_rule(trace_bits=6, trace_shift=4, u_bits=7, l_bits=12, error="mse",
                        kernel=np.array([-8, -4, 0, 4, 8]))
    net = random_network(np.random.default_rng(6), n_in=5, n_hidden=4, n_out=3,
                         recurrent=True, delay_in="synaptic", delay_rec="axonal",
                         delay_out="axonal", d_max=8, weight_bits=12, weight_frac=4,
                         delay_frac=2)
    net = type(net).from_dict({**net.to_dict(), "learning": rule.to_dict()})
    device.load_network(net)
    assert link.memory[mm.address(mm.REGION_LEARN, mm.LEARN_REGISTERS["MODE"])] \
        == mm.encode_mode(rule)
    spikes = np.random.default_rng(7).random((6, 5)) < 0.5
    learn = np.array([0, 0, 1, 1, 0, 1], dtype=bool)
    score = device.run_sample(spikes, label=2, learn=learn, score=learn)
    assert score.shape == (3,) and link.learn_steps == 3
    assert link.memory[mm.address(mm.REGION_CTRL, mm.CTRL_LABEL)] == 2
    with pytest.raises(ValueError, match=r"label must be in \[0, 2\]"):
        device.set_label(3)
    with pytest.raises(ValueError, match="label is required"):
        device.run_sample(spikes, learn=learn)
    with pytest.raises(ValueError, match="learn must have one entry per step"):
        device.run_sample(spikes, label=0, learn=[1])
    # The fake link does not learn: the export is the loaded network.
    assert device.export_network().to_dict() == net.to_dict()
