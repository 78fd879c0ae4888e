"""Random networks and inputs for tests, regressions and benchmarks.

The distributions are chosen to exercise the arithmetic, not to be useful networks: weights
span the full stored range (positive-leaning, so neurons fire), thresholds are comparable to a
few weights, leak factors include 0 and ``2**A - 1``, and a share of the delays sits at the
extremes 0 and ``d_max - 1`` where off-by-one errors live.
"""

from __future__ import annotations

import numpy as np

from .learning import LearningRule, gaussian_derivative_kernel, gaussian_psi_lut
from .network import Network

__all__ = ["random_network", "random_rule", "random_spikes"]


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


def random_rule(rng: np.random.Generator, net: Network, heavy: bool = False, *,
                trace_bits: int | None = None, u_bits: int | None = None,
                l_bits: int | None = None, max_half_width: int = 3,
                errors: tuple[str, ...] = ("mse",)) -> LearningRule:
    """Draw a random :class:`LearningRule` valid for ``net``.

    Every field is drawn, with a bias towards the corners: zero and full-scale LUT entries,
    random or Gaussian-derivative kernels, rates that make most updates saturate or that make
    the low bits (and so the rounding) decide, both rounding modes and feedback modes.

    Parameters
    ----------
    heavy : bool
        Make every width tight (traces, signals, ``u``) so that all saturations happen.
    trace_bits, u_bits, l_bits : int, optional
        Fix a width (e.g. to that of a core) instead of drawing it.
    max_half_width : int
        Largest kernel half width to draw (also limited by ``d_max``).
    errors : tuple of str
        Readout errors to choose from (``"mse"``, ``"softmax"``).
    """
    def pick(lo, hi):
        return int(rng.integers(lo, hi, endpoint=True))

    def fixed(drawn, value):
        return drawn if value is None else value

    max_width = min(max_half_width, (net.d_max - 1) // 2)
    width = pick(0, max_width)
    if width > 0 and rng.random() < 0.4:
        kernel = gaussian_derivative_kernel(width, float(rng.uniform(0.7, 3.0)), pick(1, 127))
    else:
        kernel = rng.integers(-128, 127, size=2 * width + 1, endpoint=True)
    psi_choice = rng.random()
    if psi_choice < 0.3:
        psi = gaussian_psi_lut(float(rng.uniform(0.5, 40.0)), pick(0, 255))
    elif psi_choice < 0.6:
        psi = rng.integers(0, 255, size=256, endpoint=True)
        psi[rng.random(256) < 0.3] = 0  # zero post factors exercise the skip
    else:
        psi = rng.integers(0, 255, size=256, endpoint=True)
    trace_bits = fixed(pick(2, 5) if heavy else pick(4, 16), trace_bits)
    feedback = "random" if rng.random() < 0.4 else "symmetric"
    w_hi = (1 << (net.weight_bits - 1)) - 1
    b_fb = (rng.integers(-w_hi - 1, w_hi, size=(net.n_out, net.n_hidden), endpoint=True)
            if feedback == "random" else None)
    y_hi = (1 << (net.y_bits - 1)) - 1
    learn = rng.integers(0, 4)  # weights only, delays only, both, neither (rare)
    if rng.random() < 0.05:
        learn_weights, learn_delays = False, False
    else:
        learn_weights, learn_delays = learn != 1, learn != 0
    small = (0, 3) if heavy else (0, 12)
    decay_hi = (1 << net.decay_bits) - 1
    l_bits = fixed(pick(4, 7) if heavy else pick(4, 24), l_bits)
    u_bits = fixed(pick(2, 4) if heavy else pick(2, 16), u_bits)
    if heavy or rng.random() < 0.3:
        # Rates that make most updates hit the clamps.
        eta = {name: pick(*small) for name in ("in", "rec", "out", "delay")}
    else:
        # Rates scaled to the widths, so that one update is a fraction of the range and the
        # low bits (rounding, hashed random bits) decide the result.
        w_bits = net.weight_bits - 1
        d_bits = (net.d_max - 1).bit_length() + net.delay_frac
        post = max(l_bits, net.y_bits) - 1
        eta = {"in": post + trace_bits - w_bits + pick(-6, 3),
               "out": net.y_bits - 1 + trace_bits - w_bits + pick(-6, 3),
               "delay": post + w_bits - net.weight_frac + u_bits - 1 - d_bits + pick(-10, 2)}
        eta["rec"] = eta["in"]
        eta = {name: min(max(value, 0), 31) for name, value in eta.items()}
    rule = dict(
        learn_weights=learn_weights,
        learn_delays=learn_delays,
        trace_bits=trace_bits,
        trace_shift=pick(0, trace_bits - 1),
        trace_decay=int(rng.choice([0, decay_hi, pick(0, decay_hi), pick(0, decay_hi)])),
        psi_lut=psi,
        psi_shift=pick(0, 6) if rng.random() < 0.9 else pick(0, 16),
        feedback=feedback,
        b_fb=b_fb,
        l_shift=pick(*small) if rng.random() < 0.9 else pick(0, 31),
        l_bits=l_bits,
        target_amp=int(rng.choice([0, y_hi, pick(0, y_hi)])),
        eta_in=eta["in"],
        eta_rec=eta["rec"],
        eta_out=eta["out"],
        eta_delay=eta["delay"] if rng.random() < 0.9 else pick(0, 31),
        kernel=kernel,
        kernel_shift=pick(*small),
        u_bits=u_bits,
        rounding=str(rng.choice(["truncate", "stochastic"])),
        seed=pick(0, 0xFFFF_FFFF),
    )
    if len(errors) > 1 or errors[0] != "mse":
        # Only drawn when asked for, so that the default draw stays as it was.
        error = str(rng.choice(list(errors)))
        rule["error"] = error
        if error == "softmax":
            rule["softmax_shift"] = pick(0, 6) if rng.random() < 0.8 else pick(0, 16)
            if rng.random() < 0.5:
                lut = rng.integers(0, 255, size=256, endpoint=True)
                lut[0] = max(1, int(lut[0]))
                rule["exp_lut"] = lut
    return LearningRule(**rule)
