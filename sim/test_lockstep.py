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

import os

import cocotb

from sim.case_runner import guarded, run_cases, run_lockstep_case
from sim.cases import LockstepCase, cases_from_json
from sim.tb import CoreTB, LockstepScoreboard, run_lockstep, sim_name
from sim.variants import CoreVariant


async def run_case(tb: CoreTB, case: LockstepCase, variant: CoreVariant) -> dict:
    """Run one case; returns its report entry (``"failure"`` is None when it passed)."""
    params = tb.params
    label = f"variant {variant.name} on {sim_name()}, case {case.name} (seed {case.seed})"
    entry = {"name": case.name, "seed": case.seed, "description": case.describe(),
             "steps": 0, "failure": None}

    async def body():
        # A different full-size network first, so the case is loaded over stale words and
        # its clear has state to remove.
        decoy = case.decoy((params.max_in, params.max_hidden, params.max_out),
                           bool(params.recurrent), getattr(params, "rec_kernel_taps", 0))
        decoy_net = decoy.network(params)
        await tb.load(decoy_net)
        await tb.clear()
        await run_lockstep(tb, LockstepScoreboard(decoy_net, f"{label}, decoy network"),
                           decoy.spikes()[0])
        await run_lockstep_case(tb, case, label, entry)

    return await guarded(entry, label, body)


@cocotb.test()
async def lockstep_random_networks(dut):
    """Every case of ``DELAYCORE_CASES`` matches the golden model at every step."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    cases = cases_from_json(os.environ.get("DELAYCORE_CASES", "[]"))
    report = await run_cases(
        dut, variant, cases, lambda tb, case: run_case(tb, case, variant),
        report_path=os.environ.get("DELAYCORE_REPORT"),
        describe=lambda case, entry: (f"{case.describe()}: {entry['steps']} steps in "
                                      f"{entry['seconds']:.2f} s"))
    assert not report["failures"], "; ".join(report["failures"])
    assert cases, "no cases given in DELAYCORE_CASES"
