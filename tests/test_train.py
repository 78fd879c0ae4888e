"""Online training: ``golden.train`` library and command line (fast: small sets, few epochs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden.data import save_samples
from golden.model import GoldenCore
from golden.network import load_network, save_network
from golden.tasks import make_task
from golden.train import (
    evaluate,
    init_network,
    main,
    parse_learn,
    train,
    train_learners,
    with_learning,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rates_files(tmp_path_factory):
    """A small 'rates' task (4 classes) and a 16-hidden weights-only network on disk."""
    folder = tmp_path_factory.mktemp("rates")
    train_set = make_task("rates", 96, seed=0)
    test_set = make_task("rates", 64, seed=1)
    save_samples(folder / "train.npz", train_set)
    save_samples(folder / "test.npz", test_set)
    net = init_network(train_set.n_in, 16, 4, np.random.default_rng(0), delay_in="synaptic",
                       learn_weights=True, learn_delays=False)
    save_network(net, folder / "net.json")
    return folder


def cli(rates_files, tmp_path, *extra, epochs="1", json_name="out.json"):
    """Argument list of a training run on the 'rates' files."""
    return ["--train", str(rates_files / "train.npz"), "--test", str(rates_files / "test.npz"),
            "--net", str(rates_files / "net.json"), "--epochs", epochs,
            "--json", str(tmp_path / json_name), "--no-progress", *extra]


def assert_usage_error(capsys, argv, *fragments):
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("change, fragments", [
    (lambda a: a[:2] + a[4:], ["--test"]),                      # missing flag
    (lambda a: a + ["--epochs", "0"], ["--epochs", ">= 1"]),
    (lambda a: a + ["--epochs", "two"], ["--epochs", "integer"]),
    (lambda a: a + ["--learn", "bias"], ["--learn", "weights,delays"]),
    (lambda a: a + ["--learn", "weights,weights"], ["--learn"]),
    (lambda a: a + ["--seed", "-1"], ["--seed"]),
    (lambda a: a + ["--exact", "--float"], ["--float", "--exact"]),
    (lambda a: a + ["--plot", "curves.pdf"], ["--plot", ".png"]),
    (lambda a: a + ["--out-net", "net.toml"], ["--out-net", ".json"]),
])
def test_bad_flags_are_one_line_errors(capsys, rates_files, tmp_path, change, fragments):
    assert_usage_error(capsys, change(cli(rates_files, tmp_path)), *fragments)


def test_bad_files_are_one_line_errors(capsys, rates_files, tmp_path):
    argv = cli(rates_files, tmp_path)
    missing = [a if a != str(rates_files / "net.json") else str(tmp_path / "nope.json")
               for a in argv]
    assert_usage_error(capsys, missing, "nope.json")
    # A 4-class sample set against a 2-readout network: the label check names the file.
    small = init_network(16, 4, 2, np.random.default_rng(0))
    save_network(small, tmp_path / "two.json")
    wrong = [a if a != str(rates_files / "net.json") else str(tmp_path / "two.json")
             for a in argv]
    assert_usage_error(capsys, wrong, "train.npz", "labels")
    # Delay learning on a network without delays.
    no_delays = init_network(16, 4, 4, np.random.default_rng(0), delay_in="none")
    save_network(no_delays, tmp_path / "plain.json")
    plain = [a if a != str(rates_files / "net.json") else str(tmp_path / "plain.json")
             for a in argv]
    assert_usage_error(capsys, plain + ["--learn", "delays"], "--learn", "no delays")


def test_init_flags(capsys, rates_files, tmp_path):
    assert_usage_error(capsys, ["init", "--out", str(tmp_path / "n.json"), "--n-in", "4"],
                       "--n-out")
    assert_usage_error(capsys, ["init", "--out", str(tmp_path / "n.json"), "--n-in", "4",
                                "--n-out", "2", "--delay-in", "long"], "--delay-in")
    assert_usage_error(capsys, ["init", "--out", str(tmp_path / "n.json"), "--n-in", "4",
                                "--n-out", "2", "--delay-rec", "axonal"], "--recurrent")
    assert main(["init", "--data", str(rates_files / "train.npz"), "--n-hidden", "5",
                 "--recurrent", "--delay-rec", "axonal", "--out", str(tmp_path / "n.json")]) == 0
    net = load_network(tmp_path / "n.json")
    assert (net.n_in, net.n_hidden, net.n_out) == (16, 5, 4)
    assert net.recurrent and net.delay_rec == "axonal" and net.delay_in == "synaptic"
    assert net.learning.learn_weights and net.learning.learn_delays


def test_cli_run_writes_json_and_learns_rates(rates_files, tmp_path):
    """The whole command as a user runs it; 'rates' (4 classes) must go well above chance."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    argv = cli(rates_files, tmp_path, "--learn", "weights", "--seed", "3",
               "--out-net", str(tmp_path / "trained.json"), epochs="2")
    result = subprocess.run([sys.executable, "-m", "golden.train", *argv], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    out = json.loads((tmp_path / "out.json").read_text())
    assert len(out["train_accuracy"]) == len(out["test_accuracy"]) == 2
    assert out["final"]["test_accuracy"] == out["test_accuracy"][-1] == summary["test_accuracy"]
    assert out["final"]["train_accuracy"] == out["train_accuracy"][-1]
    config = out["config"]
    assert config["epochs"] == 2 and config["learn"] == "weights" and config["seed"] == 3
    assert config["mode"] == "exact" and config["train_samples"] == 96
    assert config["network"]["n_hidden"] == 16
    # Chance is 0.25; an untrained network is near it, a trained one far above.
    assert out["initial"]["test_accuracy"] < 0.5
    assert out["final"]["test_accuracy"] >= 0.75
    trained = load_network(tmp_path / "trained.json")
    accuracy = evaluate(trained, make_task("rates", 64, seed=1))["accuracy"]
    assert accuracy == pytest.approx(out["final"]["test_accuracy"])


def test_cli_plot(rates_files, tmp_path):
    pytest.importorskip("matplotlib")
    assert main(cli(rates_files, tmp_path, "--plot", str(tmp_path / "p.png"))) == 0
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("learn", ["weights", "delays", "weights,delays"])
def test_learn_flag_selects_what_changes(learn):
    train_set = make_task("timing", 12, seed=0)
    net = init_network(16, 6, 8, np.random.default_rng(1), delay_out="axonal")
    trained, history = train(net, train_set, None, 1, learn=learn, seed=0)
    weights, delays = parse_learn(learn)
    for proj in ("in", "out"):
        assert np.array_equal(trained.weights(proj), net.weights(proj)) != weights, proj
        assert np.array_equal(getattr(trained, f"d_{proj}"),
                              getattr(net, f"d_{proj}")) != delays, proj
    assert (trained.learning.learn_weights, trained.learning.learn_delays) == (weights, delays)
    assert history["test_accuracy"] == [] and len(history["train_accuracy"]) == 1


def test_learners_in_one_batch_match_separate_runs():
    """Mixed modes and seeds on the batch axis give exactly the single-learner results."""
    train_set = make_task("timing", 6, seed=0)
    nets = [with_learning(init_network(16, 4, 8, np.random.default_rng(seed)), w, d)
            for seed, (w, d) in [(0, (True, False)), (1, (False, True)), (2, (True, True))]]
    together, _ = train_learners(nets, train_set, None, 2, seeds=[5, 6, 7])
    for net, seed, joint in zip(nets, [5, 6, 7], together):
        alone, _ = train_learners([net], train_set, None, 2, seeds=[seed])
        for proj in ("in", "out"):
            np.testing.assert_array_equal(joint.weights(proj), alone[0].weights(proj))
        np.testing.assert_array_equal(joint.d_in, alone[0].d_in)


def test_evaluate_matches_per_sample_runs():
    samples = make_task("rates", 10, seed=4)
    net = init_network(16, 8, 4, np.random.default_rng(2))
    batched = evaluate(net, samples, batch_size=3)["predicted"]
    single = [evaluate(net, type(samples)(samples.spikes[i:i + 1], samples.labels[i:i + 1],
                                          samples.target_mask[i:i + 1]))["predicted"][0]
              for i in range(10)]
    np.testing.assert_array_equal(batched, single)


def test_bench_delays_smoke(tmp_path):
    """The delay benchmark end to end on a tiny budget: fields and the equal-memory size."""
    from bench.delays import main as bench_main

    out = tmp_path / "delays.json"
    assert bench_main(["--json", str(out), "--seeds", "2", "--epochs", "1",
                       "--train-samples", "8", "--test-samples", "8", "--jobs", "1",
                       "--no-progress"]) == 0
    summary = json.loads(out.read_text())
    for key in ("weights_only_acc", "delays_only_acc", "weights_delays_acc",
                "weights_only_same_memory_acc"):
        assert 0.0 <= summary[key] <= 1.0
        assert len(summary["per_seed"][key]) == 2
        assert summary[key] == pytest.approx(np.mean(summary["per_seed"][key]))
    memory = summary["same_memory"]
    assert memory["bits_weights_only"] >= memory["bits_weights_delays"]
    assert memory["hidden_weights_only"] > memory["hidden_weights_delays"] == 8


@pytest.mark.parametrize("exact", [True, False])
def test_softmax_error_follows_the_model_doc(exact):
    """docs/model.md 7.2, error = "softmax", one readout at a time in plain integers."""
    rng = np.random.default_rng(5)
    net = init_network(4, 3, 6, rng)
    rule = net.learning
    assert rule.error == "softmax"
    core = GoldenCore(net, batch=20, exact=exact)
    y = rng.integers(-3000, 3000, size=(20, 6))
    y[0] = 7  # all equal: uniform probabilities
    y[1, :2] = 2000  # a tie at the top
    core.y = y.astype(core.dtype)
    labels = rng.integers(0, 6, size=20)
    error = core._error(labels)
    for b in range(20):
        top = max(int(v) for v in y[b])
        q = [int(rule.exp_lut[min((top - int(v)) >> rule.softmax_shift, 255)]) for v in y[b]]
        for k in range(6):
            target = rule.target_amp if k == labels[b] else 0
            if exact:
                expected = q[k] * rule.target_amp // sum(q) - target
                assert error[b, k] == expected
            else:
                assert error[b, k] == pytest.approx(q[k] * rule.target_amp / sum(q) - target)
