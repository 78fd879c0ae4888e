"""Network description shared by the golden model, the RTL generator and the host driver.

A :class:`Network` holds the sizes, number formats, delay kinds and every integer parameter
of a delaycore network (see ``docs/model.md``). It validates itself on construction: a value
outside its range raises :class:`NetworkError` with a one-line message naming the field, the
index and the allowed range. Nothing is clipped or wrapped.

Networks are stored as JSON or TOML files with the same field names (arrays as nested lists).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from .learning import LearningRule

__all__ = [
    "ADAPTATION_MODES",
    "DELAY_KINDS",
    "RESET_MODES",
    "SYNAPSE_MODES",
    "PROJECTIONS",
    "NetworkError",
    "Network",
    "load_network",
    "save_network",
]

DELAY_KINDS = ("none", "synaptic", "axonal")
RESET_MODES = ("soft", "hard")
#: Hidden-neuron input: the synaptic sum goes straight into the membrane ("delta") or through
#: an exponentially decaying synaptic current ("current", docs/model.md section 8).
SYNAPSE_MODES = ("delta", "current")
#: Hidden-neuron adaptation: none, or a spike-driven threshold increase (section 9).
ADAPTATION_MODES = ("none", "threshold")
#: Opt-in fields and the value that means "off". They are left out of :meth:`Network.to_dict`
#: while off, so files and summaries of networks without them do not change.
OPTION_DEFAULTS = {"synapse": "delta", "adaptation": "none", "rec_kernel": 0}
#: Projection name -> (weight field, delay field, delay-kind field).
PROJECTIONS = {
    "in": ("w_in", "d_in", "delay_in"),
    "rec": ("w_rec", "d_rec", "delay_rec"),
    "out": ("w_out", "d_out", "delay_out"),
}

# Format fields with their allowed ranges (inclusive). ``weight_frac`` is bounded by
# ``weight_bits`` separately.
_FORMAT_RANGES = {
    "d_max": (1, 64),
    "weight_bits": (2, 16),
    "weight_frac": (0, 15),
    "delay_frac": (0, 8),
    "decay_bits": (1, 16),
    "v_bits": (4, 24),
    "y_bits": (4, 24),
}
_SIZE_RANGES = {"n_in": (1, 4096), "n_hidden": (1, 4096), "n_out": (1, 4096)}


class NetworkError(ValueError):
    """A network description is malformed; the message names the field."""


@dataclasses.dataclass(eq=False)
class Network:
    """A delaycore network: sizes, formats, delay kinds and integer parameters.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Number of inputs, hidden LIF neurons and non-spiking readout neurons.
    w_in : array of int, shape (n_hidden, n_in)
        Input weights (stored words, ``weight_frac`` fraction bits).
    w_out : array of int, shape (n_out, n_hidden)
        Readout weights.
    alpha : array of int, shape (n_hidden,)
        Hidden leak factors in ``[0, 2**decay_bits - 1]``.
    theta : array of int, shape (n_hidden,)
        Hidden thresholds in ``[1, 2**(v_bits-1) - 1]``.
    kappa : array of int, shape (n_out,)
        Readout leak factors in ``[0, 2**decay_bits - 1]``.
    recurrent : bool
        Whether the hidden layer has a recurrent projection ``w_rec``.
    w_rec : array of int, shape (n_hidden, n_hidden), or None
        Recurrent weights; required exactly when ``recurrent``.
    delay_in, delay_rec, delay_out : {"none", "synaptic", "axonal"}
        Delay kind of each projection.
    d_in, d_rec, d_out : array of int or None
        Stored delays (``delay_frac`` fraction bits): shape ``(post, pre)`` for synaptic
        delays, ``(pre,)`` for axonal delays, ``None`` for ``"none"``.
    reset : {"soft", "hard"}
        Membrane reset after a spike: subtract the threshold or set to 0.
    synapse : {"delta", "current"}
        Hidden input straight into the membrane, or through a decaying synaptic current
        (``docs/model.md`` section 8; needs ``reset = "soft"``).
    beta : array of int, shape (n_hidden,), or None
        Synaptic-current decay factors in ``[0, 2**decay_bits - 1]``; required exactly when
        ``synapse = "current"``.
    adaptation : {"none", "threshold"}
        Adaptive threshold (``docs/model.md`` section 9).
    rho : array of int, shape (n_hidden,), or None
        Adaptation decay factors in ``[0, 2**decay_bits - 1]``.
    coupling : array of int, shape (n_hidden,), or None
        Threshold increase per spike in ``[0, 2**(v_bits-1) - 1]`` (membrane units);
        ``rho`` and ``coupling`` are required exactly when ``adaptation = "threshold"``.
    rec_kernel : int
        0: dense recurrent weights ``w_rec[i, i']``. ``K`` (odd): recurrent weights shared
        along the neuron axis as a kernel of ``K`` taps, ``w_rec`` of shape ``(K,)``
        (``docs/model.md`` section 10); ``delay_rec`` must then be ``"none"`` or
        ``"axonal"``.
    d_max, weight_bits, weight_frac, delay_frac, decay_bits, v_bits, y_bits : int
        Number formats, see ``docs/model.md``.
    """

    n_in: int
    n_hidden: int
    n_out: int
    w_in: np.ndarray
    w_out: np.ndarray
    alpha: np.ndarray
    theta: np.ndarray
    kappa: np.ndarray
    recurrent: bool = False
    w_rec: np.ndarray | None = None
    delay_in: str = "none"
    delay_rec: str = "none"
    delay_out: str = "none"
    d_in: np.ndarray | None = None
    d_rec: np.ndarray | None = None
    d_out: np.ndarray | None = None
    reset: str = "soft"
    d_max: int = 16
    weight_bits: int = 8
    weight_frac: int = 0
    delay_frac: int = 0
    decay_bits: int = 8
    v_bits: int = 16
    y_bits: int = 16
    learning: LearningRule | None = None
    synapse: str = "delta"
    beta: np.ndarray | None = None
    adaptation: str = "none"
    rho: np.ndarray | None = None
    coupling: np.ndarray | None = None
    rec_kernel: int = 0

    def __post_init__(self):
        self._validate()

    # -- validation -------------------------------------------------------------------------

    def _validate(self):
        for name, (lo, hi) in {**_SIZE_RANGES, **_FORMAT_RANGES}.items():
            _check_int(name, getattr(self, name), lo, hi)
        if self.weight_frac >= self.weight_bits:
            raise NetworkError(
                f"weight_frac must be in [0, {self.weight_bits - 1}] (below weight_bits), "
                f"got {self.weight_frac}")
        if not isinstance(self.recurrent, (bool, np.bool_)):
            raise NetworkError(f"recurrent must be true or false, got {self.recurrent!r}")
        self.recurrent = bool(self.recurrent)
        if self.reset not in RESET_MODES:
            raise NetworkError(f"reset must be one of {', '.join(RESET_MODES)}, got {self.reset!r}")

        w_lo, w_hi = -(1 << (self.weight_bits - 1)), (1 << (self.weight_bits - 1)) - 1
        decay_hi = (1 << self.decay_bits) - 1
        v_hi = (1 << (self.v_bits - 1)) - 1
        delay_hi = (self.d_max << self.delay_frac) - 1

        self.w_in = _check_array("w_in", self.w_in, (self.n_hidden, self.n_in), w_lo, w_hi)
        self.w_out = _check_array("w_out", self.w_out, (self.n_out, self.n_hidden), w_lo, w_hi)
        self.alpha = _check_array("alpha", self.alpha, (self.n_hidden,), 0, decay_hi)
        self.theta = _check_array("theta", self.theta, (self.n_hidden,), 1, v_hi)
        self.kappa = _check_array("kappa", self.kappa, (self.n_out,), 0, decay_hi)

        self._validate_neurons(decay_hi, v_hi)
        kernel_hi = 2 * self.n_hidden - 1
        if isinstance(self.rec_kernel, (int, np.integer)) \
                and not isinstance(self.rec_kernel, (bool, np.bool_)) \
                and (self.rec_kernel == 0 or (self.rec_kernel % 2 == 1
                                              and 1 <= self.rec_kernel <= kernel_hi)):
            self.rec_kernel = int(self.rec_kernel)
        else:
            raise NetworkError(f"rec_kernel must be 0 (dense) or odd in [1, {kernel_hi}], "
                               f"got {self.rec_kernel!r}")
        if self.rec_kernel and not self.recurrent:
            raise NetworkError("rec_kernel is given but recurrent is false")
        if self.rec_kernel and self.delay_rec == "synaptic":
            # A shared kernel has one weight per tap, not per synapse: no synapse to hold
            # its own delay.
            raise NetworkError("delay_rec must be none or axonal when rec_kernel > 0, "
                               "got 'synaptic'")

        if self.recurrent:
            if self.w_rec is None:
                raise NetworkError("w_rec is required when recurrent is true")
            shape = (self.rec_kernel,) if self.rec_kernel else (self.n_hidden, self.n_hidden)
            self.w_rec = _check_array("w_rec", self.w_rec, shape, w_lo, w_hi)
        else:
            if self.w_rec is not None:
                raise NetworkError("w_rec is given but recurrent is false")
            if self.delay_rec != "none" or self.d_rec is not None:
                raise NetworkError("delay_rec/d_rec are given but recurrent is false")

        for proj, (w_field, d_field, kind_field) in PROJECTIONS.items():
            kind = getattr(self, kind_field)
            if kind not in DELAY_KINDS:
                raise NetworkError(
                    f"{kind_field} must be one of {', '.join(DELAY_KINDS)}, got {kind!r}")
            delays = getattr(self, d_field)
            if kind == "none":
                if delays is not None:
                    raise NetworkError(f"{d_field} is given but {kind_field} is 'none'")
                continue
            if delays is None:
                raise NetworkError(f"{d_field} is required when {kind_field} is '{kind}'")
            post, pre = self.projection_shape(proj)
            shape = (post, pre) if kind == "synaptic" else (pre,)
            setattr(self, d_field, _check_array(d_field, delays, shape, 0, delay_hi))

        if self.learning is not None:
            try:
                if isinstance(self.learning, dict):
                    self.learning = LearningRule.from_dict(self.learning)
                if not isinstance(self.learning, LearningRule):
                    raise ValueError(f"learning must be a table of fields, "
                                     f"got {type(self.learning).__name__}")
                self.learning.validate(self)
            except (TypeError, ValueError) as err:
                raise NetworkError(str(err)) from None

    def _validate_neurons(self, decay_hi: int, v_hi: int) -> None:
        """Synaptic-current and adaptation options (docs/model.md sections 8 and 9)."""
        if self.synapse not in SYNAPSE_MODES:
            raise NetworkError(f"synapse must be one of {', '.join(SYNAPSE_MODES)}, "
                               f"got {self.synapse!r}")
        if self.synapse == "current":
            if self.reset != "soft":
                # The decay eligibility passes through a soft reset unchanged; a hard reset
                # would cut it (section 8.2).
                raise NetworkError("reset must be 'soft' when synapse is 'current', "
                                   f"got {self.reset!r}")
            if self.beta is None:
                raise NetworkError("beta is required when synapse is 'current'")
            self.beta = _check_array("beta", self.beta, (self.n_hidden,), 0, decay_hi)
        elif self.beta is not None:
            raise NetworkError("beta is given but synapse is 'delta'")
        if self.adaptation not in ADAPTATION_MODES:
            raise NetworkError(f"adaptation must be one of {', '.join(ADAPTATION_MODES)}, "
                               f"got {self.adaptation!r}")
        if self.adaptation == "threshold":
            for name in ("rho", "coupling"):
                if getattr(self, name) is None:
                    raise NetworkError(f"{name} is required when adaptation is 'threshold'")
            self.rho = _check_array("rho", self.rho, (self.n_hidden,), 0, decay_hi)
            self.coupling = _check_array("coupling", self.coupling, (self.n_hidden,), 0, v_hi)
        elif self.rho is not None or self.coupling is not None:
            raise NetworkError("rho/coupling are given but adaptation is 'none'")

    # -- derived quantities -----------------------------------------------------------------

    def neuron_parameters(self) -> list[str]:
        """Names of the per-neuron parameters the options add (``beta``, ``rho``,
        ``coupling``), in that order; empty for a plain LIF network."""
        names = ["beta"] if self.synapse == "current" else []
        return names + (["coupling", "rho"] if self.adaptation == "threshold" else [])

    def options(self) -> list[str]:
        """Opt-in options this network uses, as ``field = value`` strings (empty if none)."""
        return [f"{name} = {getattr(self, name)!r}" for name, off in OPTION_DEFAULTS.items()
                if getattr(self, name) != off]

    def kernel_band(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where the recurrent kernel sits in the dense matrix: ``(post, pre, tap)`` arrays.

        Tap ``k`` connects source ``i' = i + k - K // 2`` to neuron ``i``; sources outside
        ``[0, n_hidden - 1]`` do not exist (zero padding).
        """
        k = self.rec_kernel
        post, tap = np.meshgrid(np.arange(self.n_hidden), np.arange(k), indexing="ij")
        pre = post + tap - k // 2
        inside = (pre >= 0) & (pre < self.n_hidden)
        return post[inside], pre[inside], tap[inside]

    def dense_weights(self, proj: str) -> np.ndarray:
        """Stored weight words as a ``(post, pre)`` matrix (a recurrent kernel expanded,
        zero where no synapse exists)."""
        if proj != "rec" or not self.rec_kernel:
            return self.weights(proj)
        dense = np.zeros((self.n_hidden, self.n_hidden), dtype=np.int64)
        post, pre, tap = self.kernel_band()
        dense[post, pre] = self.w_rec[tap]
        return dense

    def projection_shape(self, proj: str) -> tuple[int, int]:
        """``(post, pre)`` sizes of projection ``"in"``, ``"rec"`` or ``"out"``."""
        return {
            "in": (self.n_hidden, self.n_in),
            "rec": (self.n_hidden, self.n_hidden),
            "out": (self.n_out, self.n_hidden),
        }[proj]

    def projections(self) -> list[str]:
        """Names of the projections this network has, in processing order."""
        return ["in", "rec", "out"] if self.recurrent else ["in", "out"]

    def weights(self, proj: str) -> np.ndarray:
        """Stored weight words of a projection, shape ``(post, pre)``; ``(K,)`` for a
        recurrent kernel (:meth:`dense_weights` expands it)."""
        return getattr(self, PROJECTIONS[proj][0])

    def delay_kind(self, proj: str) -> str:
        return getattr(self, PROJECTIONS[proj][2])

    def effective_weights(self, proj: str) -> np.ndarray:
        """Weights as used in the synaptic sum: ``w >> weight_frac`` (floor), shaped as
        :meth:`weights`."""
        return self.weights(proj) >> self.weight_frac

    def integer_delays(self, proj: str) -> np.ndarray:
        """Integer delays ``d >> delay_frac`` of a projection, broadcast to ``(post, pre)``."""
        post, pre = self.projection_shape(proj)
        kind = self.delay_kind(proj)
        if kind == "none":
            return np.zeros((post, pre), dtype=np.int64)
        delays = getattr(self, PROJECTIONS[proj][1]) >> self.delay_frac
        if kind == "axonal":
            delays = np.broadcast_to(delays[None, :], (post, pre))
        return np.ascontiguousarray(delays, dtype=np.int64)

    @property
    def n_synapses(self) -> int:
        return sum(int(np.prod(self.projection_shape(p))) for p in self.projections())

    # -- serialisation ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (arrays as nested lists) for JSON/TOML files."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if field.name in OPTION_DEFAULTS and value == OPTION_DEFAULTS[field.name]:
                continue
            if isinstance(value, LearningRule):
                value = value.to_dict()
            out[field.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "network") -> "Network":
        """Build a network from :meth:`to_dict` output; unknown or missing fields are errors."""
        if not isinstance(data, dict):
            raise NetworkError(f"{source}: top level must be a table/object of fields")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise NetworkError(f"{source}: unknown field {unknown[0]!r} "
                               f"(known fields: {', '.join(sorted(known))})")
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING]
        for name in required:
            if name not in data:
                raise NetworkError(f"{source}: missing required field {name!r}")
        try:
            return cls(**data)
        except NetworkError as err:
            raise NetworkError(f"{source}: {err}") from None

    def copy(self) -> "Network":
        return Network.from_dict(self.to_dict())


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise NetworkError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi:
        raise NetworkError(f"{name} must be in [{lo}, {hi}], got {value}")


def _check_array(name: str, value: Any, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    """Convert ``value`` to an int64 array of ``shape`` with every element in ``[lo, hi]``."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise NetworkError(f"{name} must be an array of shape {shape} (ragged or not numeric)") \
            from None
    if array.dtype == object or array.shape != shape:
        raise NetworkError(f"{name} must have shape {shape}, got {_describe_shape(array)}")
    if array.dtype.kind == "b":
        raise NetworkError(f"{name} must hold integers in [{lo}, {hi}], got booleans")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            where = tuple(np.argwhere(bad)[0])
            raise NetworkError(f"{name}{list(map(int, where))} = {float(array[where])} "
                               f"is not an integer (allowed: integers in [{lo}, {hi}])")
    elif array.dtype.kind not in "iu":
        raise NetworkError(f"{name} must hold integers in [{lo}, {hi}], got {array.dtype}")
    if array.size:
        out_of_range = (array < lo) | (array > hi)
        if out_of_range.any():
            where = tuple(np.argwhere(out_of_range)[0])
            raise NetworkError(f"{name}{list(map(int, where))} = {int(array[where])} "
                               f"is outside [{lo}, {hi}]")
    return array.astype(np.int64)


def _describe_shape(array: np.ndarray) -> str:
    return "a ragged list" if array.dtype == object else str(tuple(array.shape))


def load_network(path: str | Path) -> Network:
    """Read a network from a ``.json`` or ``.toml`` file.

    Raises
    ------
    NetworkError
        The file cannot be read or parsed, or a field is missing or out of range. The
        message is one line and names the file and the field.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise NetworkError(f"{path}: cannot read network file ({err.strerror})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise NetworkError(f"{path}: network files must end in .json or .toml")
    except json.JSONDecodeError as err:
        raise NetworkError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
    except tomllib.TOMLDecodeError as err:
        raise NetworkError(f"{path}: invalid TOML: {err}") from None
    return Network.from_dict(data, source=str(path))


def save_network(net: Network, path: str | Path) -> None:
    """Write a network as ``.json`` (TOML output is not supported: no writer in stdlib)."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise NetworkError(f"{path}: networks are saved as .json")
    path.write_text(json.dumps(net.to_dict(), indent=None, separators=(",", ":")) + "\n")


def ring_size(d_max: int) -> int:
    """Slots of a spike ring for ``d_max``: the next power of two (at least 1)."""
    return 1 << max(0, math.ceil(math.log2(d_max)))
