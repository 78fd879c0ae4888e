"""SHD/SSC conversion (``golden.shd``, ``python -m golden.data shd``) on small made-up files.

The files have the layout of the real ones (``spikes/times``, ``spikes/units`` as
variable-length arrays, ``labels``, ``extra/speaker``, ``extra/keys``), so the converter
is tested without the (large, separately downloaded) data sets.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from golden.data import DataError, load_samples, main
from golden.shd import Binning, bin_events, convert

REPO = Path(__file__).resolve().parent.parent


def make_events(rng, n_samples, *, units=700, max_time=1.2, max_events=400):
    """Random event lists; some events share a (step, channel) cell, some come late."""
    times, unit_lists = [], []
    for _ in range(n_samples):
        k = int(rng.integers(0, max_events))
        # Bunch the units so pooled channels receive several events per step.
        times.append(np.sort(rng.uniform(0, max_time, k)))
        unit_lists.append(rng.integers(0, units, k) // 7 * 7)
    return times, unit_lists


def write_h5(path, times, units, labels, *, time_dtype=np.float16, unit_dtype=np.uint16,
             speaker=None, keys=None):
    """An .h5 file with the SHD layout."""
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(time_dtype))
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(unit_dtype))
        for i, (ti, ui) in enumerate(zip(times, units)):
            t[i] = np.asarray(ti, dtype=time_dtype)
        for i, ui in enumerate(units):
            u[i] = np.asarray(ui, dtype=unit_dtype)
        f["labels"] = np.asarray(labels)
        if speaker is not None:
            f["extra/speaker"] = np.asarray(speaker, dtype=np.uint16)
        if keys is not None:
            f["extra/keys"] = np.array([k.encode() for k in keys])
            f["extra/meta_info/age"] = np.array([30, 40])  # present in SHD, unused


def expected_counts(times, units, dt_ms, steps, channels, input_units=700):
    """Events per (step, channel), counted one event at a time."""
    counts = Counter()
    for t, u in zip(times, units):
        step = math.floor(float(t) * 1000.0 / dt_ms)
        if step < steps:
            counts[step, int(u) * channels // input_units] += 1
    return counts


@pytest.fixture
def shd_file(tmp_path):
    rng = np.random.default_rng(3)
    times, units = make_events(rng, 12)
    labels = rng.integers(0, 20, 12).astype(np.uint8)
    path = tmp_path / "shd_train.h5"
    write_h5(path, times, units, labels, speaker=rng.integers(0, 2, 12),
             keys=[f"word{i}" for i in range(20)])
    # What the file holds after the float16 round trip, for the expected counts.
    stored = [np.asarray(t, dtype=np.float16) for t in times]
    return path, stored, units, labels


@pytest.mark.parametrize("levels", [1, 3, 64])
def test_counts_match_events(shd_file, levels):
    path, times, units, labels = shd_file
    binning = Binning(dt_ms=7.0, steps=120, channels=35, levels=levels)
    samples = convert(path, binning, progress=False)
    assert samples.spikes.shape == (12, 120, 35 * levels)
    assert samples.labels.tolist() == labels.tolist()
    total_clipped = total_late = 0
    for s in range(12):
        counts = expected_counts(times[s], units[s], 7.0, 120, 35)
        got = samples.spikes[s].reshape(120, 35, levels).astype(int)
        # Thermometer code: the inputs of a channel that fire are the first ones.
        assert np.all(np.diff(got, axis=2) <= 0)
        expected = np.zeros((120, 35), dtype=int)
        for (step, channel), count in counts.items():
            expected[step, channel] = min(count, levels)
            total_clipped += max(count - levels, 0)
        np.testing.assert_array_equal(got.sum(axis=2), expected)
        total_late += len(times[s]) - sum(counts.values())
    assert samples.meta["events_clipped"] == total_clipped
    assert samples.meta["events_late"] == total_late
    assert samples.meta["events"] == sum(len(t) for t in times)
    assert samples.meta["classes"][3] == "word3"
    assert len(samples.meta["speaker"]) == 12
    if levels == 64:
        assert total_clipped == 0  # enough levels: every event is in the raster


def test_bin_events_boundaries():
    binning = Binning(dt_ms=10.0, steps=3, channels=2, input_units=4)
    times = np.array([0.0, 0.0099, 0.010, 0.0299, 0.030, 5.0])
    units = np.array([0, 1, 2, 3, 3, 0])
    spikes, counts = bin_events(times, units, binning)
    # Units 0, 1 pool to channel 0 and units 2, 3 to channel 1; 30 ms is past step 2.
    np.testing.assert_array_equal(spikes, [[1, 0], [0, 1], [0, 1]])
    assert counts == {"events": 6, "late": 2, "clipped": 1}


def test_uneven_pooling_groups():
    pool = Binning(channels=3, input_units=10).pool
    assert pool.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_cli_writes_split_files_named_after_inputs(tmp_path, shd_file, capsys):
    path, *_ = shd_file
    rng = np.random.default_rng(4)
    times, units = make_events(rng, 5)
    test_path = tmp_path / "shd_test.h5"
    write_h5(test_path, times, units, np.arange(5), time_dtype=np.float32,
             unit_dtype=np.int32)
    status = main(["shd", "--h5", str(path), str(test_path), "--out", str(tmp_path / "out"),
                   "--bins", "50", "--max-time-ms", "500", "--channels", "70",
                   "--no-progress"])
    assert status == 0, capsys.readouterr().err
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(line["out"]).name for line in lines] == ["shd_train.npz", "shd_test.npz"]
    train = load_samples(tmp_path / "out" / "shd_train.npz")
    test = load_samples(tmp_path / "out" / "shd_test.npz")
    assert train.spikes.shape == (12, 50, 70) and test.spikes.shape == (5, 50, 70)
    assert train.meta["dt_ms"] == 10.0 and train.meta["file"] == "shd_train.h5"
    assert "speaker" not in test.meta  # no extra/ group in that file


def test_limit_takes_a_sorted_random_subset(shd_file, capsys, tmp_path):
    path, _, _, labels = shd_file
    assert main(["shd", "--h5", str(path), "--out", str(tmp_path), "--limit", "5",
                 "--seed", "1", "--no-progress"]) == 0
    samples = load_samples(tmp_path / "shd_train.npz")
    indices = samples.meta["indices"]
    assert len(indices) == 5 and indices == sorted(indices)
    assert samples.labels.tolist() == labels[indices].tolist()


def _error(capsys, argv):
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def _broken(tmp_path, edit):
    """A valid 3-sample file, then ``edit(h5file)`` applied to it."""
    path = tmp_path / "bad.h5"
    write_h5(path, [np.array([0.1, 0.2]), np.array([0.3]), np.array([])],
             [np.array([1, 2]), np.array([3]), np.array([], dtype=int)], np.array([0, 1, 2]))
    with h5py.File(path, "a") as f:
        edit(f)
    return path


def _replace(key, value):
    def edit(f):
        del f[key]
        f[key] = value
    return edit


def _set_vlen(key, index, value, dtype):
    def edit(f):
        del f[key]
        ds = f.create_dataset(key, (3,), dtype=h5py.vlen_dtype(dtype))
        base = {"spikes/times": [[0.1, 0.2], [0.3], []], "spikes/units": [[1, 2], [3], []]}[key]
        for i, v in enumerate(base):
            ds[i] = np.asarray(value if i == index else v, dtype=dtype)
    return edit


@pytest.mark.parametrize("edit, fragments", [
    (lambda f: f.__delitem__("spikes/units"), ["missing dataset 'spikes/units'"]),
    (lambda f: f.__delitem__("labels"), ["missing dataset 'labels'"]),
    (_replace("labels", np.array([0, 1])), ["'labels' has 2 entries", "3 samples"]),
    (_replace("labels", np.array([0.5, 1, 2])), ["'labels' must be a 1-D integer"]),
    (_replace("labels", np.array([0, -1, 2])), ["'labels'[1] = -1"]),
    (_set_vlen("spikes/units", 0, [1, 2, 3], np.uint16),
     ["'spikes/units'[0] has 3 events", "'spikes/times'[0] has 2"]),
    (_set_vlen("spikes/units", 1, [700], np.uint16),
     ["'spikes/units'[1][0] = 700", "[0, 699]"]),
    (_set_vlen("spikes/times", 1, [-0.5], np.float32), ["'spikes/times'[1][0] = -0.5"]),
    (_set_vlen("spikes/times", 0, [0.1, np.nan], np.float32), ["'spikes/times'[0][1]"]),
    (_replace("spikes/times", np.zeros((3, 2))), ["'spikes/times' must be", "variable-length"]),
    (lambda f: (f.__delitem__("spikes/units"), f.create_dataset(
        "spikes/units", (2,), dtype=h5py.vlen_dtype(np.uint16))),
     ["'spikes/units' has 2 samples", "'spikes/times' has 3"]),
    (lambda f: (f.__delitem__("labels"), f.create_group("labels")),
     ["'labels' must be a dataset"]),
])
def test_malformed_file_errors_name_the_field(tmp_path, capsys, edit, fragments):
    path = _broken(tmp_path, edit)
    err = _error(capsys, ["shd", "--h5", str(path), "--out", str(tmp_path / "out"),
                          "--no-progress"])
    assert str(path) in err
    for fragment in fragments:
        assert fragment in err


def test_not_hdf5_and_missing_file(tmp_path, capsys):
    text = tmp_path / "x.h5"
    text.write_text("not hdf5")
    assert "not an HDF5 file" in _error(capsys, ["shd", "--h5", str(text), "--out",
                                                 str(tmp_path)])
    assert "no such file" in _error(capsys, ["shd", "--h5", str(tmp_path / "none.h5"),
                                             "--out", str(tmp_path)])


def test_flag_errors(tmp_path, capsys, shd_file):
    path, *_ = shd_file
    base = ["shd", "--h5", str(path), "--out", str(tmp_path)]
    assert "--channels" in _error(capsys, base + ["--channels", "0"])
    assert "not allowed with" in _error(capsys, base + ["--bins", "10", "--dt-ms", "5"])
    assert "must not exceed" in _error(capsys, base + ["--channels", "701"])


def test_convert_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="missing dataset 'spikes/times'"):
        with h5py.File(tmp_path / "e.h5", "w") as f:
            f["labels"] = np.arange(2)
        convert(tmp_path / "e.h5", Binning(), progress=False)


def test_module_entry_point(tmp_path, shd_file):
    """``python -m golden.data`` as a user runs it (the DataError of a fresh process)."""
    path, *_ = shd_file
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    run = subprocess.run([sys.executable, "-m", "golden.data", "shd", "--h5", str(path),
                          "--out", str(tmp_path / "o"), "--input-units", "100", "--channels",
                          "50"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert run.stderr.startswith("error: ") and "'spikes/units'" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_info_summarises_a_sample_file(shd_file, tmp_path, capsys):
    path, *_ = shd_file
    assert main(["shd", "--h5", str(path), "--out", str(tmp_path), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "shd_train.npz")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == 12 and summary["n_in"] == 140
    assert sum(summary["per_class"]) == 12
    assert "speaker" not in summary["meta"] or len(summary["meta"]["speaker"]) <= 64
    assert summary["meta"]["classes"][0] == "word0"
    (tmp_path / "bad.npz").write_text("x")
    assert "not a valid .npz file" in _error(capsys, ["info", str(tmp_path / "bad.npz")])
