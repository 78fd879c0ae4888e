"""Learning lockstep tests: the learning engine against the golden model, Icarus and Verilator.

Each learning core variant of :data:`sim.learning_cases.LEARNING_VARIANTS` is built once per
simulator (``sim_build/``) and each test loads one random network with a random learning rule
(:func:`sim.learning_cases.learning_cases`) through the bus and runs several samples, at least
200 learning steps in all. After every step the spikes, membranes, readouts and the newest
trace slots are compared with :class:`golden.model.GoldenCore`; after every learning step also
every synapse word, every axonal delay and ``LEARN_COUNT``; after every sample every live
trace slot. A failure names the step, the field (``w_rec``, ``d_axon_in``, ``x_hidden``, ...),
the index and the seed. Test ids read ``<simulator>-<case>``.

Icarus runs a learning core about ten times slower than Verilator, so it runs the subset
:data:`ICARUS_CASES` (saturating rates with truncation and axonal sums over every hidden
neuron; a small recurrent network with stochastic rounding); Verilator runs every case of
``LA`` and ``LB``. The variant ``LS`` (``LB`` with synapse words and trace rings in iCE40
SPRAM) runs :data:`~sim.learning_cases.SPRAM_CASES` on Verilator and one of them on Icarus.
The variant ``LK`` (recurrent weights as a kernel of five shared taps) runs
:func:`~sim.learning_cases.kernel_learning_cases` on Verilator and two of them on Icarus (a
shorter kernel without recurrent delays, saturating and truncating; axonal recurrent delays
without the zero skip); its taps are compared as ``w_rec[k]``, and the core taps around a
shorter kernel must stay 0.
The cases must change weights and delays, reach the weight limits and clamp delays at 0 and
``d_max - 1`` (checked from the reports). The tests of the two variants
alternate, so that parallel workers build both variants at the same time.

The variant ``LN`` (current synapses and the adaptive threshold, whose state is compared
too, and the learning of their parameters) runs
:func:`~sim.learning_cases.neuron_learning_cases`: the cases where ``beta``, ``coupling`` and
``rho`` learn (compared after every learning step with the weights and delays) by default,
on Verilator and one of them on Icarus; those where only weights and delays learn are
opt-in with ``-m slow``.

Select one simulator with ``-m icarus`` or ``-m verilator``; ``-k LA02`` runs one case.
"""

from __future__ import annotations

import itertools

import pytest

from sim.build import HDL_CLOCK_IS_FASTER, SIMULATORS, run_cocotb
from sim.learning_cases import (
    LEARNING_VARIANTS,
    NEURON_LEARNING_VARIANT,
    SPRAM_CASES,
    cases_to_json,
    learning_cases,
    neuron_learning_cases,
)

#: Cases run on Icarus (all cases of LA, LB and LK run on Verilator).
ICARUS_CASES = ("LB03", "LB07", "LS03", "LK01", "LK02")
#: Learning steps each case must reach.
MIN_LEARNING_STEPS = 200


def _cases(variant_name):
    params = LEARNING_VARIANTS[variant_name].params
    return learning_cases(variant_name,
                          (params["max_in"], params["max_hidden"], params["max_out"]))


def _params():
    for simulator in SIMULATORS:
        # Round robin over the variants: LA00, LB00, LA01, LB01, ...
        columns = [[(name, case) for case in _cases(name)] for name in LEARNING_VARIANTS]
        for row in itertools.zip_longest(*columns):
            for name, case in filter(None, row):
                if simulator == "icarus" and not case.name.startswith(ICARUS_CASES):
                    continue
                if name == "LS" and not case.name.startswith(SPRAM_CASES):
                    continue
                yield pytest.param(simulator, name, case, id=f"{simulator}-{case.name}",
                                   marks=[getattr(pytest.mark, simulator)])


@pytest.mark.sim
@pytest.mark.lockstep
@pytest.mark.parametrize("simulator, variant_name, case", list(_params()))
def test_learning_lockstep(simulator, variant_name, case, require_simulator):
    require_simulator(simulator)
    _run_case(simulator, LEARNING_VARIANTS[variant_name], case)


#: Neuron-parameter learning cases run on Icarus.
ICARUS_NEURON_CASES = ("LN00", "LN05")


def _neuron_params():
    variant = NEURON_LEARNING_VARIANT.params
    for case in neuron_learning_cases((variant["max_in"], variant["max_hidden"],
                                       variant["max_out"])):
        for simulator in SIMULATORS:
            if simulator == "icarus" and not case.name.startswith(ICARUS_NEURON_CASES):
                continue
            marks = [getattr(pytest.mark, simulator)]
            if not case.learn_neurons:
                marks.append(pytest.mark.slow)   # weights and delays only: opt-in
            yield pytest.param(simulator, case, id=f"{simulator}-{case.name}", marks=marks)


@pytest.mark.sim
@pytest.mark.lockstep
@pytest.mark.parametrize("simulator, case", list(_neuron_params()))
def test_learning_lockstep_neuron_options(simulator, case, require_simulator):
    """Weights and delays learn with current synapses and the adaptive threshold, and
    (cases with ``learn_neurons``) beta, coupling and rho with them or alone."""
    require_simulator(simulator)
    _run_case(simulator, NEURON_LEARNING_VARIANT, case)


def _run_case(simulator, variant, case):
    report = run_cocotb(simulator, variant, "sim.test_learning",
                        extra_env={"DELAYCORE_LEARNING_CASES": cases_to_json([case])},
                        run_name=f"learning-{case.name}",
                        hdl_clock=HDL_CLOCK_IS_FASTER[simulator])
    if report["failures"]:
        pytest.fail("\n".join(report["failures"]) + f"\nsimulator log: {report['log']}\n"
                    f"rerun: python -m pytest tests/test_learning_lockstep.py "
                    f"-k '{simulator}-{case.name}'", pytrace=False)
    (entry,) = report["cases"]
    assert entry["steps"] == sum(case.samples)
    assert entry["learning_steps"] >= MIN_LEARNING_STEPS
    # The case exercised what it is there for (what the golden model learned, which the core
    # matched bit for bit).
    activity, rule = entry["activity"], entry["rule"]
    if rule["learn_weights"]:
        assert activity["w_changed"] > 0, activity
    if rule["learn_delays"]:
        assert activity["d_changed"] > 0, activity
    for name in rule["learn_neurons"]:
        assert activity[f"{name}_changed"] > 0, activity
        if case.saturate:
            assert activity[f"{name}_at_limit"] > 0, activity
    if case.saturate and (rule["learn_weights"] or rule["learn_delays"]):
        assert activity["w_at_limit"] > 0 and activity["d_at_zero"] + activity["d_at_top"] > 0
    # Learning steps cost more cycles than plain steps; without the zero skip every learning
    # step visits every synapse, so they all take the same time.
    cycles = entry["cycles"]
    assert cycles["learning"]["min"] > cycles["inference"]["max"]
    if not case.zero_skip:
        assert cycles["learning"]["min"] == cycles["learning"]["max"]


def test_cases_cover_the_rule():
    """Across the variants the cases reach every mode the engine has."""
    seen = set()
    for name in LEARNING_VARIANTS:
        params = LEARNING_VARIANTS[name].core_params()
        for case in _cases(name):
            net = case.network(params)
            params.check_network(net)
            rule = net.learning
            seen.update({("error", rule.error), ("rounding", rule.rounding),
                         ("feedback", rule.feedback), ("weights", rule.learn_weights),
                         ("delays", rule.learn_delays), ("recurrent", net.recurrent),
                         ("skip", case.zero_skip)})
            for proj in net.projections():
                seen.add((proj, net.delay_kind(proj)))
    for item in [("error", "mse"), ("error", "softmax"), ("rounding", "truncate"),
                 ("rounding", "stochastic"), ("feedback", "symmetric"), ("feedback", "random"),
                 ("weights", True), ("delays", True), ("recurrent", True), ("recurrent", False),
                 ("skip", True), ("skip", False)]:
        assert item in seen, item
    for proj in ("in", "rec", "out"):
        for kind in ("synaptic", "axonal"):
            assert (proj, kind) in seen, (proj, kind)
    icarus = [c for n in LEARNING_VARIANTS for c in _cases(n) if c.name.startswith(ICARUS_CASES)]
    assert len(icarus) == len(ICARUS_CASES)
