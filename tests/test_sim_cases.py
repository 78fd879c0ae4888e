"""The lockstep cases cover what they claim, and the testbench's pure-Python parts work.

No simulator runs here: these tests check that the random network configurations of
``sim/cases.py`` fit their core variants and exercise every feature the lockstep test is
meant to cover (so a change to the generators cannot silently shrink the coverage), that a
scoreboard mismatch message names step, field, neuron and seed, and that the clock wrapper
keeps the core's ports.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from golden.model import run
from golden.network import PROJECTIONS
from sim.build import HDL_CLOCK_MARKER, clock_wrapper
from sim.cases import STEPS, LockstepCase, cases_from_json, cases_to_json, lockstep_cases
from sim.tb import LockstepMismatch, LockstepScoreboard, StepObservation
from sim.variants import get_variant

VARIANTS = ("A", "B")


def _cases(name):
    params = get_variant(name).core_params()
    return params, lockstep_cases(name, (params.max_in, params.max_hidden, params.max_out))


@pytest.fixture(scope="module", params=VARIANTS)
def variant_runs(request):
    """(params, [(case, network, golden outputs of the main run)]) of one variant."""
    params, cases = _cases(request.param)
    runs = []
    for case in cases:
        net = case.network(params)
        runs.append((case, net, run(net, case.spikes()[0])))
    return params, runs


def test_at_least_twenty_cases_per_simulator():
    assert sum(len(_cases(name)[1]) for name in VARIANTS) >= 20


def test_cases_round_trip_through_json():
    _, cases = _cases("A")
    assert cases_from_json(cases_to_json(cases)) == cases


def test_case_names_and_seeds_are_unique():
    all_cases = [c for name in VARIANTS for c in _cases(name)[1]]
    assert len({c.name for c in all_cases}) == len(all_cases)
    assert len({c.seed for c in all_cases}) == len(all_cases)


def test_networks_fit_their_core_and_run_long_enough(variant_runs):
    params, runs = variant_runs
    for case, net, _ in runs:
        params.check_network(net)
        assert case.steps >= STEPS >= 200
        assert case.steps_after_clear > 0


def test_every_delay_kind_on_every_projection(variant_runs):
    _, runs = variant_runs
    seen = {(proj, net.delay_kind(proj)) for _, net, _ in runs for proj in net.projections()}
    for proj in PROJECTIONS:
        for kind in ("none", "synaptic", "axonal"):
            assert (proj, kind) in seen, f"no case with {kind} delays on projection {proj}"


def test_structure_mix(variant_runs):
    params, runs = variant_runs
    nets = [net for _, net, _ in runs]
    cases = [case for case, _, _ in runs]
    assert {n.recurrent for n in nets} == {True, False}
    assert {n.reset for n in nets} == {"soft", "hard"}
    assert min(c.density for c in cases) <= 0.05 and max(c.density for c in cases) >= 0.5
    sizes = {(n.n_in, n.n_hidden, n.n_out) for n in nets}
    assert (1, 1, 1) in sizes
    assert (params.max_in, params.max_hidden, params.max_out) in sizes
    assert any(n.d_max < params.d_max for n in nets)


def test_delays_at_both_extremes(variant_runs):
    """Integer delays 0 and d_max - 1 occur on every projection, in used synapses."""
    params, runs = variant_runs
    for proj in PROJECTIONS:
        delays = [net.integer_delays(proj) for _, net, _ in runs
                  if proj in net.projections() and net.delay_kind(proj) != "none"
                  and net.d_max == params.d_max]
        values = set(np.concatenate([d.ravel() for d in delays]).tolist())
        assert {0, params.d_max - 1} <= values, f"projection {proj}"


def test_networks_are_active(variant_runs):
    """Every case spikes, so its lockstep comparison says something."""
    _, runs = variant_runs
    for case, _, out in runs:
        assert out["z"].any(), f"{case.name}: no hidden neuron ever fires"


def test_saturation_is_reached(variant_runs):
    """Some case drives the membrane and some case the readout to a saturation bound."""
    params, runs = variant_runs
    v_hi, y_hi = (1 << (params.v_bits - 1)) - 1, (1 << (params.y_bits - 1)) - 1
    assert any((out["vpre"] == v_hi).any() for _, _, out in runs)
    assert any((out["y"] == y_hi).any() for _, _, out in runs)


def test_narrow_variant_saturates_both_ways():
    params, cases = _cases("B")
    v_lo, y_lo = -(1 << (params.v_bits - 1)), -(1 << (params.y_bits - 1))
    outs = [run(c.network(params), c.spikes()[0]) for c in cases]
    assert any((out["vpre"] == v_lo).any() for out in outs)
    assert any((out["y"] == y_lo).any() for out in outs)


def test_forced_delays_modes():
    params = get_variant("B").core_params()
    base = {"name": "t", "seed": 5, "n_in": 4, "n_hidden": 3, "n_out": 2, "recurrent": True,
            "delay_in": "synaptic", "delay_rec": "axonal", "delay_out": "synaptic"}
    net = LockstepCase(**base, delays="max").network(params)
    for proj in PROJECTIONS:
        assert (net.integer_delays(proj) == params.d_max - 1).all()
    with pytest.raises(ValueError, match="delays must be"):
        LockstepCase(**base, delays="bogus").network(params)


def test_scoreboard_retune_keeps_state():
    """Retuning to the same parameters changes nothing; to new ones, only what follows."""
    params, cases = _cases("A")
    case = cases[3]
    net, spikes = case.network(params), case.spikes()[0]
    reference = run(net, spikes)
    scoreboard = LockstepScoreboard(net, "x")
    for t, row in enumerate(spikes):
        if t == case.retune_at:
            scoreboard.retune(net)
        result = scoreboard.expect(row)
        assert np.array_equal(result.v, reference["v"][t])
        assert np.array_equal(result.y, reference["y"][t])

    retuned = case.retuned_network(params)
    assert (retuned.n_in, retuned.n_hidden, retuned.delay_rec) == (
        net.n_in, net.n_hidden, net.delay_rec)
    assert not np.array_equal(retuned.w_in, net.w_in)


def _scoreboard():
    params, cases = _cases("A")
    case = cases[3]
    net = case.network(params)
    return LockstepScoreboard(net, f"case {case.name} (seed {case.seed})"), net


def test_scoreboard_accepts_matching_observation():
    scoreboard, net = _scoreboard()
    expected = scoreboard.expect(np.ones(net.n_in, dtype=np.uint8))
    scoreboard.check(StepObservation(0, expected.v, expected.z, expected.y), expected)


def test_scoreboard_message_names_step_field_neuron_and_seed():
    scoreboard, net = _scoreboard()
    expected = scoreboard.expect(np.ones(net.n_in, dtype=np.uint8))
    v, y = expected.v.copy(), expected.y.copy()
    v[4] += 1
    y[1] -= 2
    observed = StepObservation(17, v, expected.z.copy(), y)
    with pytest.raises(LockstepMismatch) as info:
        scoreboard.check(observed, expected, segment="after clear")
    message = str(info.value)
    assert "\n" not in message
    assert re.search(r"seed \d+", message)
    assert "step 17 after clear: v[4]" in message
    assert "also differ: y[1]" in message
    assert (info.value.step, info.value.field, info.value.index) == (17, "v", 4)


def test_scoreboard_reports_spikes_before_membranes():
    scoreboard, net = _scoreboard()
    expected = scoreboard.expect(np.ones(net.n_in, dtype=np.uint8))
    z, v = expected.z.copy(), expected.v.copy()
    z[6] = ~z[6]
    v[2] += 1
    with pytest.raises(LockstepMismatch) as info:
        scoreboard.check(StepObservation(0, v, z, expected.y), expected)
    assert (info.value.field, info.value.index) == ("z", 6)


def test_clock_wrapper_keeps_ports():
    core = """module delaycore_core(a, clk, b);
  input [3:0] a;
  wire [3:0] a;
  input clk;
  output b;
endmodule
"""
    text, name = clock_wrapper(core)
    assert name == "delaycore_core_hdl_clock"
    assert f"module {name}(a, b);" in text
    assert "input [3:0] a;" in text and "output b;" in text
    assert HDL_CLOCK_MARKER in text
    assert "delaycore_core core(.a(a), .clk(clk), .b(b));" in text
    with pytest.raises(ValueError, match="no port clk"):
        clock_wrapper(core.replace("clk", "ck"))
