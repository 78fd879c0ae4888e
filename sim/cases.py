"""Random network configurations for the lockstep tests.

A :class:`LockstepCase` is a small, JSON-friendly recipe: sizes, projection delay kinds,
reset mode, input density, stress options and a seed. The network and the input spikes are
drawn from the seed inside the simulator process, with the number formats of the core being
tested, so a failing case is reproduced from its name and seed alone (see
:func:`LockstepCase.network`).

:func:`lockstep_cases` lists the cases run against each core variant. Together they cover:
sizes from 1 neuron up to the full capacity, feedforward and recurrent networks, every delay
kind (none, synaptic, axonal) on every projection, soft and hard reset, sparse and dense
inputs, delays forced to 0 and to ``d_max - 1`` (with the smallest and largest fraction
parts), and saturating weights and thresholds.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

__all__ = ["STEPS", "STEPS_AFTER_CLEAR", "LockstepCase", "kernel_cases", "lockstep_cases",
           "neuron_option_cases"]

#: Steps of the main run of every case.
STEPS = 200
#: Steps of the second run, after ``clear``: catches state (rings, pointer) that survives it.
STEPS_AFTER_CLEAR = 40

_FORMAT_FIELDS = ("d_max", "weight_bits", "weight_frac", "delay_frac", "decay_bits",
                  "v_bits", "y_bits")


@dataclasses.dataclass(frozen=True)
class LockstepCase:
    """One random network configuration for the lockstep test.

    Attributes
    ----------
    name : str
        Identifier used in test ids and mismatch messages.
    seed : int
        Seed of the network and of the input spikes.
    n_in, n_hidden, n_out : int
        Sizes; must fit the capacity of the core variant.
    recurrent : bool
    delay_in, delay_rec, delay_out : {"none", "synaptic", "axonal"}
    reset : {"soft", "hard"}
    density : float
        Probability of an input spike per input and step.
    saturating : bool
        Extreme weights and high thresholds (``golden.random.random_network(saturating=)``).
    delays : {"random", "extremes", "max"}
        ``"random"`` keeps the drawn delays; ``"extremes"`` forces about half of them to the
        integer delays 0 and ``d_max - 1`` (fraction part all zeros or all ones); ``"max"``
        sets every delay to ``d_max - 1``, where ring wrap-around errors show.
    steps, steps_after_clear : int
        Length of the main run and of the run after ``clear``.
    d_max : int or None
        ``d_max`` of the network, at most the core's; ``None`` uses the core's. A smaller
        value leaves part of every ring unused.
    negate_rows : float
        Share of the post-synaptic neurons of every projection whose weights are inverted
        (``w -> -w - 1``, which stays in range). The random weights lean positive; inverted
        rows drive membranes and readouts into negative saturation and the leak floor.
    retune_at : int or None
        Step of the main run before which new parameters (:meth:`retuned_network`) are
        written without a clear, so spikes in flight arrive under new weights and delays.
    synapse : {"delta", "current"}
        Hidden synapse model (``docs/model.md`` section 8); ``"current"`` draws ``beta``.
    adaptation : {"none", "threshold"}
        Threshold adaptation (section 9); ``"threshold"`` draws ``rho`` and ``coupling``.
    neuron_extremes : bool
        Draw ``beta``, ``rho`` and ``coupling`` mostly at the top of their ranges, so that
        the synaptic current, the adaptation and the raised threshold saturate.
    rec_kernel : int
        0: a dense recurrent matrix. ``K`` (odd): the recurrent weights are a kernel of ``K``
        taps (``docs/model.md`` section 10), drawn from the weight range; ``delay_rec`` must
        be ``"none"`` or ``"axonal"``.
    """

    name: str
    seed: int
    n_in: int
    n_hidden: int
    n_out: int
    recurrent: bool = False
    delay_in: str = "synaptic"
    delay_rec: str = "none"
    delay_out: str = "none"
    reset: str = "soft"
    density: float = 0.2
    saturating: bool = False
    delays: str = "random"
    steps: int = STEPS
    steps_after_clear: int = STEPS_AFTER_CLEAR
    d_max: int | None = None
    negate_rows: float = 0.0
    retune_at: int | None = STEPS * 3 // 5
    synapse: str = "delta"
    adaptation: str = "none"
    neuron_extremes: bool = False
    rec_kernel: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockstepCase:
        return cls(**data)

    def network(self, params):
        """Draw the :class:`golden.network.Network` of this case for core ``params``.

        ``params`` is anything with the number-format attributes of
        :class:`rtl.params.CoreParams` (``d_max``, ``weight_bits``, ...).
        """
        from golden.network import Network
        from golden.random import random_network

        formats = {name: int(getattr(params, name)) for name in _FORMAT_FIELDS}
        if self.d_max is not None:
            formats["d_max"] = self.d_max
        rng = np.random.default_rng(self.seed)
        net = random_network(
            rng, n_in=self.n_in, n_hidden=self.n_hidden, n_out=self.n_out,
            recurrent=self.recurrent, delay_in=self.delay_in,
            delay_rec=self.delay_rec if self.recurrent else "none",
            delay_out=self.delay_out, reset=self.reset, saturating=self.saturating, **formats)
        if self.delays == "random" and not self.negate_rows:
            return self._with_neuron_options(self._with_kernel(net))
        data = net.to_dict()
        d_max, frac = formats["d_max"], formats["delay_frac"]
        for field in ("d_in", "d_rec", "d_out"):
            if field in data and self.delays != "random":
                delays = np.asarray(data[field], dtype=np.int64)
                data[field] = _forced_delays(rng, delays, d_max, frac, self.delays).tolist()
        for field in ("w_in", "w_rec", "w_out"):
            if field in data and self.negate_rows:
                weights = np.asarray(data[field], dtype=np.int64)
                rows = rng.random(weights.shape[0]) < self.negate_rows
                weights[rows] = ~weights[rows]
                data[field] = weights.tolist()
        return self._with_neuron_options(self._with_kernel(Network.from_dict(data)))

    def _with_kernel(self, net):
        """``net`` with its recurrent matrix replaced by the case's kernel of taps (drawn from
        a stream of their own; the saturating cases push them to the ends of the range)."""
        from golden.network import Network

        if not self.rec_kernel or not net.recurrent:
            return net
        rng = np.random.default_rng([self.seed, 4])
        w_lo, w_hi = -(1 << (net.weight_bits - 1)), (1 << (net.weight_bits - 1)) - 1
        taps = rng.integers(w_lo, w_hi, size=self.rec_kernel, endpoint=True)
        if self.saturating:
            taps = np.where(rng.random(self.rec_kernel) < 0.5, w_hi, w_lo)
        data = net.to_dict()
        data.update(rec_kernel=self.rec_kernel, w_rec=taps.tolist())
        return Network.from_dict(data)

    def _with_neuron_options(self, net):
        """``net`` with the case's synapse and adaptation options and their parameters.

        They are drawn from a stream of their own, so a case without options keeps its
        network and one with options has the same weights and delays as without.
        """
        from golden.network import Network

        if self.synapse == "delta" and self.adaptation == "none":
            return net
        rng = np.random.default_rng([self.seed, 3])
        n, decay_hi = net.n_hidden, (1 << net.decay_bits) - 1
        v_hi = (1 << (net.v_bits - 1)) - 1

        def decays():
            if self.neuron_extremes:
                # Mostly the slowest decay: currents and adaptations pile up and saturate.
                return np.where(rng.random(n) < 0.7, decay_hi,
                                rng.integers(0, decay_hi, size=n, endpoint=True))
            d = rng.integers(0, decay_hi, size=n, endpoint=True)
            d[rng.random(n) < 0.2] = decay_hi
            d[rng.random(n) < 0.1] = 0
            return d

        data = net.to_dict()
        if self.synapse == "current":
            data.update(synapse="current", beta=decays().tolist())
        if self.adaptation == "threshold":
            theta_top = int(np.max(net.theta))
            if self.neuron_extremes:
                coupling = np.where(rng.random(n) < 0.5, v_hi,
                                    rng.integers(v_hi // 2, v_hi, size=n, endpoint=True))
            else:
                coupling = rng.integers(0, min(v_hi, 2 * theta_top), size=n, endpoint=True)
            coupling[rng.random(n) < 0.1] = 0
            data.update(adaptation="threshold", rho=decays().tolist(),
                        coupling=coupling.tolist())
        return Network.from_dict(data)

    def retuned_network(self, params):
        """The network loaded at step :attr:`retune_at`: the same sizes, delay kinds and
        formats, every parameter drawn anew."""
        return dataclasses.replace(self, seed=self.seed + 1_000_000).network(params)

    def spikes(self, n_in: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Input spikes of the main run and of the run after ``clear``, ``uint8 [T, n_in]``."""
        from golden.random import random_spikes

        # A separate stream from the network's, so changing a length keeps the network.
        rng = np.random.default_rng([self.seed, 1])
        n_in = self.n_in if n_in is None else n_in
        main = random_spikes(rng, self.steps, n_in, self.density)
        after_clear = random_spikes(rng, self.steps_after_clear, n_in, self.density)
        return main, after_clear

    def unused_inputs(self, max_in: int) -> tuple[np.ndarray, np.ndarray]:
        """Random bits for the spike inputs above ``n_in`` (which the core must ignore), one
        integer per step of the main run and of the run after ``clear``."""
        rng = np.random.default_rng([self.seed, 2])
        spare = max(0, max_in - self.n_in)
        main = rng.integers(0, 1 << spare, size=self.steps) if spare else np.zeros(self.steps)
        after = (rng.integers(0, 1 << spare, size=self.steps_after_clear) if spare
                 else np.zeros(self.steps_after_clear))
        return main.astype(np.int64), after.astype(np.int64)

    def decoy(self, capacity: tuple[int, int, int], recurrent: bool,
              rec_kernel: int = 0) -> LockstepCase:
        """A different network of full capacity, run briefly before this case.

        Loading this case over it checks that a load replaces every word the case uses and
        that ``clear`` removes the decoy's membranes, readouts and spike rings. On a core
        with a recurrent kernel (``rec_kernel``, its ``rec_kernel_taps``) the decoy has a
        kernel of that many taps and axonal recurrent delays.
        """
        mi, mh, mo = capacity
        delay_rec = ("axonal" if rec_kernel else "synaptic") if recurrent else "none"
        return LockstepCase(name=f"{self.name}_decoy", seed=self.seed + 500_000, n_in=mi,
                            n_hidden=mh, n_out=mo, recurrent=recurrent, delay_in="axonal",
                            delay_rec=delay_rec, delay_out="axonal",
                            reset="hard" if self.reset == "soft" else "soft",
                            density=0.5, steps=8, steps_after_clear=0, retune_at=None,
                            rec_kernel=rec_kernel if recurrent else 0)

    def describe(self) -> str:
        """Short human-readable summary for logs."""
        rec = f"rec({self.delay_rec})" if self.recurrent else "ff"
        extra = "".join([", saturating" if self.saturating else "",
                         f", delays={self.delays}" if self.delays != "random" else "",
                         f", d_max={self.d_max}" if self.d_max is not None else "",
                         f", negate_rows={self.negate_rows}" if self.negate_rows else "",
                         f", synapse={self.synapse}" if self.synapse != "delta" else "",
                         f", adaptation={self.adaptation}" if self.adaptation != "none" else "",
                         ", neuron extremes" if self.neuron_extremes else "",
                         f", rec_kernel={self.rec_kernel}" if self.rec_kernel else ""])
        return (f"{self.name} seed={self.seed} {self.n_in}/{self.n_hidden}/{self.n_out} "
                f"in({self.delay_in}) {rec} out({self.delay_out}) {self.reset} reset, "
                f"density {self.density}{extra}")


def _forced_delays(rng: np.random.Generator, delays: np.ndarray, d_max: int, frac: int,
                   mode: str) -> np.ndarray:
    top = (d_max - 1) << frac  # integer part d_max - 1, fraction 0
    frac_mask = (1 << frac) - 1
    if mode == "max":
        # Mix the two stored words whose integer part is d_max - 1.
        return np.where(rng.random(delays.shape) < 0.5, top, top | frac_mask)
    if mode != "extremes":
        raise ValueError(f"delays must be 'random', 'extremes' or 'max', got {mode!r}")
    u = rng.random(delays.shape)
    low_word = np.where(rng.random(delays.shape) < 0.5, 0, frac_mask)
    high_word = np.where(rng.random(delays.shape) < 0.5, top, top | frac_mask)
    return np.where(u < 0.25, low_word, np.where(u > 0.75, high_word, delays))


def _case(variant: str, index: int, short: str, seed_offset: int = 0,
          **fields) -> LockstepCase:
    # Seeds are fixed per variant and position, so a case keeps its network when other
    # cases are added or removed. ``seed_offset`` moves a case to another draw, for cases
    # whose first draw happens to be inactive (e.g. a single neuron that never fires).
    seed = {"A": 1000, "B": 2000, "N": 3000, "K": 4000}.get(variant, 9000) + index \
        + 100 * seed_offset
    return LockstepCase(name=f"{variant}{index:02d}_{short}", seed=seed, **fields)


def lockstep_cases(variant_name: str, capacity: tuple[int, int, int]) -> list[LockstepCase]:
    """The lockstep cases for a core variant with capacity ``(max_in, max_hidden, max_out)``.

    Every variant gets the same mix of structure (delay kinds, recurrence, reset, density,
    forced delays); sizes are expressed relative to the capacity so the mix fits any core.
    """
    mi, mh, mo = capacity
    half = (max(1, mi // 2), max(1, mh // 2), max(1, mo // 2))
    v = variant_name
    cases = [
        # Feedforward, full capacity, every delay kind on the input and output projections.
        _case(v, 0, "ff_syn_none_soft_dense", n_in=mi, n_hidden=mh, n_out=mo,
              delay_in="synaptic", delay_out="none", reset="soft", density=0.5),
        _case(v, 1, "ff_axo_syn_hard_sparse", n_in=mi, n_hidden=mh, n_out=mo,
              delay_in="axonal", delay_out="synaptic", reset="hard", density=0.05),
        _case(v, 2, "ff_none_axo_soft", n_in=half[0], n_hidden=mh, n_out=mo,
              delay_in="none", delay_out="axonal", reset="soft", density=0.3),
        # Recurrent, every delay kind on the recurrent projection.
        _case(v, 3, "rec_syn_syn_syn_soft", n_in=mi, n_hidden=mh, n_out=mo, recurrent=True,
              delay_in="synaptic", delay_rec="synaptic", delay_out="synaptic",
              reset="soft", density=0.2),
        _case(v, 4, "rec_axo_axo_axo_hard", n_in=mi, n_hidden=mh, n_out=mo, recurrent=True,
              delay_in="axonal", delay_rec="axonal", delay_out="axonal",
              reset="hard", density=0.2),
        _case(v, 5, "rec_none_none_none_soft", n_in=half[0], n_hidden=half[1], n_out=mo,
              recurrent=True, delay_in="none", delay_rec="none", delay_out="none",
              reset="soft", density=0.3),
        # Delays at the extremes 0 and d_max - 1.
        _case(v, 6, "rec_syn_axo_none_hard_extremes", n_in=mi, n_hidden=mh, n_out=half[2],
              recurrent=True, delay_in="synaptic", delay_rec="axonal", delay_out="none",
              reset="hard", density=0.3, delays="extremes"),
        _case(v, 7, "rec_axo_syn_syn_soft_extremes", n_in=half[0], n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="axonal", delay_rec="synaptic", delay_out="synaptic",
              reset="soft", density=0.15, delays="extremes"),
        _case(v, 8, "rec_syn_syn_axo_soft_maxdelay", n_in=mi, n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="synaptic", delay_rec="synaptic", delay_out="axonal",
              reset="soft", density=0.4, delays="max"),
        # Saturation: extreme weights, high thresholds, dense input.
        _case(v, 9, "rec_syn_none_syn_soft_saturating", n_in=mi, n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="synaptic", delay_rec="none", delay_out="synaptic",
              reset="soft", density=0.8, saturating=True, negate_rows=0.5),
        _case(v, 10, "ff_none_syn_hard_saturating", n_in=mi, n_hidden=half[1], n_out=mo,
              delay_in="none", delay_out="synaptic", reset="hard", density=0.6,
              saturating=True),
        # Smallest networks: one neuron per population (a draw in which it fires).
        _case(v, 11, "rec_tiny_extremes", seed_offset={"A": 3, "B": 6}.get(v, 0),
              n_in=1, n_hidden=1, n_out=1, recurrent=True,
              delay_in="synaptic", delay_rec="synaptic", delay_out="synaptic",
              reset="soft", density=0.5, delays="extremes"),
        # A network d_max below the core's: delays up to 4 in a larger ring.
        _case(v, 12, "rec_syn_axo_syn_hard_dmax5", n_in=mi, n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="synaptic", delay_rec="axonal", delay_out="synaptic",
              reset="hard", density=0.25, delays="extremes", d_max=5),
    ]
    return cases


def neuron_option_cases(variant_name: str,
                        capacity: tuple[int, int, int]) -> list[LockstepCase]:
    """Lockstep cases of the neuron options, for a core built with ``synapse_current`` and
    ``adaptation`` (capacity ``(max_in, max_hidden, max_out)``).

    Both options together and each alone, feedforward and recurrent, soft and hard reset
    (adaptation only: current synapses need the soft reset), random and saturating
    ``beta``, ``rho`` and ``coupling``. The decoy run before each case is a plain network,
    which the same core must run with the options off.
    """
    mi, mh, mo = capacity
    v = variant_name
    # Shorter runs than lockstep_cases: these cases add to the default suite.
    short = dict(steps=120, steps_after_clear=30, retune_at=72)
    return [dataclasses.replace(case, **short) for case in (
        _case(v, 0, "rec_cur_adapt_syn_syn_axo", n_in=mi, n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="synaptic", delay_rec="synaptic", delay_out="axonal",
              density=0.3, synapse="current", adaptation="threshold"),
        _case(v, 1, "rec_cur_adapt_saturating", n_in=mi, n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="axonal", delay_rec="none", delay_out="synaptic",
              density=0.6, saturating=True, negate_rows=0.3, synapse="current",
              adaptation="threshold", neuron_extremes=True),
        _case(v, 2, "ff_adapt_hard_extremes", n_in=mi, n_hidden=mh, n_out=mo,
              delay_in="synaptic", delay_out="none", reset="hard", density=0.4,
              adaptation="threshold", neuron_extremes=True),
        _case(v, 3, "rec_cur_none_axo_syn", n_in=max(1, mi // 2), n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="none", delay_rec="axonal", delay_out="synaptic",
              density=0.3, negate_rows=0.4, synapse="current"),
    )]


def kernel_cases(variant_name: str, capacity: tuple[int, int, int],
                 taps: int) -> list[LockstepCase]:
    """Lockstep cases of the recurrent kernel, for a core built with ``rec_kernel_taps =
    taps`` (capacity ``(max_in, max_hidden, max_out)``).

    The core's full kernel with axonal recurrent delays; a shorter kernel centred in the
    taps, without recurrent delays, saturating; a one-tap kernel (self connections only)
    with hard reset on fewer neurons than the capacity, so the band is clipped at the
    run-time ``n_hidden``; and a feedforward network, which the same core must run with the
    recurrent projection off. The decoy run before each case has a kernel of ``taps`` taps.
    """
    mi, mh, mo = capacity
    v = variant_name
    # Shorter runs than lockstep_cases: these cases add to the default suite.
    short = dict(steps=120, steps_after_clear=30, retune_at=72)
    return [dataclasses.replace(case, **short) for case in (
        _case(v, 0, "rec_kernel_full_syn_axo_axo", n_in=mi, n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="synaptic", delay_rec="axonal", delay_out="axonal",
              density=0.3, rec_kernel=taps),
        _case(v, 1, "rec_kernel_short_saturating", n_in=mi, n_hidden=mh, n_out=mo,
              recurrent=True, delay_in="axonal", delay_rec="none", delay_out="synaptic",
              density=0.5, saturating=True, negate_rows=0.3, rec_kernel=max(1, taps - 2)),
        _case(v, 2, "rec_kernel_one_tap_hard_small", n_in=max(1, mi // 2),
              n_hidden=max(1, mh - 2), n_out=max(1, mo - 1), recurrent=True,
              delay_in="synaptic", delay_rec="axonal", delay_out="none", reset="hard",
              density=0.4, rec_kernel=1),
        _case(v, 3, "ff_on_kernel_core", n_in=mi, n_hidden=mh, n_out=mo,
              delay_in="synaptic", delay_out="axonal", density=0.3),
    )]


def cases_to_json(cases: list[LockstepCase]) -> str:
    return json.dumps([c.to_dict() for c in cases])


def cases_from_json(text: str) -> list[LockstepCase]:
    return [LockstepCase.from_dict(d) for d in json.loads(text)]
