"""cocotb test module: a learning core behind its host link, learning over the serial line.

Run through :func:`sim.learning_link.run_learning_link` (by ``tests/test_learning_link_sim.py``
and ``python -m host.demo --sim``) on :data:`sim.learning_link.LEARNING_LINK_VARIANT`. The
host side is the real driver, :class:`host.device.Device`, in a :func:`cocotb.task.bridge`
thread, over a :class:`FifoTransport` to the host UART of :class:`sim.learning_link.SimBoard`.

Tests:

``ping_learning``
    ``PING`` rebuilds the exact :class:`rtl.params.CoreParams`; reserved ``STEP`` flags are
    refused; ``CTRL`` has 8 words.
``learning_faults``
    Samples learned step by step against :class:`golden.model.GoldenCore` (hidden spikes of
    every step); in the middle of a sample, learning ``STEP`` frames that lose a byte, stop
    half way, or arrive corrupted: the driver raises a clear error, the link resynchronises,
    the step did not run and nothing was learned (``CTRL.STEP``, ``LEARN_COUNT`` and every
    weight and delay read back against the golden model); then the sample goes on and the
    learned network is bit-exact with the golden model.
``demo``
    :func:`host.demo.run_demo` with the options in ``DELAYCORE_DEMO`` (JSON); its result goes
    to the report under ``results.demo``.

Environment variables: ``DELAYCORE_VARIANT``, ``DELAYCORE_LINK`` (as in
:mod:`sim.test_host_link`), ``DELAYCORE_REPORT``, ``DELAYCORE_DEMO`` and
``DELAYCORE_DEMO_PROGRESS`` (a file for the demo's progress bars).
"""

from __future__ import annotations

import json
import os

import numpy as np

from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import FallingEdge, RisingEdge, SimTimeoutError, Timer, with_timeout

from golden.model import GoldenCore
from host import protocol as proto
from host.demo import _learned_values, demo_network, demo_samples, run_demo
from host.device import Device
from host.protocol import Command, DeviceError, ProtocolError, Status, StepFlag
from rtl import memory_map as mm
from sim.build import HDL_CLOCK_MARKER
from sim.cocotb_report import TestReport
from sim.variants import CoreVariant

_REPORT = TestReport(results={})
_record = _REPORT.record


class FifoTransport:
    """Byte transport to the host UART of a :class:`sim.learning_link.SimBoard`, for code in a
    bridge thread.

    ``write`` puts the bytes into the transmit FIFO, one per clock, and returns once the last
    one has left the host UART (so that the read timeout counts from the end of the request,
    as on a serial port). ``read(n)`` returns when ``n`` bytes have arrived or none has for
    ``read_timeout_ns`` of simulated time.
    """

    def __init__(self, dut, bit_ns: float, read_timeout_ns: int):
        self._dut = dut
        self._byte_ns = 10 * bit_ns
        self._read_timeout_ns = read_timeout_ns
        dut.host_w_en.value = 0
        dut.host_r_en.value = 0

    async def _write(self, data: bytes) -> None:
        dut = self._dut
        await FallingEdge(dut.clk)
        for byte in data:
            dut.host_w_data.value = byte
            dut.host_w_en.value = 1
            await FallingEdge(dut.clk)
        dut.host_w_en.value = 0
        # Bytes still queued, and the one in the transmitter.
        waiting = int(dut.host_w_level.value) + 1
        await Timer(round(waiting * self._byte_ns) + 2 * 10, "ns")

    async def _read(self, size: int) -> bytes:
        dut = self._dut
        data = bytearray()
        await FallingEdge(dut.clk)
        while len(data) < size:
            if not int(dut.host_r_rdy.value):
                dut.host_r_en.value = 0
                try:
                    await with_timeout(RisingEdge(dut.host_r_rdy), self._read_timeout_ns, "ns")
                except SimTimeoutError:
                    break
                await FallingEdge(dut.clk)
            data.append(int(dut.host_r_data.value))
            dut.host_r_en.value = 1
            await FallingEdge(dut.clk)
        dut.host_r_en.value = 0
        return bytes(data)

    def write(self, data: bytes) -> int:
        resume(self._write)(bytes(data))
        return len(data)

    def read(self, size: int) -> bytes:
        return resume(self._read)(size)


class FaultyTransport:
    """A transport that damages the next request: drops bytes, cuts it short or flips a bit.

    Parameters
    ----------
    inner : FifoTransport
        The real transport.
    """

    def __init__(self, inner: FifoTransport):
        self._inner = inner
        self._fault = None

    def arm(self, kind: str, index: int) -> None:
        """Damage the next write: ``"drop"`` byte ``index``, ``"cut"`` after ``index`` bytes,
        or ``"flip"`` bit 3 of byte ``index``."""
        self._fault = (kind, index)

    def write(self, data: bytes) -> int:
        data = bytes(data)
        if self._fault is not None:
            kind, index = self._fault
            self._fault = None
            if kind == "drop":
                data = data[:index] + data[index + 1:]
            elif kind == "cut":
                data = data[:index]
            else:
                data = data[:index] + bytes([data[index] ^ 0x08]) + data[index + 1:]
        self._inner.write(data)
        return len(data)

    def read(self, size: int) -> bytes:
        return self._inner.read(size)


class LearningLinkHarness:
    """Clock, reset, UART models and a :class:`Device` (over a :class:`FaultyTransport`)."""

    def __init__(self, dut):
        self.dut = dut
        self.params = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"]).core_params()
        self.config = json.loads(os.environ["DELAYCORE_LINK"])
        self.period_ns = int(self.config["clk_period_ns"])
        bit_ns = 1e9 / float(self.config["baud"])
        p = self.params
        timeout_ns = int(self.config["timeout_cycles"]) * self.period_ns
        # The read timeout must outlast the link's inter-byte timeout (so that resync() sees
        # the TIMEOUT reply of an abandoned frame) and the longest learning step.
        step_cycles = p.learning_step_cycles(
            p.max_in, p.max_hidden, p.max_out, p.recurrent,
            half_width=p.kernel_max_half_width, softmax=p.softmax, hidden_posts=p.max_hidden,
            out_posts=p.max_out, updates=("in", "rec", "out"))
        read_timeout_ns = 2 * timeout_ns + 2 * step_cycles * self.period_ns + 40 * int(bit_ns)
        self.transport = FaultyTransport(FifoTransport(dut, bit_ns, read_timeout_ns))
        self.device = Device(self.transport)

    async def start(self) -> None:
        if getattr(self.dut, HDL_CLOCK_MARKER, None) is None:
            Clock(self.dut.clk, self.period_ns, unit="ns", impl="gpi").start(start_high=False)
        self.dut.rst.value = 1
        for _ in range(4):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        for _ in range(4):
            await FallingEdge(self.dut.clk)
        await self.run(self.device.clear)

    async def run(self, func, *args):
        """Run blocking host code ``func(*args)`` in a bridge thread."""
        return await bridge(func)(*args)


# -- tests ------------------------------------------------------------------------------------

@_record("ping_learning")
async def ping_learning(dut):
    """PING rebuilds the core's parameters; reserved STEP flags are refused; CTRL is 8 words."""
    h = LearningLinkHarness(dut)
    await h.start()

    def host():
        info = h.device.ping()
        assert info.version == proto.PROTOCOL_VERSION, f"PING version {info.version}"
        assert info.core_params() == h.params, \
            f"PING rebuilds {info.core_params()}, the core is {h.params}"
        assert info.learning and h.device.learning
        for flags in (0x02, 0x80, 0x03):
            try:
                h.device.step([1], flags=flags)
            except DeviceError as err:
                assert err.status == Status.BAD_ARG, f"flags 0x{flags:02X}: {err}"
            else:
                raise AssertionError(f"STEP with flags 0x{flags:02X} was not refused")
        ctrl = h.device.read(mm.address(mm.REGION_CTRL), 8)
        assert ctrl[mm.CTRL_STEP] == 0, f"a refused STEP ran: CTRL.STEP = {ctrl[mm.CTRL_STEP]}"
        reply = h.device.request(Command.READ,
                                 proto.read_payload(mm.address(mm.REGION_CTRL), 9))
        assert reply.status == Status.BAD_ADDR, f"READ of 9 CTRL words answered {reply}"

    await h.run(host)


@_record("learning_faults")
async def learning_faults(dut):
    """Learning in lockstep with the golden model, with broken frames in mid-sample."""
    h = LearningLinkHarness(dut)
    await h.start()
    p = h.params
    net = demo_network(p, 16, 16, 4, seed=3)
    samples = demo_samples("rates", 3, 5, n_in=16, n_classes=4, steps=16)
    golden = GoldenCore(net)
    dev = h.device

    def step(sample: int, t: int) -> None:
        spikes = samples.spikes[sample, t]
        learn = bool(samples.target_mask[sample, t])
        label = int(samples.labels[sample])
        z = dev.step(spikes, learn=learn)
        want = golden.step(spikes, labels=label, learn=learn).z
        bad = np.flatnonzero(z != want)
        assert bad.size == 0, (f"sample {sample} step {t}: hidden neuron {int(bad[0])} spiked "
                               f"{bool(z[bad[0]])} over the link, golden {bool(want[bad[0]])}")

    def start_sample(sample: int) -> None:
        dev.clear()
        golden.reset()
        dev.set_label(int(samples.labels[sample]))

    def unchanged(what: str, t: int) -> None:
        state = dev.read_state()
        assert state["step"] == t, f"{what}: CTRL.STEP = {state['step']}, the step ran"
        count = dev.learn_count()
        assert count == int(golden.learn_count[0]), \
            f"{what}: LEARN_COUNT = {count}, golden {int(golden.learn_count[0])}"
        assert _learned_values(dev.export_network()) == _learned_values(
            golden.export_network()), f"{what}: the learned weights or delays changed"

    def host():
        dev.load_network(net)
        start_sample(0)
        for t in range(samples.n_steps):
            step(0, t)
        start_sample(1)
        k = int(np.flatnonzero(samples.target_mask[1])[2])  # a learning step
        for t in range(k):
            step(1, t)
        frame_len = len(proto.encode_request(
            Command.STEP, proto.step_payload([0], p.max_in, StepFlag.LEARN)))
        faults = [("drop", 0, "sync byte lost"), ("drop", 2, "length byte lost"),
                  ("drop", 5, "spike byte lost"), ("drop", frame_len - 1, "CRC byte lost"),
                  ("cut", 6, "frame stopped half way"), ("cut", 1, "only the sync byte"),
                  ("flip", 6, "flags byte corrupted")]
        errors = {}
        for kind, index, what in faults:
            h.transport.arm(kind, index)
            try:
                dev.step(samples.spikes[1, k], learn=True)
            except ProtocolError as err:  # DeviceError is a ProtocolError
                errors[what] = str(err)
                # The error names what went wrong.
                assert "STEP failed" in str(err) or "no reply" in str(err), f"{what}: {err}"
            else:
                raise AssertionError(f"{what}: the damaged STEP frame did not raise")
            dev.resync()
            unchanged(what, k)
        assert "TIMEOUT" in errors["frame stopped half way"], errors
        assert "BAD_CRC" in errors["flags byte corrupted"], errors
        # The sample goes on from the step that failed.
        for t in range(k, samples.n_steps):
            step(1, t)
        start_sample(2)
        for t in range(samples.n_steps):
            step(2, t)
        unchanged("after the samples", samples.n_steps)
        assert int(golden.learn_count[0]) == int(samples.target_mask.sum())
        _REPORT["results"]["learning_faults"] = {
            "learning_steps": int(golden.learn_count[0]), "errors": errors}

    await h.run(host)


@_record("demo")
async def demo(dut):
    """The online learning demo of ``host.demo`` on the simulated board."""
    h = LearningLinkHarness(dut)
    await h.start()
    options = json.loads(os.environ.get("DELAYCORE_DEMO", "{}"))
    progress_path = os.environ.get("DELAYCORE_DEMO_PROGRESS")

    def host():
        handle = open(progress_path, "a", buffering=1) if progress_path else None
        try:
            result = run_demo(h.device, progress_file=handle, **options)
        finally:
            if handle is not None:
                handle.close()
        _REPORT["results"]["demo"] = result

    await h.run(host)
