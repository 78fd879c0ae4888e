"""Learning cores and random learning configurations for the learning lockstep tests.

A :class:`LearningCase` is a JSON-friendly recipe like :class:`sim.cases.LockstepCase`: sizes,
delay kinds, a few forced properties of the learning rule and the samples to run. The network
and its rule are drawn from the seed inside the simulator process with the widths of the core
being tested (:func:`golden.random.random_rule`), so a failure is reproduced from the case
alone.

:data:`LEARNING_VARIANTS` are the cores the tests build, once per simulator; every case of a
variant is loaded into the same compiled core through the bus. :func:`learning_cases` lists
the cases; together they cover recurrent weights, both rounding modes, both readout errors,
both feedback modes, weight saturation, delay clamping at 0 and at ``d_max - 1``, axonal sums
over every hidden neuron, delays that change while spikes are in flight, and the zero skip
switched off.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from .variants import CoreVariant

__all__ = ["LEARNING_VARIANTS", "NEURON_LEARNING_VARIANT", "SPRAM_CASES", "LearningCase",
           "cases_from_json", "cases_to_json", "kernel_learning_cases", "learning_cases",
           "neuron_learning_cases"]

#: ``LA``: default formats and widths (8-bit weights and traces, 16-bit membrane, readout
#: and learning signal), recurrent, 12 hidden neurons so axonal sums have 12 terms.
#: ``LB``: narrow formats with fraction bits in weights and delays, tight trace, ``u`` and
#: learning-signal widths so every saturation happens, and ``d_max = 32`` (64-slot trace
#: rings). ``LS``: ``LB`` on the memories of an iCE40 UP5K board build: synapse words (17 bits,
#: two blocks side by side) and both trace rings in ``SB_SPRAM256KA`` blocks, simulated with
#: Yosys' model of the primitive; it runs only :data:`SPRAM_CASES`. ``LK``: recurrent weights
#: as a kernel of five shared taps (``rec_kernel_taps``) over seven hidden neurons, so that
#: bands are clipped at both ends; it runs :func:`kernel_learning_cases`.
LEARNING_VARIANTS: dict[str, CoreVariant] = {
    "LA": CoreVariant("LA", {
        "max_in": 10, "max_hidden": 12, "max_out": 4, "d_max": 16,
        "weight_bits": 8, "weight_frac": 0, "delay_frac": 0, "decay_bits": 8,
        "v_bits": 16, "y_bits": 16, "recurrent": True, "learning": True,
        "trace_bits": 8, "u_bits": 8, "l_bits": 16, "kernel_max_half_width": 3,
    }),
    "LB": CoreVariant("LB", {
        "max_in": 6, "max_hidden": 8, "max_out": 3, "d_max": 32,
        "weight_bits": 10, "weight_frac": 2, "delay_frac": 2, "decay_bits": 10,
        "v_bits": 10, "y_bits": 12, "recurrent": True, "learning": True,
        "trace_bits": 5, "u_bits": 5, "l_bits": 8, "kernel_max_half_width": 4,
    }),
    "LS": CoreVariant("LS", {
        "max_in": 6, "max_hidden": 8, "max_out": 3, "d_max": 32,
        "weight_bits": 10, "weight_frac": 2, "delay_frac": 2, "decay_bits": 10,
        "v_bits": 10, "y_bits": 12, "recurrent": True, "learning": True,
        "trace_bits": 5, "u_bits": 5, "l_bits": 8, "kernel_max_half_width": 4,
        "synapse_memory": "spram", "trace_memory": "spram",
    }),
    "LK": CoreVariant("LK", {
        "max_in": 6, "max_hidden": 7, "max_out": 3, "d_max": 16,
        "weight_bits": 8, "weight_frac": 1, "delay_frac": 1, "decay_bits": 8,
        "v_bits": 12, "y_bits": 14, "recurrent": True, "learning": True,
        "trace_bits": 6, "u_bits": 6, "l_bits": 10, "kernel_max_half_width": 3,
        "rec_kernel_taps": 5,
    }),
}

#: ``LN``: a learning core with current synapses and the adaptive threshold, and the learning
#: of their parameters (``neuron_learning``, 16-bit eligibilities so that they saturate),
#: narrow formats so that the synaptic current, the adaptation and the raised threshold
#: saturate. Not in :data:`LEARNING_VARIANTS`: its cases are :func:`neuron_learning_cases`.
NEURON_LEARNING_VARIANT = CoreVariant("LN", {
    "max_in": 6, "max_hidden": 6, "max_out": 3, "d_max": 16,
    "weight_bits": 10, "weight_frac": 2, "delay_frac": 2, "decay_bits": 10,
    "v_bits": 10, "y_bits": 12, "recurrent": True, "learning": True,
    "trace_bits": 6, "u_bits": 6, "l_bits": 10, "kernel_max_half_width": 3,
    "synapse_current": True, "adaptation": True, "neuron_learning": True, "elig_bits": 16,
})

#: Cases of ``LS`` that run (its cases are those of ``LB``, with the same seeds): the SPRAM
#: path changes no result, so two that write every kind of delay and saturate suffice.
SPRAM_CASES = ("LS02", "LS03")

_FORMAT_FIELDS = ("d_max", "weight_bits", "weight_frac", "delay_frac", "decay_bits",
                  "v_bits", "y_bits")


@dataclasses.dataclass(frozen=True)
class LearningCase:
    """One random network with a random learning rule, and the samples to run on it.

    Attributes
    ----------
    name, seed : str, int
        Identifier and seed of the network, the rule and the inputs.
    n_in, n_hidden, n_out, recurrent, delay_in, delay_rec, delay_out, reset
        As in :class:`sim.cases.LockstepCase`.
    samples : tuple of int
        Lengths of the samples; the core is cleared between samples (learned values and
        ``LEARN_COUNT`` stay), each sample has its own label.
    learn_share : float
        Probability that a step learns (the sample's target mask).
    density : float
        Input spike probability.
    error : {"mse", "softmax", "any"}
        Readout error of the rule (``"any"``: drawn).
    rounding, feedback : str or None
        Force the rule's rounding or feedback mode; ``None`` keeps the draw.
    learn : {"weights", "delays", "both", "neurons", None}
        Force what learns; ``None`` keeps the draw; ``"neurons"``: only the neuron
        parameters (with ``learn_neurons``).
    saturate : bool
        Learning rates of 0 to 2 (every update is large: weights and delays hit their
        limits) and saturating initial weights.
    extreme_delays : bool
        Start about half of the delays at 0 and at ``d_max - 1``.
    zero_skip : bool
        ``False`` sets ``FLAGS.NO_ZERO_SKIP``: every post neuron is visited.
    synapse, adaptation : str
        Neuron options of the network (``docs/model.md`` sections 8 and 9), their
        parameters drawn as in :class:`sim.cases.LockstepCase`.
    learn_neurons : bool
        The neuron parameters of the options learn too (section 11), with learning rates
        drawn where updates are a few units per step (0 to 2 with ``saturate``: they hit
        their limits), and ``elig_bits`` of the core.
    rec_kernel : int
        0: a dense recurrent matrix. ``K`` (odd): the recurrent weights are a kernel of ``K``
        taps (``docs/model.md`` section 10), drawn as in :class:`sim.cases.LockstepCase`
        (``delay_rec`` must be ``"none"`` or ``"axonal"``).
    """

    name: str
    seed: int
    n_in: int
    n_hidden: int
    n_out: int
    recurrent: bool = True
    delay_in: str = "synaptic"
    delay_rec: str = "synaptic"
    delay_out: str = "synaptic"
    reset: str = "soft"
    samples: tuple = (60, 60, 60, 60)
    learn_share: float = 0.9
    density: float = 0.3
    error: str = "mse"
    rounding: str | None = None
    feedback: str | None = None
    learn: str | None = "both"
    saturate: bool = False
    extreme_delays: bool = False
    zero_skip: bool = True
    synapse: str = "delta"
    adaptation: str = "none"
    learn_neurons: bool = False
    rec_kernel: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["samples"] = list(self.samples)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LearningCase:
        return cls(**{**data, "samples": tuple(data["samples"])})

    def network(self, params):
        """The :class:`golden.network.Network` with its learning rule, for core ``params``."""
        from golden.network import Network
        from golden.random import random_network, random_rule

        formats = {name: int(getattr(params, name)) for name in _FORMAT_FIELDS}
        rng = np.random.default_rng(self.seed)
        net = random_network(
            rng, n_in=self.n_in, n_hidden=self.n_hidden, n_out=self.n_out,
            recurrent=self.recurrent, delay_in=self.delay_in,
            delay_rec=self.delay_rec if self.recurrent else "none",
            delay_out=self.delay_out, reset=self.reset, saturating=self.saturate, **formats)
        errors = ("mse", "softmax") if self.error == "any" else (self.error,)
        rule = random_rule(rng, net, False, trace_bits=params.trace_bits,
                           u_bits=params.u_bits, l_bits=params.l_bits,
                           max_half_width=params.kernel_max_half_width, errors=errors)
        data = net.to_dict()
        if self.extreme_delays:
            top = (formats["d_max"] - 1) << formats["delay_frac"]
            frac = (1 << formats["delay_frac"]) - 1
            for field in ("d_in", "d_rec", "d_out"):
                if field in data:
                    d = np.asarray(data[field], dtype=np.int64)
                    u = rng.random(d.shape)
                    d = np.where(u < 0.25, rng.integers(0, frac + 1, size=d.shape), d)
                    d = np.where(u > 0.75, top + rng.integers(0, frac + 1, size=d.shape), d)
                    data[field] = d.tolist()
        overrides: dict[str, Any] = {}
        if self.rounding is not None:
            overrides["rounding"] = self.rounding
        if self.feedback == "symmetric":
            overrides.update(feedback="symmetric", b_fb=None)
        elif self.feedback == "random" and rule.feedback != "random":
            w_hi = (1 << (formats["weight_bits"] - 1)) - 1
            overrides.update(feedback="random", b_fb=rng.integers(
                -w_hi - 1, w_hi, size=(self.n_out, self.n_hidden), endpoint=True))
        if self.learn is not None:
            overrides.update(learn_weights=self.learn in ("weights", "both"),
                             learn_delays=self.learn in ("delays", "both"))
        if self.saturate:
            overrides.update({name: int(rng.integers(0, 3)) for name in
                              ("eta_in", "eta_rec", "eta_out", "eta_delay")})
        data["learning"] = dataclasses.replace(rule, **overrides).to_dict()
        if self.rec_kernel and self.recurrent:
            # Taps from a stream of their own, at the ends of the range when saturating.
            taps_rng = np.random.default_rng([self.seed, 4])
            w_hi = (1 << (formats["weight_bits"] - 1)) - 1
            w_lo = -w_hi - 1
            taps = taps_rng.integers(w_lo, w_hi, size=self.rec_kernel, endpoint=True)
            if self.saturate:
                taps = np.where(taps_rng.random(self.rec_kernel) < 0.5, w_hi, w_lo)
            data.update(rec_kernel=self.rec_kernel, w_rec=taps.tolist())
        net = Network.from_dict(data)
        if self.synapse == "delta" and self.adaptation == "none":
            return net
        from .cases import LockstepCase

        # The options' parameters from their own stream, as the inference cases draw them.
        options = LockstepCase(name=self.name, seed=self.seed, n_in=self.n_in,
                               n_hidden=self.n_hidden, n_out=self.n_out,
                               synapse=self.synapse, adaptation=self.adaptation)
        net = options._with_neuron_options(net)
        if not self.learn_neurons:
            return net
        rates = np.random.default_rng([self.seed, 2])
        if self.saturate:
            etas = {name: int(rates.integers(0, 3))
                    for name in ("eta_beta", "eta_coupling", "eta_rho")}
        else:
            # |F| < 2^(l_bits - 1); ev and er saturate at 2^(elig_bits - 1) and ea stays
            # below 2^trace_bits: shifts that make steps of a few units, now and then more.
            eb, tb = params.elig_bits, params.trace_bits
            etas = {"eta_beta": int(rates.integers(eb - 4, eb + 2)),
                    "eta_coupling": int(rates.integers(tb, tb + 4)),
                    "eta_rho": int(rates.integers(eb - 4, eb + 2))}
        data = net.to_dict()
        data["learning"] = dataclasses.replace(
            net.learning, learn_neurons=True, elig_bits=params.elig_bits, **etas).to_dict()
        return Network.from_dict(data)

    def inputs(self) -> list[dict[str, np.ndarray]]:
        """Per sample: ``spikes`` ``[T, n_in]``, ``label`` and the learning mask ``learn``."""
        from golden.random import random_spikes

        rng = np.random.default_rng([self.seed, 1])
        out = []
        for steps in self.samples:
            out.append({
                "spikes": random_spikes(rng, steps, self.n_in, self.density),
                "label": int(rng.integers(0, self.n_out)),
                "learn": rng.random(steps) < self.learn_share,
            })
        return out

    def describe(self) -> str:
        rec = f"rec({self.delay_rec})" if self.recurrent else "ff"
        if self.recurrent and self.rec_kernel:
            rec += f" kernel {self.rec_kernel}"
        forced = ", ".join(f"{k}={v}" for k, v in (
            ("rounding", self.rounding), ("feedback", self.feedback), ("learn", self.learn))
            if v is not None)
        flags = "".join([", saturate" if self.saturate else "",
                         ", extreme delays" if self.extreme_delays else "",
                         ", no zero skip" if not self.zero_skip else "",
                         f", synapse={self.synapse}" if self.synapse != "delta" else "",
                         f", adaptation={self.adaptation}" if self.adaptation != "none" else "",
                         ", learn neurons" if self.learn_neurons else ""])
        return (f"{self.name} seed={self.seed} {self.n_in}/{self.n_hidden}/{self.n_out} "
                f"in({self.delay_in}) {rec} out({self.delay_out}) error={self.error} "
                f"{forced}{flags}, samples {list(self.samples)}")


def learning_cases(variant_name: str, capacity: tuple[int, int, int]) -> list[LearningCase]:
    """The learning cases of a core variant with capacity ``(max_in, max_hidden, max_out)``."""
    mi, mh, mo = capacity
    v = variant_name
    if v == "LK":
        return kernel_learning_cases(capacity)
    # LS repeats the draws of LB on the SPRAM memories.
    base = {"LA": 3000, "LB": 4000, "LS": 4000}.get(v, 9000)

    def case(index, short, seed_offset=0, **fields):
        # ``seed_offset`` moves a case to another draw when the first one learns nothing
        # (a rule whose rates round every update to 0).
        return LearningCase(name=f"{v}{index:02d}_{short}",
                            seed=base + index + 100 * seed_offset, **fields)

    return [
        # Every projection synaptic, recurrent, stochastic rounding, weights and delays.
        case(0, "rec_syn_stochastic", n_in=mi, n_hidden=mh, n_out=mo,
             rounding="stochastic", feedback="symmetric"),
        # Axonal delays everywhere: sums over all hidden neurons (in, rec) and readouts.
        case(1, "rec_axo_truncate", n_in=mi, n_hidden=mh, n_out=mo, delay_in="axonal",
             delay_rec="axonal", delay_out="axonal", rounding="truncate", feedback="random",
             density=0.4),
        # Saturating rates: weights at both limits, delays clamped at 0 and d_max - 1.
        case(2, "rec_mixed_saturate", n_in=mi, n_hidden=mh, n_out=mo, delay_in="synaptic",
             delay_rec="axonal", delay_out="synaptic", saturate=True, extreme_delays=True,
             rounding="stochastic", reset="hard", density=0.5),
        case(3, "ff_axo_saturate_truncate", n_in=mi, n_hidden=mh, n_out=mo,
             recurrent=False, delay_in="axonal", delay_out="synaptic", saturate=True,
             extreme_delays=True, rounding="truncate"),
        # Softmax readout error: weights only (stochastic), delays only (truncate).
        case(4, "rec_softmax_weights", n_in=mi, n_hidden=mh, n_out=mo, error="softmax",
             delay_rec="none", learn="weights", rounding="stochastic"),
        case(5, "rec_softmax_delays", seed_offset=5, n_in=mi, n_hidden=mh, n_out=mo,
             error="softmax", delay_in="axonal", learn="delays", rounding="truncate",
             density=0.5),
        # Without the zero skip: every post neuron is visited, the results are the same.
        case(6, "rec_noskip_any", seed_offset=4, n_in=max(1, mi // 2), n_hidden=mh, n_out=mo,
             error="any", delay_out="axonal", zero_skip=False, learn=None),
        # A small network in a large core: run-time sizes below the capacity.
        case(7, "small_mixed", n_in=2, n_hidden=3, n_out=2, delay_in="synaptic",
             delay_rec="axonal", delay_out="none", error="any", rounding="stochastic",
             samples=(50, 50, 50, 50, 50)),
    ]


def neuron_learning_cases(capacity: tuple[int, int, int]) -> list[LearningCase]:
    """Learning cases of :data:`NEURON_LEARNING_VARIANT` (capacity ``(max_in, max_hidden,
    max_out)``): weights and delays learn in networks with current synapses, the adaptive
    threshold (whose surrogate is centred on the raised threshold) or both (``LN00`` to
    ``LN02``), and with them ``beta``, ``coupling`` and ``rho`` (``LN03`` to ``LN06``)."""
    mi, mh, mo = capacity
    return [
        LearningCase(name="LN00_cur_adapt_syn_stochastic", seed=5000, n_in=mi, n_hidden=mh,
                     n_out=mo, rounding="stochastic", synapse="current",
                     adaptation="threshold", density=0.4),
        LearningCase(name="LN01_adapt_axo_softmax", seed=5001, n_in=mi, n_hidden=mh,
                     n_out=mo, delay_in="axonal", delay_rec="axonal", error="softmax",
                     rounding="truncate", adaptation="threshold", density=0.5),
        LearningCase(name="LN02_cur_saturate", seed=5002, n_in=mi, n_hidden=mh, n_out=mo,
                     delay_rec="axonal", saturate=True, extreme_delays=True,
                     rounding="truncate", synapse="current", density=0.5),
        # The neuron parameters learn with the weights and delays.
        LearningCase(name="LN03_learn_cur_adapt_stochastic", seed=5003, n_in=mi,
                     n_hidden=mh, n_out=mo, rounding="stochastic", synapse="current",
                     adaptation="threshold", density=0.4, learn_neurons=True),
        LearningCase(name="LN04_learn_adapt_axo_softmax", seed=5304, n_in=mi, n_hidden=mh,
                     n_out=mo, delay_in="axonal", delay_rec="axonal", error="softmax",
                     rounding="truncate", adaptation="threshold", density=0.5,
                     learn_neurons=True),
        # Rates of 0 to 2: beta, coupling and rho clamp at both ends; no zero skip.
        LearningCase(name="LN05_learn_saturate_noskip", seed=5005, n_in=mi, n_hidden=mh,
                     n_out=mo, delay_rec="axonal", saturate=True, rounding="stochastic",
                     synapse="current", adaptation="threshold", density=0.5,
                     zero_skip=False, learn_neurons=True),
        # Only the neuron parameters learn, in a smaller network than the core.
        LearningCase(name="LN06_learn_neurons_only_small", seed=5006, n_in=3, n_hidden=4,
                     n_out=2, rounding="stochastic", synapse="current",
                     adaptation="threshold", density=0.4, learn="neurons",
                     learn_neurons=True),
    ]


def kernel_learning_cases(capacity: tuple[int, int, int]) -> list[LearningCase]:
    """Learning cases of variant ``LK`` (capacity ``(max_in, max_hidden, max_out)``, five
    kernel taps): the core's full kernel and a shorter one centred in it, axonal and no
    recurrent delays, both roundings, saturating rates and the zero skip off."""
    mi, mh, mo = capacity

    def case(index, short, **fields):
        return LearningCase(name=f"LK{index:02d}_{short}", seed=6000 + index, n_in=mi,
                            n_hidden=mh, n_out=mo, **fields)

    return [
        case(0, "kernel5_axo_stochastic", rec_kernel=5, delay_rec="axonal",
             delay_out="axonal", rounding="stochastic", density=0.4),
        case(1, "kernel3_none_saturate_truncate", rec_kernel=3, delay_rec="none",
             delay_in="axonal", saturate=True, extreme_delays=True, rounding="truncate",
             reset="hard", density=0.5),
        case(2, "kernel3_axo_noskip_stochastic", rec_kernel=3, delay_rec="axonal",
             zero_skip=False, rounding="stochastic", error="any", feedback="random",
             density=0.4),
        case(3, "kernel5_axo_saturate_stochastic", rec_kernel=5, delay_rec="axonal",
             delay_out="axonal", saturate=True, extreme_delays=True, rounding="stochastic",
             density=0.5),
    ]


def cases_to_json(cases: list[LearningCase]) -> str:
    return json.dumps([c.to_dict() for c in cases])


def cases_from_json(text: str) -> list[LearningCase]:
    return [LearningCase.from_dict(d) for d in json.loads(text)]
