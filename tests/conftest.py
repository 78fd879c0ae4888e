"""Shared pytest configuration: markers and simulator availability.

Markers (also declared in ``pyproject.toml``; registered here as well so this directory
works on its own):

- ``sim``: runs an HDL simulator through cocotb;
- ``icarus`` / ``verilator``: the simulator a test runs on (``-m verilator`` selects one);
- ``lockstep``: compares the RTL with the golden model step by step.

A simulator test is skipped when its simulator is not installed, unless the environment
variable ``DELAYCORE_REQUIRE_SIMULATORS=1`` is set (as CI should), in which case it fails
with the installation hint.
"""

from __future__ import annotations

import os

import pytest

MARKERS = {
    "sim": "cocotb simulator tests (need iverilog or verilator)",
    "icarus": "runs on the Icarus Verilog simulator",
    "verilator": "runs on the Verilator simulator",
    "lockstep": "RTL compared with the golden model every step",
}


def pytest_configure(config):
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def _require_simulator(simulator: str) -> None:
    from sim.build import SimulatorNotFoundError, simulator_environment

    try:
        simulator_environment(simulator)
    except SimulatorNotFoundError as err:
        if os.environ.get("DELAYCORE_REQUIRE_SIMULATORS", "") not in ("", "0"):
            pytest.fail(str(err), pytrace=False)
        pytest.skip(str(err))


@pytest.fixture
def require_simulator():
    """Function ``(simulator)`` that makes a simulator usable, or skips the test.

    With ``DELAYCORE_REQUIRE_SIMULATORS=1`` a missing simulator fails the test instead.
    """
    return _require_simulator
