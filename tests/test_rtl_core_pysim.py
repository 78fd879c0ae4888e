"""Lockstep tests of the RTL core in Amaranth's own simulator against the golden model.

Each case loads a small random network through the configuration bus (the writes of
``rtl.memory_map.network_writes``), clears the core and runs a few tens of steps, comparing
the hidden spikes (``out_spikes``), the membranes and the readouts (bus reads) with
``golden.model.GoldenCore`` after every step. A failure names the first differing step,
field and neuron.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.model import GoldenCore
from golden.random import random_network, random_spikes
from rtl import memory_map as mm
from rtl.core import Core
from rtl.params import CoreParams

# -- testbench helpers -------------------------------------------------------------------------

class Bus:
    """Word reads and writes on the core's configuration bus from a simulator testbench."""

    def __init__(self, ctx, dut):
        self.ctx = ctx
        self.bus = dut.bus

    async def write(self, addr, data):
        ctx, bus = self.ctx, self.bus
        ctx.set(bus.addr, addr)
        ctx.set(bus.w_data, data & 0xFFFF_FFFF)
        ctx.set(bus.w_en, 1)
        await ctx.tick()
        ctx.set(bus.w_en, 0)

    async def read_many(self, addresses):
        """Back-to-back reads, one per cycle; returns the raw 32-bit words."""
        ctx, bus = self.ctx, self.bus
        words = []
        for addr in addresses:
            ctx.set(bus.addr, addr)
            ctx.set(bus.r_en, 1)
            await ctx.tick()
            ctx.set(bus.r_en, 0)
            words.append(ctx.get(bus.r_data))
        return words

    async def read(self, addr):
        return (await self.read_many([addr]))[0]


async def wait_idle(ctx, dut, limit=100_000):
    for _ in range(limit):
        if not ctx.get(dut.busy):
            return
        await ctx.tick()
    raise AssertionError("core stays busy")


async def pulse(ctx, signal):
    ctx.set(signal, 1)
    await ctx.tick()
    ctx.set(signal, 0)


async def run_step(ctx, dut, spikes_int):
    """Start one step with the given input spikes and wait for ``done``."""
    ctx.set(dut.in_spikes, spikes_int)
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    # Inputs after the start cycle must not matter: drive their complement.
    ctx.set(dut.in_spikes, ~spikes_int & ((1 << len(dut.in_spikes)) - 1))
    await ctx.tick().until(dut.done)


def pack(bits) -> int:
    return sum(1 << j for j, bit in enumerate(bits) if bit)


def state_addresses(n_hidden: int, n_out: int) -> list[int]:
    """Bus addresses of the membranes ``v`` and then the readouts ``y`` of a network."""
    return ([mm.address(mm.REGION_V, i) for i in range(n_hidden)]
            + [mm.address(mm.REGION_Y, k) for k in range(n_out)])


async def state_difference(ctx, dut, bus, addresses, n_hidden, want) -> str | None:
    """Compare the core's hidden spikes, ``v`` and ``y`` (read at ``addresses``, see
    :func:`state_addresses`) after a step with the golden model's step ``want``; returns the
    first difference as ``"<field>[<i>] rtl=.. golden=.. (differing ...)"``, or None."""
    out_spikes = ctx.get(dut.out_spikes)
    words = await bus.read_many(addresses)
    got = {
        "z": np.array([(out_spikes >> i) & 1 for i in range(n_hidden)]),
        "v": np.array([mm.decode_signed(w) for w in words[:n_hidden]]),
        "y": np.array([mm.decode_signed(w) for w in words[n_hidden:]]),
    }
    for field in ("z", "v", "y"):
        expected = np.asarray(getattr(want, field)).astype(np.int64)
        diff = np.flatnonzero(got[field] != expected)
        if diff.size:
            i = int(diff[0])
            return (f"{field}[{i}] rtl={got[field][i]} golden={expected[i]} "
                    f"(differing {field} indices: {diff.tolist()})")
    return None


def simulate(params, testbench):
    dut = Core(params)
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        await testbench(ctx, dut)

    sim.add_testbench(bench)
    sim.run()


def run_lockstep(params, net, spikes, *, check_hist=False):
    """Load ``net``, run ``spikes`` and compare with the golden model every step."""
    golden = GoldenCore(net)
    spikes = np.asarray(spikes)
    z_history = np.zeros((len(spikes), net.n_hidden), dtype=np.int64)
    writes = mm.network_writes(net, params)
    n_in, n_hidden, n_out = net.n_in, net.n_hidden, net.n_out
    addresses = state_addresses(n_hidden, n_out)
    expected_cycles = params.step_cycles(n_in, n_hidden, n_out, net.recurrent)

    async def testbench(ctx, dut):
        bus = Bus(ctx, dut)
        for addr, data in writes:
            await bus.write(addr, data)
        await pulse(ctx, dut.clear)
        await wait_idle(ctx, dut)
        for t, s in enumerate(spikes):
            want = golden.step(s)
            z_history[t] = want.z
            await run_step(ctx, dut, pack(s))
            difference = await state_difference(ctx, dut, bus, addresses, n_hidden, want)
            if difference:
                raise AssertionError(f"step {t}: {difference}")
            out_spikes = ctx.get(dut.out_spikes)
            # Bits above n_hidden stay 0.
            assert out_spikes >> n_hidden == 0, f"step {t}: out_spikes has bits above n_hidden"
        # A case that never spikes or never saturates tests little.
        assert 0 < z_history.mean() < 1, "no hidden activity (or all neurons always spike)"
        cycles, step = await bus.read_many([mm.address(mm.REGION_CTRL, mm.CTRL_CYCLES),
                                            mm.address(mm.REGION_CTRL, mm.CTRL_STEP)])
        assert cycles == expected_cycles
        assert step == len(spikes)
        if check_hist:
            # Bit (t mod ring) of a ring holds the source's spike of the last step t with
            # that slot; a 64-slot ring is two words.
            T, ring, words = len(spikes), params.ring, params.hist_words
            sources = ([("input", j, spikes[:, j]) for j in range(n_in)]
                       + [("hidden", i, z_history[:, i]) for i in range(n_hidden)])
            raw = await bus.read_many([
                mm.address(mm.REGION_HIST, mm.hist_offset(kind, index, params, word))
                for kind, index, _ in sources for word in range(words)])
            for n, (kind, index, history) in enumerate(sources):
                value = sum(w << (32 * h) for h, w in enumerate(raw[n * words:(n + 1) * words]))
                for t in range(max(0, T - ring), T):
                    assert (value >> (t % ring)) & 1 == history[t], \
                        f"HIST of {kind} {index}: slot of step {t}"

    simulate(params, testbench)


# -- lockstep cases ----------------------------------------------------------------------------

CASES = {
    # name: (core overrides, random_network arguments)
    "ff_synaptic_soft": (
        {},
        dict(n_in=5, n_hidden=4, n_out=2, delay_in="synaptic", delay_out="none",
             reset="soft", d_max=8),
    ),
    "rec_axonal_hard": (
        {},
        dict(n_in=4, n_hidden=5, n_out=3, recurrent=True, delay_in="axonal",
             delay_rec="synaptic", delay_out="axonal", reset="hard", d_max=6),
    ),
    "rec_saturating_fractions": (
        {},
        dict(n_in=4, n_hidden=4, n_out=2, recurrent=True, delay_in="synaptic",
             delay_rec="axonal", delay_out="synaptic", reset="soft", d_max=5,
             weight_bits=7, weight_frac=2, delay_frac=2, decay_bits=4, v_bits=6, y_bits=5,
             saturating=True),
    ),
    "rec_no_delays_dmax1_spare_capacity": (
        dict(max_in=6, max_hidden=5, max_out=3, recurrent=True),
        dict(n_in=3, n_hidden=4, n_out=2, recurrent=True, delay_in="none", delay_rec="none",
             delay_out="none", reset="hard", d_max=1),
    ),
    "rec_dmax64_synaptic": (
        dict(d_max=64),
        dict(n_in=3, n_hidden=3, n_out=2, recurrent=True, delay_in="synaptic",
             delay_rec="synaptic", delay_out="synaptic", reset="soft", d_max=16,
             decay_bits=16, v_bits=24, y_bits=24, weight_bits=16),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lockstep(name):
    overrides, kwargs = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    net = random_network(rng, **kwargs)
    params = CoreParams.for_network(net, **overrides)
    steps = 40 if net.d_max <= 16 else 30
    spikes = random_spikes(rng, steps, net.n_in, 0.4)
    run_lockstep(params, net, spikes, check_hist=True)


# -- bus and control ---------------------------------------------------------------------------

def test_bus_regions_and_control():
    params = CoreParams(max_in=3, max_hidden=2, max_out=2, d_max=8, v_bits=10, y_bits=12,
                        weight_bits=6, delay_frac=1, decay_bits=5, recurrent=True)
    A = mm.address

    async def testbench(ctx, dut):
        bus = Bus(ctx, dut)
        # Reset values: sizes at capacity.
        assert await bus.read_many([A(0, 0), A(0, 1), A(0, 2), A(0, 3)]) == [3, 2, 2, 0]
        # Sizes are clamped to [1, capacity].
        await bus.write(A(0, mm.CTRL_N_IN), 0)
        await bus.write(A(0, mm.CTRL_N_HIDDEN), 99)
        await bus.write(A(0, mm.CTRL_N_OUT), 1)
        await bus.write(A(0, mm.CTRL_FLAGS), 0x1FF)
        assert await bus.read_many([A(0, 0), A(0, 1), A(0, 2), A(0, 3)]) == [1, 2, 1, 0xFF]

        # Every memory region reads back; signed fields sign-extended, others zero-extended.
        word = mm.pack_synapse(-5, 9, params)
        cases = [
            (A(mm.REGION_SYN, 7), word, word),
            (A(mm.REGION_AXON, 6), 0xFFFF, (1 << params.delay_bits) - 1),
            (A(mm.REGION_ALPHA, 1), 0x3FF, 0x1F),
            (A(mm.REGION_THETA, 0), 0x1FF, 0x1FF),
            (A(mm.REGION_V, 1), -3, 0xFFFF_FFFD),
            (A(mm.REGION_V, 0), 0x1FF, 0x1FF),
            (A(mm.REGION_KAPPA, 1), 17, 17),
            (A(mm.REGION_Y, 0), 0x800, 0xFFFF_F800),
            (A(mm.REGION_HIST, 4), 0xA5, 0xA5),
        ]
        for addr, data, _ in cases:
            await bus.write(addr, data)
        got = await bus.read_many([addr for addr, _, _ in cases])
        assert got == [want for _, _, want in cases]
        assert mm.unpack_synapse(got[0], params) == (-5, 9)
        # Offsets beyond a memory read as 0 and writes there are ignored.
        await bus.write(A(mm.REGION_V, 2), 5)
        assert await bus.read_many([A(mm.REGION_V, 2), A(mm.REGION_V, 0),
                                    A(mm.REGION_CTRL, 6), A(9, 0)]) == [0, 0x1FF, 0, 0]

        # clear zeroes state (v, y, rings, step) but keeps configuration.
        await pulse(ctx, dut.clear)
        assert ctx.get(dut.busy)
        await wait_idle(ctx, dut)
        got = await bus.read_many([A(mm.REGION_V, 1), A(mm.REGION_Y, 0),
                                   A(mm.REGION_HIST, 4), A(0, mm.CTRL_STEP),
                                   A(mm.REGION_SYN, 7), A(mm.REGION_ALPHA, 1)])
        assert got == [0, 0, 0, 0, word, 0x1F]

        # Bus accesses while busy are ignored.
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        assert ctx.get(dut.busy)
        await bus.write(A(mm.REGION_ALPHA, 1), 3)
        ctx.set(dut.bus.r_en, 1)
        ctx.set(dut.bus.addr, A(mm.REGION_ALPHA, 1))
        await ctx.tick()
        ctx.set(dut.bus.r_en, 0)
        assert ctx.get(dut.bus.r_data) == 0
        await ctx.tick().until(dut.done)
        assert not ctx.get(dut.busy)
        assert await bus.read(A(mm.REGION_ALPHA, 1)) == 0x1F
        assert await bus.read(A(0, mm.CTRL_STEP)) == 1
        assert await bus.read(A(0, mm.CTRL_CYCLES)) == params.step_cycles(1, 2, 1, True)

    simulate(params, testbench)
