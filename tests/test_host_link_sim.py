"""Host link gateware: the whole link in the HDL simulators, its pieces in Amaranth's.

``test_host_link`` builds a :class:`rtl.link_top.LinkedCore` of core variant A with a fast
UART (4 clock cycles per bit) and a short inter-byte timeout, and runs the cocotb module
``sim.test_host_link`` on it with Icarus Verilog and Verilator: the host driver
(:class:`host.device.Device`) talks to it through the simulated serial lines (PING/STATUS,
write and read back of every region, STEP against the golden model, fuzzing with garbage and
invalid frames). The other tests check the UART, the CRC gateware, the ``STEP`` learn flag
and the constructors' argument checks in Amaranth's simulator. Learning over the link is
tested in ``test_learning_link_sim.py``.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os

import numpy as np
import pytest

from sim.build import SIMULATORS, TOPLEVEL, run_cocotb
from sim.variants import CoreVariant, get_variant

# Fast serial settings keep a simulation short: 100 MHz clock, 25 Mbaud (4 cycles per bit,
# the UART's minimum), 300-cycle timeout (7.5 byte times).
CLK_PERIOD_NS = 10
CLK_FREQ = 1e9 / CLK_PERIOD_NS
BAUD = 25e6
TIMEOUT_S = 3e-6
MAX_WRITE_WORDS = 64

# Its own variant name, so the build directory is not shared with the bare core of variant A.
LINK_VARIANT = CoreVariant("link-A", dict(get_variant("A").params))


def _link_verilog() -> tuple[str, dict]:
    from rtl.link_top import LinkedCore, verilog

    params = LINK_VARIANT.core_params()
    top = LinkedCore(params, CLK_FREQ, BAUD, timeout=TIMEOUT_S,
                     max_write_words=MAX_WRITE_WORDS)
    config = {"clk_period_ns": CLK_PERIOD_NS, "baud": BAUD,
              "timeout_cycles": top.timeout_cycles, "max_write_words": MAX_WRITE_WORDS}
    return verilog(top, name=TOPLEVEL), config


@pytest.mark.sim
@pytest.mark.parametrize("simulator", [
    pytest.param(simulator, marks=[getattr(pytest.mark, simulator)]) for simulator in SIMULATORS])
def test_host_link(simulator, require_simulator, monkeypatch):
    require_simulator(simulator)
    if importlib.util.find_spec("cocotbext.uart") is None:
        pytest.fail("the host link simulation needs cocotbext-uart: pip install cocotbext-uart",
                    pytrace=False)
    if simulator == "verilator" and "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        # Verilator splits a design of this size into several C++ files and compiles them
        # with a precompiled header, but the wheel's verilated.mk leaves the flag that
        # includes the header empty, so make passes the header as an input file and the
        # build fails. A variable in MAKEFLAGS overrides it like one on make's command line.
        makeflags = os.environ.get("MAKEFLAGS", "")
        monkeypatch.setenv("MAKEFLAGS", f"{makeflags} CFG_CXXFLAGS_PCH_I=-include".strip())
    text, config = _link_verilog()
    report = run_cocotb(simulator, LINK_VARIANT, "sim.test_host_link", verilog=text,
                        extra_env={"DELAYCORE_LINK": json.dumps(config)},
                        run_name="host_link")
    if report["failures"]:
        pytest.fail("\n".join(report["failures"]), pytrace=False)
    expected = {"ping_status", "write_read_back", "step_matches_golden", "fuzz_resync"}
    assert set(report["tests"]) == expected, f"tests run: {sorted(report['tests'])}"


# -- gateware pieces in Amaranth's simulator (no HDL simulator needed) -------------------------

def _run_amaranth(dut, *testbenches, clock=True):
    from amaranth.sim import Simulator

    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()


def test_uart_divisor_choice_and_errors():
    from rtl.uart import uart_divisor

    assert uart_divisor(12e6, 115200) == 104
    assert uart_divisor(100e6, 25e6) == 4
    with pytest.raises(ValueError, match="too fast for clk_freq 1e\\+07"):
        uart_divisor(10e6, 3e6)
    with pytest.raises(ValueError, match="cannot be made from clk_freq"):
        uart_divisor(10e6, 2.2e6)
    with pytest.raises(ValueError, match="baud must be positive"):
        uart_divisor(10e6, 0)
    with pytest.raises(TypeError, match="clk_freq must be a number"):
        uart_divisor("12e6", 115200)


# A component whose constructor raises was still created; Amaranth warns that it is unused.
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_gateware_constructors_validate_their_arguments():
    from rtl.host_link import HostLink
    from rtl.link_top import LinkedCore
    from rtl.params import CoreParams
    from rtl.uart import UARTReceiver, UARTTransmitter

    params = CoreParams(max_in=4, max_hidden=3, max_out=2)
    with pytest.raises(ValueError, match="divisor must be at least 4"):
        UARTReceiver(3)
    with pytest.raises(TypeError, match="divisor must be an int"):
        UARTTransmitter(4.0)
    with pytest.raises(TypeError, match="params must be a CoreParams"):
        HostLink({"max_in": 4}, timeout_cycles=100)
    with pytest.raises(ValueError, match="timeout_cycles must be at least 2"):
        HostLink(params, timeout_cycles=1)
    with pytest.raises(ValueError, match=r"max_write_words must be in \[1, 16382\]"):
        HostLink(params, timeout_cycles=100, max_write_words=0)
    with pytest.raises(TypeError, match="max_write_words must be an int"):
        HostLink(params, timeout_cycles=100, max_write_words=True)
    with pytest.raises(ValueError, match="timeout must be at least 2 byte times"):
        LinkedCore(params, 12e6, 115200, timeout=1e-4)
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        LinkedCore(params, 12e6, 115200, timeout="1ms")
    gc.collect()  # the refused objects warn when collected: here, under the filter above


def test_crc8_gateware_matches_the_host():
    from amaranth.hdl import Module, Signal

    from host.protocol import crc8
    from rtl.host_link import crc8_update

    crc, byte = Signal(8), Signal(8)
    m = Module()
    result = Signal(8)
    m.d.comb += result.eq(crc8_update(crc, byte))
    rng = np.random.default_rng(0)
    pairs = [(int(c), int(b)) for c, b in rng.integers(0, 256, size=(200, 2))]
    pairs += [(0, b) for b in range(256)]

    async def testbench(ctx):
        for c, b in pairs:
            ctx.set(crc, c)
            ctx.set(byte, b)
            assert ctx.get(result) == crc8([b], c), f"crc 0x{c:02X}, byte 0x{b:02X}"

    _run_amaranth(m, testbench, clock=False)


def test_uart_loopback_with_back_pressure():
    """Bytes through transmitter and receiver, with the receiver's consumer stalling."""
    from amaranth.hdl import Module

    from rtl.uart import UARTReceiver, UARTTransmitter

    divisor = 7
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor)
    m.submodules.rx = rx = UARTReceiver(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    data = [int(b) for b in np.random.default_rng(1).integers(0, 256, size=24)] + [0x00, 0xFF]
    received = []

    async def sender(ctx):
        for index, value in enumerate(data):
            ctx.set(tx.bytes.payload, value)
            ctx.set(tx.bytes.valid, 1)
            await ctx.tick().until(tx.bytes.ready)
            ctx.set(tx.bytes.valid, 0)
            if index % 5 == 4:
                await ctx.tick().repeat(3 * divisor)  # idle line between some bytes

    async def receiver(ctx):
        while len(received) < len(data):
            # Take each byte a few cycles late: it must wait for the consumer.
            await ctx.tick().until(rx.bytes.valid)
            await ctx.tick().repeat(3)
            received.append(ctx.get(rx.bytes.payload))
            ctx.set(rx.bytes.ready, 1)
            await ctx.tick()
            ctx.set(rx.bytes.ready, 0)

    _run_amaranth(m, sender, receiver)
    assert received == data


def test_uart_receiver_rejects_glitches_framing_errors_and_breaks():
    from rtl.uart import UARTReceiver

    divisor = 8
    dut = UARTReceiver(divisor)
    received, framing_errors = [], []

    async def line(ctx, bits, bit_cycles=divisor):
        for bit in bits:
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(bit_cycles)

    def frame(value, stop=1):
        return [0] + [(value >> k) & 1 for k in range(8)] + [stop]

    async def driver(ctx):
        await line(ctx, [1] * 3)
        await line(ctx, [0], bit_cycles=2)                 # glitch: shorter than half a bit
        await line(ctx, [1] * 3)
        await line(ctx, frame(0x3C, stop=0) + [1] * 2)     # framing error: dropped
        await line(ctx, [0] * 25 + [1] * 2)                # break: dropped, no 0x00 bytes
        await line(ctx, frame(0xA5) + frame(0x5A) + [1] * 3)
        # 3 % slow sender (one extra cycle in every four bits): still sampled correctly.
        ctx.set(dut.rx, 0)
        for index, bit in enumerate(frame(0xC3) + [1]):
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(divisor + (index % 4 == 3))
        await line(ctx, [1] * 3)

    async def monitor(ctx):
        ctx.set(dut.bytes.ready, 1)
        for _ in range(60 * divisor * 10):
            await ctx.tick()
            if ctx.get(dut.bytes.valid):
                received.append(ctx.get(dut.bytes.payload))
            if ctx.get(dut.framing_error):
                framing_errors.append(1)

    _run_amaranth(dut, driver, monitor)
    assert received == [0xA5, 0x5A, 0xC3]
    assert len(framing_errors) == 2  # the bad stop bit and the break


@pytest.mark.parametrize("learning", [False, True], ids=["inference-core", "learning-core"])
def test_step_learn_flag_drives_learn_with_start(learning):
    """A STEP with the learn flag raises ``learn`` with ``start`` on a learning core; on a core
    without learning, and for reserved flags, the link answers BAD_ARG and starts nothing."""
    from host import protocol as proto
    from rtl.host_link import HostLink
    from rtl.params import CoreParams

    params = CoreParams(max_in=4, max_hidden=3, max_out=2, d_max=8, learning=learning,
                        random_feedback=False)
    link = HostLink(params, timeout_cycles=1000)
    frames = [proto.encode_request(proto.Command.STEP, proto.step_payload([1], 4, flags))
              for flags in (proto.StepFlag.LEARN, 0x02, 0)]
    replies, starts = [], []

    async def testbench(ctx):
        ctx.set(link.tx.ready, 1)
        for frame in frames:
            for byte in frame:
                ctx.set(link.rx.payload, byte)
                ctx.set(link.rx.valid, 1)
                await ctx.tick()
            ctx.set(link.rx.valid, 0)
            reply = bytearray()
            started = False
            for _ in range(200):
                # The core answers a start with done in the next cycle.
                ctx.set(link.done, started)
                started = bool(ctx.get(link.start))
                if started:
                    starts.append(bool(ctx.get(link.learn)) if learning else False)
                if ctx.get(link.tx.valid):
                    reply.append(ctx.get(link.tx.payload))
                await ctx.tick()
            replies.append(proto.decode_reply(bytes(reply)).status)

    _run_amaranth(link, testbench)
    Status = proto.Status
    if learning:
        assert replies == [Status.OK, Status.BAD_ARG, Status.OK]
        assert starts == [True, False]
    else:
        assert replies == [Status.BAD_ARG, Status.BAD_ARG, Status.OK]
        assert starts == [False]
