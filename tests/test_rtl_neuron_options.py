"""Neuron options in the RTL: current synapses and the adaptive threshold.

Generator parameters (``synapse_current``, ``adaptation``) and their checks, the ``NEURON``
region of the memory map, the refusals of networks a core cannot run, and short lockstep
runs in Amaranth's simulator that compare ``v``, ``z``, ``y``, ``c`` and ``a`` with
``golden.model.GoldenCore`` every step. The long lockstep runs in Icarus and Verilator are
variant N of ``tests/test_lockstep.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_rtl_core_pysim import Bus, pack, pulse, run_step, simulate, wait_idle

from golden.model import GoldenCore
from golden.network import Network
from golden.random import random_network, random_spikes
from rtl import memory_map as mm
from rtl.params import CoreParams
from sim.cases import LockstepCase


def option_network(seed=1, *, synapse="current", adaptation="threshold", **kwargs):
    """A small recurrent network with the given options and random parameters."""
    rng = np.random.default_rng(seed)
    settings = dict(n_in=4, n_hidden=3, n_out=2, recurrent=True, delay_in="synaptic",
                    delay_rec="axonal", delay_out="synaptic")
    settings.update(kwargs)
    data = random_network(rng, **settings).to_dict()
    n, decay_hi = settings["n_hidden"], (1 << data["decay_bits"]) - 1
    if synapse == "current":
        data.update(synapse="current", beta=rng.integers(0, decay_hi, n, endpoint=True))
    if adaptation == "threshold":
        v_hi = (1 << (data["v_bits"] - 1)) - 1
        data.update(adaptation="threshold", rho=rng.integers(0, decay_hi, n, endpoint=True),
                    coupling=rng.integers(0, v_hi, n, endpoint=True))
    return Network.from_dict(data)


# -- parameters --------------------------------------------------------------------------------

def test_defaults_off_and_validation():
    params = CoreParams()
    assert not params.synapse_current and not params.adaptation
    assert mm.REGION_NEURON not in mm.region_words(params)
    with pytest.raises(TypeError, match="synapse_current must be a bool"):
        CoreParams(synapse_current=1)
    with pytest.raises(TypeError, match="adaptation must be a bool"):
        CoreParams(adaptation="threshold")
    assert CoreParams(adaptation=True, synapse_current=True, learning=True).neuron_words
    with pytest.raises(ValueError, match=r"max_hidden must be in \[1, 8192\] with "
                                         r"synapse_current or adaptation"):
        CoreParams(max_in=1, max_hidden=8193, max_out=1, max_synapses=1024,
                   synapse_current=True)
    CoreParams(max_in=1, max_hidden=8192, max_out=1, max_synapses=1024, adaptation=True)


def test_neuron_region_layout():
    params = CoreParams(max_hidden=6, synapse_current=True, adaptation=True)
    assert params.neuron_stride == 8
    assert mm.region_words(params)[mm.REGION_NEURON] == 4 * 8 + 6
    assert [mm.neuron_offset(f, 5, params) for f in mm.NEURON_FIELDS] == [5, 13, 21, 29, 37]
    with pytest.raises(ValueError, match=r"index must be in \[0, 5\], got 6"):
        mm.neuron_offset("C", 6, params)
    with pytest.raises(ValueError, match="field must be one of BETA, RHO, COUPLING, C, A"):
        mm.neuron_offset("V", 0, params)
    assert mm.region_words(CoreParams(max_hidden=8, adaptation=True))[mm.REGION_NEURON] == 40
    flags = mm.encode_flags(recurrent=False, reset="soft", synapse_current=True)
    assert flags == mm.FLAG_SYNAPSE_CURRENT == 1 << 9
    assert mm.decode_flags(flags)["synapse_current"]


def test_for_network_and_writes():
    net = option_network()
    params = CoreParams.for_network(net)
    assert params.synapse_current and params.adaptation
    writes = dict(mm.network_writes(net, params))
    assert writes[mm.address(mm.REGION_CTRL, mm.CTRL_FLAGS)] & mm.FLAG_SYNAPSE_CURRENT
    for field, values in (("BETA", net.beta), ("RHO", net.rho), ("COUPLING", net.coupling)):
        got = [writes[mm.address(mm.REGION_NEURON, mm.neuron_offset(field, i, params))]
               for i in range(net.n_hidden)]
        assert got == list(values)
    # A plain network on the same core: options off, zero parameters (coupling 0 keeps a = 0).
    plain = option_network(synapse="delta", adaptation="none")
    writes = dict(mm.network_writes(plain, params))
    assert not writes[mm.address(mm.REGION_CTRL, mm.CTRL_FLAGS)] & mm.FLAG_SYNAPSE_CURRENT
    assert all(writes[mm.address(mm.REGION_NEURON, mm.neuron_offset(f, i, params))] == 0
               for f in ("BETA", "RHO", "COUPLING") for i in range(plain.n_hidden))
    # Only the fields of the options a core has are written.
    only_current = CoreParams.for_network(option_network(adaptation="none"))
    regions = {mm.neuron_offset("BETA", 0, only_current)}
    assert {a & mm.OFFSET_MASK for a, _ in mm.network_writes(plain, only_current)
            if a >> mm.REGION_SHIFT == mm.REGION_NEURON} >= regions


@pytest.mark.parametrize("changes, message", [
    ({"adaptation": "none"},
     (r"^network synapse = 'current' is not supported by the RTL core built with "
      r"synapse_current=False \(allowed: 'delta'\); build it with synapse_current=True$")),
    ({"synapse": "delta"},
     (r"^network adaptation = 'threshold' is not supported by the RTL core built with "
      r"adaptation=False \(allowed: 'none'\); build it with adaptation=True$")),
])
def test_core_without_option_refuses(changes, message):
    plain = CoreParams.for_network(option_network(synapse="delta", adaptation="none"))
    with pytest.raises(ValueError, match=message):
        mm.network_writes(option_network(**changes), plain)


def test_refusals_kernel_and_learning():
    from golden.learning import LearningRule

    params = CoreParams.for_network(option_network(), max_hidden=5)
    data = option_network().to_dict()
    data.update(rec_kernel=3, w_rec=[1, 2, 3], delay_rec="none")
    data.pop("d_rec", None)
    with pytest.raises(ValueError, match=r"^network rec_kernel = 3 needs a core built with "
                                         r"rec_kernel_taps >= 3 \(this core: 0\)$"):
        mm.network_writes(Network.from_dict(data), params)
    # A learning core with the options learns weights and delays; the neuron parameters
    # only on a core built with neuron_learning.
    data = option_network().to_dict()
    data["learning"] = LearningRule().to_dict()
    learning_core = CoreParams.for_network(Network.from_dict(data))
    assert learning_core.learning and learning_core.synapse_current
    assert not learning_core.neuron_learning
    assert mm.network_writes(Network.from_dict(data), learning_core)
    data["learning"] = LearningRule(learn_neurons=True).to_dict()
    net = Network.from_dict(data)
    with pytest.raises(ValueError, match=r"^network learning.learn_neurons = True needs a core "
                                         r"built with neuron_learning=True"):
        mm.network_writes(net, learning_core)
    assert CoreParams.for_network(net).neuron_learning
    # An inference core runs the network and ignores the rule.
    assert mm.network_writes(net, CoreParams.for_network(net, learning=False))


def test_cases_draw_options():
    case = LockstepCase(name="x", seed=5, n_in=4, n_hidden=6, n_out=2, recurrent=True,
                        synapse="current", adaptation="threshold", neuron_extremes=True)
    params = CoreParams(max_in=4, max_hidden=6, max_out=2, recurrent=True, v_bits=10,
                        synapse_current=True, adaptation=True)
    net = case.network(params)
    assert net.synapse == "current" and net.adaptation == "threshold"
    plain = LockstepCase(name="x", seed=5, n_in=4, n_hidden=6, n_out=2,
                         recurrent=True).network(params)
    # The options come from their own stream: the weights are those of the plain case.
    assert np.array_equal(net.w_in, plain.w_in) and plain.options() == []
    assert case.retuned_network(params).beta.tolist() != net.beta.tolist()


# -- Amaranth simulation -----------------------------------------------------------------------

def run_option_lockstep(params, nets, spikes):
    """Load each network of ``nets`` in turn (clearing before the first only), run its
    share of ``spikes`` and compare ``z, v, y, c, a`` with the golden model every step."""
    golden = GoldenCore(nets[0])
    n_hidden, n_out = nets[0].n_hidden, nets[0].n_out
    fields = ([("c", "C")] if params.synapse_current else []) \
        + ([("a", "A")] if params.adaptation else [])
    addresses = ([mm.address(mm.REGION_V, i) for i in range(n_hidden)]
                 + [mm.address(mm.REGION_Y, k) for k in range(n_out)]
                 + [mm.address(mm.REGION_NEURON, mm.neuron_offset(f, i, params))
                    for _, f in fields for i in range(n_hidden)])
    chunks = np.array_split(np.asarray(spikes), len(nets))

    async def testbench(ctx, dut):
        bus = Bus(ctx, dut)
        t = 0
        for n, (net, chunk) in enumerate(zip(nets, chunks)):
            for addr, data in mm.network_writes(net, params):
                await bus.write(addr, data)
            if n == 0:
                await pulse(ctx, dut.clear)
                await wait_idle(ctx, dut)
            else:
                golden.load_parameters(net)
            for s in chunk:
                want = golden.step(s)
                await run_step(ctx, dut, pack(s))
                out_spikes = ctx.get(dut.out_spikes)
                words = [mm.decode_signed(w) for w in await bus.read_many(addresses)]
                got = {"z": [(out_spikes >> i) & 1 for i in range(n_hidden)],
                       "v": words[:n_hidden], "y": words[n_hidden:n_hidden + n_out]}
                expected = {"z": want.z.astype(int), "v": want.v, "y": want.y}
                for k, (name, _) in enumerate(fields):
                    base = n_hidden + n_out + k * n_hidden
                    got[name] = words[base:base + n_hidden]
                    expected[name] = getattr(golden, name)[0]
                for name in ("c", "z", "v", "a", "y"):
                    if name in got:
                        g, w = np.asarray(got[name]), np.asarray(expected[name]).astype(int)
                        bad = np.flatnonzero(g != w)
                        assert not len(bad), (f"step {t}: {name}[{bad[0]}] rtl={g[bad[0]]} "
                                              f"golden={w[bad[0]]}")
                t += 1

    simulate(params, testbench)


@pytest.mark.parametrize("synapse, adaptation, reset", [
    ("current", "threshold", "soft"),
    ("delta", "threshold", "hard"),
    ("current", "none", "soft"),
])
def test_pysim_lockstep(synapse, adaptation, reset):
    formats = dict(weight_frac=1, decay_bits=6, v_bits=8, y_bits=10, d_max=8, delay_frac=1)
    first = option_network(3, synapse=synapse, adaptation=adaptation, reset=reset, **formats)
    second = option_network(4, synapse=synapse, adaptation=adaptation, reset=reset, **formats)
    params = CoreParams.for_network(first, max_in=5, max_hidden=3, max_out=2,
                                    synapse_current=True, adaptation=True)
    spikes = random_spikes(np.random.default_rng(7), 40, first.n_in, 0.5)
    run_option_lockstep(params, [first, second], spikes)


def test_pysim_plain_network_on_option_core():
    net = option_network(5, synapse="delta", adaptation="none", weight_frac=1, v_bits=8)
    params = CoreParams.for_network(net, synapse_current=True, adaptation=True)
    run_option_lockstep(params, [net], random_spikes(np.random.default_rng(8), 30, 4, 0.5))


def test_pysim_neuron_region_bus():
    params = CoreParams(max_in=2, max_hidden=3, max_out=1, v_bits=8, decay_bits=6,
                        synapse_current=True, adaptation=True)
    A = mm.address

    def at(field, i):
        return A(mm.REGION_NEURON, mm.neuron_offset(field, i, params))

    async def testbench(ctx, dut):
        bus = Bus(ctx, dut)
        cases = [(at("BETA", 2), 0xFFF, 0x3F), (at("RHO", 0), 17, 17),
                 (at("COUPLING", 1), 0x1FF, 0x7F), (at("C", 2), -3, 0xFFFF_FFFD),
                 (at("C", 0), 0x7F, 0x7F), (at("A", 1), 0x55, 0x55)]
        for addr, data, _ in cases:
            await bus.write(addr, data)
        assert await bus.read_many([a for a, _, _ in cases]) == [w for _, _, w in cases]
        # The hole between max_hidden and the next field, and the end of the region.
        await bus.write(A(mm.REGION_NEURON, 3), 9)
        assert await bus.read_many([A(mm.REGION_NEURON, 3), A(mm.REGION_NEURON, 4 * 4 + 3),
                                    at("BETA", 2), at("RHO", 0)]) == [0, 0, 0x3F, 17]
        await bus.write(A(mm.REGION_CTRL, mm.CTRL_FLAGS), 0xFFFF)
        # Bit 9 (SYNAPSE_CURRENT) is kept; bit 0 (recurrent) reads 0 on this core.
        assert await bus.read(A(mm.REGION_CTRL, mm.CTRL_FLAGS)) == 0x2FE
        # clear zeroes the state c and a, not the parameters.
        await pulse(ctx, dut.clear)
        await wait_idle(ctx, dut)
        assert await bus.read_many([at("C", 2), at("C", 0), at("A", 1), at("BETA", 2),
                                    at("COUPLING", 1)]) == [0, 0, 0, 0x3F, 0x7F]

    simulate(params, testbench)


@pytest.mark.parametrize("seed, kinds", [
    (11, ("synaptic", "axonal", "synaptic")),
    (13, ("axonal", "synaptic", "none")),
])
def test_pysim_learning_with_options(seed, kinds):
    """Weights and delays learn on a core with both options: the surrogate is centred on
    the adapted threshold and the membrane integrates the synaptic current."""
    import dataclasses

    from test_learning_pysim import SMALL, learning_case, run_learning

    params = dataclasses.replace(SMALL, synapse_current=True, adaptation=True)
    net, rng = learning_case(seed, params, n_in=3, n_hidden=3, n_out=2, recurrent=True,
                             kinds=kinds, heavy=seed % 2 == 0)
    data = net.to_dict()
    decay_hi, v_hi = (1 << net.decay_bits) - 1, (1 << (net.v_bits - 1)) - 1
    data.update(synapse="current", beta=rng.integers(0, decay_hi, 3, endpoint=True),
                adaptation="threshold", rho=rng.integers(0, decay_hi, 3, endpoint=True),
                coupling=rng.integers(0, v_hi // 4, 3, endpoint=True))
    net = Network.from_dict(data)
    steps = 24
    spikes = random_spikes(rng, steps, net.n_in, 0.5)
    golden = run_learning(params, net, spikes, rng.integers(0, 2, steps),
                          rng.random(steps) < 0.8)
    # The adaptation moved the threshold, and something was learned.
    assert golden.a.any()
