"""The vectorised golden model against a direct, loop-by-loop reading of docs/model.md."""

import itertools

import numpy as np
import pytest

from golden.model import GoldenCore, run
from golden.random import random_network, random_spikes


def reference_run(net, spikes):
    """docs/model.md section 3, one neuron and one synapse at a time, full spike record."""
    steps = spikes.shape[0]
    lo_v, hi_v = -(1 << (net.v_bits - 1)), (1 << (net.v_bits - 1)) - 1
    lo_y, hi_y = -(1 << (net.y_bits - 1)), (1 << (net.y_bits - 1)) - 1
    v = [0] * net.n_hidden
    y = [0] * net.n_out
    z_record = np.zeros((steps, net.n_hidden), dtype=bool)
    out_v = np.zeros((steps, net.n_hidden), dtype=np.int64)
    out_y = np.zeros((steps, net.n_out), dtype=np.int64)
    d_in, d_rec, d_out = (net.integer_delays(p) if p in net.projections() else None
                          for p in ("in", "rec", "out"))

    def spike(record, t, j):
        return int(record[t, j]) if t >= 0 else 0

    for t in range(steps):
        for i in range(net.n_hidden):
            current = sum((int(net.w_in[i, j]) >> net.weight_frac) * spike(spikes, t - d_in[i, j], j)
                          for j in range(net.n_in))
            if net.recurrent:
                current += sum((int(net.w_rec[i, k]) >> net.weight_frac)
                               * spike(z_record, t - 1 - d_rec[i, k], k)
                               for k in range(net.n_hidden))
            vpre = min(max(((int(net.alpha[i]) * v[i]) >> net.decay_bits) + current, lo_v), hi_v)
            fired = vpre >= net.theta[i]
            z_record[t, i] = fired
            if fired:
                v[i] = vpre - int(net.theta[i]) if net.reset == "soft" else 0
            else:
                v[i] = vpre
            out_v[t, i] = v[i]
        for k in range(net.n_out):
            current = sum((int(net.w_out[k, i]) >> net.weight_frac) * spike(z_record, t - d_out[k, i], i)
                          for i in range(net.n_hidden))
            y[k] = min(max(((int(net.kappa[k]) * y[k]) >> net.decay_bits) + current, lo_y), hi_y)
            out_y[t, k] = y[k]
    return out_v, z_record, out_y


CASES = list(itertools.product(
    [False, True],                      # recurrent
    ["none", "synaptic", "axonal"],     # delay kind used on every projection
    ["soft", "hard"],
))


@pytest.mark.parametrize("case", range(len(CASES)), ids=["-".join(map(str, c)) for c in CASES])
def test_golden_matches_reference(case):
    recurrent, kind, reset = CASES[case]
    rng = np.random.default_rng(case)
    for trial in range(3):
        saturating = trial == 2
        net = random_network(
            rng, n_in=int(rng.integers(1, 7)), n_hidden=int(rng.integers(1, 6)),
            n_out=int(rng.integers(1, 4)), recurrent=recurrent, delay_in=kind,
            delay_rec=kind, delay_out=kind, reset=reset, d_max=int(rng.integers(1, 9)),
            weight_bits=int(rng.integers(4, 10)), weight_frac=int(rng.integers(0, 3)),
            delay_frac=int(rng.integers(0, 3)), decay_bits=int(rng.integers(2, 12)),
            v_bits=int(rng.integers(6, 14)), y_bits=int(rng.integers(6, 14)),
            saturating=saturating)
        spikes = random_spikes(rng, 40, net.n_in, density=float(rng.uniform(0.05, 0.9)))
        got = run(net, spikes)
        want_v, want_z, want_y = reference_run(net, spikes)
        np.testing.assert_array_equal(got["z"], want_z)
        np.testing.assert_array_equal(got["v"], want_v)
        np.testing.assert_array_equal(got["y"], want_y)


def test_saturation_is_reached_and_never_wraps():
    rng = np.random.default_rng(7)
    net = random_network(rng, n_in=16, n_hidden=4, n_out=2, v_bits=6, y_bits=6,
                         saturating=True, decay_bits=4)
    out = run(net, np.ones((30, 16), dtype=np.uint8))
    assert out["vpre"].max() == (1 << 5) - 1 or out["vpre"].min() == -(1 << 5)
    assert out["y"].max() <= 31 and out["y"].min() >= -32
    assert np.abs(out["y"]).max() in (31, 32)


def test_batch_equals_separate_runs():
    rng = np.random.default_rng(3)
    net = random_network(rng, n_in=5, n_hidden=4, n_out=2, recurrent=True,
                         delay_rec="axonal", delay_out="synaptic", d_max=5)
    spikes = np.stack([random_spikes(rng, 25, 5, 0.3) for _ in range(3)])
    batched = run(net, spikes)
    for b in range(3):
        single = run(net, spikes[b])
        for key in ("v", "z", "y"):
            np.testing.assert_array_equal(batched[key][b], single[key])


def test_delay_extremes_arrive_on_time():
    """A lone input spike reaches a neuron exactly d steps later, for d = 0 and d_max - 1."""
    rng = np.random.default_rng(0)
    for d in (0, 7):
        net = random_network(rng, n_in=1, n_hidden=1, n_out=1, d_max=8)
        net.w_in[:] = 10
        net.d_in[:] = d
        net.theta[:] = 10
        net.alpha[:] = 0
        spikes = np.zeros((12, 1), dtype=np.uint8)
        spikes[2] = 1
        z = run(net, spikes)["z"][:, 0]
        assert list(np.flatnonzero(z)) == [2 + d]


def test_recurrent_delay_zero_means_previous_step():
    rng = np.random.default_rng(1)
    net = random_network(rng, n_in=1, n_hidden=2, n_out=1, recurrent=True,
                         delay_rec="synaptic", d_max=4)
    net.w_in[:] = [[10], [0]]
    net.w_rec[:] = [[0, 0], [10, 0]]
    net.d_in[:] = 0
    net.d_rec[:] = 0
    net.theta[:] = 10
    net.alpha[:] = 0
    spikes = np.zeros((6, 1), dtype=np.uint8)
    spikes[1] = 1
    z = run(net, spikes)["z"]
    assert list(np.flatnonzero(z[:, 0])) == [1]
    assert list(np.flatnonzero(z[:, 1])) == [2]


def test_step_rejects_wrong_shape():
    net = random_network(np.random.default_rng(0), n_in=3, n_hidden=2, n_out=1)
    with pytest.raises(ValueError, match=r"shape \(1, 3\)"):
        GoldenCore(net).step(np.zeros(4))
