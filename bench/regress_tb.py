"""cocotb module of the random regression (:mod:`bench.regress`): many networks, one core.

Run by :func:`sim.build.run_cocotb`; the simulator process reads:

``DELAYCORE_VARIANT``
    JSON of the :class:`sim.variants.CoreVariant` the core was built from.
``DELAYCORE_CASES_FILE``
    Path of a JSON list of case dictionaries, each with an extra ``"index"`` (the
    configuration's number in the regression) and ``"mode"``: ``"inference"``, ``"neurons"``
    or ``"kernel"`` for a :class:`sim.cases.LockstepCase` (run by :func:`run_config`; with the
    neuron options ``c`` and ``a`` are compared too), ``"learning"``, ``"neuron_learning"``
    or ``"kernel_learning"`` for a :class:`sim.learning_cases.LearningCase` (run by
    ``sim.test_learning.run_case``: every step compared, and what was learned after every
    learning step).
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

import cocotb

from sim.case_runner import guarded, run_cases, run_lockstep_case
from sim.cases import LockstepCase
from sim.tb import CoreTB, sim_name
from sim.variants import CoreVariant


async def run_config(tb: CoreTB, case: LockstepCase, variant: CoreVariant, index: int) -> dict:
    """Run one configuration; returns its progress entry (``"failure"`` None if it passed)."""
    label = f"variant {variant.name} on {sim_name()}, config {index} ({case.name}, seed " \
            f"{case.seed})"
    entry = {"index": index, "name": case.name, "variant": variant.name, "steps": 0,
             "failure": None}
    return await guarded(entry, label, lambda: run_lockstep_case(tb, case, label, entry))


async def run_item(tb: CoreTB, item: dict, variant: CoreVariant) -> dict:
    """Run one configuration of the cases file by its mode; returns its progress entry."""
    index = item.pop("index")
    mode = item.pop("mode", "inference")
    if mode in ("inference", "neurons", "kernel"):
        return await run_config(tb, LockstepCase.from_dict(item), variant, index)
    if mode in ("learning", "neuron_learning", "kernel_learning"):
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
    report = await run_cases(dut, variant, items,
                             lambda tb, item: run_item(tb, dict(item), variant),
                             report_path=os.environ.get("DELAYCORE_REPORT"),
                             progress_path=os.environ.get("DELAYCORE_PROGRESS"))
    assert not report["failures"], f"{len(report['failures'])} configuration(s) failed"
