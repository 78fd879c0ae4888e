"""cocotb module for ``bench/sim_speed.py``: time steps of one network on the core.

Environment variables:

``DELAYCORE_VARIANT``
    JSON of the :class:`sim.variants.CoreVariant` the core was built from.
``DELAYCORE_BENCH``
    JSON with ``case`` (a :class:`sim.cases.LockstepCase` dictionary) and ``steps``.
``DELAYCORE_REPORT``
    Path of the JSON report: wall seconds of the timed loops, clocks per step, failures.

Two loops are timed from a cleared core: ``step`` (start, wait for ``done``, sample
``out_spikes``) and ``step_readback`` (the same plus reading every ``v`` and ``y`` over the
bus, which is what the lockstep test does each step). The spikes of the first loop are
compared with the golden model afterwards, so a fast but wrong core does not pass unnoticed.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time

from sim.cases import LockstepCase
from sim.tb import CLOCK_PERIOD_NS, CoreTB, spikes_to_int
from sim.variants import CoreVariant


async def _timed_steps(tb: CoreTB, spikes: np.ndarray, readback: bool) -> dict:
    n_hidden = tb.net.n_hidden
    z = np.zeros((len(spikes), n_hidden), dtype=bool)
    sim_start = get_sim_time("ns")
    wall_start = time.perf_counter()
    for t, row in enumerate(spikes):
        if readback:
            observed = await tb.step(row, step=t)
            z[t] = observed.z
        else:
            observed = await tb.run_step(spikes_to_int(row))
            z[t] = [(observed >> i) & 1 for i in range(n_hidden)]
    wall = time.perf_counter() - wall_start
    cycles = (get_sim_time("ns") - sim_start) / CLOCK_PERIOD_NS
    return {"steps": len(spikes), "wall_seconds": wall, "cycles": cycles, "z": z}


def _write_report(path: str, report: dict) -> None:
    with open(path, "w") as handle:
        json.dump(report, handle, indent=1)


@cocotb.test()
async def bench_steps(dut):
    """Time ``steps`` steps with and without reading the state back."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    settings = json.loads(os.environ["DELAYCORE_BENCH"])
    case = LockstepCase.from_dict(settings["case"])
    steps = int(settings["steps"])
    report = {"failures": [], "loops": {}}
    tb = CoreTB(dut, variant.core_params(), log=dut._log)
    try:
        await tb.start()
        net = case.network(tb.params)
        spikes = case.spikes()[0]
        spikes = np.resize(spikes, (steps, net.n_in))  # repeat the pattern to any length
        await tb.load(net)
        for name, readback in (("step", False), ("step_readback", True)):
            await tb.clear()
            loop = await _timed_steps(tb, spikes, readback)
            report["loops"][name] = {k: v for k, v in loop.items() if k != "z"}
            if name == "step":
                from golden.model import run

                expected = run(net, spikes)["z"]
                if not np.array_equal(loop["z"], expected):
                    t = int(np.flatnonzero((loop["z"] != expected).any(axis=1))[0])
                    report["failures"].append(f"hidden spikes differ from the golden model "
                                              f"at step {t} (case {case.name})")
        report["cycles_register"] = await tb.read_ctrl("CYCLES")
    finally:
        _write_report(os.environ["DELAYCORE_REPORT"], report)
    assert not report["failures"], "; ".join(report["failures"])
