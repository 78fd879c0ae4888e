"""On-chip learning over the serial link, in Verilator: the simulated board learns.

One cocotb run of ``sim.test_learning_link`` on the learning core of
:data:`sim.learning_link.LEARNING_LINK_VARIANT` (built once, ``sim_build/link-learning-*``):
``PING`` rebuilds the core's parameters, learning ``STEP`` frames keep the core in lockstep
with the golden model, broken frames in mid-sample (lost bytes, a frame cut short, a
corrupted byte) raise clear errors and change nothing, and the online learning demo of
``python -m host.demo`` learns the ``rates`` task: bit-exact with the golden model, and
clearly above chance.
"""

from __future__ import annotations

import pytest

from sim.learning_link import LINK_TESTS, run_learning_link

#: The demo run of the test: small enough for about a minute of simulation.
DEMO_OPTIONS = {"task": "rates", "n_train": 40, "n_test": 32, "steps": 20, "hidden": 16,
                "seed": 0, "check": True, "progress": False}


@pytest.mark.sim
@pytest.mark.verilator
def test_learning_over_the_link(require_simulator):
    require_simulator("verilator")
    report = run_learning_link(LINK_TESTS, demo=DEMO_OPTIONS, run_name="pytest")
    if report["failures"]:
        pytest.fail("\n".join(report["failures"]), pytrace=False)
    assert set(report["tests"]) == set(LINK_TESTS), f"tests run: {sorted(report['tests'])}"
    faults = report["results"]["learning_faults"]
    assert faults["learning_steps"] > 0
    result = report["results"]["demo"]
    assert result["golden_match"], f"the board's learning differs from the golden model: {result}"
    assert result["learn_count"] == result["learning_steps"]
    # Four classes: chance is 25 %; one pass over 40 samples reaches 62 % (golden model).
    assert result["accuracy_after"] >= result["chance"] + 0.2, result
    assert result["accuracy_after"] > result["accuracy_before"] + 0.15, result
