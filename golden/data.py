"""Sample sets: input spike trains with labels, stored as ``.npz`` files.

The file format is defined in ``docs/model.md`` section 6:

- ``spikes``: ``uint8`` or ``bool`` with values 0/1, shape ``[samples, T, n_in]``, the
  input spikes;
- ``labels``: integers ``>= 0``, shape ``[samples]``, the class of each sample;
- ``target_mask`` (optional): ``bool``, shape ``[samples, T]``, the steps where learning is
  on (default: all);
- ``meta`` (optional): a scalar JSON string, a free-form description.

Loading validates every field. A problem raises :class:`DataError` with a one-line message
that names the file, the field and what is allowed, e.g.
``data.npz: 'spikes' must have values 0 or 1, found 3 at [2, 17, 5]``. Nothing is cast in a
way that could change a value, clipped or wrapped: other integer dtypes are accepted for
``spikes``, ``labels`` and ``target_mask`` only because converting them is exact once their
values have been checked; floating-point arrays are always rejected.

Command line::

    python -m golden.data info FILE.npz [FILE.npz ...]
    python -m golden.data shd --h5 FILE.h5 [FILE.h5 ...] --out DIR [--dt-ms MS | --bins N]
        [--max-time-ms MS] [--channels C] [--levels L] [--limit N] [--seed S]

``info`` prints one JSON line per sample file (sizes, classes, spike density, ``meta``
without long lists). ``shd`` converts Spiking Heidelberg Digits / Spiking Speech Commands
files (:mod:`golden.shd`) into ``DIR/<name>.npz``, one per input file, e.g.
``shd_train.h5`` -> ``DIR/shd_train.npz``. A malformed file prints one line
``error: <file>: <field> ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["KEYS", "DataError", "SampleSet", "describe", "load_samples", "main",
           "save_samples"]

#: Keys a sample file may contain; the first two are required.
KEYS = ("spikes", "labels", "target_mask", "meta")
_REQUIRED = ("spikes", "labels")


class DataError(ValueError):
    """A sample set is malformed; the one-line message names the file and the field."""


@dataclasses.dataclass(eq=False)
class SampleSet:
    """Input spike trains, labels and learning mask of a set of samples.

    Construction validates and normalises the fields; a problem raises :class:`DataError`.

    Parameters
    ----------
    spikes : array of {0, 1}, shape (samples, T, n_in)
        Input spikes, stored as ``uint8``. ``bool`` and other integer dtypes are accepted
        when every value is 0 or 1.
    labels : array of int, shape (samples,)
        Class of each sample, ``>= 0``, stored as ``int64``.
    target_mask : array of bool, shape (samples, T), optional
        Steps in which learning (and scoring) is on. Defaults to all steps.
    meta : dict, optional
        Free-form description; must be serialisable as JSON.
    """

    spikes: np.ndarray
    labels: np.ndarray
    target_mask: np.ndarray | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.spikes = _check_binary("spikes", self.spikes, ndim=3,
                                    axes="[samples, T, n_in]", dtype=np.uint8)
        n_samples, n_steps, n_in = self.spikes.shape
        if min(n_samples, n_steps, n_in) < 1:
            raise DataError(f"'spikes' must have at least one sample, step and input, "
                            f"got shape {self.spikes.shape}")
        self.labels = _check_labels(self.labels, n_samples)
        if self.target_mask is None:
            self.target_mask = np.ones((n_samples, n_steps), dtype=bool)
        else:
            self.target_mask = _check_binary("target_mask", self.target_mask, ndim=2,
                                             axes="[samples, T]", dtype=bool)
            if self.target_mask.shape != (n_samples, n_steps):
                raise DataError(
                    f"'target_mask' must have shape [samples, T] = {(n_samples, n_steps)} "
                    f"to match 'spikes', got {self.target_mask.shape}")
        if not isinstance(self.meta, dict):
            raise DataError(f"'meta' must be a JSON object (dict), got {type(self.meta).__name__}")
        try:
            json.dumps(self.meta)
        except (TypeError, ValueError) as err:
            raise DataError(f"'meta' must be serialisable as JSON ({err})") from None

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return self.spikes.shape[0]

    @property
    def n_steps(self) -> int:
        """Time steps per sample, ``T``."""
        return self.spikes.shape[1]

    @property
    def n_in(self) -> int:
        """Number of inputs."""
        return self.spikes.shape[2]

    def __len__(self) -> int:
        return self.n_samples

    def check_network(self, n_in: int | None = None, n_classes: int | None = None) -> None:
        """Check that the samples fit a network with ``n_in`` inputs and ``n_classes`` outputs.

        Raises
        ------
        DataError
            The number of inputs differs, or a label is not below ``n_classes``.
        """
        if n_in is not None and self.n_in != n_in:
            raise DataError(f"'spikes' has {self.n_in} inputs (last axis) but the network "
                            f"has n_in = {n_in}")
        if n_classes is not None:
            too_big = self.labels >= n_classes
            if too_big.any():
                index = int(np.argmax(too_big))
                raise DataError(f"'labels' must be in [0, {n_classes - 1}] (one class per "
                                f"readout neuron, n_out = {n_classes}), found "
                                f"{int(self.labels[index])} at [{index}]")


def load_samples(path: str | Path, n_in: int | None = None,
                 n_classes: int | None = None) -> SampleSet:
    """Read and validate a sample set from an ``.npz`` file.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file.
    n_in : int, optional
        If given, the number of inputs the samples must have (the network's ``n_in``).
    n_classes : int, optional
        If given, every label must be below it (the network's ``n_out``).

    Returns
    -------
    SampleSet

    Raises
    ------
    DataError
        The file cannot be read, a key is missing or unknown, or a field has the wrong
        dtype, shape or values. The message is one line, starts with the file name and
        names the field.
    """
    name = str(path)
    fields = _read_npz(Path(path), name)
    try:
        samples = SampleSet(**fields)
        samples.check_network(n_in=n_in, n_classes=n_classes)
    except DataError as err:
        raise DataError(f"{name}: {err}") from None
    return samples


def save_samples(path: str | Path, samples: SampleSet) -> None:
    """Write a sample set to ``path`` in the ``.npz`` format of ``docs/model.md`` section 6.

    The file is compressed (spike trains are sparse) and written to exactly ``path``:
    no ``.npz`` suffix is appended.
    """
    if not isinstance(samples, SampleSet):
        raise TypeError(f"save_samples expects a SampleSet, got {type(samples).__name__}")
    with open(path, "wb") as file:
        np.savez_compressed(
            file,
            spikes=samples.spikes.astype(np.uint8, copy=False),
            labels=samples.labels.astype(np.int64, copy=False),
            target_mask=samples.target_mask.astype(bool, copy=False),
            meta=np.array(json.dumps(samples.meta, sort_keys=True)),
        )


# -- reading ------------------------------------------------------------------------------


def _read_npz(path: Path, name: str) -> dict[str, Any]:
    """Read the arrays of a sample file, checking keys and decoding ``meta``."""
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not an .npz file") from None
    except OSError as err:
        raise DataError(f"{name}: cannot read sample file ({err.strerror or err})") from None
    except (ValueError, EOFError, zipfile.BadZipFile):
        raise DataError(f"{name}: not a valid .npz file") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        # np.load also reads bare .npy arrays; a sample set needs named fields.
        raise DataError(f"{name}: not an .npz archive (a single .npy array has no "
                        f"'spikes'/'labels' keys)")
    with archive:
        keys = list(archive.files)
        for key in keys:
            if key not in KEYS:
                raise DataError(f"{name}: unknown key {key!r} (allowed: {', '.join(KEYS)})")
        for key in _REQUIRED:
            if key not in keys:
                raise DataError(f"{name}: missing key {key!r} (required: "
                                f"{', '.join(_REQUIRED)}; optional: target_mask, meta)")
        fields = {}
        for key in keys:
            try:
                fields[key] = archive[key]
            except ValueError as err:
                if "allow_pickle" in str(err):
                    raise DataError(f"{name}: {key!r} holds Python objects (pickled), which "
                                    f"are not allowed; store a plain numeric array") from None
                raise DataError(f"{name}: {key!r} cannot be read ({err})") from None
            except (OSError, EOFError, zipfile.BadZipFile) as err:
                raise DataError(f"{name}: {key!r} cannot be read ({err})") from None
    if "meta" in fields:
        fields["meta"] = _decode_meta(fields["meta"], name)
    return fields


def _decode_meta(value: np.ndarray, name: str) -> dict[str, Any]:
    if value.shape != () or value.dtype.kind not in "US":
        raise DataError(f"{name}: 'meta' must be a scalar JSON string, got "
                        f"{value.dtype} array of shape {value.shape}")
    text = value.item()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{name}: 'meta' must be UTF-8 JSON text") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{name}: 'meta' is not valid JSON ({err.msg} at line {err.lineno} "
                        f"column {err.colno})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{name}: 'meta' must be a JSON object, got {type(meta).__name__}")
    return meta


# -- field checks -------------------------------------------------------------------------


def _as_array(key: str, value: Any) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise DataError(f"{key!r} must be a numeric array (got a ragged or non-numeric "
                        f"value)") from None
    if array.dtype == object:
        raise DataError(f"{key!r} must be a numeric array, got Python objects")
    return array


def _first_index(mask: np.ndarray) -> list[int]:
    return [int(i) for i in np.argwhere(mask)[0]]


def _check_binary(key: str, value: Any, ndim: int, axes: str, dtype: type) -> np.ndarray:
    """A 0/1 array of ``ndim`` dimensions, converted exactly to ``dtype``."""
    array = _as_array(key, value)
    allowed = "uint8 or bool" if key == "spikes" else "bool"
    if array.dtype.kind not in "biu":
        raise DataError(f"{key!r} must be {allowed} with values 0 or 1, got {array.dtype}")
    if array.ndim != ndim:
        raise DataError(f"{key!r} must have {ndim} dimensions {axes}, got shape {array.shape}")
    # min/max first: no temporary mask for the (large) common case of valid data.
    if array.dtype.kind != "b" and array.size and (array.min() < 0 or array.max() > 1):
        where = _first_index((array != 0) & (array != 1))
        raise DataError(f"{key!r} must have values 0 or 1, found "
                        f"{array[tuple(where)].item()} at {where}")
    return array.astype(dtype, copy=False)


def _check_labels(value: Any, n_samples: int) -> np.ndarray:
    labels = _as_array("labels", value)
    if labels.dtype.kind not in "iu":
        raise DataError(f"'labels' must be integers >= 0, got {labels.dtype}")
    if labels.ndim != 1:
        raise DataError(f"'labels' must have 1 dimension [samples], got shape {labels.shape}")
    if labels.shape[0] != n_samples:
        raise DataError(f"'labels' has {labels.shape[0]} entries but 'spikes' has "
                        f"{n_samples} samples")
    if labels.size:
        if labels.dtype.kind == "i" and labels.min() < 0:
            index = int(np.argmax(labels < 0))
            raise DataError(f"'labels' must be >= 0, found {int(labels[index])} at [{index}]")
        limit = np.iinfo(np.int64).max
        if labels.dtype.kind == "u" and labels.max() > limit:
            index = int(np.argmax(labels > limit))
            raise DataError(f"'labels' must be <= {limit}, found {int(labels[index])} "
                            f"at [{index}]")
    return labels.astype(np.int64, copy=False)


# -- command line -------------------------------------------------------------------------

#: Exit status for unusable flags or input files (argparse uses the same).
EXIT_INPUT_ERROR = 2


def describe(samples: SampleSet) -> dict[str, Any]:
    """Summary of a sample set as plain Python values (for ``info`` and the converters).

    ``meta`` is included without its long lists (per-sample speakers and indices); class
    names and other short lists stay.
    """
    classes = np.bincount(samples.labels)
    return {
        "samples": samples.n_samples,
        "steps": samples.n_steps,
        "n_in": samples.n_in,
        "classes": int(samples.labels.max()) + 1,
        "per_class": classes.tolist(),
        # Spikes per input per step: what the hardware's input bandwidth has to carry.
        "spike_density": float(samples.spikes.mean()),
        "target_steps": float(samples.target_mask.mean()),
        "meta": {k: v for k, v in samples.meta.items() if not isinstance(v, list)
                 or len(v) <= 64},
    }


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line ``error: ...`` and exit status 2."""

    def error(self, message):
        raise DataError(message)


def _positive_float(flag: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}") \
                from None
        if not (np.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{flag} must be > 0, got {text}")
        return value
    return parse


def _positive_int(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {text!r}") \
                from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be >= 1, got {value}")
        return value
    return parse


def _parser() -> _Parser:
    parser = _Parser(prog="python -m golden.data",
                     description="Inspect sample sets and convert event data sets into them.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    info = commands.add_parser("info", help="summarise sample files (.npz)",
                               description="Print one JSON line per sample file.")
    info.add_argument("files", nargs="+", type=Path, help="sample sets (.npz)")

    shd = commands.add_parser(
        "shd", help="convert SHD/SSC .h5 files",
        description="Convert Spiking Heidelberg Digits / Spiking Speech Commands .h5 files "
                    "(downloaded separately) into sample sets DIR/<name>.npz: time bins of "
                    "--dt-ms, units pooled into --channels contiguous groups.")
    shd.add_argument("--h5", required=True, nargs="+", type=Path,
                     help="input files, e.g. shd_train.h5 shd_test.h5")
    shd.add_argument("--out", required=True, type=Path, help="output directory")
    step = shd.add_mutually_exclusive_group()
    step.add_argument("--dt-ms", type=_positive_float("--dt-ms"), default=None,
                      help="time step in ms (default 10)")
    step.add_argument("--bins", type=_positive_int("--bins"), default=None,
                      help="time steps per sample; the step is --max-time-ms / --bins")
    shd.add_argument("--max-time-ms", type=_positive_float("--max-time-ms"), default=1000.0,
                     help="events from this time on are dropped (default %(default)s)")
    shd.add_argument("--channels", type=_positive_int("--channels"), default=140,
                     help="pooled input channels (default %(default)s = 700 units / 5)")
    shd.add_argument("--levels", type=_positive_int("--levels"), default=1,
                     help="inputs per channel: input k fires when the channel has more than "
                          "k events in a step (default %(default)s: one input per channel)")
    shd.add_argument("--input-units", type=_positive_int("--input-units"), default=700,
                     help="units in the files (default %(default)s)")
    shd.add_argument("--limit", type=_positive_int("--limit"), default=None,
                     help="convert a random subset of N samples per file (file order kept)")
    shd.add_argument("--seed", type=int, default=0, help="seed of --limit (default 0)")
    shd.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar on stderr (default: only on a terminal)")
    return parser


def _main_info(args) -> int:
    for path in args.files:
        summary = {"file": str(path), **describe(load_samples(path))}
        print(json.dumps(summary))
    return 0


def _main_shd(args) -> int:
    from .shd import Binning, convert

    if args.bins is not None:
        dt_ms, steps = args.max_time_ms / args.bins, args.bins
    else:
        dt_ms = 10.0 if args.dt_ms is None else args.dt_ms
        steps = int(np.ceil(args.max_time_ms / dt_ms - 1e-9))
    try:
        binning = Binning(dt_ms=dt_ms, steps=steps, channels=args.channels,
                          levels=args.levels, input_units=args.input_units)
    except ValueError as err:
        raise DataError(str(err)) from None
    names = [path.stem for path in args.h5]
    if len(set(names)) != len(names):
        raise DataError("--h5 files must have different names: each becomes DIR/<name>.npz")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"{args.out}: cannot create output directory "
                        f"({err.strerror or err})") from None
    for path in args.h5:
        samples = convert(path, binning, limit=args.limit, seed=args.seed,
                          progress=args.progress)
        out = args.out / f"{path.stem}.npz"
        try:
            save_samples(out, samples)
        except OSError as err:
            raise DataError(f"{out}: cannot write ({err.strerror or err})") from None
        summary = describe(samples)
        print(json.dumps({"file": str(path), "out": str(out), "samples": summary["samples"],
                          "steps": summary["steps"], "n_in": summary["n_in"],
                          "classes": summary["classes"], "dt_ms": dt_ms,
                          "spike_density": round(summary["spike_density"], 5),
                          "events_late": samples.meta["events_late"],
                          "events_clipped": samples.meta["events_clipped"]}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        if args.command == "info":
            return _main_info(args)
        return _main_shd(args)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except ImportError as err:
        print(f"error: {err.name or err} is not installed (pip install -e . installs the "
              f"project's dependencies)", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: golden.shd raises the
    # DataError class of golden.data, which a second copy of this module would not catch.
    from golden.data import main as _main

    sys.exit(_main())
