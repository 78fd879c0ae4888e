"""The SPRAM-backed synapse memory (``rtl/spram.py``) and the core built with it.

- :class:`~rtl.spram.SPRAMSynapseMemory` against the block-RAM :class:`SynapseMemory` on the
  same access sequence, for one and several banks and lanes (Amaranth's simulator, with the
  behavioural model of the blocks);
- the capacity rules of ``CoreParams(synapse_memory="spram")``;
- the primitive instances that a platform build gets;
- the lockstep cases of ``test_rtl_core_pysim`` on a core with ``synapse_memory="spram"``.

The same core with the real ``SB_SPRAM256KA`` instances and Yosys' Verilog model of them runs
in Icarus Verilog in ``test_lockstep.py`` (variant ``S``).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator
from test_rtl_core_pysim import CASES, run_lockstep

from golden.random import random_network, random_spikes
from rtl.params import SPRAM_BLOCKS, CoreParams, spram_blocks
from rtl.spram import SPRAM256KA, SPRAMPrimitivePlatform, SPRAMSynapseMemory, verilog_model
from rtl.synapse_mem import SynapseMemory, make_synapse_memory

# -- capacity ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth, width, blocks", [
    (1, 1, 1), (16384, 16, 1), (16385, 16, 2), (65536, 13, 4), (16384, 17, 2),
    (32768, 30, 4), (32769, 30, 6), (65536, 30, 8),
])
def test_spram_blocks(depth, width, blocks):
    assert spram_blocks(depth, width) == blocks


def test_params_spram_capacity():
    # 13-bit words (8-bit weights, d_max 32): all 65536 offsets of the SYN region fit.
    params = CoreParams(max_in=128, max_hidden=128, max_out=16, d_max=32, recurrent=True,
                        max_synapses=65536, synapse_memory="spram")
    assert params.syn_word_bits == 13
    # 22-bit words take two blocks side by side: 32768 words at most.
    CoreParams(weight_bits=16, d_max=64, max_synapses=32768, synapse_memory="spram")
    with pytest.raises(ValueError, match=r"max_synapses must be in \[1, 32768\] for 22-bit "
                                         r"synapse words in SPRAM.*needs 6 SPRAM blocks"):
        CoreParams(weight_bits=16, d_max=64, max_synapses=32769, synapse_memory="spram")
    with pytest.raises(ValueError, match="synapse_memory must be one of bram, spram"):
        CoreParams(synapse_memory="sram")
    # Block RAM has no such limit here (whether it fits a device is the build's question).
    CoreParams(weight_bits=16, d_max=64, max_synapses=65536)


def test_params_trace_spram_capacity():
    # The default UP5K learning core: 2 blocks of synapses, one of x and one of u rings.
    params = CoreParams(max_in=64, max_hidden=128, max_out=16, d_max=32, recurrent=True,
                        learning=True, synapse_memory="spram", trace_memory="spram")
    assert (params.synapse_spram_blocks, params.trace_spram_blocks) == (2, 2)
    assert params.spram_blocks_used == SPRAM_BLOCKS
    # Without delay learning there are no u rings; without learning no rings at all.
    lean = CoreParams(learning=True, delay_learning=False, trace_memory="spram")
    assert lean.trace_spram_blocks == 1
    assert CoreParams(trace_memory="spram").trace_spram_blocks == 0
    with pytest.raises(ValueError, match=r"trace_memory spram needs \(max_in \+ max_hidden\) "
                                         r"\* trace_ring <= 16384.*got 192 \* 128 = 24576"):
        CoreParams(max_in=64, max_hidden=128, max_out=16, d_max=64, learning=True,
                   trace_memory="spram")
    with pytest.raises(ValueError, match=r"trace_memory spram needs 2 SPRAM blocks beside the "
                                         r"4 of the synapse memory"):
        CoreParams(max_in=128, max_hidden=128, max_out=16, d_max=32, recurrent=True,
                   max_synapses=65536, learning=True, synapse_memory="spram",
                   trace_memory="spram")
    with pytest.raises(ValueError, match="trace_memory must be one of bram, spram, got 'lut'"):
        CoreParams(trace_memory="lut")


def test_make_synapse_memory():
    bram = make_synapse_memory(CoreParams())
    spram = make_synapse_memory(CoreParams(max_synapses=20000, synapse_memory="spram"))
    assert type(bram) is SynapseMemory
    assert type(spram) is SPRAMSynapseMemory
    assert (spram.depth, spram.width, spram.banks, spram.lanes) == (20000, 12, 2, 1)
    for mem in (bram, spram):
        Fragment.get(mem, None)  # elaborates (and marks them used)
    with pytest.raises(ValueError, match="needs 6 SPRAM blocks"):
        SPRAMSynapseMemory(40000, 20)


# -- the memory against block RAM ---------------------------------------------------------------


def _accesses(rng, depth, width, count):
    """A random sequence of (addr, w_en, w_data): writes, then interleaved reads and writes."""
    addresses = rng.choice(depth, size=min(depth, count), replace=False)
    # The first and last word of every bank, where bank selection goes wrong first.
    edges = [a for b in range(0, depth, 16384) for a in (b, min(depth, b + 16384) - 1)]
    addresses = np.concatenate([edges, addresses]).astype(int)
    ops = [(int(a), 1, int(rng.integers(1 << width))) for a in addresses]
    for _ in range(3 * count):
        a = int(rng.choice(addresses))
        if rng.random() < 0.2:
            ops.append((a, 1, int(rng.integers(1 << width))))
        else:
            ops.append((a, 0, int(rng.integers(1 << width))))  # w_data ignored by a read
    return ops


def _trace(dut, ops):
    """``r_data`` in the cycle after every read of ``ops``."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    seen = []

    async def bench(ctx):
        previous_read = False
        for addr, w_en, w_data in ops + [(0, 1, 0)]:
            if previous_read:
                seen.append(ctx.get(dut.r_data))
            ctx.set(dut.addr, addr)
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.w_data, w_data)
            await ctx.tick()
            previous_read = not w_en

    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("depth, width", [(100, 13), (16384, 16), (20000, 22), (50000, 9)])
def test_spram_memory_matches_bram(depth, width):
    rng = np.random.default_rng(depth + width)
    ops = _accesses(rng, depth, width, 60)
    got = _trace(SPRAMSynapseMemory(depth, width), ops)
    want = _trace(SynapseMemory(depth, width), ops)
    assert len(got) > 100
    assert got == want


def test_block_model_output_after_write():
    # The primitive's output is undefined after a write; the model makes it wrong on purpose
    # (the inverted old word) until the next read, and holds it while not selected.
    dut = SPRAM256KA()
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        async def access(addr, w_en=0, w_data=0, select=1, mask=0b1111):
            ctx.set(dut.addr, addr)
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.w_data, w_data)
            ctx.set(dut.w_mask, mask)
            ctx.set(dut.select, select)
            await ctx.tick()
            return ctx.get(dut.r_data)

        await access(5, w_en=1, w_data=0x1234)
        assert await access(5) == 0x1234
        assert await access(6, w_en=1, w_data=0xABCD) == 0x1234 ^ 0xFFFF
        assert await access(7, select=0) == 0x1234 ^ 0xFFFF
        assert await access(6) == 0xABCD
        assert await access(9, select=0) == 0xABCD
        # MASKWREN writes single nibbles.
        await access(6, w_en=1, w_data=0x0000, mask=0b0101)
        assert await access(6) == 0xA0C0

    sim.add_testbench(bench)
    sim.run()


# -- primitives ----------------------------------------------------------------------------------


def test_primitive_instances():
    from rtl.export import convert

    text = convert(SPRAMSynapseMemory(20000, 22), "syn", platform=SPRAMPrimitivePlatform())
    instances = re.findall(r"^\s*SB_SPRAM256KA\s+\S+\s*\(", text, re.MULTILINE)
    assert len(instances) == 4
    # Always on: POWEROFF is active low.
    assert len(re.findall(r"\.POWEROFF\(1'h1\)", text)) == 4
    assert len(re.findall(r"\.SLEEP\(1'h0\)", text)) == 4
    assert "module SB_SPRAM256KA" in verilog_model()


def test_primitive_needs_ultraplus():
    class OtherPlatform:
        device = "LFE5U-85F"

    with pytest.raises(ValueError, match="needs an iCE40 UltraPlus.*synapse_memory='bram'"):
        Fragment.get(SPRAM256KA(), OtherPlatform())


# -- the core ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_lockstep_spram(name):
    overrides, kwargs = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    net = random_network(rng, **kwargs)
    params = CoreParams.for_network(net, synapse_memory="spram", **overrides)
    assert spram_blocks(params.max_synapses, params.syn_word_bits) <= SPRAM_BLOCKS
    spikes = random_spikes(rng, 30, net.n_in, 0.4)
    run_lockstep(params, net, spikes)


def test_lockstep_spram_second_bank():
    # A core whose memory has two banks runs a network that uses only the first one: the
    # bank select of the read data must still pick it.
    rng = np.random.default_rng(7)
    net = random_network(rng, n_in=5, n_hidden=4, n_out=2, delay_in="synaptic",
                         delay_out="axonal", reset="soft", d_max=8)
    params = CoreParams.for_network(net, max_synapses=20000, synapse_memory="spram")
    run_lockstep(params, net, random_spikes(rng, 20, net.n_in, 0.4))
