"""Neuron and connectivity options of the golden model (docs/model.md sections 8-11).

Synaptic currents with a learned decay, the adaptive threshold with learned coupling and
decay, and the convolutional recurrent kernel: random networks run the vectorised
``GoldenCore`` against the loop-by-loop ``reference_neurons.NeuronReferenceCore`` and every
value is compared after every step, in exact and float mode. Further tests pin the
validation messages, that networks without the options are unchanged, and the refusal of the
options by the RTL loader.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from reference_neurons import NeuronReferenceCore
from test_golden_learning import (
    first_mismatch,
    golden_fields,
    random_learning_network,
    reference_fields,
)

from golden.model import GoldenCore, run
from golden.network import Network, NetworkError
from golden.random import random_spikes

OPTIONS = ("current", "adaptive", "conv")


def with_options(net: Network, rng: np.random.Generator, options: set[str]) -> Network:
    """``net`` with the given options switched on, random option parameters."""
    data = net.to_dict()
    hidden = net.n_hidden
    decay_hi = (1 << net.decay_bits) - 1
    v_hi = (1 << (net.v_bits - 1)) - 1
    if "current" in options:
        data["synapse"] = "current"
        data["reset"] = "soft"
        data["beta"] = rng.integers(0, decay_hi, size=hidden, endpoint=True)
    if "adaptive" in options:
        data["adaptation"] = "threshold"
        data["rho"] = rng.integers(0, decay_hi, size=hidden, endpoint=True)
        top = v_hi if rng.random() < 0.3 else max(1, v_hi >> 3)
        data["coupling"] = rng.integers(0, top, size=hidden, endpoint=True)
    if "conv" in options and net.recurrent:
        k = int(rng.integers(0, hidden - 1, endpoint=True)) * 2 + 1
        w_hi = (1 << (net.weight_bits - 1)) - 1
        data["rec_kernel"] = k
        data["w_rec"] = rng.integers(-w_hi - 1, w_hi, size=k, endpoint=True)
        if net.delay_rec == "synaptic":
            data["delay_rec"] = "axonal"
            data["d_rec"] = rng.integers(0, (net.d_max << net.delay_frac) - 1, size=hidden,
                                         endpoint=True)
    rule = data.get("learning")
    if rule is not None:
        neurons = bool({"current", "adaptive"} & options)
        rule["learn_neurons"] = neurons and bool(rng.random() < 0.85)
        for name in ("eta_beta", "eta_coupling", "eta_rho"):
            rule[name] = int(rng.integers(2, 26))
        rule["elig_bits"] = int(rng.integers(8, 32, endpoint=True))
    return Network.from_dict(data)


def random_option_network(seed: int, options: set[str] | None = None) -> Network:
    rng = np.random.default_rng(seed + 77_000)
    if options is None:
        options = {o for o in OPTIONS if rng.random() < 0.6} or {str(rng.choice(OPTIONS))}
    return with_options(random_learning_network(seed), rng, options)


def golden_option_fields(core: GoldenCore, b: int, result) -> dict[str, np.ndarray]:
    out = golden_fields(core, b, result)
    out["c"], out["a"] = core.c[b], core.a[b]
    for name, values in core.neurons.items():
        out[name] = values[b]
    return out


def reference_option_fields(ref: NeuronReferenceCore, core: GoldenCore) -> dict:
    out = reference_fields(ref, core.slots)
    net = ref.net
    out["c"], out["a"] = np.array(ref.c), np.array(ref.a)
    if ref.K:
        out["w_rec"] = np.array(ref.kernel)
    for name in net.neuron_parameters():
        out[name] = np.array(getattr(ref, name))
    return out


def run_lockstep(net: Network, seed: int, *, batch: int = 2, samples=(16, 16),
                 exact: bool = True, tolerance: float = 0.0) -> list[NeuronReferenceCore]:
    """Golden and reference side by side; fail at the first differing value."""
    rng = np.random.default_rng(seed + 2_000_003)
    core = GoldenCore(net, batch=batch, exact=exact)
    refs = [NeuronReferenceCore(net, exact=exact) for _ in range(batch)]
    for sample, steps in enumerate(samples):
        if sample:
            core.reset()
            for ref in refs:
                ref.reset()
        density = float(rng.uniform(0.05, 0.8))
        spikes = np.stack([random_spikes(rng, steps, net.n_in, density) for _ in range(batch)])
        labels = rng.integers(0, net.n_out, size=batch)
        masks = rng.random((batch, steps)) < float(rng.choice([0.3, 0.7, 1.0]))
        if net.learning is None:
            masks[:] = False
        for t in range(steps):
            result = core.step(spikes[:, t], labels=labels, learn=masks[:, t])
            for b, ref in enumerate(refs):
                ref.step(spikes[b, t], label=labels[b], learn=bool(masks[b, t]))
                problem = first_mismatch(golden_option_fields(core, b, result),
                                         reference_option_fields(ref, core),
                                         tolerance=tolerance)
                if problem:
                    pytest.fail(f"sample {sample}, t={t}, batch {b}: {problem}")
    return refs


def describe(net: Network) -> str:
    r = net.learning
    return (f"hid={net.n_hidden} rec={net.recurrent} options={net.options()} "
            f"reset={net.reset} A={net.decay_bits} v_bits={net.v_bits} "
            f"{r.rounding} learn w={r.learn_weights} d={r.learn_delays} n={r.learn_neurons}")


# -- lockstep against the reference ------------------------------------------------------------

@pytest.mark.parametrize("seed", range(60))
def test_options_match_reference(seed):
    net = random_option_network(seed)
    try:
        run_lockstep(net, seed)
    except pytest.fail.Exception as err:
        pytest.fail(f"{describe(net)}: {err}")


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("seed", range(6))
def test_each_option_alone_matches_reference(option, seed):
    net = random_option_network(100 + seed, {option})
    run_lockstep(net, seed)


@pytest.mark.parametrize("seed", range(12))
def test_float_mode_matches_reference(seed):
    net = random_option_network(200 + seed)
    run_lockstep(net, seed, batch=1, exact=False, tolerance=1e-9)


def test_neuron_parameters_learn():
    """The options' parameters move on networks that learn them (not a silent no-op)."""
    for seed in (41, 55):  # both options, learn_neurons on
        net = random_option_network(seed)
        refs = run_lockstep(net, seed)
        for name in ("beta", "coupling", "rho"):
            assert not np.array_equal(getattr(refs[0], name), getattr(net, name)), name


# -- special cases -----------------------------------------------------------------------------

def plain_network(seed: int = 0, **changes) -> Network:
    rng = np.random.default_rng(seed)
    h = 5
    data = dict(n_in=4, n_hidden=h, n_out=3, w_in=rng.integers(-40, 80, (h, 4)),
                w_out=rng.integers(-60, 60, (3, h)), alpha=np.full(h, 200),
                theta=np.full(h, 64), kappa=np.full(3, 220), recurrent=True,
                w_rec=rng.integers(-30, 30, (h, h)))
    data.update(changes)
    return Network(**data)


def test_zero_beta_equals_delta_synapses():
    """beta = 0 makes the synaptic current the synaptic sum of the step."""
    net = plain_network()
    spikes = random_spikes(np.random.default_rng(1), 40, 4, 0.4)
    current = dataclasses.replace(net, synapse="current", beta=np.zeros(5, dtype=np.int64))
    a, b = run(net, spikes), run(current, spikes)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_zero_coupling_equals_lif():
    net = plain_network()
    spikes = random_spikes(np.random.default_rng(2), 40, 4, 0.4)
    adaptive = dataclasses.replace(net, adaptation="threshold", rho=np.full(5, 250),
                                   coupling=np.zeros(5, dtype=np.int64))
    a, b = run(net, spikes), run(adaptive, spikes)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_full_kernel_equals_dense_band():
    """A kernel is the dense matrix with the kernel on its diagonals (zero padding)."""
    kernel = np.array([3, -7, 11, 5, -2])
    conv = plain_network(rec_kernel=5, w_rec=kernel)
    dense = conv.dense_weights("rec")
    assert dense[0, :3].tolist() == [11, 5, -2]  # taps -2, -1 fall off the edge
    assert dense[2].tolist() == kernel.tolist()
    spikes = random_spikes(np.random.default_rng(3), 40, 4, 0.4)
    a, b = run(conv, spikes), run(plain_network(w_rec=dense), spikes)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_adaptation_raises_threshold_after_spikes():
    net = plain_network(adaptation="threshold", rho=np.full(5, 255),
                        coupling=np.full(5, 1000), recurrent=False, w_rec=None,
                        w_in=np.full((5, 4), 70))
    out = run(net, np.ones((10, 4), dtype=np.uint8))
    assert out["z"][0].all() and not out["z"][1:4].any()  # the threshold went up by 1000


def test_defaults_leave_files_and_outputs_unchanged():
    """No option fields appear in the dictionary of a network that does not use them."""
    net = plain_network()
    data = net.to_dict()
    for name in ("synapse", "beta", "adaptation", "rho", "coupling", "rec_kernel"):
        assert name not in data
    explicit = Network(**data, synapse="delta", adaptation="none", rec_kernel=0)
    assert explicit.to_dict() == data
    assert net.options() == [] and net.neuron_parameters() == []


def test_export_round_trip_keeps_options():
    net = random_option_network(7, {"current", "adaptive", "conv"})
    core = GoldenCore(net, batch=2)
    exported = core.export_network(1)
    assert exported.to_dict().keys() == net.to_dict().keys()
    for name in net.neuron_parameters():
        np.testing.assert_array_equal(getattr(exported, name), getattr(net, name))


# -- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"synapse": "conductance"}, "synapse must be one of delta, current"),
    ({"synapse": "current"}, "beta is required when synapse is 'current'"),
    ({"synapse": "current", "beta": np.full(5, 256)}, r"beta\[0\] = 256 is outside \[0, 255\]"),
    ({"synapse": "current", "beta": np.zeros(5), "reset": "hard"},
     "reset must be 'soft' when synapse is 'current'"),
    ({"beta": np.zeros(5)}, "beta is given but synapse is 'delta'"),
    ({"adaptation": "spike"}, "adaptation must be one of none, threshold"),
    ({"adaptation": "threshold", "rho": np.zeros(5)}, "coupling is required"),
    ({"adaptation": "threshold", "rho": np.zeros(5), "coupling": np.full(5, -1)},
     r"coupling\[0\] = -1 is outside \[0, 32767\]"),
    ({"rho": np.zeros(5)}, "rho/coupling are given but adaptation is 'none'"),
    ({"rec_kernel": 2, "w_rec": np.zeros(2)}, r"rec_kernel must be 0 \(dense\) or odd in \[1, 9\]"),
    ({"rec_kernel": 11, "w_rec": np.zeros(11)}, r"odd in \[1, 9\], got 11"),
    ({"rec_kernel": 3}, r"w_rec must have shape \(3,\)"),
    ({"rec_kernel": 3, "recurrent": False, "w_rec": None},
     "rec_kernel is given but recurrent is false"),
    ({"rec_kernel": 3, "w_rec": np.zeros(3), "delay_rec": "synaptic", "d_rec": np.zeros((5, 5))},
     "delay_rec must be none or axonal when rec_kernel > 0"),
])
def test_validation_messages(changes, message):
    with pytest.raises(NetworkError, match=message) as info:
        plain_network(**changes)
    assert "\n" not in str(info.value)


def test_learn_neurons_needs_an_option():
    from golden.learning import LearningRule

    with pytest.raises(NetworkError, match="learning.learn_neurons needs synapse = 'current'"):
        plain_network(learning=LearningRule(learn_neurons=True))
    with pytest.raises(NetworkError, match=r"learning.eta_beta must be in \[0, 47\]"):
        plain_network(synapse="current", beta=np.zeros(5),
                      learning=LearningRule(learn_neurons=True, eta_beta=48))
    rule = LearningRule().to_dict()
    assert "learn_neurons" not in rule and "elig_bits" not in rule


def test_rtl_loader_refuses_options():
    from rtl.memory_map import network_writes
    from rtl.params import CoreParams

    plain = plain_network()
    params = CoreParams.for_network(plain)
    assert network_writes(plain, params)
    for changes, message in (({"synapse": "current", "beta": np.zeros(5)},
                              "network synapse = .* is not supported by the RTL"),
                             ({"adaptation": "threshold", "rho": np.zeros(5),
                               "coupling": np.zeros(5)},
                              "network adaptation = .* is not supported by the RTL"),
                             ({"rec_kernel": 3, "w_rec": np.zeros(3)},
                              r"network rec_kernel = 3 needs a core built with rec_kernel_taps")):
        with pytest.raises(ValueError, match=message):
            network_writes(plain_network(**changes), params)
    # A core built with the neuron options runs them (rtl/neuron.py), one built with
    # rec_kernel_taps the kernel.
    options = plain_network(synapse="current", beta=np.zeros(5), adaptation="threshold",
                            rho=np.zeros(5), coupling=np.zeros(5))
    assert network_writes(options, CoreParams.for_network(options))
    kernel = plain_network(rec_kernel=3, w_rec=np.zeros(3))
    assert network_writes(kernel, CoreParams.for_network(kernel))


# -- training options --------------------------------------------------------------------------

def small_task():
    from golden.tasks import make_task

    return make_task("cue", 8, 0), make_task("cue", 8, 1)


def test_training_learns_and_exports_neuron_parameters():
    from golden.train import init_network, train

    train_set, test_set = small_task()
    net = init_network(train_set.n_in, 4, 2, np.random.default_rng(0), delay_in="none",
                       synapse="current", adaptation="threshold", recurrent=True,
                       rec_kernel=3, learn_delays=False)
    assert net.learning.learn_neurons
    trained, history = train(net, train_set, test_set, 1, progress=False)
    assert trained.options() == net.options()
    assert any(not np.array_equal(getattr(trained, n), getattr(net, n))
               for n in net.neuron_parameters())
    assert trained.w_rec.shape == (3,)
    assert "stopped_epoch" not in history


def test_early_stop_freezes_a_learner():
    from golden.train import init_network, train_learners

    train_set, _ = small_task()
    net = init_network(train_set.n_in, 4, 2, np.random.default_rng(0), delay_in="none",
                       synapse="current", learn_delays=False)
    # eta 31 everywhere: nothing moves, the accuracy never improves, the learner stops.
    frozen = dataclasses.replace(net, learning=dataclasses.replace(
        net.learning, eta_in=31, eta_out=31, eta_beta=47))
    nets, histories = train_learners([frozen], train_set, None, 3, early_stop=1,
                                     progress=False)
    assert histories[0]["stopped_epoch"] == 0
    np.testing.assert_array_equal(nets[0].beta, net.beta)


def test_schedule_halves_rates():
    from golden.train import halved_rates, train

    train_set, _ = small_task()
    from golden.train import init_network

    net = init_network(train_set.n_in, 4, 2, np.random.default_rng(0), delay_in="none")
    halved = halved_rates(net.learning)
    assert (halved.eta_in, halved.eta_out, halved.eta_beta) == (
        net.learning.eta_in + 1, net.learning.eta_out + 1, net.learning.eta_beta + 1)
    plain, _ = train(net, train_set, None, 2, progress=False)
    scheduled, _ = train(net, train_set, None, 2, progress=False, schedule_every=1)
    assert not np.array_equal(plain.w_in, scheduled.w_in)
    with pytest.raises(ValueError, match="schedule_every must be an integer >= 0"):
        train(net, train_set, None, 1, schedule_every=-1)


def test_nir_export_refuses_options():
    pytest.importorskip("nir")
    from golden.nir_io import export_nir

    with pytest.raises(ValueError, match="network adaptation = 'threshold' cannot be exported"):
        export_nir(plain_network(adaptation="threshold", rho=np.zeros(5),
                                 coupling=np.zeros(5)))


def test_init_command_writes_options(tmp_path, capsys):
    from golden.network import load_network
    from golden.train import main

    out = tmp_path / "net.json"
    assert main(["init", "--n-in", "4", "--n-out", "2", "--n-hidden", "5", "--out", str(out),
                 "--recurrent", "--delay-rec", "axonal", "--rec-kernel", "3",
                 "--synapse", "current", "--adaptation", "threshold"]) == 0
    net = load_network(out)
    assert (net.rec_kernel, net.synapse, net.adaptation) == (3, "current", "threshold")
    assert net.learning.learn_neurons
    assert main(["init", "--n-in", "4", "--n-out", "2", "--out", str(out),
                 "--rec-kernel", "3"]) == 2
    assert "--rec-kernel needs --recurrent" in capsys.readouterr().err
    assert main(["init", "--n-in", "4", "--n-out", "2", "--out", str(out), "--recurrent",
                 "--rec-kernel", "4"]) == 2
    assert "rec_kernel must be 0 (dense) or odd" in capsys.readouterr().err


def test_train_command_schedule_and_early_stop(tmp_path):
    import json

    from golden.data import save_samples
    from golden.network import save_network
    from golden.train import init_network, main

    train_set, test_set = small_task()
    save_samples(tmp_path / "train.npz", train_set)
    save_samples(tmp_path / "test.npz", test_set)
    net = init_network(train_set.n_in, 4, 2, np.random.default_rng(0), delay_in="none",
                       adaptation="threshold", learn_delays=False)
    save_network(net, tmp_path / "net.json")
    args = ["--train", str(tmp_path / "train.npz"), "--test", str(tmp_path / "test.npz"),
            "--net", str(tmp_path / "net.json"), "--epochs", "2", "--no-progress"]
    assert main(args + ["--json", str(tmp_path / "plain.json")]) == 0
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert "stopped_epoch" not in plain and "early_stop" not in plain["config"]
    assert main(args + ["--json", str(tmp_path / "out.json"), "--schedule-every", "1",
                        "--early-stop", "1"]) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["config"]["schedule_every"] == 1 and "stopped_epoch" in out
    assert main(args + ["--json", str(tmp_path / "x.json"), "--early-stop", "-1"]) == 2
