"""The spoken-digit benchmark (``bench/shd_like.py``) on tiny synthetic sample sets.

Real spoken digits take half a minute to make and minutes to train on, so these tests pass a
small random sample set through ``--data`` (and replace the generator where the test is
about making the data): they check the command's outputs and its errors, not accuracy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import shd_like
from golden.data import SampleSet, load_samples, save_samples

REPO = Path(__file__).resolve().parent.parent
CLASSES, INPUTS, STEPS = 4, 8, 12


def tiny_set(n_samples: int, seed: int) -> SampleSet:
    """Random spikes whose class sets the rate of one group of inputs (learnable a bit)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % CLASSES
    rate = np.full((n_samples, 1, INPUTS), 0.1)
    for k in range(CLASSES):
        rate[labels == k, :, 2 * k:2 * k + 2] = 0.6
    spikes = (rng.random((n_samples, STEPS, INPUTS)) < rate).astype(np.uint8)
    return SampleSet(spikes=spikes, labels=labels, meta={"source": "test"})


def write_tiny(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_samples(folder / "train.npz", tiny_set(12, seed=0))
    save_samples(folder / "test.npz", tiny_set(8, seed=1))
    return folder


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("tiny") / "data")


def run(tmp_path, data, *extra):
    """Run the benchmark in-process on a tiny budget; returns (status, summary or None)."""
    out = tmp_path / "out.json"
    status = shd_like.main(["--json", str(out), "--data", str(data), "--seeds", "2",
                            "--epochs", "2", "--n-hidden", "4", "--no-progress", *extra])
    return status, (json.loads(out.read_text()) if out.exists() else None)


def test_json_fields(tmp_path, tiny_data, capsys):
    status, summary = run(tmp_path, tiny_data, "--jobs", "1", "--plot",
                          str(tmp_path / "curves.png"))
    assert status == 0
    for key in ("weights_only_acc", "weights_delays_acc"):
        assert 0.0 <= summary[key] <= 1.0
        per_seed = summary["per_seed"][key]
        assert len(per_seed) == 2
        assert summary[key] == pytest.approx(np.mean(per_seed))
        assert summary["stats"][key]["std"] == pytest.approx(np.std(per_seed))
        assert summary["stats"][key]["n_hidden"] == 4
        curves = summary["curves"][key]
        assert len(curves) == 2 and all(len(curve) == 3 for curve in curves)  # epochs 0..2
        assert [curve[-1] for curve in curves] == per_seed
    # Same initial network per seed: both modes start from the same accuracy.
    assert ([c[0] for c in summary["curves"]["weights_only_acc"]]
            == [c[0] for c in summary["curves"]["weights_delays_acc"]])
    assert summary["gain_over_weights_only"] == pytest.approx(
        summary["weights_delays_acc"] - summary["weights_only_acc"])
    assert len(summary["gain_per_seed"]) == 2
    config = summary["config"]
    assert (config["train_samples"], config["test_samples"]) == (12, 8)
    assert (config["n_in"], config["steps"], config["classes"]) == (INPUTS, STEPS, CLASSES)
    assert config["seeds"] == [0, 1] and config["epochs"] == 2 and config["n_hidden"] == 4
    assert config["data_generated"] is False and config["mode"] == "exact"
    assert config["learning"]["learn_weights"] is True
    assert summary["seconds"] > 0 and summary["total_seconds"] >= summary["seconds"]
    assert summary["data_seconds"] == 0.0
    assert (tmp_path / "curves.png").stat().st_size > 0
    table = capsys.readouterr().out
    assert "weights,delays" in table and "reused" in table


def test_parallel_jobs_give_the_same_result(tmp_path, tiny_data):
    """Learners get exactly their own result whichever core and process they share."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    _, one = run(tmp_path / "one", tiny_data, "--jobs", "1")
    _, two = run(tmp_path / "two", tiny_data, "--jobs", "2")
    assert one["per_seed"] == two["per_seed"]
    assert one["curves"] == two["curves"]


def test_subsets_are_class_balanced(tiny_data):
    train_set, test_set = shd_like.load_spoken(tiny_data, train_samples=5, test_samples=4)
    assert train_set.n_samples == 5 and test_set.n_samples == 4
    assert set(test_set.labels.tolist()) == set(range(CLASSES))
    assert len(set(train_set.labels.tolist())) == CLASSES


@pytest.mark.parametrize("flags, message", [
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--epochs", "two"], "--epochs: invalid int value"),
    (["--n-hidden", "0"], "--n-hidden must be >= 1"),
    (["--jobs", "0"], "--jobs must be >= 1"),
    (["--train-samples", "-3"], "--train-samples must be >= 1"),
    (["--plot", "curves.jpg"], "--plot must name a .png file"),
    (["--learn", "delays"], "unrecognized arguments: --learn"),
])
def test_bad_flags_fail_cleanly(tmp_path, tiny_data, capsys, flags, message):
    status, summary = run(tmp_path, tiny_data, *flags)
    assert status == 2 and summary is None
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_bad_json_name_and_data(tmp_path, tiny_data, capsys):
    assert shd_like.main(["--json", str(tmp_path / "out.txt"), "--data", str(tiny_data)]) == 2
    assert "--json must name a .json file" in capsys.readouterr().err

    a_file = tmp_path / "file.npz"
    a_file.write_bytes(b"")
    status, _ = run(tmp_path, a_file)
    assert status == 2 and "--data must name a folder" in capsys.readouterr().err

    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(tiny_data / "train.npz", half / "train.npz")
    status, _ = run(tmp_path, half)
    assert status == 2 and "has train.npz but no test.npz" in capsys.readouterr().err

    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(tiny_data / "train.npz", broken / "train.npz")
    (broken / "test.npz").write_bytes(b"not a zip file")
    status, _ = run(tmp_path, broken)
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and "test.npz" in err
    assert err.count("\n") == 1


def test_missing_espeak_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    status, summary = run(tmp_path, tmp_path / "new")
    err = capsys.readouterr().err
    assert status == 2 and summary is None
    assert err.startswith("error: espeak-ng is not installed") and err.count("\n") == 1
    assert not (tmp_path / "new").exists()  # nothing half-made


def test_absent_data_is_made_once_then_reused(tmp_path, monkeypatch, capsys):
    """An empty --data folder is filled by golden.spoken (replaced by a tiny set here)."""
    calls = []

    def fake_spoken(argv):
        out = Path(argv[argv.index("--out") + 1])
        calls.append(out)
        write_tiny(out)
        return 0

    monkeypatch.setattr(shd_like, "find_espeak", lambda: "espeak-ng")
    monkeypatch.setattr(shd_like, "spoken_main", fake_spoken)
    data = tmp_path / "cache"
    status, summary = run(tmp_path, data, "--epochs", "1", "--jobs", "1")
    assert status == 0 and summary["config"]["data_generated"] is True
    assert sorted(p.name for p in data.iterdir()) == ["test.npz", "train.npz"]  # no scratch
    assert load_samples(data / "train.npz").n_samples == 12
    status, summary = run(tmp_path, data, "--epochs", "1", "--jobs", "1")
    assert status == 0 and summary["config"]["data_generated"] is False
    assert len(calls) == 1
    assert "made now" in capsys.readouterr().out


def test_command_line_entry_point(tmp_path, tiny_data):
    """``python -m bench.shd_like`` from another folder: bad flag, one line, status 2."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-m", "bench.shd_like", "--json",
                             str(tmp_path / "out.json"), "--data", str(tiny_data),
                             "--seeds", "-1"], capture_output=True, text=True, cwd=tmp_path,
                            env=env, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr == "error: --seeds must be >= 1, got -1\n"
    assert not (tmp_path / "out.json").exists()
