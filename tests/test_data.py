"""Sample-set files (golden.data): round trip and one-line errors for malformed files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from golden.data import DataError, SampleSet, load_samples, save_samples

SAMPLES, STEPS, N_IN = 10, 20, 6


def good_arrays() -> dict[str, np.ndarray]:
    """A valid set of arrays as they would be stored in a sample file."""
    rng = np.random.default_rng(1)
    return {
        "spikes": (rng.random((SAMPLES, STEPS, N_IN)) < 0.3).astype(np.uint8),
        "labels": rng.integers(0, 3, size=SAMPLES),
        "target_mask": rng.random((SAMPLES, STEPS)) < 0.5,
        "meta": np.array(json.dumps({"name": "test", "seed": 1})),
    }


def test_round_trip(tmp_path):
    arrays = good_arrays()
    original = SampleSet(spikes=arrays["spikes"], labels=arrays["labels"],
                         target_mask=arrays["target_mask"], meta={"name": "test", "seed": 1})
    path = tmp_path / "set.npz"
    save_samples(path, original)
    loaded = load_samples(path, n_in=N_IN, n_classes=3)
    assert loaded.spikes.dtype == np.uint8
    assert loaded.labels.dtype == np.int64
    assert loaded.target_mask.dtype == bool
    np.testing.assert_array_equal(loaded.spikes, original.spikes)
    np.testing.assert_array_equal(loaded.labels, original.labels)
    np.testing.assert_array_equal(loaded.target_mask, original.target_mask)
    assert loaded.meta == {"name": "test", "seed": 1}
    assert (loaded.n_samples, loaded.n_steps, loaded.n_in) == (SAMPLES, STEPS, N_IN)
    assert len(loaded) == SAMPLES


def test_save_writes_exact_path(tmp_path):
    # numpy appends ".npz" to bare names; the sample writer must not.
    arrays = good_arrays()
    path = tmp_path / "set.samples"
    save_samples(path, SampleSet(spikes=arrays["spikes"], labels=arrays["labels"]))
    assert path.exists()
    assert not (tmp_path / "set.samples.npz").exists()


def test_optional_fields_default(tmp_path):
    arrays = good_arrays()
    path = tmp_path / "minimal.npz"
    np.savez(path, spikes=arrays["spikes"], labels=arrays["labels"])
    loaded = load_samples(path)
    assert loaded.target_mask.shape == (SAMPLES, STEPS)
    assert loaded.target_mask.all()
    assert loaded.meta == {}


@pytest.mark.parametrize("dtype", [bool, np.int64, np.uint16])
def test_exact_integer_dtypes_accepted(tmp_path, dtype):
    arrays = good_arrays()
    path = tmp_path / "set.npz"
    np.savez(path, spikes=arrays["spikes"].astype(dtype),
             labels=arrays["labels"].astype(np.uint8),
             target_mask=arrays["target_mask"].astype(dtype))
    loaded = load_samples(path)
    np.testing.assert_array_equal(loaded.spikes, arrays["spikes"])
    np.testing.assert_array_equal(loaded.target_mask, arrays["target_mask"])


def test_direct_construction_validates():
    arrays = good_arrays()
    with pytest.raises(DataError, match=r"^'labels' has 9 entries but 'spikes' has 10 samples$"):
        SampleSet(spikes=arrays["spikes"], labels=arrays["labels"][:9])
    with pytest.raises(DataError, match="'meta' must be serialisable as JSON"):
        SampleSet(spikes=arrays["spikes"], labels=arrays["labels"], meta={"x": object()})


# -- malformed files ----------------------------------------------------------------------
# Each case changes a valid file and names the field (or key phrase) the message must
# contain. Messages must be one line and start with the file name.


def _with(**changes):
    def make():
        arrays = good_arrays()
        for key, value in changes.items():
            if value is None:
                del arrays[key]
            else:
                arrays[key] = value(arrays) if callable(value) else value
        return arrays
    return make


def _spike_value_3(arrays):
    spikes = arrays["spikes"].copy()
    spikes[2, 17, 5] = 3
    return spikes


def _negative_label(arrays):
    labels = arrays["labels"].copy()
    labels[4] = -1
    return labels


BAD_CASES = [
    ("missing-spikes", _with(spikes=None), "missing key 'spikes'", {}),
    ("missing-labels", _with(labels=None), "missing key 'labels'", {}),
    ("unknown-key", _with(target=lambda a: a["target_mask"]), "unknown key 'target'", {}),
    ("spikes-float", _with(spikes=lambda a: a["spikes"].astype(np.float32)),
     "'spikes' must be uint8 or bool", {}),
    ("spikes-ndim", _with(spikes=lambda a: a["spikes"][:, :, 0]),
     "'spikes' must have 3 dimensions", {}),
    ("spikes-empty", _with(spikes=np.zeros((0, STEPS, N_IN), np.uint8),
                           labels=np.zeros(0, np.int64), target_mask=None),
     "'spikes' must have at least one sample", {}),
    ("spikes-value", _with(spikes=_spike_value_3),
     "'spikes' must have values 0 or 1, found 3 at [2, 17, 5]", {}),
    ("spikes-negative", _with(spikes=lambda a: a["spikes"].astype(np.int8) - 1),
     "'spikes' must have values 0 or 1, found -1", {}),
    ("spikes-objects", _with(spikes=np.array([[1, 0], [1]], dtype=object)),
     "'spikes' holds Python objects", {}),
    ("labels-count", _with(labels=lambda a: a["labels"][:9]),
     "'labels' has 9 entries but 'spikes' has 10 samples", {}),
    ("labels-negative", _with(labels=_negative_label), "'labels' must be >= 0, found -1 at [4]",
     {}),
    ("labels-float", _with(labels=lambda a: a["labels"].astype(float)),
     "'labels' must be integers", {}),
    ("labels-bool", _with(labels=lambda a: a["labels"] > 0), "'labels' must be integers", {}),
    ("labels-ndim", _with(labels=lambda a: a["labels"][:, None]),
     "'labels' must have 1 dimension", {}),
    ("labels-n-classes", _with(labels=np.full(SAMPLES, 3)), "'labels' must be in [0, 2]",
     {"n_classes": 3}),
    ("target-mask-shape", _with(target_mask=lambda a: a["target_mask"][:, :-1]),
     "'target_mask' must have shape [samples, T] = (10, 20)", {}),
    ("target-mask-float", _with(target_mask=lambda a: a["target_mask"].astype(float)),
     "'target_mask' must be bool", {}),
    ("target-mask-value", _with(target_mask=lambda a: a["target_mask"].astype(np.uint8) * 2),
     "'target_mask' must have values 0 or 1, found 2", {}),
    ("meta-invalid-json", _with(meta=np.array("{not json")), "'meta' is not valid JSON", {}),
    ("meta-not-object", _with(meta=np.array("[1, 2]")), "'meta' must be a JSON object", {}),
    ("meta-not-string", _with(meta=np.arange(3)), "'meta' must be a scalar JSON string", {}),
    ("n-in-mismatch", _with(), "'spikes' has 6 inputs (last axis) but the network has n_in = 7",
     {"n_in": 7}),
]


@pytest.mark.parametrize("make, expected, kwargs", [c[1:] for c in BAD_CASES],
                         ids=[c[0] for c in BAD_CASES])
def test_bad_file(tmp_path, make, expected, kwargs):
    path = tmp_path / "data.npz"
    np.savez(path, **make())
    with pytest.raises(DataError) as info:
        load_samples(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    (b"this is not a zip archive", "not a valid .npz file"),
    ("npy", "not an .npz archive"),
], ids=["missing", "not-zip", "npy"])
def test_unreadable_file(tmp_path, content, expected):
    path = tmp_path / "data.npz"
    if content == "npy":
        with open(path, "wb") as file:
            np.save(file, np.zeros((2, 3, 4), np.uint8))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_samples(path)
    message = str(info.value)
    assert "\n" not in message
    assert message == f"{path}: {expected}" or message.startswith(f"{path}: {expected}")
