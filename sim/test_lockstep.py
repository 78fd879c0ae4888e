"""cocotb test module: lockstep comparison of the core with the golden model.

Run by :func:`sim.build.run_cocotb` (as the pytest suite in ``tests/test_lockstep.py`` does).
The simulator process learns what to do from environment variables:

``DELAYCORE_VARIANT``
    JSON of the :class:`sim.variants.CoreVariant` the core was built from.
``DELAYCORE_CASES``
    JSON list of :class:`sim.cases.LockstepCase` dictionaries to run, one after another,
    on the same core instance.
``DELAYCORE_REPORT``
    Path of a JSON report written at the end (also when a case fails): per case its steps,
    the first mismatch if any, the clocks of a step and the wall time.

For each case a different full-size "decoy" network is loaded and run for a few steps
first (so the case is loaded over stale configuration and state). Then the case's network is
loaded through the bus, the state is cleared, and the core and
:class:`golden.model.GoldenCore` are stepped together for ``case.steps`` steps, with random
bits on the spike inputs the network does not use. Before step ``case.retune_at`` new
weights, delays and leak factors are written without a clear, so spikes in flight arrive
under new parameters. The ``STEP`` and ``CYCLES`` counters are checked; then the core is cleared again and a second input sequence of
``case.steps_after_clear`` steps is compared against a freshly reset golden model. A mismatch ends that case only (the core is
reset before the next one); the test fails at the end if any case failed.
"""

from __future__ import annotations

import json
import os
import time
import traceback

import cocotb

from sim.cases import LockstepCase, cases_from_json
from sim.tb import CoreTB, LockstepMismatch, LockstepScoreboard, run_lockstep, sim_name
from sim.variants import CoreVariant


async def run_case(tb: CoreTB, case: LockstepCase, variant: CoreVariant) -> dict:
    """Run one case; returns its report entry (``"failure"`` is None when it passed)."""
    params = tb.params
    label = f"variant {variant.name} on {sim_name()}, case {case.name} (seed {case.seed})"
    entry = {"name": case.name, "seed": case.seed, "description": case.describe(),
             "steps": 0, "failure": None}
    started = time.perf_counter()
    try:
        # A different full-size network first, so the case is loaded over stale words and
        # its clear has state to remove.
        decoy = case.decoy((params.max_in, params.max_hidden, params.max_out),
                           bool(params.recurrent))
        decoy_net = decoy.network(params)
        await tb.load(decoy_net)
        await tb.clear()
        await run_lockstep(tb, LockstepScoreboard(decoy_net, f"{label}, decoy network"),
                           decoy.spikes()[0])

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
        # The counters of the CTRL region: steps since clear, and clocks of the last step
        # (which rtl.params.CoreParams.step_cycles predicts exactly).
        step_count = await tb.read_ctrl("STEP")
        cycles = entry["cycles_per_step"] = await tb.read_ctrl("CYCLES")
        if step_count != len(main):
            raise AssertionError(f"{label}: CTRL.STEP reads {step_count} after "
                                 f"{len(main)} steps")
        expected_cycles = params.step_cycles(net.n_in, net.n_hidden, net.n_out, net.recurrent)
        if cycles != expected_cycles:
            raise AssertionError(f"{label}: CTRL.CYCLES reads {cycles}, "
                                 f"CoreParams.step_cycles gives {expected_cycles}")
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


def _write_report(path: str, report: dict) -> None:
    with open(path, "w") as handle:
        json.dump(report, handle, indent=1)


@cocotb.test()
async def lockstep_random_networks(dut):
    """Every case of ``DELAYCORE_CASES`` matches the golden model at every step."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    cases = cases_from_json(os.environ.get("DELAYCORE_CASES", "[]"))
    report_path = os.environ.get("DELAYCORE_REPORT")
    report = {"variant": variant.name, "simulator": sim_name(), "cases": [], "failures": []}

    tb = CoreTB(dut, variant.core_params(), log=dut._log)
    try:
        await tb.start()
        for case in cases:
            entry = await run_case(tb, case, variant)
            report["cases"].append(entry)
            if entry["failure"]:
                report["failures"].append(entry["failure"])
                dut._log.error("FAIL %s", entry["failure"])
                # Leave nothing of the failed case behind for the next one.
                await tb.reset()
            else:
                dut._log.info("pass %s: %d steps in %.2f s", case.describe(), entry["steps"],
                              entry["seconds"])
    finally:
        if report_path:
            _write_report(report_path, report)
    assert not report["failures"], "; ".join(report["failures"])
    assert cases, "no cases given in DELAYCORE_CASES"
