"""cocotb test module: a ``LinkedCore`` (core + host link + UART) driven through its UART.

Run by :func:`sim.build.run_cocotb` (as ``tests/test_host_link_sim.py`` does). The host side
is the real driver, :class:`host.device.Device`, running in a :func:`cocotb.task.bridge` thread;
its transport turns ``write``/``read`` into bytes on the simulated serial lines
(cocotbext-uart ``UartSource``/``UartSink``), with read timeouts in simulated time.

Environment variables:

``DELAYCORE_VARIANT``
    JSON of the :class:`sim.variants.CoreVariant` the design was built from.
``DELAYCORE_LINK``
    JSON with the build settings of the link: ``clk_period_ns``, ``baud``,
    ``timeout_cycles`` and ``max_write_words``.
``DELAYCORE_REPORT``
    Path of the JSON report written at the end of every test: per test its wall time and
    simulated time, and the failures.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles
from cocotbext.uart import UartSink, UartSource

from golden.model import GoldenCore
from golden.random import random_network, random_spikes
from host import protocol as proto
from host.device import Device, LearningUnsupportedError
from host.protocol import Command, DeviceError, Status, StepFlag
from rtl import memory_map as mm
from sim.cocotb_report import TestReport
from sim.variants import CoreVariant

_REPORT = TestReport()
_record = _REPORT.record


# -- harness ----------------------------------------------------------------------------------

class SimTransport:
    """Byte transport over the simulated UART for code running in a bridge thread.

    ``write`` returns once the last byte has left the UART source, so that the read timeout
    of the next ``read`` counts from the end of the request, as on a real serial port.
    ``read(n)`` returns when ``n`` bytes have arrived or the line has been quiet for
    ``read_timeout_ns`` of simulated time.
    """

    def __init__(self, source: UartSource, sink: UartSink, read_timeout_ns: int):
        self._source = source
        self._sink = sink
        self._read_timeout_ns = read_timeout_ns

    async def _write(self, data: bytes) -> None:
        await self._source.write(data)
        await self._source.wait()

    async def _read(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            if self._sink.empty():
                await self._sink.wait(self._read_timeout_ns, "ns")
                if self._sink.empty():
                    break
            data += self._sink.read_nowait(min(size - len(data), self._sink.count()))
        return bytes(data)

    def write(self, data: bytes) -> int:
        resume(self._write)(bytes(data))
        return len(data)

    def read(self, size: int) -> bytes:
        return resume(self._read)(size)


class LinkHarness:
    """Clock, reset, UART models and a :class:`Device` for one test."""

    def __init__(self, dut):
        self.dut = dut
        self.variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
        self.params = self.variant.core_params()
        self.config = json.loads(os.environ["DELAYCORE_LINK"])
        self.period_ns = int(self.config["clk_period_ns"])
        baud = float(self.config["baud"])
        bit_ns = 1e9 / baud
        if bit_ns != int(bit_ns):
            # cocotbext-uart times bits in whole nanoseconds.
            raise ValueError(f"baud {baud:g} must give a whole number of ns per bit")
        # The UART models log every byte at INFO; LINK_UART_LOG=INFO shows them.
        uart_log_level = logging.getLevelName(os.environ.get("LINK_UART_LOG", "WARNING"))
        for line in (dut.uart_rx, dut.uart_tx):
            logging.getLogger(f"cocotb.{line._path}").setLevel(uart_log_level)
        self.source = UartSource(dut.uart_rx, baud=baud)
        self.sink = UartSink(dut.uart_tx, baud=baud)
        timeout_ns = int(self.config["timeout_cycles"]) * self.period_ns
        # The read timeout must outlast the link's inter-byte timeout (so that resync() sees
        # the TIMEOUT reply of an abandoned frame) and the longest step of the core.
        step_ns = self.params.step_cycles(self.params.max_in, self.params.max_hidden,
                                          self.params.max_out, self.params.recurrent)
        read_timeout_ns = 2 * timeout_ns + 2 * step_ns * self.period_ns + 40 * int(bit_ns)
        self.transport = SimTransport(self.source, self.sink, read_timeout_ns)
        self.device = Device(self.transport)

    async def start(self) -> None:
        cocotb.start_soon(Clock(self.dut.clk, self.period_ns, "ns").start())
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 4)
        # Every test starts from a cleared core, as a host does after connecting.
        await self.run(self.device.clear)

    async def run(self, func, *args):
        """Run blocking host code ``func(*args)`` (which may use :attr:`device`)."""
        return await bridge(func)(*args)


# -- register contents ------------------------------------------------------------------------

def _region_fields(params) -> dict[int, tuple[int, bool]]:
    """Region -> (field width, signed) of the words a region stores (for read-back checks)."""
    return {
        mm.REGION_SYN: (params.syn_word_bits, False),
        mm.REGION_AXON: (params.delay_bits, False),
        mm.REGION_ALPHA: (params.decay_bits, False),
        mm.REGION_THETA: (params.v_bits - 1, False),
        mm.REGION_V: (params.v_bits, True),
        mm.REGION_KAPPA: (params.decay_bits, False),
        mm.REGION_Y: (params.y_bits, True),
        mm.REGION_HIST: (params.ring, False),
    }


def _stored(word: int, bits: int, signed: bool) -> int:
    """What the bus reads back after ``word`` was written to a field of ``bits`` bits."""
    value = word & ((1 << bits) - 1)
    if signed:
        value = mm.decode_signed(value, bits) & 0xFFFF_FFFF
    return value


# -- tests ------------------------------------------------------------------------------------

@_record("ping_status")
async def ping_status(dut):
    """PING reports the built capacity; STATUS counts frames and errors."""
    h = LinkHarness(dut)
    await h.start()

    def host():
        info = h.device.ping()
        expected = proto.PingInfo.from_params(h.params, int(h.config["max_write_words"]))
        assert info == expected, f"PING reply {info} differs from the built core {expected}"
        status = h.device.status()
        assert status == proto.StatusInfo(busy=False, last_error=Status.OK, error_count=0,
                                          frame_count=2), f"STATUS after CLEAR, PING: {status}"
        reply = h.device.request(0x7E)
        assert reply.status == Status.BAD_CMD, f"unknown command answered {reply}"
        status = h.device.status()
        assert status == proto.StatusInfo(busy=False, last_error=Status.BAD_CMD, error_count=1,
                                          frame_count=3), f"STATUS after a BAD_CMD: {status}"
        if not h.params.learning:
            # The learn flag needs the learning engine: the driver refuses to send it, and the
            # link refuses it when it is sent anyway; the step does not run.
            try:
                h.device.step([1], learn=True)
            except LearningUnsupportedError:
                pass
            else:
                raise AssertionError("a learning step was sent to a core without learning")
            try:
                h.device.step([1], flags=StepFlag.LEARN)
            except DeviceError as err:
                assert err.status == Status.BAD_ARG, f"STEP with the learn flag: {err}"
            else:
                raise AssertionError("a core without learning ran a learning step")
            assert h.device.read_state()["step"] == 0, "a refused learning STEP ran"

    await h.run(host)


@_record("write_read_back")
async def write_read_back(dut):
    """Every memory region takes a burst write (split into frames) and reads it back."""
    h = LinkHarness(dut)
    await h.start()
    rng = np.random.default_rng(11)
    sizes = proto.region_sizes(h.params)

    def host():
        for region, (bits, signed) in _region_fields(h.params).items():
            words = [int(w) for w in rng.integers(0, 1 << 32, size=sizes[region])]
            h.device.write(mm.address(region), words)
            back = h.device.read(mm.address(region), sizes[region])
            expected = [_stored(w, bits, signed) for w in words]
            assert len(back) == len(expected), f"region {region}: read {len(back)} words"
            for offset, (got, want) in enumerate(zip(back, expected, strict=True)):
                assert got == want, (f"region {region} offset {offset}: wrote "
                                     f"0x{words[offset]:08X}, read 0x{got:08X}, "
                                     f"expected 0x{want:08X}")
        # A single word at the last offset of a region, and CTRL registers.
        last = mm.address(mm.REGION_ALPHA, sizes[mm.REGION_ALPHA] - 1)
        h.device.write(last, [77])
        assert h.device.read(last) == [77]
        flags = mm.encode_flags(recurrent=h.params.recurrent, reset="hard", delay_in="axonal")
        h.device.write(mm.address(mm.REGION_CTRL, mm.CTRL_N_IN), [3, 2, 1, flags])
        assert h.device.read(mm.address(mm.REGION_CTRL, mm.CTRL_N_IN), 4) == [3, 2, 1, flags]

    await h.run(host)


@_record("step_matches_golden")
async def step_matches_golden(dut):
    """A random network loaded over the link steps exactly like the golden model."""
    h = LinkHarness(dut)
    await h.start()
    p = h.params
    rng = np.random.default_rng(5)
    net = random_network(
        rng, n_in=max(1, p.max_in - 2), n_hidden=max(1, p.max_hidden - 1),
        n_out=p.max_out, recurrent=p.recurrent, delay_in="synaptic",
        delay_rec="axonal" if p.recurrent else "none", delay_out="synaptic", d_max=p.d_max,
        weight_bits=p.weight_bits, weight_frac=p.weight_frac, delay_frac=p.delay_frac,
        decay_bits=p.decay_bits, v_bits=p.v_bits, y_bits=p.y_bits)
    spikes = random_spikes(rng, 20, net.n_in, 0.4)

    def host():
        written = h.device.load_network(net)
        assert written > 0
        golden = GoldenCore(net)
        fired = 0
        for t, s in enumerate(spikes):
            z = h.device.step(s)
            expected = golden.step(s)
            mismatch = np.flatnonzero(z != expected.z)
            assert mismatch.size == 0, (f"step {t}: hidden neuron {int(mismatch[0])} spiked "
                                        f"{bool(z[mismatch[0]])} over the link, golden "
                                        f"{bool(expected.z[mismatch[0]])}")
            fired += int(z.sum())
        assert fired > 0, "no hidden spike in 20 steps: the test network is too quiet"
        state = h.device.read_state()
        assert state["step"] == len(spikes), f"CTRL.STEP = {state['step']}"
        assert (state["v"] == golden.v[0]).all(), f"v {state['v']} != golden {golden.v[0]}"
        assert (state["y"] == golden.y[0]).all(), f"y {state['y']} != golden {golden.y[0]}"
        h.device.clear()
        state = h.device.read_state()
        assert state["step"] == 0 and not state["v"].any() and not state["y"].any(), \
            f"state after CLEAR: {state}"

    await h.run(host)


@_record("fuzz_resync")
async def fuzz_resync(dut):
    """Garbage, truncated and invalid frames get error replies (or none), change nothing,
    and the link accepts the next good frame after a resync."""
    h = LinkHarness(dut)
    await h.start()
    p = h.params
    rng = np.random.default_rng(23)
    sizes = proto.region_sizes(p)
    max_write = int(h.config["max_write_words"])
    alpha = mm.address(mm.REGION_ALPHA)
    theta = mm.address(mm.REGION_THETA)
    n_hidden = sizes[mm.REGION_ALPHA]

    def good_write(offset, count):
        values = [int(v) for v in rng.integers(1, 1 << p.decay_bits, size=count)]
        return proto.encode_request(Command.WRITE,
                                    proto.write_payload(alpha + offset, values))

    def raw(frame: bytes) -> proto.Reply:
        h.transport.write(frame)
        return proto.read_reply(h.transport.read)

    def expect(frame: bytes, status: Status, what: str) -> None:
        reply = raw(frame)
        assert reply.status == status and reply.payload == b"", \
            f"{what}: expected {status.name}, got {reply}"

    def flip_bit(frame: bytes, index: int) -> bytes:
        out = bytearray(frame)
        out[index] ^= 1 << int(rng.integers(0, 8))
        return bytes(out)

    def with_crc(body: bytes) -> bytes:
        return bytes([proto.SYNC_REQUEST]) + body + bytes([proto.crc8(body)])

    cases = {
        "garbage": None,
        "truncated write": None,
        "bad crc": None,
        "corrupted payload": None,
        "write length not 4 + 4N": None,
        "write longer than the buffer": None,
        "write past region end": None,
        "address above 20 bits": None,
        "unmapped region": None,
        "read count 0": None,
        "step flags": None,
        "unknown command": None,
        "ping with payload": None,
        "read wrong length": None,
    }
    names = list(cases)

    def host():
        h.device.ping()
        reference = {
            alpha: [int(v) for v in rng.integers(0, 1 << p.decay_bits, size=n_hidden)],
            theta: [int(v) for v in rng.integers(1, 1 << (p.v_bits - 1), size=n_hidden)],
        }
        for addr, words in reference.items():
            h.device.write(addr, words)
        step_before = h.device.read_state()["step"]
        expected_errors = 0
        counts = dict.fromkeys(names, 0)

        order = names + [names[int(i)] for i in rng.integers(0, len(names), size=6)]
        for iteration, name in enumerate(order):
            counts[name] += 1
            what = f"fuzz {iteration} ({name})"
            if name == "garbage":
                junk = rng.integers(0, 256, size=int(rng.integers(1, 48)), dtype=np.uint8)
                junk[rng.random(junk.size) < 0.1] = proto.SYNC_REQUEST
                h.transport.write(junk.tobytes())
                # Whatever the garbage started, the link times out or answers; unknown
                # number of error replies, so the counter is re-read below.
                h.device.resync()
            elif name == "truncated write":
                frame = good_write(0, 4)
                cut = int(rng.integers(1, len(frame)))
                h.transport.write(frame[:cut])
                reply = proto.read_reply(h.transport.read)
                want_cmd = Command.WRITE if cut > 1 else 0
                assert reply.status == Status.TIMEOUT and reply.command == want_cmd, \
                    f"{what}: cut after {cut} bytes, got {reply}"
                expected_errors += 1
            elif name == "bad crc":
                frame = bytearray(good_write(1, 3))
                frame[-1] ^= 0x5A
                expect(bytes(frame), Status.BAD_CRC, what)
                expected_errors += 1
            elif name == "corrupted payload":
                frame = good_write(0, 5)
                expect(flip_bit(frame, int(rng.integers(8, len(frame) - 1))), Status.BAD_CRC,
                       what)
                expected_errors += 1
            elif name == "write length not 4 + 4N":
                payload = proto.write_payload(alpha, [1, 2]) + b"\x00\x00"
                expect(with_crc(bytes([Command.WRITE]) + len(payload).to_bytes(2, "little")
                                + payload), Status.BAD_LEN, what)
                expected_errors += 1
            elif name == "write longer than the buffer":
                words = [1] * (max_write + 1)
                payload = (mm.address(mm.REGION_SYN)).to_bytes(4, "little") \
                    + proto.pack_words(words)
                expect(proto.encode_request(Command.WRITE, payload), Status.BAD_LEN, what)
                expected_errors += 1
            elif name == "write past region end":
                # Two words fit, two do not: none may be written.
                expect(proto.encode_request(
                    Command.WRITE, proto.write_payload(alpha + n_hidden - 2, [9, 9, 9, 9])),
                    Status.BAD_ADDR, what)
                expected_errors += 1
            elif name == "address above 20 bits":
                payload = (alpha | 1 << 24).to_bytes(4, "little") + proto.pack_words([5])
                expect(proto.encode_request(Command.WRITE, payload), Status.BAD_ADDR, what)
                expected_errors += 1
            elif name == "unmapped region":
                expect(proto.encode_request(Command.READ, proto.read_payload(9 << 16, 1)),
                       Status.BAD_ADDR, what)
                expected_errors += 1
            elif name == "read count 0":
                payload = alpha.to_bytes(4, "little") + b"\x00\x00"
                expect(proto.encode_request(Command.READ, payload), Status.BAD_ARG, what)
                expected_errors += 1
            elif name == "step flags":
                expect(proto.encode_request(Command.STEP, proto.step_payload([1], p.max_in, 0x80)),
                       Status.BAD_ARG, what)
                expected_errors += 1
            elif name == "unknown command":
                expect(proto.encode_request(int(rng.integers(0x07, 0x100))), Status.BAD_CMD, what)
                expected_errors += 1
            elif name == "ping with payload":
                expect(proto.encode_request(Command.PING, b"\x01"), Status.BAD_LEN, what)
                expected_errors += 1
            elif name == "read wrong length":
                expect(proto.encode_request(Command.READ, alpha.to_bytes(4, "little")),
                       Status.BAD_LEN, what)
                expected_errors += 1

            # Nothing changed, and the next good frame works.
            for addr, words in reference.items():
                back = h.device.read(addr, len(words))
                assert back == words, f"{what}: region at 0x{addr:05X} changed: {back} != {words}"
            if name == "garbage":
                expected_errors = h.device.status().error_count

        status = h.device.status()
        assert status.error_count == expected_errors, \
            f"STATUS counts {status.error_count} errors, expected {expected_errors}"
        assert h.device.read_state()["step"] == step_before, "a refused STEP ran"
        assert all(counts.values()), f"a fuzz case never ran: {counts}"
        # The Device raises DeviceError with the status for refused commands.
        try:
            h.device.request(Command.PING)  # plain exchange still fine
            h.device._call(Command.READ, alpha.to_bytes(4, "little") + b"\x00\x00")
        except DeviceError as err:
            assert err.status == Status.BAD_ARG, f"DeviceError carries {err.status}"
        else:
            raise AssertionError("a READ of 0 words did not raise DeviceError")

    await h.run(host)
