"""cocotb module of the random regression (:mod:`bench.regress`): many networks, one core.

Run by :func:`sim.build.run_cocotb`; the simulator process reads:

``DELAYCORE_VARIANT``
    JSON of the :class:`sim.variants.CoreVariant` the core was built from.
``DELAYCORE_CASES_FILE``
    Path of a JSON list of case dictionaries, each with an extra ``"index"`` (the
    configuration's number in the regression) and ``"mode"``: ``"inference"`` for a
    :class:`sim.cases.LockstepCase` (run by :func:`run_config`), ``"learning"`` for a
    :class:`sim.learning_cases.LearningCase` (run by ``sim.test_learning.run_case``: every
    step compared, and what was learned after every learning step).
``DELAYCORE_PROGRESS``
    Path of a file to which one JSON line per finished configuration is appended (the
    parent process reads it for its progress line).
``DELAYCORE_REPORT``
    Path of the JSON report written at the end.

Each inference configuration is loaded through the bus over whatever the previous one left
in the core (configuration, membranes, spike rings), cleared, and run in lockstep with
:class:`golden.model.GoldenCore`: the main run (with new parameters written mid-run when the
case has ``retune_at``), a check of the ``STEP`` and ``CYCLES`` counters, a clear and a
second run. A mismatch ends that configuration only; the core is reset before the next.
"""

from __future__ import annotations

import json
import os
import time
import traceback

import cocotb

from sim.cases import LockstepCase
from sim.tb import CoreTB, LockstepMismatch, LockstepScoreboard, run_lockstep, sim_name
from sim.variants import CoreVariant


async def run_config(tb: CoreTB, case: LockstepCase, variant: CoreVariant, index: int) -> dict:
    """Run one configuration; returns its progress entry (``"failure"`` None if it passed)."""
    params = tb.params
    label = f"variant {variant.name} on {sim_name()}, config {index} ({case.name}, seed " \
            f"{case.seed})"
    entry = {"index": index, "name": case.name, "variant": variant.name, "steps": 0,
             "failure": None}
    started = time.perf_counter()
    try:
        net = case.network(params)
        main, after_clear = case.spikes()
        noise_main, noise_after_clear = case.unused_inputs(params.max_in)
        scoreboard = LockstepScoreboard(net, label)
        await tb.load(net)
        await tb.clear()
        split = len(main) if case.retune_at is None else case.retune_at
        entry["steps"] += await run_lockstep(tb, scoreboard, main[:split],
                                             unused_inputs=noise_main[:split])
        if split < len(main):
            retuned = case.retuned_network(params)
            await tb.load(retuned)
            scoreboard.retune(retuned)
            entry["steps"] += await run_lockstep(
                tb, scoreboard, main[split:], segment="after new parameters",
                unused_inputs=noise_main[split:], first_step=split)
        step_count = await tb.read_ctrl("STEP")
        if step_count != len(main):
            raise AssertionError(f"{label}: CTRL.STEP reads {step_count} after {len(main)} "
                                 f"steps")
        if not getattr(params, "learning", False):
            cycles = await tb.read_ctrl("CYCLES")
            expected = params.step_cycles(net.n_in, net.n_hidden, net.n_out, net.recurrent)
            if cycles != expected:
                raise AssertionError(f"{label}: CTRL.CYCLES reads {cycles}, "
                                     f"CoreParams.step_cycles gives {expected}")
        if len(after_clear):
            await tb.clear()
            scoreboard.reset()
            entry["steps"] += await run_lockstep(tb, scoreboard, after_clear,
                                                 segment="after clear",
                                                 unused_inputs=noise_after_clear)
    except (LockstepMismatch, AssertionError) as err:
        entry["failure"] = str(err)
    except Exception as err:  # noqa: BLE001 - a hung core or a driver error: report, go on
        entry["failure"] = f"{label}: {type(err).__name__}: {err}".splitlines()[0]
        entry["traceback"] = traceback.format_exc()
    entry["seconds"] = time.perf_counter() - started
    return entry


async def run_item(tb: CoreTB, item: dict, variant: CoreVariant) -> dict:
    """Run one configuration of the cases file by its mode; returns its progress entry."""
    index = item.pop("index")
    mode = item.pop("mode", "inference")
    if mode == "inference":
        return await run_config(tb, LockstepCase.from_dict(item), variant, index)
    if mode == "learning":
        from sim.learning_cases import LearningCase
        from sim.test_learning import run_case as run_learning_case

        entry = await run_learning_case(tb, LearningCase.from_dict(item), variant)
        entry.update(index=index, variant=variant.name)
        return entry
    raise ValueError(f"unknown configuration mode {mode!r}")


@cocotb.test()
async def regress_networks(dut):
    """Every configuration of ``DELAYCORE_CASES_FILE`` matches the golden model."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    with open(os.environ["DELAYCORE_CASES_FILE"]) as handle:
        items = json.load(handle)
    progress_path = os.environ.get("DELAYCORE_PROGRESS")
    report_path = os.environ.get("DELAYCORE_REPORT")
    report = {"variant": variant.name, "simulator": sim_name(), "cases": [], "failures": []}

    tb = CoreTB(dut, variant.core_params(), log=dut._log)
    try:
        await tb.start()
        for item in items:
            entry = await run_item(tb, dict(item), variant)
            report["cases"].append(entry)
            if progress_path:
                with open(progress_path, "a") as handle:
                    handle.write(json.dumps(entry) + "\n")
            if entry["failure"]:
                report["failures"].append(entry["failure"])
                dut._log.error("FAIL %s", entry["failure"])
                await tb.reset()
    finally:
        if report_path:
            with open(report_path, "w") as handle:
                json.dump(report, handle, indent=1)
    assert not report["failures"], f"{len(report['failures'])} configuration(s) failed"
