"""cocotb test module: lockstep comparison of the learning engine with the golden model.

Run by :func:`sim.build.run_cocotb` (as ``tests/test_learning_lockstep.py`` does). Inputs
come from environment variables:

``DELAYCORE_VARIANT``
    JSON of the :class:`sim.variants.CoreVariant` (a core built with ``learning``).
``DELAYCORE_LEARNING_CASES``
    JSON list of :class:`sim.learning_cases.LearningCase` dictionaries, run one after another
    on the same core instance.
``DELAYCORE_REPORT``
    Path of the JSON report: per case the steps, the learning steps, the first mismatch if
    any, ``CTRL.CYCLES`` of the learning and non-learning steps, what the golden model
    learned (changed weights and delays, values at their limits) and the wall time.

Per case: the network and its learning rule are loaded through the bus over whatever the
previous case left, ``LEARN_COUNT`` is zeroed, ``FLAGS.NO_ZERO_SKIP`` is set if the case
asks for it, and each sample runs from a ``clear`` (learned values and the learning count
stay, as in the golden model). Every step is compared (:func:`sim.tb.run_learning_sample`).
A mismatch ends that case only; the test fails at the end if any case failed.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from rtl import memory_map as mm
from sim.learning_cases import LearningCase, cases_from_json
from sim.learning_check import step_cycle_bounds
from sim.case_runner import guarded, run_cases
from sim.tb import CoreTB, LearningScoreboard, run_learning_sample, sim_name
from sim.variants import CoreVariant


def _parameters(golden) -> dict[str, np.ndarray]:
    out = {}
    for name, p in golden.projections.items():
        out[f"w_{name}"] = p.w[0].copy()
        if p.d is not None:
            out[f"d_{name}"] = p.d[0].copy()
    for name, values in golden.neurons.items():   # beta, coupling, rho
        out[name] = values[0].copy()
    return out


def _activity(net, before: dict, after: dict) -> dict:
    """What learning changed: values moved, values that ended at a limit of their range."""
    w_lo, w_hi = -(1 << (net.weight_bits - 1)), (1 << (net.weight_bits - 1)) - 1
    d_top = (net.d_max << net.delay_frac) - 1
    neuron_tops = {"beta": (1 << net.decay_bits) - 1, "rho": (1 << net.decay_bits) - 1,
                   "coupling": (1 << (net.v_bits - 1)) - 1}
    out = {"w_changed": 0, "d_changed": 0, "w_at_limit": 0, "d_at_zero": 0, "d_at_top": 0}
    for key, old in before.items():
        new = after[key]
        moved = new != old
        if key in neuron_tops:
            out[f"{key}_changed"] = int(moved.sum())
            out[f"{key}_at_limit"] = int((moved & ((new == 0) | (new == neuron_tops[key]))).sum())
        elif key.startswith("w_"):
            out["w_changed"] += int(moved.sum())
            out["w_at_limit"] += int((moved & ((new == w_lo) | (new == w_hi))).sum())
        else:
            out["d_changed"] += int(moved.sum())
            out["d_at_zero"] += int((moved & (new == 0)).sum())
            out["d_at_top"] += int((moved & (new == d_top)).sum())
    return out


async def run_case(tb: CoreTB, case: LearningCase, variant: CoreVariant) -> dict:
    """Run one case; returns its report entry (``"failure"`` is None when it passed)."""
    params = tb.params
    label = f"variant {variant.name} on {sim_name()}, case {case.name} (seed {case.seed})"
    entry = {"name": case.name, "seed": case.seed, "description": case.describe(),
             "steps": 0, "learning_steps": 0, "failure": None}

    async def body():
        net = case.network(params)
        scoreboard = LearningScoreboard(net, params, label)
        before = _parameters(scoreboard.golden)
        await tb.load(net)
        await tb.write_ctrl("LEARN_COUNT", 0)
        if not case.zero_skip:
            flags = await tb.read_ctrl("FLAGS")
            await tb.write_ctrl("FLAGS", flags | mm.FLAG_NO_ZERO_SKIP)
        cycles = {"learning": [], "inference": []}
        for index, sample in enumerate(case.inputs()):
            await tb.clear()
            scoreboard.reset()
            result = await run_learning_sample(
                tb, scoreboard, sample["spikes"], sample["label"], sample["learn"],
                segment=f"(sample {index})", first_step=entry["steps"])
            for t, (learning, value) in enumerate(zip(sample["learn"], result["cycles"])):
                # rtl.params.CoreParams gives the cycles of a step exactly (plain steps, and
                # learning steps without the zero skip) or bounds them.
                least, most = step_cycle_bounds(net, params, bool(learning))
                if not case.zero_skip:
                    least = most
                if not least <= value <= most:
                    raise AssertionError(
                        f"{label}: step {entry['steps'] + t} takes {value} cycles, "
                        f"CoreParams predicts {least}..{most}")
                cycles["learning" if learning else "inference"].append(value)
            entry["steps"] += result["steps"]
            entry["learning_steps"] += result["learning_steps"]
        entry["cycles"] = {key: {"min": min(v), "max": max(v), "mean": float(np.mean(v))}
                           for key, v in cycles.items() if v}
        entry["activity"] = _activity(net, before, _parameters(scoreboard.golden))
        r = net.learning
        entry["rule"] = {"error": r.error, "rounding": r.rounding, "feedback": r.feedback,
                         "learn_weights": r.learn_weights, "learn_delays": r.learn_delays,
                         "half_width": r.kernel_half_width,
                         "learn_neurons": net.neuron_parameters() if r.learn_neurons else []}

    return await guarded(entry, label, body)


@cocotb.test()
async def learning_random_networks(dut):
    """Every case of ``DELAYCORE_LEARNING_CASES`` matches the golden model at every step."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    cases = cases_from_json(os.environ.get("DELAYCORE_LEARNING_CASES", "[]"))
    report = await run_cases(
        dut, variant, cases, lambda tb, case: run_case(tb, case, variant),
        report_path=os.environ.get("DELAYCORE_REPORT"),
        describe=lambda case, entry: (f"{case.describe()}: {entry['steps']} steps "
                                      f"({entry['learning_steps']} learning) in "
                                      f"{entry['seconds']:.2f} s"))
    assert not report["failures"], "; ".join(report["failures"])
    assert cases, "no cases given in DELAYCORE_LEARNING_CASES"
