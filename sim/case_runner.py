"""Many cases on one simulated core: the per-case guard, the lockstep case body, the case loop.

The lockstep tests (``sim/test_lockstep.py``), the learning lockstep tests
(``sim/test_learning.py``) and the random regression (``bench/regress_tb.py``) all load case
after case into the same core instance. They share:

- :func:`guarded`: runs one case, turning a mismatch, a failed check or a hung core into the
  case's ``"failure"`` line (the next case still runs) and recording the wall time;
- :func:`run_lockstep_case`: the inference lockstep of one :class:`sim.cases.LockstepCase`
  (load over whatever the core holds, clear, run with parameters retuned mid-run, check the
  ``STEP`` and ``CYCLES`` counters, clear, run again);
- :func:`run_cases`: the loop over the cases with the JSON report (and an optional progress
  file), resetting the core after a failed case so that nothing of it is left for the next.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable

from sim.cases import LockstepCase
from sim.tb import CoreTB, LockstepMismatch, LockstepScoreboard, run_lockstep, sim_name
from sim.variants import CoreVariant

__all__ = ["guarded", "run_cases", "run_lockstep_case"]


async def guarded(entry: dict, label: str, body: Callable[[], Awaitable[None]]) -> dict:
    """Run ``body()`` for one case; a failure goes into ``entry`` instead of propagating.

    ``entry["failure"]`` is set to the mismatch or assertion message, or to a one-line
    ``"<label>: <exception>"`` (with ``entry["traceback"]``) for anything else, such as a core
    that never finishes its step. ``entry["seconds"]`` gets the wall time. Returns ``entry``.
    """
    entry.setdefault("failure", None)
    started = time.perf_counter()
    try:
        await body()
    except (LockstepMismatch, AssertionError) as err:
        entry["failure"] = str(err)
    except Exception as err:  # noqa: BLE001 - a hung core or a driver error: report, go on
        entry["failure"] = f"{label}: {type(err).__name__}: {err}".splitlines()[0]
        entry["traceback"] = traceback.format_exc()
    entry["seconds"] = time.perf_counter() - started
    return entry


async def run_lockstep_case(tb: CoreTB, case: LockstepCase, label: str, entry: dict) -> None:
    """Lockstep of one inference case; adds the steps run to ``entry["steps"]``.

    The case's network is loaded through the bus over whatever the core holds and cleared;
    the main input runs with new parameters written (without a clear) before step
    ``case.retune_at``, so spikes in flight arrive under them. Then ``CTRL.STEP`` must count
    the main run and, on a core without the learning engine, ``CTRL.CYCLES`` must equal
    :meth:`rtl.params.CoreParams.step_cycles` (stored in ``entry["cycles_per_step"]``). A
    clear and the after-clear input against a freshly reset golden model end the case.
    Raises :class:`sim.tb.LockstepMismatch` or ``AssertionError`` at the first difference.
    """
    params = tb.params
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
        raise AssertionError(f"{label}: CTRL.STEP reads {step_count} after {len(main)} steps")
    if not getattr(params, "learning", False):
        # A step of a core without learning takes exactly the clocks CoreParams predicts.
        cycles = entry["cycles_per_step"] = await tb.read_ctrl("CYCLES")
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


async def run_cases(dut, variant: CoreVariant, items: Iterable,
                    run_one: Callable[[CoreTB, object], Awaitable[dict]], *,
                    report_path: str | None = None, progress_path: str | None = None,
                    describe: Callable[[object, dict], str] | None = None) -> dict:
    """Run ``run_one(tb, item)`` for every item on one core; returns the report.

    The report (``variant``, ``simulator``, ``cases``: the entries returned by ``run_one``,
    ``failures``: their failure lines) is written to ``report_path`` at the end, also when the
    loop is interrupted. Each entry is appended as one JSON line to ``progress_path`` as soon
    as it is finished. After a failed case the core is reset, so the next case starts clean;
    a passed one is logged with ``describe(item, entry)``.
    """
    report = {"variant": variant.name, "simulator": sim_name(), "cases": [], "failures": []}
    tb = CoreTB(dut, variant.core_params(), log=dut._log)
    try:
        await tb.start()
        for item in items:
            entry = await run_one(tb, item)
            report["cases"].append(entry)
            if progress_path:
                with open(progress_path, "a") as handle:
                    handle.write(json.dumps(entry) + "\n")
            if entry["failure"]:
                report["failures"].append(entry["failure"])
                dut._log.error("FAIL %s", entry["failure"])
                await tb.reset()
            elif describe is not None:
                dut._log.info("pass %s", describe(item, entry))
    finally:
        if report_path:
            with open(report_path, "w") as handle:
                json.dump(report, handle, indent=1)
    return report
