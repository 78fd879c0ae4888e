"""cocotb test module: the memory map read back through the configuration bus.

The lockstep tests write the configuration and read ``V`` and ``Y``; coverage showed that
they never read the other regions back, never touch ``HIST``, never read the run-time sizes
or flags, and never access the bus while a step runs. This module covers those behaviours of
``docs/architecture.md`` (memory map and handshake):

``registers``
    After reset the sizes read back as the capacity and the flags as 0. Random 32-bit words
    written to every word of every mapped region read back as the field's low bits
    (zero-extended; ``V`` and ``Y`` sign-extended), the sizes clamped to ``[1, capacity]``,
    the recurrent flag 0 on a core built without the recurrent projection; ``STEP`` and
    ``CYCLES`` ignore writes.
``out_of_range``
    Words past the end of a region and every word of the unmapped regions read as 0, and
    writes to them change nothing anywhere in the map.
``hist_after_steps``
    After a lockstep run longer than a ring, every ``HIST`` ring holds the source's spikes of
    the last ``R`` steps (bit ``t mod R``).
``busy_bus``
    While a step runs, bus reads return 0 and bus writes are dropped.

The simulator process reads ``DELAYCORE_VARIANT`` and ``DELAYCORE_SEED`` and writes its
report to ``DELAYCORE_REPORT``.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge

from rtl import memory_map as mm
from sim.cases import LockstepCase
from sim.tb import CoreTB, LockstepScoreboard, sim_name
from sim.variants import CoreVariant

#: Regions of an inference core (a learning core maps more regions, with their own rules).
_INFERENCE_REGIONS = range(mm.REGION_CTRL, mm.REGION_HIST + 1)
_REGION_NAMES = {number: name for name, number in mm.REGIONS.items()}


def _sign_extend(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def expected_word(params, region: int, offset: int, written: int) -> int | None:
    """What a word of the map reads back after ``written`` was written to it.

    Returns the raw 32-bit bus word, or None for a read-only word (``STEP``, ``CYCLES``).
    """
    def low(bits):
        return written & ((1 << bits) - 1)

    if region == mm.REGION_CTRL:
        caps = {mm.CTRL_N_IN: params.max_in, mm.CTRL_N_HIDDEN: params.max_hidden,
                mm.CTRL_N_OUT: params.max_out}
        if offset in caps:
            return min(max(written, 1), caps[offset])
        if offset == mm.CTRL_FLAGS:
            mask = 0xFF if params.recurrent else 0xFF & ~mm.FLAG_RECURRENT
            return written & mask
        return None
    if region == mm.REGION_SYN:
        return low(params.syn_word_bits)
    if region == mm.REGION_AXON:
        return low(params.delay_bits)
    if region in (mm.REGION_ALPHA, mm.REGION_KAPPA):
        return low(params.decay_bits)
    if region == mm.REGION_THETA:
        return low(params.v_bits - 1)
    if region == mm.REGION_V:
        return _sign_extend(written, params.v_bits) & 0xFFFF_FFFF
    if region == mm.REGION_Y:
        return _sign_extend(written, params.y_bits) & 0xFFFF_FFFF
    if region == mm.REGION_HIST:
        return low(min(params.ring, 32))
    raise ValueError(f"region {region} is not an inference region")


def _mapped(params) -> list[tuple[int, int]]:
    sizes = mm.region_words(params)
    return [(region, offset) for region in _INFERENCE_REGIONS
            for offset in range(sizes.get(region, 0))]


async def _dump(tb: CoreTB, words) -> list[int]:
    return await tb.bus.read_many([mm.address(r, o) for r, o in words])


async def check_registers(tb: CoreTB, rng: np.random.Generator) -> None:
    p = tb.params
    await tb.reset()
    sizes = await _dump(tb, [(mm.REGION_CTRL, o) for o in (mm.CTRL_N_IN, mm.CTRL_N_HIDDEN,
                                                           mm.CTRL_N_OUT, mm.CTRL_FLAGS)])
    assert sizes == [p.max_in, p.max_hidden, p.max_out, 0], f"after reset: {sizes}"

    words = _mapped(p)
    values = [int(v) for v in rng.integers(0, 1 << 32, size=len(words), dtype=np.uint64)]
    # The sizes also get the edge values 0 and above the capacity.
    for i, (region, offset) in enumerate(words):
        if region == mm.REGION_CTRL and offset in (mm.CTRL_N_IN, mm.CTRL_N_HIDDEN,
                                                   mm.CTRL_N_OUT):
            values[i] = int(rng.choice([0, 1, 7, 1 << 20, values[i]]))
    before = await _dump(tb, [(mm.REGION_CTRL, mm.CTRL_STEP), (mm.REGION_CTRL, mm.CTRL_CYCLES)])
    await tb.bus.write_many((mm.address(r, o), v) for (r, o), v in zip(words, values))
    got = await _dump(tb, words)
    for (region, offset), value, word in zip(words, values, got):
        want = expected_word(p, region, offset, value)
        if want is None:
            want = before[offset - mm.CTRL_STEP]
        assert word == want, (f"region {_REGION_NAMES.get(region, region)} offset {offset}: "
                              f"wrote {value:#x}, read {word:#x}, expected {want:#x}")


async def check_out_of_range(tb: CoreTB, rng: np.random.Generator) -> None:
    p = tb.params
    sizes = mm.region_words(p)
    mapped = _mapped(p)
    reference = await _dump(tb, mapped)
    outside = []
    for region in range(16):
        size = sizes.get(region, 0)
        if region not in _INFERENCE_REGIONS and size:
            continue    # a learning region: mapped, with rules of its own
        for offset in {size, size + 1, size + int(rng.integers(0, 200)), 0xFFFF}:
            if offset >= size and offset <= 0xFFFF:
                outside.append(mm.address(region, offset))
    await tb.bus.write_many((a, int(rng.integers(0, 1 << 32))) for a in outside)
    reads = await tb.bus.read_many(outside)
    nonzero = [(hex(a), hex(w)) for a, w in zip(outside, reads) if w]
    assert not nonzero, f"out-of-range reads not 0: {nonzero[:5]}"
    after = await _dump(tb, mapped)
    changed = [(_REGION_NAMES.get(r, r), o) for (r, o), x, y in zip(mapped, reference, after)
               if x != y]
    assert not changed, f"out-of-range writes changed {changed[:5]}"


async def check_hist_after_steps(tb: CoreTB, variant: CoreVariant, seed: int) -> int:
    p = tb.params
    case = LockstepCase(name="hist", seed=seed, n_in=p.max_in, n_hidden=p.max_hidden,
                        n_out=p.max_out, recurrent=bool(p.recurrent),
                        delay_rec="synaptic" if p.recurrent else "none", density=0.4,
                        steps=p.ring + 7, steps_after_clear=0, retune_at=None)
    net = case.network(p)
    spikes, _ = case.spikes()
    await tb.load(net)
    await tb.clear()
    scoreboard = LockstepScoreboard(net, f"variant {variant.name}, HIST check")
    hidden = []
    for t, s in enumerate(spikes):
        expected = scoreboard.expect(s)
        observed = await tb.step(s, step=t)
        scoreboard.check(observed, expected)
        hidden.append(np.asarray(observed.z, dtype=np.uint8))
    steps = len(spikes)
    history = {("input", j): [int(spikes[t][j]) for t in range(steps)] for j in range(p.max_in)}
    history.update({("hidden", i): [int(hidden[t][i]) for t in range(steps)]
                    for i in range(p.max_hidden)})
    for (source, index), bits in history.items():
        ring = 0
        for t in range(steps):
            slot = t % p.ring
            ring = (ring & ~(1 << slot)) | (bits[t] << slot)
        for word in range(p.hist_words):
            got = await tb.bus.read(mm.address(mm.REGION_HIST,
                                               mm.hist_offset(source, index, p, word)))
            want = (ring >> (32 * word)) & 0xFFFF_FFFF
            assert got == want, f"HIST {source} {index} word {word}: {got:#x}, expected {want:#x}"
    return steps


async def check_busy_bus(tb: CoreTB, rng: np.random.Generator) -> None:
    p = tb.params
    targets = [(mm.REGION_ALPHA, 0), (mm.REGION_THETA, p.max_hidden - 1), (mm.REGION_V, 0),
               (mm.REGION_KAPPA, 0), (mm.REGION_SYN, 0), (mm.REGION_CTRL, mm.CTRL_N_IN)]
    # Full sizes, so that the step outlasts the bus accesses below.
    await tb.bus.write_many([(mm.address(mm.REGION_CTRL, mm.CTRL_N_IN), p.max_in),
                             (mm.address(mm.REGION_CTRL, mm.CTRL_N_HIDDEN), p.max_hidden),
                             (mm.address(mm.REGION_CTRL, mm.CTRL_N_OUT), p.max_out)])
    before = await _dump(tb, targets)
    dut = tb.dut
    dut.in_spikes.value = int(rng.integers(0, 1 << p.max_in))
    dut.start.value = 1
    await FallingEdge(dut.clk)
    dut.start.value = 0
    assert int(dut.busy.value) == 1, "busy did not rise after start"
    # Writes of changed values, then reads, all while the step runs.
    await tb.bus.write_many((mm.address(r, o), (w + 1) & 0xFFFF_FFFF)
                            for (r, o), w in zip(targets, before))
    during = await _dump(tb, targets)
    still_busy = int(dut.busy.value)
    await tb._wait_idle()
    after = await _dump(tb, targets)
    assert still_busy, "the step ended before the bus checks (the core is too small)"
    assert during == [0] * len(targets), f"reads while busy returned {during}"
    # The step itself updates V[0]; everything else must be as before.
    keep = [i for i, (r, _) in enumerate(targets) if r != mm.REGION_V]
    assert [after[i] for i in keep] == [before[i] for i in keep], \
        f"writes while busy took effect: {before} -> {after}"


@cocotb.test()
async def bus_readback(dut):
    """Every check of the module docstring on the variant of ``DELAYCORE_VARIANT``."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    seed = int(os.environ.get("DELAYCORE_SEED", "1"))
    rng = np.random.default_rng(seed)
    tb = CoreTB(dut, variant.core_params(), log=dut._log)
    report = {"variant": variant.name, "simulator": sim_name(), "checks": [], "failures": []}
    assert not tb.params.learning, "the readback checks cover the regions of inference cores"
    await tb.start()
    checks = [("registers", lambda: check_registers(tb, rng)),
              ("out_of_range", lambda: check_out_of_range(tb, rng)),
              ("hist_after_steps", lambda: check_hist_after_steps(tb, variant, seed)),
              ("busy_bus", lambda: check_busy_bus(tb, rng))]
    try:
        for name, check in checks:
            try:
                await check()
                report["checks"].append(name)
            except AssertionError as err:
                report["failures"].append(f"{variant.name} {name}: {err}")
                await tb.reset()
    finally:
        with open(os.environ["DELAYCORE_REPORT"], "w") as handle:
            json.dump(report, handle, indent=1)
    assert not report["failures"], "; ".join(report["failures"])
