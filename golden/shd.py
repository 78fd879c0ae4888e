"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) as sample sets.

The two data sets (Cramer et al., 2020) are distributed as one HDF5 file per split, which
users download themselves (``shd_train.h5``, ``shd_test.h5``, ``ssc_train.h5``, ...). Each
file holds, for ``N`` samples:

- ``spikes/times``: ``N`` variable-length float arrays, spike times in seconds;
- ``spikes/units``: ``N`` variable-length integer arrays, the input unit of each spike
  (``0 .. 699``: the channels of the cochlea model);
- ``labels``: ``N`` integers, the class of each sample (20 for SHD, 35 for SSC);
- ``extra/...`` (optional): SHD has ``extra/speaker`` (speaker of each sample),
  ``extra/keys`` (class names) and ``extra/meta_info``; only ``speaker`` and ``keys`` are
  used, and only for the ``meta`` description.

:func:`convert` turns such a file into a :class:`~golden.data.SampleSet`: spike times are
binned into time steps of ``dt_ms`` up to ``max_time_ms``, and the 700 units are pooled
into ``channels`` contiguous groups (unit ``u`` goes to channel ``u * channels //
input_units``), so that the network's input layer fits the synapse memory of a small FPGA.

The sample format holds one bit per step and input, but a pooled channel can receive
several events in one step. With ``levels = L`` every channel becomes ``L`` inputs, a
thermometer code: input ``c * L + k`` fires in a step when channel ``c`` got more than
``k`` events, so the number of spikes a channel sends in a step is
``min(count, L)``. ``levels = 1`` (default) keeps one input per channel and records only
whether the channel had an event. The events that do not fit (late events, counts above
``L``) are counted in ``meta``.

Command line: ``python -m golden.data shd --h5 FILE.h5 --out DIR`` (see
:func:`golden.data.main`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import numpy as np
from tqdm import tqdm

from .data import DataError, SampleSet

__all__ = ["SHD_UNITS", "Binning", "H5Events", "bin_events", "convert", "read_h5"]

#: Input units of the SHD/SSC cochlea model.
SHD_UNITS = 700

#: Samples read from the file at once: bounds memory on the large SSC files.
_CHUNK = 1024


@dataclasses.dataclass(frozen=True)
class Binning:
    """How events become a spike raster.

    Parameters
    ----------
    dt_ms : float
        Length of one time step in milliseconds.
    steps : int
        Time steps per sample; events at or after ``steps * dt_ms`` are dropped.
    channels : int
        Pooled input channels: contiguous groups of units, which differ in size by at most
        one unit when ``channels`` does not divide ``input_units``.
    levels : int
        Inputs per channel (thermometer code of the event count in a step).
    input_units : int
        Units in the file (700 for SHD and SSC).
    """

    dt_ms: float = 10.0
    steps: int = 100
    channels: int = 140
    levels: int = 1
    input_units: int = SHD_UNITS

    def __post_init__(self):
        if not (math.isfinite(self.dt_ms) and self.dt_ms > 0):
            raise ValueError(f"dt_ms must be a positive number, got {self.dt_ms}")
        for name, value in (("steps", self.steps), ("channels", self.channels),
                            ("levels", self.levels), ("input_units", self.input_units)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.channels > self.input_units:
            raise ValueError(f"channels ({self.channels}) must not exceed input_units "
                             f"({self.input_units}): pooling cannot add channels")

    @property
    def n_in(self) -> int:
        """Inputs of a network that reads the converted samples."""
        return self.channels * self.levels

    @property
    def max_time_ms(self) -> float:
        return self.steps * self.dt_ms

    @property
    def pool(self) -> np.ndarray:
        """Channel of every input unit, ``int64 [input_units]``."""
        return np.arange(self.input_units, dtype=np.int64) * self.channels // self.input_units


def bin_events(times_s: np.ndarray, units: np.ndarray, binning: Binning,
               pool: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Spike raster of one sample.

    Parameters
    ----------
    times_s : array of float, shape (events,)
        Event times in seconds (checked by the caller: finite, ``>= 0``).
    units : array of int, shape (events,)
        Event units in ``[0, input_units)`` (checked by the caller).
    binning : Binning
    pool : array of int, optional
        ``binning.pool``, passed in to avoid recomputing it for every sample.

    Returns
    -------
    spikes : array of uint8, shape (steps, channels * levels)
    counts : dict
        ``events``, ``late`` (at or after the last step) and ``clipped`` (beyond ``levels``
        in their step and channel).
    """
    pool = binning.pool if pool is None else pool
    # float64 before scaling: SHD stores float16 times, whose products would round.
    steps = np.floor(np.asarray(times_s, dtype=np.float64) * (1000.0 / binning.dt_ms))
    keep = steps < binning.steps
    cell = steps[keep].astype(np.int64) * binning.channels + pool[units[keep]]
    counts = np.bincount(cell, minlength=binning.steps * binning.channels)
    counts = counts.reshape(binning.steps, binning.channels)
    spikes = counts[:, :, None] > np.arange(binning.levels)[None, None, :]
    clipped = int(np.maximum(counts - binning.levels, 0).sum())
    return (spikes.reshape(binning.steps, binning.n_in).astype(np.uint8),
            {"events": len(times_s), "late": int((~keep).sum()), "clipped": clipped})


# -- reading ------------------------------------------------------------------------------


@dataclasses.dataclass
class H5Events:
    """The checked contents of an SHD/SSC file, read lazily sample chunk by chunk.

    Use :func:`read_h5` as a context manager: ``with read_h5(path) as events: ...``.
    """

    path: Path
    file: Any
    indices: np.ndarray  #: samples to convert (all, or a subset with ``limit``)
    labels: np.ndarray  #: labels of ``indices``
    speaker: np.ndarray | None  #: speaker of each of ``indices`` (SHD only)
    keys: list[str] | None  #: class names, if the file has ``extra/keys``
    input_units: int

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()

    def __len__(self) -> int:
        return len(self.indices)

    def samples(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(index, times, units)`` of every selected sample, in file order, checked."""
        times_ds, units_ds = self.file["spikes/times"], self.file["spikes/units"]
        name = str(self.path)
        for start in range(0, len(self.indices), _CHUNK):
            chunk = self.indices[start:start + _CHUNK]
            # One read of a contiguous range is much faster than one read per sample.
            lo, hi = int(chunk[0]), int(chunk[-1]) + 1
            times_block, units_block = times_ds[lo:hi], units_ds[lo:hi]
            for index in chunk:
                times = np.asarray(times_block[index - lo])
                units = np.asarray(units_block[index - lo])
                _check_sample(name, int(index), times, units, self.input_units)
                yield int(index), times, units.astype(np.int64)


def read_h5(path: str | Path, *, input_units: int = SHD_UNITS, limit: int | None = None,
            seed: int = 0) -> H5Events:
    """Open and check an SHD/SSC file; the events are read by :meth:`H5Events.samples`.

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file.
    input_units : int
        Units the file must use (``spikes/units`` values below it).
    limit : int, optional
        Convert only this many samples: a random subset (``seed``), kept in file order.
        The files are sorted (by speaker in SHD), so the first ``limit`` samples would
        miss classes and speakers.
    seed : int
        Seed of the subset.

    Raises
    ------
    DataError
        The file cannot be read, or a dataset is missing or malformed; the one-line message
        names the file and the dataset. Per-sample problems (event arrays of different
        lengths, units out of range, bad times) are raised while iterating.
    """
    import h5py  # only this converter needs HDF5

    path = Path(path)
    name = str(path)
    if not path.exists():
        raise DataError(f"{name}: no such file")
    if path.is_dir():
        raise DataError(f"{name}: is a directory, not an .h5 file")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as err:
        raise DataError(f"{name}: cannot read file ({err})") from None
    if not is_hdf5:
        raise DataError(f"{name}: not an HDF5 file (SHD/SSC files are .h5, uncompressed: "
                        f"gunzip a downloaded .h5.gz first)")
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{name}: cannot open HDF5 file ({err})") from None
    try:
        events = _open(file, name, input_units, limit, seed)
    except BaseException:
        file.close()
        raise
    events.path = path
    return events


def _dataset(file, name: str, key: str, required: bool = True):
    import h5py

    item = file.get(key)
    if item is None:
        if not required:
            return None
        raise DataError(f"{name}: missing dataset {key!r} (an SHD/SSC file has "
                        f"spikes/times, spikes/units and labels)")
    if not isinstance(item, h5py.Dataset):
        raise DataError(f"{name}: {key!r} must be a dataset, found a group")
    return item


def _open(file, name: str, input_units: int, limit: int | None, seed: int) -> H5Events:
    import h5py

    times = _dataset(file, name, "spikes/times")
    units = _dataset(file, name, "spikes/units")
    labels_ds = _dataset(file, name, "labels")
    for key, ds, kinds, what in (("spikes/times", times, "f", "float (seconds)"),
                                 ("spikes/units", units, "iu", "integer")):
        base = h5py.check_vlen_dtype(ds.dtype)
        if ds.ndim != 1 or base is None or np.dtype(base).kind not in kinds:
            shown = f"vlen {np.dtype(base)}" if base is not None else str(ds.dtype)
            raise DataError(f"{name}: {key!r} must be a 1-D dataset of variable-length "
                            f"{what} arrays, got {shown} with shape {ds.shape}")
    n = times.shape[0]
    if units.shape[0] != n:
        raise DataError(f"{name}: 'spikes/units' has {units.shape[0]} samples but "
                        f"'spikes/times' has {n}")
    if n == 0:
        raise DataError(f"{name}: 'spikes/times' has no samples")
    labels = labels_ds[()]
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{name}: 'labels' must be a 1-D integer dataset, got {labels.dtype} "
                        f"with shape {labels.shape}")
    if labels.shape[0] != n:
        raise DataError(f"{name}: 'labels' has {labels.shape[0]} entries but 'spikes/times' "
                        f"has {n} samples")
    if labels.dtype.kind == "i" and labels.min() < 0:
        index = int(np.argmax(labels < 0))
        raise DataError(f"{name}: 'labels'[{index}] = {int(labels[index])} is negative "
                        f"(classes are >= 0)")

    speaker = None
    speaker_ds = _dataset(file, name, "extra/speaker", required=False)
    if speaker_ds is not None:
        speaker = speaker_ds[()]
        if speaker.shape != (n,) or speaker.dtype.kind not in "iu":
            raise DataError(f"{name}: 'extra/speaker' must hold one integer per sample "
                            f"({n}), got {speaker.dtype} with shape {speaker.shape}")
    keys = None
    keys_ds = _dataset(file, name, "extra/keys", required=False)
    if keys_ds is not None:
        keys = [k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
                for k in np.ravel(keys_ds[()])]

    indices = np.arange(n, dtype=np.int64)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        if limit < n:
            rng = np.random.default_rng(seed)
            indices = np.sort(rng.choice(n, size=limit, replace=False))
    return H5Events(path=Path(name), file=file, indices=indices,
                    labels=labels[indices].astype(np.int64),
                    speaker=None if speaker is None else speaker[indices].astype(np.int64),
                    keys=keys, input_units=input_units)


def _check_sample(name: str, index: int, times: np.ndarray, units: np.ndarray,
                  input_units: int) -> None:
    if times.shape != units.shape or times.ndim != 1:
        raise DataError(f"{name}: 'spikes/units'[{index}] has {units.size} events but "
                        f"'spikes/times'[{index}] has {times.size}")
    if not times.size:
        return
    bad = ~np.isfinite(times) | (times < 0)
    if bad.any():
        first = int(np.argmax(bad))
        raise DataError(f"{name}: 'spikes/times'[{index}][{first}] = {float(times[first])} "
                        f"is not a time (finite seconds >= 0)")
    out = (units < 0) | (units >= input_units)
    if out.any():
        first = int(np.argmax(out))
        raise DataError(f"{name}: 'spikes/units'[{index}][{first}] = {int(units[first])} is "
                        f"outside [0, {input_units - 1}] (input units: --input-units)")


# -- conversion ---------------------------------------------------------------------------


def convert(path: str | Path, binning: Binning, *, limit: int | None = None, seed: int = 0,
            progress: bool | None = None) -> SampleSet:
    """Convert an SHD/SSC ``.h5`` file into a sample set.

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file.
    binning : Binning
        Time step, number of steps, pooled channels and levels.
    limit, seed : int, optional
        Convert a random subset of ``limit`` samples (see :func:`read_h5`).
    progress : bool or None
        Progress bar on stderr: always, never, or only on a terminal (None).

    Returns
    -------
    SampleSet
        ``spikes [samples, binning.steps, binning.n_in]``, the file's labels, learning on
        every step, and ``meta`` describing the conversion (with the speakers and class
        names when the file has them).

    Raises
    ------
    DataError
        The file is malformed (one line naming the file and the dataset).
    """
    with read_h5(path, input_units=binning.input_units, limit=limit, seed=seed) as events:
        spikes = np.zeros((len(events), binning.steps, binning.n_in), dtype=np.uint8)
        totals = {"events": 0, "late": 0, "clipped": 0}
        pool = binning.pool
        bar = tqdm(events.samples(), total=len(events), desc=Path(path).name, unit="sample",
                   disable=None if progress is None else not progress)
        for row, (_, times, units) in enumerate(bar):
            spikes[row], counts = bin_events(times, units, binning, pool)
            for key, value in counts.items():
                totals[key] += value
        meta: dict[str, Any] = {
            "source": "shd", "file": Path(path).name, "dt_ms": binning.dt_ms,
            "steps": binning.steps, "max_time_ms": binning.max_time_ms,
            "channels": binning.channels, "levels": binning.levels,
            "input_units": binning.input_units, "events": totals["events"],
            "events_late": totals["late"], "events_clipped": totals["clipped"],
        }
        if limit is not None:
            meta["limit"], meta["seed"] = limit, seed
            meta["indices"] = events.indices.tolist()
        if events.keys is not None:
            meta["classes"] = events.keys
        if events.speaker is not None:
            meta["speaker"] = events.speaker.tolist()
        return SampleSet(spikes=spikes, labels=events.labels, meta=meta)
