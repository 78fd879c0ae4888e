"""The convolutional recurrent kernel in the RTL (``CoreParams.rec_kernel_taps``).

Parameters and their checks, the kernel words at the top of the synapse memory, the step
length of the band walk, the refusals, and short lockstep runs in Amaranth's simulator
against ``golden.model.GoldenCore``, with and without learning. The long lockstep runs in
Icarus and Verilator are variant K of ``tests/test_lockstep.py`` and, learning, variant LK
of ``tests/test_learning_lockstep.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_rtl_neuron_options import run_option_lockstep

from golden.network import Network
from golden.random import random_network, random_spikes
from rtl import memory_map as mm
from rtl.params import CoreParams, synapse_count
from sim.cases import LockstepCase


def kernel_network(seed=1, *, k=3, n_in=4, n_hidden=5, n_out=2, delay_rec="axonal",
                   **kwargs):
    """A small network whose recurrent weights are a kernel of ``k`` random taps."""
    rng = np.random.default_rng(seed)
    data = random_network(rng, n_in=n_in, n_hidden=n_hidden, n_out=n_out, recurrent=True,
                          delay_in="synaptic", delay_rec=delay_rec, delay_out="axonal",
                          **kwargs).to_dict()
    w_hi = 1 << (data["weight_bits"] - 1)
    data.update(rec_kernel=k, w_rec=rng.integers(-w_hi, w_hi, k).tolist())
    return Network.from_dict(data)


def test_parameters_and_checks():
    params = CoreParams(max_in=4, max_hidden=5, max_out=2, recurrent=True, rec_kernel_taps=3)
    assert params.max_synapses == 5 * 4 + 2 * 5 + 3
    assert params.kernel_base == params.max_synapses - 3
    # Band of 3 taps over 5 neurons: 2 + 3 + 3 + 3 + 2 sources.
    assert params.rec_band(5) == 13 and CoreParams(recurrent=True).rec_band(5) == 25
    assert params.step_cycles(4, 5, 2, True) == 4 + 5 * 4 + 13 + 2 + 5 + 2 * 5 + 2
    assert CoreParams().rec_kernel_taps == 0
    with pytest.raises(ValueError, match=r"^rec_kernel_taps must be 0 \(dense\) or odd in "
                                         r"\[1, 9\], got 4$"):
        CoreParams(max_hidden=5, recurrent=True, rec_kernel_taps=4)
    with pytest.raises(ValueError, match=r"^rec_kernel_taps must be in \[0, 9\], got 11$"):
        CoreParams(max_hidden=5, recurrent=True, rec_kernel_taps=11)
    with pytest.raises(TypeError, match="rec_kernel_taps must be an int"):
        CoreParams(recurrent=True, rec_kernel_taps=3.0)
    with pytest.raises(ValueError, match=r"^max_synapses must be in \[3, 65536\], got 2$"):
        CoreParams(max_hidden=5, recurrent=True, rec_kernel_taps=3, max_synapses=2)
    with pytest.raises(ValueError, match=r"^rec_kernel_taps > 0 needs recurrent=True$"):
        CoreParams(rec_kernel_taps=3)
    learning = CoreParams(max_in=4, max_hidden=5, max_out=2, recurrent=True,
                          rec_kernel_taps=3, learning=True)
    assert mm.region_words(learning)[mm.REGION_CTRL] == mm.CTRL_REC_KERNEL + 1
    assert mm.region_words(dataclasses.replace(learning, rec_kernel_taps=0))[
        mm.REGION_CTRL] == mm.CTRL_LEARN_COUNT + 1
    # The kernel pass: a band of b neurons per source (b + 6 cycles), then 2 K_c + 3.
    assert learning.kernel_update_cycles(5) == 13 + 6 * 5 + 2 * 3 + 3


def test_for_network_writes_and_refusals():
    net = kernel_network()
    assert synapse_count(net) == 5 * 4 + 2 * 5 + 3
    params = CoreParams.for_network(net)
    assert params.rec_kernel_taps == 3 and params.max_synapses == synapse_count(net)
    writes = mm.network_writes(net, params)
    syn = {a & mm.OFFSET_MASK: d for a, d in writes if a >> mm.REGION_SHIFT == mm.REGION_SYN}
    assert sorted(syn) == list(range(params.max_synapses))
    assert [mm.unpack_synapse(syn[mm.kernel_offset(net, k, params)], params)[0]
            for k in range(3)] == net.w_rec.tolist()
    assert syn[mm.synapse_offset(net, "out", 1, 4)] == mm.pack_synapse(net.w_out[1, 4], 0,
                                                                       params)
    # A shorter kernel is centred in the core's taps, zero around it.
    wide = CoreParams.for_network(net, rec_kernel_taps=7, max_synapses=40)
    syn = {a & mm.OFFSET_MASK: d for a, d in mm.network_writes(net, wide)
           if a >> mm.REGION_SHIFT == mm.REGION_SYN}
    assert [syn[wide.kernel_base + k] for k in (0, 1, 5, 6)] == [0, 0, 0, 0]
    assert mm.kernel_offset(net, 0, wide) == wide.kernel_base + 2
    with pytest.raises(ValueError, match=r"^network rec_kernel = 3 needs a core built with "
                                         r"rec_kernel_taps >= 3 \(this core: 1\)$"):
        mm.network_writes(net, CoreParams.for_network(net, rec_kernel_taps=1))
    dense = random_network(np.random.default_rng(2), n_in=4, n_hidden=5, n_out=2,
                           recurrent=True)
    with pytest.raises(ValueError, match=r"^network rec_kernel = 0 \(a dense recurrent "
                                         r"matrix\) needs a core built with rec_kernel_taps=0"):
        mm.network_writes(dense, params)
    with pytest.raises(ValueError, match="kernel_offset"):
        mm.synapse_offset(net, "rec", 0, 0)
    with pytest.raises(ValueError, match=r"network synapses = 37 exceed the core's "
                                         r"max_synapses = 36"):
        mm.network_writes(net, CoreParams.for_network(net, rec_kernel_taps=7,
                                                      max_synapses=36))
    # A network with a kernel and a learning rule gets a learning core with its taps, and
    # its loading writes the network's kernel size to CTRL.REC_KERNEL.
    from golden.learning import LearningRule

    data = net.to_dict()
    data["learning"] = LearningRule().to_dict()
    learner = CoreParams.for_network(Network.from_dict(data), rec_kernel_taps=5,
                                     max_synapses=None)
    assert learner.learning and learner.rec_kernel_taps == 5
    writes = dict(mm.network_writes(Network.from_dict(data), learner))
    assert writes[mm.address(mm.REGION_CTRL, mm.CTRL_REC_KERNEL)] == 3


def test_cases_draw_kernels():
    params = CoreParams(max_in=4, max_hidden=6, max_out=2, recurrent=True, rec_kernel_taps=5)
    case = LockstepCase(name="x", seed=5, n_in=4, n_hidden=6, n_out=2, recurrent=True,
                        delay_rec="axonal", rec_kernel=3)
    net = case.network(params)
    assert net.rec_kernel == 3 and net.w_rec.shape == (3,)
    assert mm.network_writes(net, params)
    decoy = case.decoy((4, 6, 2), True, rec_kernel=5).network(params)
    assert decoy.rec_kernel == 5 and decoy.delay_rec == "axonal"


# -- Amaranth simulation -----------------------------------------------------------------------

@pytest.mark.parametrize("k, taps, delay_rec, n_hidden", [
    (3, 3, "axonal", 5),
    (1, 5, "none", 4),    # a one-tap kernel centred in five core taps
    (9, 9, "axonal", 5),  # the widest kernel: every source of every neuron
])
def test_pysim_lockstep(k, taps, delay_rec, n_hidden):
    formats = dict(weight_frac=1, v_bits=10, y_bits=12, d_max=8, delay_frac=1)
    first = kernel_network(3, k=k, n_hidden=n_hidden, delay_rec=delay_rec, **formats)
    second = kernel_network(4, k=k, n_hidden=n_hidden, delay_rec=delay_rec, **formats)
    params = CoreParams.for_network(first, max_in=5, max_hidden=5, max_out=2,
                                    rec_kernel_taps=taps, max_synapses=None)
    spikes = random_spikes(np.random.default_rng(7), 40, first.n_in, 0.6)
    run_option_lockstep(params, [first, second], spikes)


def learning_kernel_case(seed, *, k, taps, delay_rec, rounding, n_hidden=5, steps=20):
    """A kernel network with a random rule (weights and delays learn) and its learning core."""
    from golden.random import random_rule

    formats = {"weight_frac": 1, "v_bits": 10, "y_bits": 12, "d_max": 8, "delay_frac": 1}
    net = kernel_network(seed, k=k, n_hidden=n_hidden, delay_rec=delay_rec, **formats)
    rng = np.random.default_rng(seed + 100)
    rule = random_rule(rng, net, False, trace_bits=6, u_bits=6, l_bits=10, max_half_width=2)
    rule = dataclasses.replace(rule, rounding=rounding, learn_weights=True, learn_delays=True,
                               eta_rec=4, eta_delay=4)
    net = dataclasses.replace(net, learning=rule)
    params = CoreParams.for_network(net, max_in=5, max_hidden=n_hidden, max_out=2,
                                    rec_kernel_taps=taps, max_synapses=None,
                                    stochastic_rounding=True, delay_learning=True)
    spikes = random_spikes(rng, steps, net.n_in, 0.5)
    labels = rng.integers(0, net.n_out, size=steps)
    learn = rng.random(steps) < 0.8
    return params, net, spikes, labels, learn


@pytest.mark.parametrize("k, taps, delay_rec, rounding, zero_skip", [
    (3, 3, "axonal", "truncate", True),
    (3, 5, "axonal", "stochastic", False),   # a shorter kernel: its core taps around stay 0
    (1, 5, "none", "stochastic", True),
    (1, 1, "axonal", "stochastic", False),   # one tap: every neuron adds to the same sum
])
def test_pysim_learning(k, taps, delay_rec, rounding, zero_skip):
    """Taps and recurrent axonal delays learn as the golden model does, every step compared
    (every weight, tap, delay and trace, LEARN_COUNT and the cycles of CoreParams)."""
    from test_learning_pysim import run_learning

    params, net, spikes, labels, learn = learning_kernel_case(
        10 + k + taps, k=k, taps=taps, delay_rec=delay_rec, rounding=rounding)
    golden = run_learning(params, net, spikes, labels, learn, zero_skip=zero_skip)
    assert (golden.projections["rec"].w[0] != net.w_rec).any()


def test_probe_names_a_tap():
    """The learning comparison reads the taps of a kernel network as ``w_rec[k]`` and the core
    taps around a shorter kernel, which must stay 0, and names the first difference."""
    from golden.model import GoldenCore
    from sim.learning_check import LearningProbe

    params, net, *_ = learning_kernel_case(30, k=3, taps=5, delay_rec="axonal",
                                           rounding="truncate")
    probe = LearningProbe(net, params)
    written = dict(mm.network_writes(net, params))
    words = [written.get(address, 0) for address in probe.parameter_addresses()]
    golden = GoldenCore(net)
    assert probe.check_parameters(golden, words) is None
    golden.projections["rec"].w[0, 2] += 1
    problem = probe.check_parameters(golden, words)
    assert (problem.field, problem.index) == ("w_rec", (2,))
    words[-1] = 5   # a core tap outside the network kernel
    golden.projections["rec"].w[0, 2] -= 1
    problem = probe.check_parameters(golden, words)
    assert (problem.field, problem.index, problem.rtl) == ("w_rec_core_tap", (4,), 5)
