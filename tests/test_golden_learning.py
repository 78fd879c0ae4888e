"""Learning in the golden model (docs/model.md section 7) against a loop-by-loop reference.

``reference_model.ReferenceCore`` is a direct reading of sections 3 and 7, one neuron and one
synapse at a time with a full time record; ``GoldenCore`` is the vectorised model the RTL is
checked against. Random networks compare every weight, delay, trace, membrane, spike and
readout after every step; further tests pin the float mode, the zero skip, the clamps and
the validation of the learning table.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from reference_model import ReferenceCore
from reference_model import mix32 as reference_mix32

from golden.learning import LearningRule, gaussian_derivative_kernel, gaussian_psi_lut, mix32
from golden.model import GoldenCore, synapse_addresses
from golden.network import Network, NetworkError
from golden.random import random_network, random_rule, random_spikes

KINDS = ("none", "synaptic", "axonal")


# -- random cases ------------------------------------------------------------------------------

def random_learning_network(seed: int) -> Network:
    """Random sizes, formats and delay kinds (golden.random), with a random learning table."""
    rng = np.random.default_rng(seed)
    heavy = seed % 5 == 4
    recurrent = bool(rng.random() < 0.6)
    weight_bits = int(rng.integers(2, 4, endpoint=True)) if heavy else int(rng.integers(4, 12))
    net = random_network(
        rng,
        n_in=int(rng.integers(1, 6, endpoint=True)),
        n_hidden=int(rng.integers(1, 5, endpoint=True)),
        n_out=int(rng.integers(1, 3, endpoint=True)),
        recurrent=recurrent,
        delay_in=str(rng.choice(KINDS)),
        delay_rec=str(rng.choice(KINDS)),
        delay_out=str(rng.choice(KINDS)),
        reset=str(rng.choice(["soft", "hard"])),
        d_max=int(rng.choice([1, 2, 3, 4, 5, 7, 8, 16, 64])),
        weight_bits=weight_bits,
        weight_frac=int(rng.integers(0, min(weight_bits - 1, 4), endpoint=True)),
        delay_frac=int(rng.integers(0, 3, endpoint=True)),
        decay_bits=int(rng.integers(1, 10, endpoint=True)),
        v_bits=int(rng.integers(4, 8, endpoint=True)) if heavy else int(rng.integers(6, 16)),
        y_bits=int(rng.integers(4, 8, endpoint=True)) if heavy else int(rng.integers(6, 16)),
        saturating=heavy or bool(rng.random() < 0.2),
    )
    return dataclasses.replace(net, learning=random_rule(rng, net, heavy))


# -- comparison --------------------------------------------------------------------------------

def golden_fields(core: GoldenCore, b: int, result) -> dict[str, np.ndarray]:
    """State of batch element ``b`` after a step, including the trace rings' live window."""
    t = core.t - 1  # the step just done
    half_width = core.rule.kernel_half_width
    out = {"z": result.z[b], "vpre": result.vpre[b], "v": core.v[b], "y": core.y[b]}
    for name, ring in (("x_in", core.trace_in), ("x_hidden", core.trace_hidden)):
        times = range(max(0, t - core.slots + 1), t + 1)
        out[name] = np.array([ring[b, time % core.slots] for time in times])
    for name, ring in (("u_in", core.dtrace_in), ("u_hidden", core.dtrace_hidden)):
        times = range(max(0, t - half_width - core.slots + 1), t - half_width + 1)
        out[name] = np.array([ring[b, tau % core.slots] for tau in times])
    for name, p in core.projections.items():
        out[f"w_{name}"] = p.w[b]
        if p.d is not None:
            out[f"d_{name}"] = p.d[b]
    return out


def reference_fields(ref: ReferenceCore, slots: int) -> dict[str, np.ndarray]:
    t = ref.t - 1
    half_width = ref.half_width
    out = {"z": np.array(ref.z), "vpre": np.array(ref.vpre), "v": np.array(ref.v),
           "y": np.array(ref.y)}
    for src in ("in", "hidden"):
        times = range(max(0, t - slots + 1), t + 1)
        out[f"x_{src}"] = np.array([ref.x[src][time] for time in times])
        taus = range(max(0, t - half_width - slots + 1), t - half_width + 1)
        out[f"u_{src}"] = np.array([ref.u[src][tau] for tau in taus])
    for proj in ref.projs:
        out[f"w_{proj}"] = np.array(ref.w[proj])
        if ref.d[proj] is not None:
            out[f"d_{proj}"] = np.array(ref.d[proj])
    return out


def first_mismatch(got: dict, want: dict, *, tolerance: float = 0.0) -> str | None:
    """``"field[index]: golden g, reference r"`` of the first differing value, or None."""
    assert got.keys() == want.keys(), (sorted(got), sorted(want))
    for name, value in want.items():
        g, w = np.asarray(got[name]), np.asarray(value)
        if g.size == 0 and w.size == 0:
            continue
        if g.shape != w.shape:
            return f"{name}: shape {g.shape} in golden, {w.shape} in reference"
        if tolerance:
            bad = ~np.isclose(g.astype(float), w.astype(float), rtol=tolerance, atol=tolerance)
        else:
            bad = g != w
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            return (f"{name}{list(index)}: golden {g[index]!r}, reference {w[index]!r}")
    return None


def run_lockstep(net: Network, seed: int, *, batch: int = 1, samples=(20, 20),
                 exact: bool = True, tolerance: float = 0.0):
    """Run golden and reference side by side; fail at the first differing value.

    Each batch element gets its own spikes, labels and target mask; ``samples`` are the
    lengths of consecutive samples (state reset between them, learned values kept).
    Returns the reference cores.
    """
    rng = np.random.default_rng(seed + 1_000_003)
    core = GoldenCore(net, batch=batch, exact=exact)
    refs = [ReferenceCore(net, exact=exact) for _ in range(batch)]
    step = 0
    for sample, steps in enumerate(samples):
        if sample:
            core.reset()
            for ref in refs:
                ref.reset()
        density = float(rng.uniform(0.05, 0.8))
        spikes = np.stack([random_spikes(rng, steps, net.n_in, density) for _ in range(batch)])
        labels = rng.integers(0, net.n_out, size=batch)
        masks = rng.random((batch, steps)) < float(rng.choice([0.3, 0.7, 1.0]))
        for t in range(steps):
            step_both(core, refs, spikes[:, t], labels, masks[:, t],
                      f"step {step} (sample {sample}, t={t})", tolerance=tolerance)
            step += 1
    return refs


def step_both(core: GoldenCore, refs: list[ReferenceCore], spikes, labels, learn, where: str,
              *, tolerance: float = 0.0):
    """One step of the golden model and of one reference per batch element, then compare."""
    spikes = np.broadcast_to(np.asarray(spikes), (core.batch, core.net.n_in))
    labels = np.broadcast_to(np.asarray(labels), (core.batch,))
    learn = np.broadcast_to(np.asarray(learn, dtype=bool), (core.batch,))
    result = core.step(spikes, labels=labels, learn=learn)
    for b, ref in enumerate(refs):
        ref.step(spikes[b], label=labels[b], learn=bool(learn[b]))
        problem = first_mismatch(golden_fields(core, b, result),
                                 reference_fields(ref, core.slots), tolerance=tolerance)
        if problem:
            pytest.fail(f"{where}, batch {b}: {problem}")
        if core.exact and int(core.learn_count[b]) != ref.count:
            pytest.fail(f"{where}, batch {b}: learning-step count: golden "
                        f"{int(core.learn_count[b])}, reference {ref.count}")


def describe(net: Network) -> str:
    r = net.learning
    return (f"in={net.n_in} hid={net.n_hidden} out={net.n_out} rec={net.recurrent} "
            f"kinds={net.delay_in}/{net.delay_rec}/{net.delay_out} d_max={net.d_max} "
            f"wb={net.weight_bits}.{net.weight_frac} df={net.delay_frac} "
            f"W={r.kernel_half_width} {r.rounding} {r.feedback} "
            f"learn w={r.learn_weights} d={r.learn_delays}")


# -- exact lockstep ----------------------------------------------------------------------------

N_RANDOM = 160


@pytest.mark.parametrize("seed", range(N_RANDOM))
def test_learning_matches_reference(seed):
    net = random_learning_network(seed)
    batch = 2 if seed % 3 == 0 else 1
    try:
        run_lockstep(net, seed, batch=batch)
    except pytest.fail.Exception as err:
        pytest.fail(f"{err.msg}\n  network: {describe(net)}")


def test_random_cases_cover_the_rule():
    """The random draw reaches every combination the lockstep test claims to cover."""
    seen = set()
    clamped = {"w": 0, "d": 0}
    for seed in range(N_RANDOM):
        net = random_learning_network(seed)
        r = net.learning
        for proj in net.projections():
            seen.add((proj, net.delay_kind(proj), r.learn_delays))
        seen.update({("rounding", r.rounding), ("feedback", r.feedback), ("rec", net.recurrent),
                     ("W", r.kernel_half_width), ("lw", r.learn_weights), ("wb", net.weight_bits)})
    for proj in ("in", "rec", "out"):
        for kind in KINDS:
            assert (proj, kind, True) in seen, (proj, kind)
    for item in [("rounding", "truncate"), ("rounding", "stochastic"), ("feedback", "random"),
                 ("feedback", "symmetric"), ("rec", True), ("rec", False), ("W", 0), ("W", 3),
                 ("lw", True), ("lw", False), ("wb", 2)]:
        assert item in seen, item
    # Saturation-heavy cases do reach the weight and delay clamps.
    for seed in range(4, 40, 5):
        for ref in run_lockstep(random_learning_network(seed), seed, samples=(12,)):
            for field, count in ref.clamp_total.items():
                clamped[field] += count
    assert clamped["w"] > 10 and clamped["d"] > 10, clamped


def test_mix32_matches_reference():
    rng = np.random.default_rng(11)
    keys = np.concatenate([[0, 1, 2, 0x8000_0000, 0xFFFF_FFFF],
                           rng.integers(0, 1 << 32, size=200, dtype=np.uint64)])
    got = mix32(keys)
    assert [int(v) for v in got] == [reference_mix32(int(k)) for k in keys]
    # The hash spreads: low bits of consecutive keys are not a counter.
    low = [reference_mix32(k) & 0xFF for k in range(256)]
    assert len(set(low)) > 128


@pytest.mark.parametrize("recurrent", [False, True])
def test_synapse_addresses_follow_the_layout(recurrent):
    net = random_network(np.random.default_rng(2), n_in=3, n_hidden=4, n_out=2,
                         recurrent=recurrent)
    net = dataclasses.replace(net, learning=LearningRule())
    ref = ReferenceCore(net)
    every = []
    for proj in net.projections():
        got = synapse_addresses(net, proj)
        post, pre = net.projection_shape(proj)
        want = [[ref.synapse_address(proj, a, b) for b in range(pre)] for a in range(post)]
        np.testing.assert_array_equal(got, want)
        every.extend(got.ravel().tolist())
    assert sorted(every) == list(range(net.n_synapses))


def test_mask_off_changes_nothing_and_count_survives_reset():
    """Mask-off steps leave every parameter alone, even with stochastic rounding; the
    learning-step count keys the hash across samples."""
    net = always_firing_network(delay_kind="synaptic", delay_frac=2, delay=9,
                                learn_delays=True, kernel=np.array([-50, 0, 50]),
                                eta_in=12, eta_rec=12, eta_out=12, eta_delay=20,
                                rounding="stochastic")
    core = GoldenCore(net)

    def parameters():
        return [a.copy() for p in core.projections.values() for a in (p.w, p.d)]

    before = parameters()
    for t in range(15):
        core.step(np.ones(2), labels=0, learn=False)
    for got, want in zip(parameters(), before):
        np.testing.assert_array_equal(got, want)
    assert int(core.learn_count[0]) == 0
    core.step(np.ones(2), labels=0, learn=True)
    assert any((got != want).any() for got, want in zip(parameters(), before))
    core.reset()
    assert int(core.learn_count[0]) == 1


# -- zero skip ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rounding", ["truncate", "stochastic"])
def test_zero_post_factor_changes_nothing(rounding):
    """7.5: a post neuron with post factor 0 keeps all its weights and delays."""
    skipped = changed = 0
    for seed in range(8):
        rng = np.random.default_rng(500 + seed)
        kind = KINDS[1 + seed % 2]
        net = random_network(rng, n_in=4, n_hidden=5, n_out=3, recurrent=True, delay_in=kind,
                             delay_rec=kind, delay_out=kind, d_max=8, weight_bits=10,
                             weight_frac=2, delay_frac=3)
        psi = rng.integers(1, 255, size=256, endpoint=True)
        psi[::2] = 0  # half of the membrane distances give psi = 0
        rule = LearningRule(learn_weights=True, learn_delays=True, psi_lut=psi, psi_shift=0,
                            eta_in=2, eta_rec=2, eta_out=2, eta_delay=3, kernel_shift=2,
                            target_amp=0, rounding=rounding, seed=int(rng.integers(1 << 32)))
        net = dataclasses.replace(net, learning=rule)
        core = GoldenCore(net)
        ref = ReferenceCore(net)
        for t in range(30):
            spikes = rng.random(net.n_in) < 0.5
            label = int(rng.integers(net.n_out))
            old = {p: (q.w[0].copy(), None if q.d is None else q.d[0].copy())
                   for p, q in core.projections.items()}
            # The reference keeps the post factors of section 7.2 (and skips their zeros).
            step_both(core, [ref], spikes, label, True, f"seed {seed} step {t}")
            for p, q in core.projections.items():
                factor = np.array(ref.post_factor["out" if p == "out" else "hidden"])
                w_old, d_old = old[p]
                for post in np.flatnonzero(factor == 0):
                    skipped += 1
                    np.testing.assert_array_equal(q.w[0][post], w_old[post], err_msg=p)
                    if q.kind == "synaptic":
                        np.testing.assert_array_equal(q.d[0][post], d_old[post], err_msg=p)
                if q.kind == "axonal" and not factor.any():
                    np.testing.assert_array_equal(q.d[0], d_old, err_msg=p)
                changed += int((q.w[0][factor != 0] != w_old[factor != 0]).any())
    assert skipped > 200 and changed > 100  # neither side of the claim is vacuous


# -- float mode --------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(0, N_RANDOM, 8))
def test_float_mode_matches_float_reference(seed):
    """7.7 read literally: the same rules in float64 (divisions, no rounding, clamps stay)."""
    net = random_learning_network(seed)
    try:
        run_lockstep(net, seed, exact=False, tolerance=1e-9)
    except pytest.fail.Exception as err:
        pytest.fail(f"{err.msg}\n  network: {describe(net)}")


def float_vs_exact_network(seed: int, rounding: str) -> Network:
    """Wide formats and small shifts relative to the values, so floors cost little.

    ``alpha = 0`` keeps the hidden layer identical in both modes before learning (its
    membrane carries no fraction), so the two modes differ only through the leaks of the
    traces and readouts and the shifts of the learning rule.
    """
    rng = np.random.default_rng(seed)
    net = random_network(rng, n_in=8, n_hidden=6, n_out=3, recurrent=bool(seed % 2),
                         delay_in="synaptic", delay_rec="axonal", delay_out="synaptic",
                         d_max=16, weight_bits=12, delay_frac=8, v_bits=20, y_bits=20)
    net.w_in[:] = rng.integers(-100, 300, size=net.w_in.shape)
    if net.recurrent:
        net.w_rec[:] = rng.integers(-100, 100, size=net.w_rec.shape)
    net.w_out[:] = rng.integers(-300, 300, size=net.w_out.shape)
    net.theta[:] = rng.integers(200, 600, size=net.theta.shape)
    net.alpha[:] = 0
    net.kappa[:] = rng.integers(0, 128, size=net.kappa.shape, endpoint=True)
    rule = LearningRule(learn_weights=True, learn_delays=True, trace_bits=16, trace_shift=10,
                        trace_decay=200, psi_lut=gaussian_psi_lut(24.0), psi_shift=3,
                        l_shift=6, l_bits=24, target_amp=3000, eta_in=16, eta_rec=16,
                        eta_out=18, eta_delay=22, kernel=gaussian_derivative_kernel(2, 1.2, 64),
                        kernel_shift=4, u_bits=16, rounding=rounding, seed=seed)
    return dataclasses.replace(net, learning=rule)


@pytest.mark.parametrize("rounding", ["truncate", "stochastic"])
def test_float_mode_stays_close_to_exact_mode(rounding):
    """Over 30 steps the float traces and readouts stay within the floors' error budget, and
    one learning step then moves every weight and delay as the exact mode does, up to the
    rounding."""
    compared = 0
    for seed in range(8):
        net = float_vs_exact_network(seed, rounding)
        rule = net.learning
        rng = np.random.default_rng(seed + 100)
        spikes = random_spikes(rng, 30, net.n_in, 0.3)
        exact, approx = GoldenCore(net), GoldenCore(net, exact=False)
        before = {p: (q.w.copy(), None if q.d is None else q.d.copy())
                  for p, q in exact.projections.items()}
        # Each floor loses less than 1, then decays: the float value exceeds the exact one
        # by less than 1 / (1 - decay / 2^A).
        x_bound = 1 / (1 - rule.trace_decay / (1 << net.decay_bits))
        y_bound = 1 / (1 - net.kappa / (1 << net.decay_bits))
        u_bound = np.abs(rule.kernel).sum() * x_bound / (1 << rule.kernel_shift) + 1
        for t in range(30):
            learn = t == 29
            got_e = exact.step(spikes[t], labels=1, learn=learn)
            got_f = approx.step(spikes[t], labels=1, learn=learn)
            np.testing.assert_array_equal(got_e.z, got_f.z)
            np.testing.assert_array_equal(got_e.vpre, got_f.vpre)
            if learn:
                break
            for ring_e, ring_f in ((exact.trace_in, approx.trace_in),
                                   (exact.trace_hidden, approx.trace_hidden)):
                gap = ring_f[0] - ring_e[0]
                assert gap.min() >= 0 and gap.max() < x_bound, (seed, t, gap.min(), gap.max())
            for ring_e, ring_f in ((exact.dtrace_in, approx.dtrace_in),
                                   (exact.dtrace_hidden, approx.dtrace_hidden)):
                assert np.abs(ring_f[0] - ring_e[0]).max() <= u_bound, (seed, t)
            gap = approx.y[0] - exact.y[0]
            assert (gap >= 0).all() and (gap < y_bound).all(), (seed, t, gap)
        for name in exact.projections:
            for field, index in (("w", 0), ("d", 1)):
                if before[name][index] is None:
                    continue
                moved_e = getattr(exact.projections[name], field)[0] - before[name][index][0]
                moved_f = getattr(approx.projections[name], field)[0] - before[name][index][0]
                tolerance = 4 + 0.02 * np.abs(moved_f)
                worst = np.argmax(np.abs(moved_e - moved_f) - tolerance)
                assert (np.abs(moved_e - moved_f) <= tolerance).all(), (
                    f"seed {seed} {field}_{name}: exact moved {moved_e.flat[worst]}, "
                    f"float {moved_f.flat[worst]}")
                big = np.abs(moved_f) >= 8
                assert (np.sign(moved_e[big]) == np.sign(moved_f[big])).all()
                compared += int(big.sum())
    assert compared > 500  # the updates are far above the tolerance


# -- clamps ------------------------------------------------------------------------------------

def always_firing_network(*, weight_frac=0, delay_kind="none", d_max=8, delay_frac=0,
                          delay=0, **rule) -> Network:
    """2 inputs -> 2 hidden (recurrent) -> 2 readouts, 4-bit weights at the top of the range.

    With the inputs always on, every hidden neuron fires every step once the input spikes have
    arrived, so every trace is positive. The learning signal is as large as it gets: the
    labelled readout's target is the top of the readout range and psi is 255 everywhere.
    """
    n, w_hi = 2, 7
    stored = None if delay_kind == "none" else np.full((n, n) if delay_kind == "synaptic"
                                                       else (n,), delay)
    net = Network(n_in=n, n_hidden=n, n_out=n, recurrent=True, reset="hard",
                  w_in=np.full((n, n), w_hi), w_rec=np.full((n, n), w_hi),
                  w_out=np.full((n, n), w_hi), alpha=np.zeros(n, dtype=int),
                  theta=np.ones(n, dtype=int), kappa=np.zeros(n, dtype=int),
                  delay_in=delay_kind, delay_rec=delay_kind, delay_out=delay_kind,
                  d_in=stored, d_rec=None if stored is None else stored.copy(),
                  d_out=None if stored is None else stored.copy(), d_max=d_max,
                  weight_bits=4, weight_frac=weight_frac, delay_frac=delay_frac)
    defaults = {"psi_lut": np.full(256, 255), "l_shift": 0, "target_amp": (1 << 15) - 1}
    return dataclasses.replace(net, learning=LearningRule(**{**defaults, **rule}))


@pytest.mark.parametrize("rounding", ["truncate", "stochastic"])
@pytest.mark.parametrize("weight_frac", [0, 2])
def test_weights_clamp_at_both_limits(rounding, weight_frac):
    """Huge updates saturate stored weights at -2^(b-1) and 2^(b-1) - 1; nothing wraps."""
    # Readout 0 is the label: its error is hugely negative, so its weights would grow past
    # the top; readout 1's error is positive, so its weights shrink past the bottom. Random
    # feedback gives hidden neuron 0 a positive learning signal (its weights shrink) and
    # neuron 1 a negative one (its weights grow).
    net = always_firing_network(weight_frac=weight_frac, feedback="random",
                                b_fb=np.array([[-8, 7], [0, 0]]), eta_in=3, eta_rec=3,
                                eta_out=3, rounding=rounding)
    net.w_out[1] = 6  # readout 1 and hidden neuron 1 start inside the range (still firing)
    net.w_in[1] = 4
    core, ref = GoldenCore(net), ReferenceCore(net)
    # Step 0 fills the hidden traces that the recurrent and readout synapses read at step 1.
    step_both(core, [ref], np.ones(2), 0, False, "step 0")
    step_both(core, [ref], np.ones(2), 0, True, "step 1")
    want = {"in": [[-8, -8], [7, 7]], "rec": [[-8, -8], [7, 7]], "out": [[7, 7], [-8, -8]]}
    for proj, rows in want.items():
        np.testing.assert_array_equal(core.projections[proj].w[0], rows, err_msg=proj)
    # Every synapse was clamped: its unclamped value lies beyond the limit.
    clamped = {(e[1], e[2], e[3]) for e in ref.clamped if e[0] == "w"}
    assert clamped == {(p, post, pre) for p in want for post in range(2) for pre in range(2)}
    for t in range(2, 12):  # keeps learning against the limits, in lockstep
        step_both(core, [ref], np.ones(2), 0, True, f"step {t}")
        for p in core.projections.values():
            assert p.w.min() >= -8 and p.w.max() <= 7


@pytest.mark.parametrize("rounding", ["truncate", "stochastic"])
@pytest.mark.parametrize("kind", ["synaptic", "axonal"])
@pytest.mark.parametrize("direction", ["up", "down"])
def test_delays_clamp_at_zero_and_top(rounding, kind, direction):
    """Delay updates saturate at 0 and at (d_max << delay_frac) - 1 (integer part d_max - 1)."""
    # W = 0 and a one-tap kernel make u = g0 * x: its sign is the sign of g0 (x > 0). Random
    # feedback of all ones makes every hidden post factor negative (the labelled readout's
    # error dominates), weights are positive, so g_syn has the sign of -g0: d - R(g_syn)
    # grows for g0 > 0. Readout 1's error is positive, so its synaptic delays go the other way.
    d_max, delay_frac = 5, 2
    top = (d_max << delay_frac) - 1
    net = always_firing_network(delay_kind=kind, d_max=d_max, delay_frac=delay_frac,
                                delay=top // 2, learn_weights=False, learn_delays=True,
                                feedback="random", b_fb=np.ones((2, 2), dtype=int),
                                kernel=np.array([100 if direction == "up" else -100]),
                                kernel_shift=0, u_bits=16, eta_delay=2, rounding=rounding)
    core, ref = GoldenCore(net), ReferenceCore(net)
    first = d_max + 2  # every delayed spike and trace has arrived
    for t in range(first):
        step_both(core, [ref], np.ones(2), 0, False, f"step {t}")
    step_both(core, [ref], np.ones(2), 0, True, f"step {first}")
    far, near = (top, 0) if direction == "up" else (0, top)
    for name, p in core.projections.items():
        want = np.full(p.d[0].shape, far)
        if name == "out" and kind == "synaptic":
            want[1] = near
        np.testing.assert_array_equal(p.d[0], want, err_msg=name)
    assert (core.projections["in"].integer_delays(delay_frac).max() in (0, d_max - 1))
    assert len([e for e in ref.clamped if e[0] == "d"]) == sum(p.d[0].size
                                                               for p in core.projections.values())
    for t in range(first + 1, first + 12):  # the forward pass at the extreme delays, learning on
        step_both(core, [ref], np.ones(2), 0, True, f"step {t}")
        for p in core.projections.values():
            assert p.d.min() >= 0 and p.d.max() <= top


# -- validation --------------------------------------------------------------------------------

BAD_FIELDS = [
    ("learn_weights", {"learn_weights": 1}),
    ("learn_delays", {"learn_delays": "yes"}),
    ("trace_bits", {"trace_bits": 1}),
    ("trace_bits", {"trace_bits": 17}),
    ("trace_shift", {"trace_bits": 6, "trace_shift": 6}),
    ("trace_shift", {"trace_shift": -1}),
    ("trace_decay", {"trace_decay": 256}),
    ("trace_decay", {"trace_decay": 1.5}),
    ("psi_lut", {"psi_lut": np.zeros(255, dtype=int)}),
    ("psi_lut", {"psi_lut": np.full(256, 256)}),
    ("psi_lut", {"psi_lut": np.full(256, -1)}),
    ("psi_lut", {"psi_lut": np.full(256, 0.5)}),
    ("psi_shift", {"psi_shift": 17}),
    ("feedback", {"feedback": "transpose"}),
    ("b_fb", {"feedback": "random"}),
    ("b_fb", {"feedback": "random", "b_fb": np.zeros((2, 3), dtype=int)}),
    ("b_fb", {"feedback": "random", "b_fb": np.full((3, 2), 128)}),
    ("b_fb", {"b_fb": np.zeros((3, 2), dtype=int)}),
    ("l_bits", {"l_bits": 3}),
    ("l_bits", {"l_bits": 25}),
    ("l_shift", {"l_shift": 32}),
    ("target_amp", {"target_amp": 1 << 15}),
    ("target_amp", {"target_amp": -1}),
    ("eta_in", {"eta_in": 32}),
    ("eta_rec", {"eta_rec": -1}),
    ("eta_out", {"eta_out": 2.0}),
    ("eta_delay", {"eta_delay": 40}),
    ("kernel", {"kernel": np.zeros(4, dtype=int)}),
    ("kernel", {"kernel": np.zeros(17, dtype=int)}),
    ("kernel", {"kernel": np.zeros((3, 1), dtype=int)}),
    ("kernel", {"kernel": np.array([0, 128, 0])}),
    ("kernel", {"kernel": np.array([0.5, 0, -0.5])}),
    ("kernel", {"kernel": np.zeros(11, dtype=int)}),  # 2W+1 = 11 > d_max = 8
    ("kernel_shift", {"kernel_shift": 32}),
    ("u_bits", {"u_bits": 1}),
    ("u_bits", {"u_bits": 17}),
    ("rounding", {"rounding": "nearest"}),
    ("seed", {"seed": 1 << 32}),
    ("seed", {"seed": -1}),
]


@pytest.mark.parametrize("field,bad", BAD_FIELDS, ids=[f"{f}-{i}" for i, (f, _) in
                                                        enumerate(BAD_FIELDS)])
def test_learning_validation_names_the_field(field, bad):
    net = random_network(np.random.default_rng(0), n_in=2, n_hidden=2, n_out=3, d_max=8,
                         weight_bits=8, y_bits=16)
    with pytest.raises(NetworkError, match=rf"learning\.{field}\b"):
        dataclasses.replace(net, learning=LearningRule(**bad))
    with pytest.raises(ValueError, match=rf"learning\.{field}\b"):
        LearningRule(**bad).validate(net)


def test_learning_table_from_dict():
    net = random_network(np.random.default_rng(0), n_in=2, n_hidden=2, n_out=3, d_max=8)
    data = net.to_dict()
    data["learning"] = {"eta_in": 4, "learning_rate": 3}
    with pytest.raises(NetworkError, match=r"learning\.learning_rate"):
        Network.from_dict(data)
    data["learning"] = LearningRule(rounding="stochastic", learn_delays=True).to_dict()
    again = Network.from_dict(data)
    assert again.learning.rounding == "stochastic" and again.learning.learn_delays
    np.testing.assert_array_equal(again.learning.kernel, gaussian_derivative_kernel())
