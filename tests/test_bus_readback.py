"""The memory map read back through the bus, on Icarus and Verilator (``sim/test_bus_readback.py``).

Register readback with field widths, clamping and sign extension; zero reads and ignored
writes outside the map; the spike rings (``HIST``) after a lockstep run; bus accesses
ignored while a step runs. One simulator run per variant and simulator.
"""

from __future__ import annotations

import pytest

from sim.build import HDL_CLOCK_IS_FASTER, SIMULATORS, run_cocotb
from sim.variants import get_variant

VARIANTS = ("A", "B")


@pytest.mark.sim
@pytest.mark.parametrize("simulator", [pytest.param(s, marks=getattr(pytest.mark, s))
                                       for s in SIMULATORS])
@pytest.mark.parametrize("variant_name", VARIANTS)
def test_bus_readback(simulator, variant_name, require_simulator):
    require_simulator(simulator)
    report = run_cocotb(simulator, get_variant(variant_name), "sim.test_bus_readback",
                        extra_env={"DELAYCORE_SEED": "11"}, run_name="bus-readback",
                        hdl_clock=HDL_CLOCK_IS_FASTER[simulator])
    if report["failures"]:
        pytest.fail("\n".join(report["failures"]) + f"\nsimulator log: {report['log']}",
                    pytrace=False)
    assert report["checks"] == ["registers", "out_of_range", "hist_after_steps", "busy_bus"]
