"""Parameters of the on-chip learning rule (``docs/model.md`` section 7).

A :class:`LearningRule` fixes every constant of the three-factor rule: presynaptic traces,
the surrogate pseudo-derivative LUT, the learning-signal scaling, the Gaussian-derivative
kernel for delay eligibility, learning rates (as shifts) and the rounding mode. It travels
with the network (``Network.learning``) so golden model, RTL and host use the same numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = [
    "ERROR_MODES",
    "FEEDBACK_MODES",
    "ROUNDING_MODES",
    "LearningRule",
    "exp_lut",
    "gaussian_psi_lut",
    "gaussian_derivative_kernel",
    "mix32",
]

ERROR_MODES = ("mse", "softmax")
FEEDBACK_MODES = ("symmetric", "random")
ROUNDING_MODES = ("truncate", "stochastic")
PSI_LUT_SIZE = 256
#: Fields of the per-neuron parameter learning (docs/model.md section 11).
NEURON_FIELDS = ("learn_neurons", "eta_beta", "eta_coupling", "eta_rho", "elig_bits")
KERNEL_MAX_HALF_WIDTH = 7


def gaussian_psi_lut(width: float = 24.0, height: int = 255) -> np.ndarray:
    """Gaussian surrogate LUT: entry ``n`` is ``height * exp(-n^2 / (2 width^2))``.

    ``width`` is in LUT steps (membrane distance ``>> psi_shift``).
    """
    n = np.arange(PSI_LUT_SIZE)
    return np.round(height * np.exp(-(n / width) ** 2 / 2)).astype(np.int64)


def exp_lut(scale: float = 8.0, height: int = 255) -> np.ndarray:
    """Softmax LUT: entry ``n`` is ``height * exp(-n / scale)`` (``n`` in LUT steps).

    With ``softmax_shift`` = ``s`` the softmax temperature is ``scale * 2**s`` readout units.
    """
    n = np.arange(PSI_LUT_SIZE)
    return np.round(height * np.exp(-n / scale)).astype(np.int64)


def gaussian_derivative_kernel(half_width: int = 3, sigma: float = 1.5,
                               peak: int = 64) -> np.ndarray:
    """Kernel ``g[m] ~ m exp(-m^2 / 2 sigma^2)`` for ``m = -W..W``, scaled to ``peak``.

    Index 0 of the returned array is ``m = -W``. Positive ``m`` look further into the past,
    so ``sum g[m] x[tau - m]`` estimates ``d x(t - d) / d d``.
    """
    m = np.arange(-half_width, half_width + 1)
    g = m * np.exp(-(m ** 2) / (2 * sigma ** 2))
    if half_width == 0:
        return np.zeros(1, dtype=np.int64)
    return np.round(g / np.abs(g).max() * peak).astype(np.int64)


def mix32(key: np.ndarray) -> np.ndarray:
    """Counter-based 32-bit hash used for stochastic rounding (bit-exact in the RTL).

    Two xorshift32 rounds around one add of a rotated copy (the add makes it non-linear).
    Works on any integer array; returns uint64 values below ``2**32``.
    """
    mask = np.uint64(0xFFFF_FFFF)
    x = np.asarray(key).astype(np.uint64) & mask
    for _ in range(2):
        x ^= (x << np.uint64(13)) & mask
        x ^= x >> np.uint64(17)
        x ^= (x << np.uint64(5)) & mask
        rotated = ((x << np.uint64(7)) | (x >> np.uint64(25))) & mask
        x = (x + rotated) & mask
    return x


def _int_field(name, value, lo, hi):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"learning.{name} must be an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"learning.{name} must be in [{lo}, {hi}], got {value}")
    return int(value)


def _int_array(name, value, shape, lo, hi):
    array = np.asarray(value)
    if array.dtype == object or array.shape != shape:
        raise ValueError(f"learning.{name} must have shape {shape}, got "
                         f"{'a ragged list' if array.dtype == object else tuple(array.shape)}")
    if array.dtype.kind not in "iu":
        raise ValueError(f"learning.{name} must hold integers in [{lo}, {hi}], got {array.dtype}")
    bad = (array < lo) | (array > hi)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"learning.{name}{list(where)} = {int(array[where])} "
                         f"is outside [{lo}, {hi}]")
    return array.astype(np.int64)


@dataclasses.dataclass(eq=False)
class LearningRule:
    """Constants of the three-factor learning rule.

    Parameters
    ----------
    learn_weights, learn_delays : bool
        Which parameter groups learn.
    trace_bits : int
        Unsigned width of the presynaptic traces ``x``.
    trace_shift : int
        A presynaptic spike adds ``1 << trace_shift`` to its trace.
    trace_decay : int
        Trace decay factor, ``decay_bits`` wide (shared by all sources).
    psi_lut : array of int, shape (256,)
        Surrogate pseudo-derivative, 8-bit unsigned, indexed by
        ``min(|vpre - theta| >> psi_shift, 255)``.
    psi_shift : int
        Membrane distance per LUT step, as a shift.
    error : {"mse", "softmax"}
        Readout error: ``y - ystar`` (squared-error gradient) or a softmax of the readouts
        minus the one-hot target, both in readout units (``docs/model.md`` 7.2).
    exp_lut : array of int, shape (256,)
        Softmax exponential, 8-bit unsigned, indexed by
        ``min((max_k y_k - y_k) >> softmax_shift, 255)``; entry 0 must be positive.
    softmax_shift : int
        Readout distance per ``exp_lut`` step, as a shift (sets the temperature).
    feedback : {"symmetric", "random"}
        Learning-signal weights: the current readout weights, or fixed ``b_fb``.
    b_fb : array of int, shape (n_out, n_hidden), optional
        Fixed random feedback weights (``weight_bits`` signed), required for ``"random"``.
    l_shift : int
        ``L = sat_l(sum_k B_ki e_k >> l_shift)``.
    l_bits : int
        Signed width of the learning signal and of the hidden post factor.
    target_amp : int
        Readout target of the labelled class (others: 0), in the readout range; with the
        softmax error, the scale of the probabilities.
    eta_in, eta_rec, eta_out : int
        Weight learning rates of each projection, as right shifts.
    eta_delay : int
        Delay learning rate, as a right shift.
    kernel : array of int, shape (2W+1,)
        Gaussian-derivative kernel ``g[-W..W]``, signed 8-bit, ``W <= 7``.
    kernel_shift : int
        ``u = sat_u(sum_m g[m] x[tau - m] >> kernel_shift)``.
    u_bits : int
        Signed width of the delay-derivative trace ``u``.
    rounding : {"truncate", "stochastic"}
        Rounding of ``>> eta``: toward zero, or floor after adding hashed random bits.
    seed : int
        32-bit seed of the stochastic-rounding hash.
    learn_neurons : bool
        Learn the per-neuron parameters the network's options add: the synaptic-current
        decay ``beta`` and the adaptation ``coupling`` and decay ``rho``
        (``docs/model.md`` section 11).
    eta_beta, eta_coupling, eta_rho : int
        Learning rates of ``beta``, ``coupling`` and ``rho``, as right shifts.
    elig_bits : int
        Signed width of the decay eligibilities (section 11.1).
    """

    learn_weights: bool = True
    learn_delays: bool = False
    trace_bits: int = 8
    trace_shift: int = 6
    trace_decay: int = 205
    psi_lut: np.ndarray = dataclasses.field(default_factory=gaussian_psi_lut)
    psi_shift: int = 4
    error: str = "mse"
    exp_lut: np.ndarray = dataclasses.field(default_factory=exp_lut)
    softmax_shift: int = 2
    feedback: str = "symmetric"
    b_fb: np.ndarray | None = None
    l_shift: int = 8
    l_bits: int = 16
    target_amp: int = 256
    eta_in: int = 10
    eta_rec: int = 10
    eta_out: int = 10
    eta_delay: int = 16
    kernel: np.ndarray = dataclasses.field(default_factory=gaussian_derivative_kernel)
    kernel_shift: int = 6
    u_bits: int = 8
    rounding: str = "truncate"
    seed: int = 1
    learn_neurons: bool = False
    eta_beta: int = 24
    eta_coupling: int = 18
    eta_rho: int = 26
    elig_bits: int = 24

    @property
    def kernel_half_width(self) -> int:
        return (len(self.kernel) - 1) // 2

    def validate(self, net) -> None:
        """Check every field against the network ``net``; raise ``ValueError`` naming it."""
        for name in ("learn_weights", "learn_delays"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"learning.{name} must be true or false, got {value!r}")
            setattr(self, name, bool(value))
        self.trace_bits = _int_field("trace_bits", self.trace_bits, 2, 16)
        self.trace_shift = _int_field("trace_shift", self.trace_shift, 0, self.trace_bits - 1)
        self.trace_decay = _int_field("trace_decay", self.trace_decay, 0,
                                      (1 << net.decay_bits) - 1)
        self.psi_lut = _int_array("psi_lut", self.psi_lut, (PSI_LUT_SIZE,), 0, 255)
        self.psi_shift = _int_field("psi_shift", self.psi_shift, 0, 16)
        if self.error not in ERROR_MODES:
            raise ValueError(f"learning.error must be one of {', '.join(ERROR_MODES)}, "
                             f"got {self.error!r}")
        self.exp_lut = _int_array("exp_lut", self.exp_lut, (PSI_LUT_SIZE,), 0, 255)
        if self.exp_lut[0] < 1:
            # The largest readout has q = exp_lut[0]; the softmax sum must not be 0.
            raise ValueError("learning.exp_lut[0] must be >= 1 (the softmax divides by the "
                             "sum of the entries it reads)")
        self.softmax_shift = _int_field("softmax_shift", self.softmax_shift, 0, 16)
        if self.feedback not in FEEDBACK_MODES:
            raise ValueError(f"learning.feedback must be one of {', '.join(FEEDBACK_MODES)}, "
                             f"got {self.feedback!r}")
        if self.feedback == "random":
            if self.b_fb is None:
                raise ValueError("learning.b_fb is required when learning.feedback is 'random'")
            w_hi = (1 << (net.weight_bits - 1)) - 1
            self.b_fb = _int_array("b_fb", self.b_fb, (net.n_out, net.n_hidden), -w_hi - 1, w_hi)
        elif self.b_fb is not None:
            raise ValueError("learning.b_fb is given but learning.feedback is 'symmetric'")
        self.l_bits = _int_field("l_bits", self.l_bits, 4, 24)
        self.l_shift = _int_field("l_shift", self.l_shift, 0, 31)
        y_hi = (1 << (net.y_bits - 1)) - 1
        self.target_amp = _int_field("target_amp", self.target_amp, 0, y_hi)
        for name in ("eta_in", "eta_rec", "eta_out", "eta_delay"):
            setattr(self, name, _int_field(name, getattr(self, name), 0, 31))
        kernel = np.asarray(self.kernel)
        if kernel.ndim != 1 or len(kernel) % 2 == 0 or len(kernel) > 2 * KERNEL_MAX_HALF_WIDTH + 1:
            raise ValueError(f"learning.kernel must have an odd length 2W+1 with W in "
                             f"[0, {KERNEL_MAX_HALF_WIDTH}], got shape {kernel.shape}")
        self.kernel = _int_array("kernel", kernel, kernel.shape, -128, 127)
        if 2 * self.kernel_half_width + 1 > net.d_max:
            # The kernel reads 2W+1 trace slots of one ring.
            raise ValueError(f"learning.kernel has half width W={self.kernel_half_width}, "
                             f"but 2W+1 must be <= d_max = {net.d_max}")
        self.kernel_shift = _int_field("kernel_shift", self.kernel_shift, 0, 31)
        self.u_bits = _int_field("u_bits", self.u_bits, 2, 16)
        # An axonal delay sums F * (w >> weight_frac) * u over all post neurons of a source
        # exactly (model.md 7.4); with the rounding bias that sum must stay inside int64.
        # |F| <= 2^(max(l_bits, y_bits) - 1), |w >> weight_frac| <= 2^(weight_bits -
        # weight_frac - 1), |u| <= 2^(u_bits - 1).
        term_bits = (max(self.l_bits, net.y_bits) + net.weight_bits - net.weight_frac
                     + self.u_bits - 3)
        posts = max(net.n_hidden, net.n_out)
        if term_bits + (posts - 1).bit_length() > 62:
            raise ValueError(
                f"learning.u_bits = {self.u_bits} with l_bits = {self.l_bits}, y_bits = "
                f"{net.y_bits}, weight_bits - weight_frac = "
                f"{net.weight_bits - net.weight_frac} and {posts} post neurons lets a delay "
                f"sum exceed 2^62; narrow u_bits or l_bits")
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f"learning.rounding must be one of {', '.join(ROUNDING_MODES)}, "
                             f"got {self.rounding!r}")
        self.seed = _int_field("seed", self.seed, 0, 0xFFFF_FFFF)
        if not isinstance(self.learn_neurons, (bool, np.bool_)):
            raise ValueError(f"learning.learn_neurons must be true or false, "
                             f"got {self.learn_neurons!r}")
        self.learn_neurons = bool(self.learn_neurons)
        for name in ("eta_beta", "eta_coupling", "eta_rho"):
            setattr(self, name, _int_field(name, getattr(self, name), 0, 47))
        self.elig_bits = _int_field("elig_bits", self.elig_bits, 8, 32)
        if self.learn_neurons and not net.neuron_parameters():
            raise ValueError("learning.learn_neurons needs synapse = 'current' or "
                             "adaptation = 'threshold' (no neuron parameter to learn)")

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            # Neuron-learning fields at their defaults are left out, so that rules of
            # networks without the options read and compare as before.
            if field.name in NEURON_FIELDS and value == field.default:
                continue
            out[field.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LearningRule":
        if not isinstance(data, dict):
            raise ValueError("learning must be a table/object of fields")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown field 'learning.{unknown[0]}' "
                             f"(known: {', '.join(sorted(known))})")
        return cls(**data)
