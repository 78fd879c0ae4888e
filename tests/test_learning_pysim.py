"""The learning engine in Amaranth's simulator against the golden model.

Small random networks with random learning rules are loaded through the configuration bus;
every step (learning or not) is compared with :class:`golden.model.GoldenCore`: spikes,
membranes and readouts, every synapse word and axonal delay, and the trace rings. The HDL
simulators run the same comparison on larger cores and many more steps
(``tests/test_learning_lockstep.py``); this test needs nothing but Amaranth and is where a
new datapath is debugged first.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator
from test_rtl_core_pysim import (
    Bus,
    pack,
    pulse,
    run_step,
    state_addresses,
    state_difference,
    wait_idle,
)

from golden.learning import LearningRule
from golden.model import GoldenCore
from golden.random import random_network, random_rule, random_spikes
from rtl import memory_map as mm
from rtl.core import Core
from rtl.params import CoreParams
from sim.learning_check import LearningProbe, step_cycle_bounds


def run_learning(params, net, spikes, labels, learn, *, zero_skip=True, trace_depth=None,
                 check_cycles=None):
    """Load ``net``, run ``spikes`` with the labels and learning mask, compare every step.

    ``check_cycles(t, cycles, golden)`` is called with ``CTRL.CYCLES`` after each step.
    """
    golden = GoldenCore(net)
    probe = LearningProbe(net, params, trace_depth)
    writes = mm.network_writes(net, params)
    spikes = np.asarray(spikes)
    n_hidden, n_out = net.n_hidden, net.n_out
    addresses = state_addresses(n_hidden, n_out)
    ctrl = {name: mm.address(mm.REGION_CTRL, getattr(mm, f"CTRL_{name}"))
            for name in ("FLAGS", "LABEL", "LEARN_COUNT", "CYCLES")}
    failure = []

    async def testbench(ctx, dut):
        bus = Bus(ctx, dut)
        for addr, data in writes:
            await bus.write(addr, data)
        await bus.write(ctrl["LEARN_COUNT"], 0)
        if not zero_skip:
            flags = await bus.read(ctrl["FLAGS"])
            await bus.write(ctrl["FLAGS"], flags | mm.FLAG_NO_ZERO_SKIP)
        await pulse(ctx, dut.clear)
        await wait_idle(ctx, dut)
        for t, s in enumerate(spikes):
            label, learning = int(labels[t]), bool(learn[t])
            await bus.write(ctrl["LABEL"], label)
            want = golden.step(s, labels=label, learn=learning)
            ctx.set(dut.learn, learning)
            await run_step(ctx, dut, pack(s))
            ctx.set(dut.learn, 0)
            difference = await state_difference(ctx, dut, bus, addresses, n_hidden, want)
            if difference:
                failure.append(f"step {t}: {difference}")
                return
            words = await bus.read_many(probe.parameter_addresses())
            problem = probe.check_parameters(golden, words)
            if problem is None:
                words = await bus.read_many(probe.trace_addresses(golden))
                problem = probe.check_traces(golden, words)
            if problem is not None:
                failure.append(f"step {t} ({'learning' if learning else 'no learning'}): "
                               f"{problem}")
                return
            count = await bus.read(ctrl["LEARN_COUNT"])
            if count != int(golden.learn_count[0]):
                failure.append(f"step {t}: LEARN_COUNT {count}, golden "
                               f"{int(golden.learn_count[0])}")
                return
            cycles = await bus.read(ctrl["CYCLES"])
            least, most = step_cycle_bounds(net, params, learning)
            if not zero_skip:
                least = most
            if not least <= cycles <= most:
                failure.append(f"step {t}: {cycles} cycles, CoreParams predicts "
                               f"{least}..{most}")
                return
            if check_cycles is not None:
                check_cycles(t, cycles, golden)

    dut = Core(params)
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        await testbench(ctx, dut)

    sim.add_testbench(bench)
    sim.run()
    assert not failure, failure[0]
    return golden


def learning_case(seed, params, *, n_in, n_hidden, n_out, recurrent, kinds, errors=("mse",),
                  heavy=False):
    rng = np.random.default_rng(seed)
    net = random_network(
        rng, n_in=n_in, n_hidden=n_hidden, n_out=n_out, recurrent=recurrent,
        delay_in=kinds[0], delay_rec=kinds[1], delay_out=kinds[2], d_max=params.d_max,
        weight_bits=params.weight_bits, weight_frac=params.weight_frac,
        delay_frac=params.delay_frac, decay_bits=params.decay_bits, v_bits=params.v_bits,
        y_bits=params.y_bits, saturating=heavy)
    rule = random_rule(rng, net, heavy, trace_bits=params.trace_bits, u_bits=params.u_bits,
                       l_bits=params.l_bits, max_half_width=params.kernel_max_half_width,
                       errors=errors)
    return dataclasses.replace(net, learning=rule), rng


SMALL = CoreParams(max_in=3, max_hidden=3, max_out=2, d_max=8, weight_bits=8, weight_frac=2,
                   delay_frac=2, recurrent=True, learning=True, trace_bits=6, u_bits=6,
                   l_bits=10, y_bits=10, v_bits=10, kernel_max_half_width=2)

CASES = [
    # seed, kinds (in, rec, out), errors
    (1, ("synaptic", "synaptic", "synaptic"), ("mse",)),
    (2, ("axonal", "axonal", "axonal"), ("mse",)),
    (3, ("none", "synaptic", "axonal"), ("softmax",)),
    (4, ("axonal", "none", "synaptic"), ("mse", "softmax")),
    (5, ("synaptic", "axonal", "none"), ("softmax",)),
]


@pytest.mark.parametrize("seed, kinds, errors", CASES, ids=[f"seed{c[0]}-" + "-".join(c[1])
                                                             for c in CASES])
def test_learning_pysim(seed, kinds, errors):
    net, rng = learning_case(seed, SMALL, n_in=3, n_hidden=3, n_out=2, recurrent=True,
                             kinds=kinds, errors=errors, heavy=seed % 2 == 0)
    steps = 24
    spikes = random_spikes(rng, steps, net.n_in, 0.4)
    labels = rng.integers(0, net.n_out, size=steps)
    learn = rng.random(steps) < 0.7
    run_learning(SMALL, net, spikes, labels, learn)


def test_zero_skip_changes_no_result():
    """The skip-off flag visits every post neuron: the same results, more cycles."""
    net, rng = learning_case(7, SMALL, n_in=3, n_hidden=3, n_out=2, recurrent=True,
                             kinds=("synaptic", "synaptic", "axonal"))
    psi = np.zeros(256, dtype=np.int64)
    psi[::3] = 200  # most hidden post factors are 0
    net = dataclasses.replace(net, learning=dataclasses.replace(
        net.learning, psi_lut=psi, learn_weights=True, learn_delays=True))
    steps = 12
    spikes = random_spikes(rng, steps, net.n_in, 0.5)
    labels = rng.integers(0, net.n_out, size=steps)
    learn = np.ones(steps, dtype=bool)
    cycles = {}

    def record(skip):
        def check(t, value, golden):
            cycles.setdefault(skip, []).append(value)
        return check

    for skip in (True, False):
        run_learning(SMALL, net, spikes, labels, learn, zero_skip=skip,
                     check_cycles=record(skip))
    assert sum(cycles[False]) > sum(cycles[True])


def test_rule_without_learning_core_widths_is_refused():
    net, _ = learning_case(8, SMALL, n_in=2, n_hidden=2, n_out=2, recurrent=True,
                           kinds=("synaptic", "none", "none"))
    wider = dataclasses.replace(net, learning=dataclasses.replace(net.learning, trace_bits=8,
                                                                  trace_shift=1))
    with pytest.raises(ValueError, match=r"learning\.trace_bits = 8 differs"):
        SMALL.check_network(wider)
    no_delays = dataclasses.replace(SMALL, delay_learning=False)
    rule = dataclasses.replace(net.learning, learn_delays=True)
    with pytest.raises(ValueError, match="learn_delays = True needs a core built with "
                                         "delay_learning=True"):
        no_delays.check_network(dataclasses.replace(net, learning=rule))
    truncating = dataclasses.replace(SMALL, stochastic_rounding=False)
    rule = dataclasses.replace(net.learning, rounding="stochastic")
    with pytest.raises(ValueError, match="rounding = 'stochastic' needs a core built with "
                                         "stochastic_rounding=True"):
        truncating.check_network(dataclasses.replace(net, learning=rule))
    assert not CoreParams.for_network(dataclasses.replace(
        net, learning=dataclasses.replace(rule, rounding="truncate"))).stochastic_rounding
    inference = dataclasses.replace(SMALL, learning=False)
    inference.check_network(net)  # an inference core ignores the rule
    assert LearningRule  # the rule class is what the network carries


EDGE_CORES = {
    # d_max = 1: no delays to learn beyond 0, kernel of one tap, 2-slot trace rings.
    "dmax1": (CoreParams(max_in=2, max_hidden=2, max_out=1, d_max=1, recurrent=True,
                         learning=True, trace_bits=6, u_bits=5, l_bits=8, y_bits=10,
                         v_bits=10), (1, 1, 1), ("none", "none", "none")),
    # d_max = 64: 128-slot trace rings, the widest kernel, fraction bits.
    "dmax64": (CoreParams(max_in=2, max_hidden=3, max_out=2, d_max=64, recurrent=True,
                          learning=True, delay_frac=1, weight_frac=1, kernel_max_half_width=7,
                          trace_bits=10, u_bits=12, l_bits=20), (2, 3, 2),
               ("synaptic", "axonal", "synaptic")),
    # The smallest engine: no delay learning, no softmax, no random feedback, feedforward.
    "lean": (CoreParams(max_in=3, max_hidden=2, max_out=2, d_max=8, learning=True,
                        delay_learning=False, softmax=False, random_feedback=False),
             (3, 2, 2), ("axonal", "none", "synaptic")),
    # The narrowest widths: 3-bit weights, 2-bit traces, 4-bit learning signal.
    "tiny": (CoreParams(max_in=1, max_hidden=1, max_out=1, d_max=4, recurrent=True,
                        learning=True, weight_bits=3, v_bits=5, y_bits=5, l_bits=4,
                        trace_bits=2, u_bits=2), (1, 1, 1), ("synaptic", "axonal", "axonal")),
    # Trace rings in SPRAM (the behavioural model of the block), with and without delay
    # learning: the single port changes the trace schedule, never a result.
    "spram": (CoreParams(max_in=3, max_hidden=3, max_out=2, d_max=16, recurrent=True,
                         learning=True, trace_memory="spram", synapse_memory="spram",
                         kernel_max_half_width=3), (3, 3, 2),
              ("synaptic", "axonal", "synaptic")),
    "lean_spram": (CoreParams(max_in=3, max_hidden=2, max_out=2, d_max=8, learning=True,
                              delay_learning=False, softmax=False, random_feedback=False,
                              stochastic_rounding=False, trace_memory="spram"), (3, 2, 2),
                   ("axonal", "none", "synaptic")),
    # The UP5K board's engine: delay learning in SPRAM, truncation only.
    "truncate_spram": (CoreParams(max_in=3, max_hidden=3, max_out=2, d_max=8, recurrent=True,
                                  learning=True, softmax=False, random_feedback=False,
                                  stochastic_rounding=False, trace_memory="spram",
                                  synapse_memory="spram"), (3, 3, 2),
                       ("axonal", "synaptic", "axonal")),
}


@pytest.mark.parametrize("name", list(EDGE_CORES))
def test_learning_pysim_edge_cores(name):
    params, sizes, kinds = EDGE_CORES[name]
    net, rng = learning_case(11, params, n_in=sizes[0], n_hidden=sizes[1], n_out=sizes[2],
                             recurrent=params.recurrent, kinds=kinds,
                             errors=("mse", "softmax") if params.softmax else ("mse",))
    rule = net.learning
    if not params.delay_learning:
        rule = dataclasses.replace(rule, learn_delays=False)
    if not params.random_feedback:
        rule = dataclasses.replace(rule, feedback="symmetric", b_fb=None)
    if not params.stochastic_rounding:
        rule = dataclasses.replace(rule, rounding="truncate")
    net = dataclasses.replace(net, learning=rule)
    steps = 30
    spikes = random_spikes(rng, steps, net.n_in, 0.5)
    labels = rng.integers(0, net.n_out, size=steps)
    learn = rng.random(steps) < 0.8
    run_learning(params, net, spikes, labels, learn)


def _neuron_core(synapse_current, adaptation, **overrides):
    return CoreParams(**{**dict(
        max_in=3, max_hidden=3, max_out=2, d_max=8, weight_bits=8, weight_frac=2, delay_frac=2,
        decay_bits=10, recurrent=True, learning=True, trace_bits=6, u_bits=6, l_bits=10,
        y_bits=10, v_bits=10, kernel_max_half_width=2, synapse_current=synapse_current,
        adaptation=adaptation, neuron_learning=True, elig_bits=16), **overrides})


NEURON_LEARNING_CASES = {
    # name: (current synapses, adaptation, LearningCase fields)
    "both_stochastic": (True, True, dict(seed=37, rounding="stochastic")),
    "adaptation_saturate_noskip": (False, True, dict(seed=21, rounding="stochastic",
                                                      saturate=True, zero_skip=False)),
    "current_truncate": (True, False, dict(seed=28, rounding="truncate")),
    # Only the neuron parameters learn, one readout: the updates are shorter than the
    # parameter pipeline, whose end then sets the cycle count (checked exactly: no skip).
    "both_neurons_only": (True, True, dict(seed=28, n_out=1, learn="neurons",
                                           zero_skip=False, rounding="stochastic")),
}


@pytest.mark.parametrize("name", list(NEURON_LEARNING_CASES))
def test_neuron_parameters_learn_like_golden(name):
    """beta, coupling and rho learn (model.md section 11) as in the golden model: compared
    after every step with the weights, delays and traces."""
    from sim.learning_cases import LearningCase

    current, adaptation, fields = NEURON_LEARNING_CASES[name]
    params = _neuron_core(current, adaptation)
    case = LearningCase(**{**dict(
        name=name, n_in=3, n_hidden=3, n_out=2, samples=(60,), density=0.4,
        learn_neurons=True, synapse="current" if current else "delta",
        adaptation="threshold" if adaptation else "none"), **fields})
    net = case.network(params)
    (sample,) = case.inputs()
    labels = np.full(len(sample["spikes"]), sample["label"])
    golden = run_learning(params, net, sample["spikes"], labels, sample["learn"],
                          zero_skip=case.zero_skip)
    # The comparison saw learning: every learned parameter kind moved somewhere.
    for field in net.neuron_parameters():
        assert (golden.neurons[field][0] != getattr(net, field)).any(), field


def test_neuron_learning_needs_the_core_option():
    from sim.learning_cases import LearningCase

    params = _neuron_core(True, True)
    net = LearningCase(name="x", seed=1, n_in=3, n_hidden=3, n_out=2, learn_neurons=True,
                       synapse="current", adaptation="threshold").network(params)
    plain = dataclasses.replace(params, neuron_learning=False)
    with pytest.raises(ValueError, match=r"learn_neurons = True needs a core built with "
                                         r"neuron_learning=True"):
        plain.check_network(net)
    with pytest.raises(ValueError, match=r"learning\.elig_bits = 16 differs from the core's "
                                         r"elig_bits = 20"):
        dataclasses.replace(params, elig_bits=20).check_network(net)
    with pytest.raises(ValueError, match="neuron_learning=True needs learning=True"):
        dataclasses.replace(params, learning=False)
    with pytest.raises(ValueError, match="elig_bits must be in \\[8, 32\\], got 7"):
        dataclasses.replace(params, elig_bits=7)
    chosen = CoreParams.for_network(net)
    assert chosen.neuron_learning and chosen.elig_bits == 16


def test_every_option_learns_together():
    """Current synapses, the adaptive threshold and a recurrent kernel on one core: weights,
    kernel taps, delays, beta, coupling and rho all learn, as in the golden model."""
    from sim.learning_cases import LearningCase

    params = _neuron_core(True, True, max_hidden=4, rec_kernel_taps=3)
    case = LearningCase(name="all", seed=37, n_in=3, n_hidden=4, n_out=2, samples=(60,),
                        density=0.4, learn_neurons=True, synapse="current",
                        adaptation="threshold", rec_kernel=3, delay_rec="axonal",
                        rounding="stochastic")
    net = case.network(params)
    (sample,) = case.inputs()
    labels = np.full(len(sample["spikes"]), sample["label"])
    golden = run_learning(params, net, sample["spikes"], labels, sample["learn"])
    assert (golden.projections["rec"].w[0] != net.w_rec).any()
    for field in net.neuron_parameters():
        assert (golden.neurons[field][0] != getattr(net, field)).any(), field
