"""cocotb module of the soak test (:mod:`bench.soak`): one core, a very long lockstep run.

The simulator process reads ``DELAYCORE_VARIANT`` (the core), ``DELAYCORE_SOAK`` (JSON of
:class:`bench.soak.SoakPlan`: steps, seed, intervals), ``DELAYCORE_STATUS`` (a file rewritten
with the progress every ``status_every`` steps) and ``DELAYCORE_REPORT`` (the final report).

The run is a sequence of *segments*. A segment loads a new random network (any sizes, delay
kinds and reset mode that fit the core) and clears the core; inside it, new parameters (same
structure) are written every ``retune_every`` steps without a clear, so spikes in flight meet
new weights and delays. Inputs come in blocks of 1000 steps, each with its own density. Every
step the hidden spikes are compared; every ``check_every`` steps (and at the last step of a
segment) the membranes and readouts are read back and compared too. The run stops at the
first divergence, which the report names (step, field, neuron, both values).

Learning: with ``learning`` in the plan the core is built with the learning engine, each
segment's network gets a random learning rule (:class:`sim.learning_cases.LearningCase`),
``retune_every`` becomes the length of a *sample* (a clear, a new label; what was learned
stays), and a share of the steps of each block (30 %, 90 % or all) learns. Full checks then
also compare every synapse word, axonal delay and ``LEARN_COUNT`` after a learning step. This
needs the learning lockstep of :mod:`sim.tb`, which :func:`learning_support` looks for.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import cocotb
import numpy as np

from sim.cases import LockstepCase
from sim.tb import CoreTB, LockstepMismatch, LockstepScoreboard, sim_name, spikes_to_int
from sim.variants import CoreVariant

_KINDS = ("none", "synaptic", "axonal")


def learning_support() -> str | None:
    """None if the learning lockstep is available, else the reason it is not.

    The soak's learning mode needs :class:`sim.tb.LearningScoreboard` (the golden model with
    its learning rule, and the comparison of what the core learned) and
    :class:`sim.learning_cases.LearningCase` (random networks with learning rules).
    """
    import importlib

    import sim.tb

    if not hasattr(sim.tb, "LearningScoreboard"):
        return "the learning lockstep is not available: sim.tb has no LearningScoreboard"
    try:
        importlib.import_module("sim.learning_cases")
    except ImportError as err:
        return f"the learning cases are not available: {err}"
    return None


def segment_case(plan: dict, params, segment: int):
    """The network recipe of segment ``segment`` (drawn from the plan's seed alone).

    A :class:`sim.cases.LockstepCase`, or with ``plan["learning"]`` a
    :class:`sim.learning_cases.LearningCase` (the same structure plus a random rule).
    """
    rng = np.random.default_rng([plan["seed"], segment])
    recurrent = bool(params.recurrent) and rng.random() < 0.7

    def size(cap):
        return cap if rng.random() < 0.5 else int(rng.integers(1, cap, endpoint=True))

    n_in, n_hidden, n_out = size(params.max_in), size(params.max_hidden), size(params.max_out)
    while (n_hidden * (n_in + (n_hidden if recurrent else 0)) + n_out * n_hidden
           > params.max_synapses):
        n_hidden -= 1
    if plan.get("learning"):
        from sim.learning_cases import LearningCase

        return LearningCase(
            name=f"soak{segment}", seed=int(rng.integers(0, 2**31 - 1)), n_in=n_in,
            n_hidden=n_hidden, n_out=n_out, recurrent=recurrent,
            delay_in=str(rng.choice(_KINDS)),
            delay_rec=str(rng.choice(_KINDS)) if recurrent else "none",
            delay_out=str(rng.choice(_KINDS)), reset=str(rng.choice(["soft", "hard"])),
            error="any", learn=None, saturate=bool(rng.random() < 0.2),
            extreme_delays=bool(rng.random() < 0.3))
    return LockstepCase(
        name=f"soak{segment}", seed=int(rng.integers(0, 2**31 - 1)), n_in=n_in,
        n_hidden=n_hidden, n_out=n_out, recurrent=recurrent,
        delay_in=str(rng.choice(_KINDS)),
        delay_rec=str(rng.choice(_KINDS)) if recurrent else "none",
        delay_out=str(rng.choice(_KINDS)), reset=str(rng.choice(["soft", "hard"])),
        saturating=bool(rng.random() < 0.3), steps=0, steps_after_clear=0,
        negate_rows=float(rng.choice([0.0, 0.3])), retune_at=None)


class _Status:
    """Rewrites the status file (atomically) so the parent can draw its progress bar."""

    def __init__(self, path: str | None, total: int):
        self.path = path
        self.total = total
        self.started = time.perf_counter()

    def write(self, step: int, **extra) -> None:
        if not self.path:
            return
        data = {"step": step, "total": self.total,
                "seconds": time.perf_counter() - self.started, **extra}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, self.path)


async def _step(tb: CoreTB, scoreboard: LockstepScoreboard, spikes, step: int, noise: int,
                full: bool, segment: str, learn: bool | None = None, label: int = 0) -> None:
    """One step of core and golden model; ``learn`` is None on an inference soak."""
    if learn is None:
        expected = scoreboard.expect(spikes)
        step_args = {}
    else:
        expected = scoreboard.expect(spikes, label=label, learn=learn)
        step_args = {"learn": learn}
    if full:
        observed = await tb.step(spikes, step=step, unused_inputs=noise, **step_args)
        scoreboard.check(observed, expected, segment=segment)
        if learn:
            await scoreboard.check_parameters(tb, step, segment)
        return
    n_in = len(spikes)
    mask = spikes_to_int(spikes) | ((noise << n_in) & ((1 << tb.max_in) - 1))
    out = await tb.run_step(mask, **step_args)
    z = np.array([(out >> i) & 1 for i in range(len(expected.z))], dtype=bool)
    wrong = np.flatnonzero(z != np.asarray(expected.z, dtype=bool))
    if len(wrong):
        i = int(wrong[0])
        raise LockstepMismatch(
            f"{scoreboard.label}: first mismatch at step {step} {segment}: z[{i}] "
            f"rtl={int(z[i])} golden={int(expected.z[i])}", step=step, field="z", index=i)


@cocotb.test()
async def soak(dut):
    """Golden model and core side by side for ``plan["steps"]`` steps."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    plan = json.loads(os.environ["DELAYCORE_SOAK"])
    params = variant.core_params()
    total = int(plan["steps"])
    status = _Status(os.environ.get("DELAYCORE_STATUS"), total)
    report = {"variant": variant.name, "simulator": sim_name(), "plan": plan, "steps": 0,
              "segments": 0, "learning_steps": 0, "parameter_checks": 0, "divergence": None,
              "failures": []}
    if plan.get("learning"):
        reason = learning_support()
        if reason:
            report["failures"].append(reason)
            report["divergence"] = None
            with open(os.environ["DELAYCORE_REPORT"], "w") as handle:
                json.dump(report, handle, indent=1)
            raise AssertionError(reason)

    tb = CoreTB(dut, params, log=dut._log)
    await tb.start()
    rng = np.random.default_rng([plan["seed"], 1 << 20])
    learning = bool(plan.get("learning"))
    sample_label = 0
    step = 0
    segment = -1
    case = scoreboard = None
    segment_left = retune_left = 0
    started = time.perf_counter()
    try:
        while step < total:
            if segment_left == 0:
                segment += 1
                case = segment_case(plan, params, segment)
                net = case.network(params)
                label = (f"soak of variant {variant.name} on {sim_name()}, seed "
                         f"{plan['seed']}, segment {segment} ({case.describe()})")
                if learning:
                    from sim.tb import LearningScoreboard

                    scoreboard = LearningScoreboard(net, params, label)
                    await tb.load(net)
                    await tb.write_ctrl("LEARN_COUNT", 0)
                else:
                    scoreboard = LockstepScoreboard(net, label)
                    await tb.load(net)
                await tb.clear()
                segment_left = plan["segment_steps"]
                retune_left = plan["retune_every"]
                report["segments"] = segment + 1
                if learning:
                    sample_label = int(rng.integers(0, case.n_out))
                    await tb.write_ctrl("LABEL", sample_label)
            elif retune_left == 0:
                if learning:
                    # A new sample: state cleared, learned values and LEARN_COUNT kept (as
                    # between the samples of a data set), a new label.
                    await tb.clear()
                    scoreboard.reset()
                    sample_label = int(rng.integers(0, case.n_out))
                    await tb.write_ctrl("LABEL", sample_label)
                else:
                    case = dataclasses.replace(case, seed=case.seed + 1)
                    net = case.network(params)
                    await tb.load(net)
                    scoreboard.retune(net)
                retune_left = plan["retune_every"]
            block = min(1000, segment_left, retune_left, total - step)
            density = float(rng.choice([0.01, 0.05, 0.2, 0.5, 0.9]))
            spikes = (rng.random((block, case.n_in)) < density).astype(np.uint8)
            spare = params.max_in - case.n_in
            noise = (rng.integers(0, 1 << spare, size=block) if spare
                     else np.zeros(block, dtype=np.int64))
            learn_mask = rng.random(block) < float(rng.choice([0.3, 0.9, 1.0]))
            for t in range(block):
                last = t == block - 1 and (segment_left == block or step + 1 == total)
                full = step % plan["check_every"] == 0 or last
                learn = bool(learn_mask[t]) if learning else None
                await _step(tb, scoreboard, spikes[t], step, int(noise[t]), full,
                            f"(segment {segment})", learn=learn, label=sample_label)
                step += 1
                report["learning_steps"] += bool(learn)
                report["parameter_checks"] += bool(learn and full)
                if step % plan["status_every"] == 0:
                    status.write(step, segments=segment + 1)
            segment_left -= block
            retune_left -= block
    except LockstepMismatch as err:
        report["divergence"] = {"step": err.step, "field": err.field, "index": err.index,
                                "message": str(err)}
        report["failures"].append(str(err))
    finally:
        seconds = time.perf_counter() - started
        report.update(steps=step, seconds=seconds,
                      steps_per_second=step / seconds if seconds else 0.0)
        status.write(step, segments=segment + 1, done=True)
        with open(os.environ["DELAYCORE_REPORT"], "w") as handle:
            json.dump(report, handle, indent=1)
    assert report["divergence"] is None, report["divergence"]["message"]
