"""End-to-end tests of ``python -m golden.run`` in a fresh directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden.data import SampleSet, save_samples
from golden.network import save_network
from golden.random import random_network, random_spikes

REPO = Path(__file__).resolve().parent.parent
N_IN, N_HIDDEN, N_OUT = 5, 7, 3
SAMPLES, STEPS = 6, 12


def run_cli(*args, cwd):
    """Run the CLI as a user would, importable from the checkout even if not installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "golden.run", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def inputs(tmp_path):
    """A small random network and sample set written to ``tmp_path``."""
    rng = np.random.default_rng(7)
    net = random_network(rng, n_in=N_IN, n_hidden=N_HIDDEN, n_out=N_OUT, recurrent=True,
                         delay_in="synaptic", delay_rec="axonal", d_max=8)
    spikes = np.stack([random_spikes(rng, STEPS, N_IN, 0.3) for _ in range(SAMPLES)])
    labels = np.arange(SAMPLES) % N_OUT
    save_network(net, tmp_path / "net.json")
    save_samples(tmp_path / "data.npz", SampleSet(spikes=spikes, labels=labels))
    return tmp_path / "net.json", tmp_path / "data.npz"


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_good_run(tmp_path, inputs):
    net, data = inputs
    # Batch 4 over 6 samples: the last batch is partial.
    result = run_cli("--net", net, "--data", data, "--out", "results/run.npz", "--batch", "4",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip())
    assert summary["samples"] == SAMPLES
    assert summary["steps"] == STEPS
    assert 0.0 <= summary["mean_hidden_rate"] <= 1.0
    assert 0.0 <= summary["accuracy"] <= 1.0

    with np.load(tmp_path / "results" / "run.npz") as out:
        assert out["spikes"].shape == (SAMPLES, STEPS, N_HIDDEN)
        assert out["spikes"].dtype == bool
        assert out["v"].shape == (SAMPLES, STEPS, N_HIDDEN)
        assert out["y"].shape == (SAMPLES, STEPS, N_OUT)
        np.testing.assert_array_equal(out["labels"], np.arange(SAMPLES) % N_OUT)
        assert out["predicted"].shape == (SAMPLES,)
        assert summary["mean_hidden_rate"] == pytest.approx(out["spikes"].mean())
        assert summary["accuracy"] == pytest.approx(np.mean(out["predicted"] == out["labels"]))


def test_batching_does_not_change_results(tmp_path, inputs):
    net, data = inputs
    outputs = []
    for batch in (1, 64):
        out = tmp_path / f"run{batch}.npz"
        assert run_cli("--net", net, "--data", data, "--out", out, "--batch", batch,
                       cwd=tmp_path).returncode == 0
        with np.load(out) as arrays:
            outputs.append({key: arrays[key] for key in arrays.files})
    for key in outputs[0]:
        np.testing.assert_array_equal(outputs[0][key], outputs[1][key], err_msg=key)


def test_shipped_example_runs(tmp_path):
    result = run_cli("--net", REPO / "examples" / "net_small.json",
                     "--data", REPO / "examples" / "samples_small.npz",
                     "--out", tmp_path / "run.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["samples"] > 0


def test_bad_network_file(tmp_path, inputs):
    net, data = inputs
    fields = json.loads(net.read_text())
    fields["theta"][2] = 0  # thresholds must be >= 1
    net.write_text(json.dumps(fields))
    result = run_cli("--net", net, "--data", data, "--out", "out.npz", cwd=tmp_path)
    assert_one_line_error(result, str(net), "theta")
    assert not (tmp_path / "out.npz").exists()


def test_network_file_not_json(tmp_path, inputs):
    net, data = inputs
    net.write_text("{ not json")
    result = run_cli("--net", net, "--data", data, "--out", "out.npz", cwd=tmp_path)
    assert_one_line_error(result, str(net), "invalid JSON")


def test_bad_data_file(tmp_path, inputs):
    net, data = inputs
    with np.load(data) as arrays:
        fields = {key: arrays[key] for key in arrays.files}
    fields["spikes"] = fields["spikes"].astype(np.float64) * 0.5
    np.savez(data, **fields)
    result = run_cli("--net", net, "--data", data, "--out", "out.npz", cwd=tmp_path)
    assert_one_line_error(result, str(data), "'spikes'", "uint8 or bool")
    assert not (tmp_path / "out.npz").exists()


def test_data_does_not_fit_network(tmp_path, inputs):
    net, data = inputs
    with np.load(data) as arrays:
        fields = {key: arrays[key] for key in arrays.files}
    fields["spikes"] = fields["spikes"][:, :, :-1]
    np.savez(data, **fields)
    result = run_cli("--net", net, "--data", data, "--out", "out.npz", cwd=tmp_path)
    assert_one_line_error(result, str(data), "'spikes'", f"n_in = {N_IN}")


def test_missing_data_file(tmp_path, inputs):
    net, _ = inputs
    result = run_cli("--net", net, "--data", "nowhere.npz", "--out", "out.npz", cwd=tmp_path)
    assert_one_line_error(result, "nowhere.npz: no such file")
