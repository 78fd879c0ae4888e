"""Lockstep tests: the generated core against the golden model, in Icarus and Verilator.

Each core variant of :data:`sim.variants.CORE_VARIANTS` used here is built once per
simulator (``sim_build/``, reused across runs while the Verilog is unchanged). Each test runs
one random network configuration of :func:`sim.cases.lockstep_cases` for 200 steps, clears
the core and runs 40 more, comparing ``v``, ``z`` and ``y`` with
:class:`golden.model.GoldenCore` after every step. Test ids read
``<simulator>-<variant><n>_<description>``; a failure names the step, neuron and field,
and the seed to reproduce it.

Variant N (current synapses and adaptive threshold) runs the cases of
:func:`sim.cases.neuron_option_cases` and also compares ``c`` and ``a`` every step.
Variant K (a recurrent kernel of shared taps) runs those of :func:`sim.cases.kernel_cases`.

Select one simulator with ``-m icarus`` or ``-m verilator``; ``-k A07`` runs one case.
"""

from __future__ import annotations

import pytest

from sim.build import HDL_CLOCK_IS_FASTER, SIMULATORS, run_cocotb
from sim.cases import cases_to_json, kernel_cases, lockstep_cases, neuron_option_cases
from sim.variants import get_variant

VARIANTS = ("A", "B", "S", "N", "K")
#: Variant S differs from B only in its synapse memory: a few cases cover it.
SUBSETS = {"S": ("S00", "S03", "S08")}


def _params():
    for simulator in SIMULATORS:
        for name in VARIANTS:
            variant = get_variant(name)
            capacity = (variant.params["max_in"], variant.params["max_hidden"],
                        variant.params["max_out"])
            if name == "N":
                cases = neuron_option_cases(name, capacity)
            elif name == "K":
                cases = kernel_cases(name, capacity, variant.params["rec_kernel_taps"])
            else:
                cases = lockstep_cases(name, capacity)
            for case in cases:
                if name in SUBSETS and not case.name.startswith(SUBSETS[name]):
                    continue
                yield pytest.param(
                    simulator, name, case, id=f"{simulator}-{case.name}",
                    marks=[getattr(pytest.mark, simulator)])


@pytest.mark.sim
@pytest.mark.lockstep
@pytest.mark.parametrize("simulator, variant_name, case", list(_params()))
def test_lockstep(simulator, variant_name, case, require_simulator):
    require_simulator(simulator)
    variant = get_variant(variant_name)
    report = run_cocotb(simulator, variant, "sim.test_lockstep",
                        extra_env={"DELAYCORE_CASES": cases_to_json([case])},
                        run_name=f"lockstep-{case.name}",
                        hdl_clock=HDL_CLOCK_IS_FASTER[simulator])
    if report["failures"]:
        pytest.fail("\n".join(report["failures"]) + f"\nsimulator log: {report['log']}\n"
                    f"rerun: python -m pytest tests/test_lockstep.py -k '{simulator}-{case.name}'",
                    pytrace=False)
    (entry,) = report["cases"]
    assert entry["steps"] == case.steps + case.steps_after_clear
