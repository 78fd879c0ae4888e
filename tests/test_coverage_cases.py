"""The lockstep cases that coverage asked for (``bench/coverage_cases.py``): negative saturation.

Run like ``tests/test_lockstep.py``: one simulator run per case, compared with the golden
model after every step.
"""

from __future__ import annotations

import pytest

from bench.coverage_cases import coverage_cases
from sim.build import HDL_CLOCK_IS_FASTER, SIMULATORS, run_cocotb
from sim.cases import cases_to_json
from sim.variants import get_variant

VARIANTS = ("A", "B")


def _params():
    for simulator in SIMULATORS:
        for name in VARIANTS:
            p = get_variant(name).params
            for case in coverage_cases(name, (p["max_in"], p["max_hidden"], p["max_out"]),
                                       bool(p.get("recurrent"))):
                yield pytest.param(simulator, name, case, id=f"{simulator}-{case.name}",
                                   marks=[getattr(pytest.mark, simulator)])


@pytest.mark.sim
@pytest.mark.lockstep
@pytest.mark.parametrize("simulator, variant_name, case", list(_params()))
def test_coverage_case(simulator, variant_name, case, require_simulator):
    require_simulator(simulator)
    report = run_cocotb(simulator, get_variant(variant_name), "sim.test_lockstep",
                        extra_env={"DELAYCORE_CASES": cases_to_json([case])},
                        run_name=f"lockstep-{case.name}",
                        hdl_clock=HDL_CLOCK_IS_FASTER[simulator])
    if report["failures"]:
        pytest.fail("\n".join(report["failures"]) + f"\nsimulator log: {report['log']}",
                    pytrace=False)
    (entry,) = report["cases"]
    assert entry["steps"] == case.steps + case.steps_after_clear
