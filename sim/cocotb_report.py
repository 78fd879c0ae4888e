"""JSON report of a cocotb test module whose tests each run once (the host link modules).

:class:`TestReport` keeps, per test, its wall time, its simulated time and its failure, and
rewrites the file named by ``DELAYCORE_REPORT`` after every test, so the pytest side finds a
report even when the simulator stops part way. ``TestReport.record(name)`` is the decorator
that turns an ``async def test(dut)`` into a recorded ``cocotb.test``.
"""

from __future__ import annotations

import functools
import json
import os
import time

import cocotb
from cocotb.simtime import get_sim_time

__all__ = ["TestReport"]


class TestReport:
    """Report of a test module: ``tests`` (name -> entry), ``failures`` and any extra keys.

    Parameters
    ----------
    **extra
        Further top-level keys and their initial values (e.g. ``results={}`` for measured
        figures the tests add).
    """

    def __init__(self, **extra):
        self.data: dict = {"tests": {}, "failures": [], **extra}

    def __getitem__(self, key: str):
        return self.data[key]

    def write(self) -> None:
        """Write the report to ``DELAYCORE_REPORT`` (nothing when it is not set)."""
        path = os.environ.get("DELAYCORE_REPORT")
        if path:
            with open(path, "w") as handle:
                json.dump(self.data, handle, indent=1)

    def record(self, name: str):
        """Decorator: run ``test`` as the cocotb test ``name``, timed and recorded."""
        def wrap(test):
            @functools.wraps(test)
            async def wrapper(dut):
                started = time.perf_counter()
                sim_start = get_sim_time("ns")
                entry = {"failure": None}
                try:
                    await test(dut)
                except BaseException as err:
                    entry["failure"] = f"{name}: {type(err).__name__}: {err}".splitlines()[0]
                    self.data["failures"].append(entry["failure"])
                    raise
                finally:
                    entry["seconds"] = time.perf_counter() - started
                    entry["sim_ns"] = get_sim_time("ns") - sim_start
                    self.data["tests"][name] = entry
                    self.write()
            wrapper.__name__ = name
            wrapper.__qualname__ = name
            return cocotb.test()(wrapper)
        return wrap
