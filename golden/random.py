"""Random networks and inputs for tests, regressions and benchmarks.

The distributions are chosen to exercise the arithmetic, not to be useful networks: weights
span the full stored range (positive-leaning, so neurons fire), thresholds are comparable to a
few weights, leak factors include 0 and ``2**A - 1``, and a share of the delays sits at the
extremes 0 and ``d_max - 1`` where off-by-one errors live.
"""

from __future__ import annotations

import numpy as np

from .network import Network

__all__ = ["random_network", "random_spikes"]


def random_network(
    rng: np.random.Generator,
    *,
    n_in: int,
    n_hidden: int,
    n_out: int,
    recurrent: bool = False,
    delay_in: str = "synaptic",
    delay_rec: str = "none",
    delay_out: str = "none",
    reset: str = "soft",
    d_max: int = 16,
    weight_bits: int = 8,
    weight_frac: int = 0,
    delay_frac: int = 0,
    decay_bits: int = 8,
    v_bits: int = 16,
    y_bits: int = 16,
    saturating: bool = False,
) -> Network:
    """Draw a valid random :class:`Network` with the given sizes, kinds and formats.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness; the same seed gives the same network.
    saturating : bool
        Push weights to the extremes of their range and thresholds high, so that the
        membrane and readout saturate often.
    Other parameters
        As the fields of :class:`Network`.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    w_lo, w_hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    decay_hi = (1 << decay_bits) - 1
    v_hi = (1 << (v_bits - 1)) - 1
    delay_hi = (d_max << delay_frac) - 1

    def weights(post, pre):
        if saturating:
            return rng.choice([w_lo, w_hi, w_hi, w_hi - 1], size=(post, pre))
        w = rng.integers(w_lo, w_hi, size=(post, pre), endpoint=True)
        flip = rng.random((post, pre)) < 0.4  # lean positive so neurons fire
        return np.where(flip, np.abs(np.maximum(w, -w_hi)), w)

    def decays(n):
        d = rng.integers(0, decay_hi, size=n, endpoint=True)
        d[rng.random(n) < 0.15] = decay_hi
        d[rng.random(n) < 0.05] = 0
        return d

    def delays(kind, post, pre):
        if kind == "none":
            return None
        shape = (post, pre) if kind == "synaptic" else (pre,)
        d = rng.integers(0, delay_hi, size=shape, endpoint=True)
        u = rng.random(shape)
        d[u < 0.1] = rng.integers(0, 1 << delay_frac, size=int((u < 0.1).sum()))
        d[u > 0.9] = delay_hi - rng.integers(0, 1 << delay_frac, size=int((u > 0.9).sum()))
        return d

    w_eff_hi = max(1, w_hi >> weight_frac)
    theta_hi = min(v_hi, (8 if saturating else 3) * w_eff_hi)
    return Network(
        n_in=n_in,
        n_hidden=n_hidden,
        n_out=n_out,
        w_in=weights(n_hidden, n_in),
        w_rec=weights(n_hidden, n_hidden) if recurrent else None,
        w_out=weights(n_out, n_hidden),
        alpha=decays(n_hidden),
        theta=rng.integers(1, max(1, theta_hi), size=n_hidden, endpoint=True),
        kappa=decays(n_out),
        recurrent=recurrent,
        delay_in=delay_in,
        delay_rec=delay_rec if recurrent else "none",
        delay_out=delay_out,
        d_in=delays(delay_in, n_hidden, n_in),
        d_rec=delays(delay_rec, n_hidden, n_hidden) if recurrent else None,
        d_out=delays(delay_out, n_out, n_hidden),
        reset=reset,
        d_max=d_max,
        weight_bits=weight_bits,
        weight_frac=weight_frac,
        delay_frac=delay_frac,
        decay_bits=decay_bits,
        v_bits=v_bits,
        y_bits=y_bits,
    )


def random_spikes(rng: np.random.Generator, steps: int, n_in: int, density: float) -> np.ndarray:
    """Bernoulli input spikes, ``uint8 [steps, n_in]`` with spike probability ``density``."""
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    return (rng.random((steps, n_in)) < density).astype(np.uint8)
