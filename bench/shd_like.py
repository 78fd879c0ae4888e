"""Do learned delays help on speech? Weights-only vs weights+delays on spoken digits.

Usage::

    python -m bench.shd_like --json out/shd_like.json [--seeds 3] [--epochs 3] [--n-hidden 32]
        [--plot out/shd_like.png] [--data out/spoken] [--jobs 2]

The task is the SHD-like spoken-digit set made on the machine by ``golden.spoken``: ten
digits said by twelve espeak-ng speakers at three speeds and two pitches, 32 mel bands
turned into onset spikes, 80 steps of 10 ms; the test set holds out three speakers, so it
measures generalisation to unheard voices. ``--data DIR`` names the folder of
``train.npz`` and ``test.npz``: when they exist they are used as they are (any sample set
of that layout works, e.g. one made with other ``golden.spoken`` options); when the folder
has neither, they are first made there, exactly as ``python -m golden.spoken --out DIR``
does (espeak-ng needed, about half a minute). The default folder, ``out/spoken``, is the
one ``docs/getting_started.md`` uses.

For every seed, one initial network (``golden.train.init_network``: synaptic input delays
spread over the delay range, the tuned learning rule) is trained online with the integer
golden model in two modes: weights only (the random initial delays stay) and
weights+delays, with the same sample order. The learners of a mode train together on the
batch axis of one golden core, each getting exactly the result it would get alone; the two
modes run in parallel processes (``--jobs``, default 2). The machinery is shared with
``bench/delays.py`` (``bench/compare.py``).

The defaults (3 seeds, 3 epochs, 32 hidden neurons, all 540 training and 180 test
samples) train for about 100 s of CPU time per mode, so about two minutes on two idle cores,
plus half a minute to make the samples the first time. ``--train-samples`` and
``--test-samples`` take class-balanced random subsets for quicker runs.

Prints a table (test accuracy after the last epoch, mean +- standard deviation over seeds,
and per seed) and writes ``OUT.json``:

- ``weights_only_acc``, ``weights_delays_acc``: mean test accuracy over seeds;
- ``per_seed``, ``stats``, ``curves``: per-seed accuracies, their spread and the final
  training accuracies, test accuracy per epoch (epoch 0 = before training);
- ``gain_over_weights_only`` and ``gain_per_seed``: weights+delays minus weights-only;
- ``config``: data folder and description, sizes, seeds, epochs, network and learning rule;
- ``seconds`` (training, wall time), ``data_seconds`` (making the samples, 0 when
  reused), ``total_seconds``, and ``job_seconds`` and ``job_cpu_seconds`` (wall and CPU
  time of each mode's process: on a busy machine the CPU time says more).

Bad flags and unusable sample files print one line ``error: ...`` and exit with status 2,
as does a missing espeak-ng when the samples have to be made.

Measured numbers and how to read them: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Runnable as a script from anywhere: the packages live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare import (
    MODE_KEYS,
    BenchParser,
    Job,
    UsageError,
    add_common_arguments,
    check_common_arguments,
    collect_rows,
    fail,
    format_table,
    plot_rows,
    run_jobs,
    summarise,
    write_json,
)
from golden.data import DataError, SampleSet, load_samples
from golden.spoken import EspeakError, find_espeak
from golden.spoken import main as spoken_main
from golden.train import init_network

__all__ = ["balanced_subset", "load_spoken", "main", "make_data"]

#: Modes in table order; weights+delays first in the job list, as it is the heavier job.
MODES = ("weights", "weights,delays")
DEFAULT_DATA = Path("out/spoken")
#: Seed of the ``--train-samples`` / ``--test-samples`` subsets (fixed: the subsets are
#: part of the task, not of a learner).
SUBSET_SEED = 0


def balanced_subset(samples: SampleSet, count: int | None, seed: int = SUBSET_SEED) -> SampleSet:
    """``count`` random samples, as evenly spread over the classes as possible.

    Samples are drawn class by class in turn (a random one of each class, then a second
    one of each, ...), so that small subsets still hold every class; the result keeps the
    file order. ``None`` or a count of at least the set's size returns ``samples``.
    """
    if count is None or count >= samples.n_samples:
        return samples
    order = np.random.default_rng(seed).permutation(samples.n_samples)
    labels = samples.labels[order]
    # Rank of each sample among the samples of its class, in the random order.
    rank = np.zeros(samples.n_samples, dtype=np.int64)
    for label in np.unique(labels):
        members = labels == label
        rank[members] = np.arange(int(members.sum()))
    chosen = np.sort(order[np.lexsort((np.arange(samples.n_samples), rank))[:count]])
    meta = dict(samples.meta)
    if isinstance(meta.get("speaker"), list):  # golden.spoken's per-sample speaker index
        meta["speaker"] = [meta["speaker"][i] for i in chosen]
    return SampleSet(spikes=samples.spikes[chosen], labels=samples.labels[chosen],
                     target_mask=samples.target_mask[chosen], meta=meta)


def load_spoken(folder: Path, train_samples: int | None = None,
                test_samples: int | None = None) -> tuple[SampleSet, SampleSet]:
    """``folder/train.npz`` and ``folder/test.npz``, optionally as balanced subsets.

    Raises
    ------
    golden.data.DataError
        A file is malformed, or the two sets do not fit together.
    """
    train_set = load_samples(folder / "train.npz")
    test_set = load_samples(folder / "test.npz")
    if (test_set.n_in, test_set.n_steps) != (train_set.n_in, train_set.n_steps):
        raise DataError(f"{folder / 'test.npz'}: {test_set.n_in} inputs x {test_set.n_steps} "
                        f"steps, but {folder / 'train.npz'} has {train_set.n_in} x "
                        f"{train_set.n_steps}")
    return (balanced_subset(train_set, train_samples),
            balanced_subset(test_set, test_samples))


def make_data(folder: Path, *, progress: bool | None = None) -> int:
    """Make ``folder/train.npz`` and ``folder/test.npz`` with ``python -m golden.spoken``.

    The files are written to a scratch folder inside ``folder`` and moved into place only
    when both exist, so an interrupted run never leaves a half-made set that a later run
    would take as complete.

    Returns
    -------
    int
        Exit status of ``golden.spoken`` (0 on success; it has printed the error otherwise).
    """
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".spoken-", dir=folder))
    try:
        argv = ["--out", str(scratch)]
        if progress is not None:
            argv.append("--progress" if progress else "--no-progress")
        # golden.spoken prints one JSON line per split, naming the scratch files; the
        # benchmark's header line says what was made instead. Its errors go to stderr.
        with contextlib.redirect_stdout(io.StringIO()):
            status = spoken_main(argv)
        if status == 0:
            for name in ("train.npz", "test.npz"):
                os.replace(scratch / name, folder / name)
        return status
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _describe_data(train_set: SampleSet, test_set: SampleSet) -> dict:
    """What the sample files say about themselves, without per-sample lists."""
    meta = {key: value for key, value in train_set.meta.items()
            if key not in ("speaker", "speakers", "split")}
    if "speakers" in train_set.meta:
        meta["train_speakers"] = train_set.meta["speakers"]
    if "speakers" in test_set.meta:
        meta["test_speakers"] = test_set.meta["speakers"]
    return meta


def _parser() -> BenchParser:
    parser = BenchParser(prog="python -m bench.shd_like", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, seeds=3, epochs=3)
    parser.add_argument("--n-hidden", type=int, default=32,
                        help="hidden neurons (default 32)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder of train.npz and test.npz; made with golden.spoken "
                             f"when it has neither (default {DEFAULT_DATA})")
    parser.add_argument("--train-samples", type=int, default=None,
                        help="class-balanced random subset of the training set "
                             "(default: all)")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="class-balanced random subset of the test set (default: all)")
    return parser


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    started = time.perf_counter()
    try:
        args = _parser().parse_args(argv)
        check_common_arguments(args, ("n_hidden",))
        for flag in ("train_samples", "test_samples"):
            value = getattr(args, flag)
            if value is not None and value < 1:
                raise UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
        if args.data.exists() and not args.data.is_dir():
            raise UsageError(f"--data must name a folder, got the file {str(args.data)!r}")
    except UsageError as err:
        return fail(str(err))

    present = [name for name in ("train.npz", "test.npz") if (args.data / name).is_file()]
    generated = not present
    if len(present) == 1:
        missing = "test.npz" if present == ["train.npz"] else "train.npz"
        return fail(f"--data {args.data} has {present[0]} but no {missing} (remove it, or "
                    f"make both with python -m golden.spoken --out {args.data})")
    if generated:
        try:
            find_espeak()  # before the scratch folder, so a missing program leaves nothing
        except EspeakError as err:
            return fail(f"{err}; it makes the samples in --data {args.data}")
        print(f"making spoken digits in {args.data} (espeak-ng, about half a minute)",
              file=sys.stderr)
        status = make_data(args.data, progress=args.progress)
        if status != 0:
            return status
    data_seconds = time.perf_counter() - started if generated else 0.0

    try:
        train_set, test_set = load_spoken(args.data, args.train_samples, args.test_samples)
    except DataError as err:
        return fail(str(err))
    n_classes = int(max(train_set.labels.max(), test_set.labels.max())) + 1
    seeds = list(range(args.seeds))
    load = functools.partial(load_spoken, args.data, args.train_samples, args.test_samples)
    common = {"load": load, "n_out": n_classes, "n_hidden": args.n_hidden, "seeds": seeds,
              "epochs": args.epochs, "exact": args.exact, "progress": args.progress}
    if args.jobs == 1:
        # One core for everything: extra learners on the batch axis cost little.
        jobs = [Job(modes=["weights,delays", "weights"], **common)]
    else:
        jobs = [Job(modes=["weights,delays"], **common), Job(modes=["weights"], **common)]
    train_started = time.perf_counter()
    try:
        results = run_jobs(jobs, args.jobs)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - train_started

    probe = init_network(train_set.n_in, args.n_hidden, n_classes, np.random.default_rng(0))
    rows = collect_rows(results)
    keys = {mode: MODE_KEYS[mode] for mode in MODES}
    summary = {
        "config": {
            "task": "spoken digits (golden.spoken)", "data": str(args.data),
            "data_generated": generated, "data_description": _describe_data(train_set,
                                                                              test_set),
            "train_samples": train_set.n_samples, "test_samples": test_set.n_samples,
            "subset_seed": SUBSET_SEED, "steps": train_set.n_steps, "n_in": train_set.n_in,
            "classes": n_classes, "seeds": seeds, "epochs": args.epochs,
            "n_hidden": args.n_hidden, "mode": "exact" if args.exact else "float",
            "jobs": args.jobs,
            "network": {"delay_in": probe.delay_in, "d_max": probe.d_max,
                        "weight_bits": probe.weight_bits, "weight_frac": probe.weight_frac,
                        "delay_frac": probe.delay_frac, "synapses": probe.n_synapses},
            "learning": probe.learning.to_dict(),
        },
        **summarise(rows, keys),
    }
    weights_only = summary["per_seed"]["weights_only_acc"]
    weights_delays = summary["per_seed"]["weights_delays_acc"]
    summary["gain_over_weights_only"] = (summary["weights_delays_acc"]
                                         - summary["weights_only_acc"])
    summary["gain_per_seed"] = [wd - w for wd, w in zip(weights_delays, weights_only)]
    summary["seconds"] = seconds
    summary["data_seconds"] = data_seconds
    summary["job_seconds"] = [result["seconds"] for result in results]
    summary["job_cpu_seconds"] = [result["cpu_seconds"] for result in results]
    summary["total_seconds"] = time.perf_counter() - started

    print(f"spoken digits ({args.data}, {'made now' if generated else 'reused'}): "
          f"{train_set.n_samples} train / {test_set.n_samples} test samples, {n_classes} "
          f"classes, {args.n_hidden} hidden, {args.epochs} epochs, seeds {seeds}, "
          f"{'integer' if args.exact else 'float'} golden model, {seconds:.0f} s")
    print(format_table(rows, summary, keys))
    print(f"weights+delays - weights-only: {100 * summary['gain_over_weights_only']:+.1f} "
          f"points (per seed: "
          + " ".join(f"{100 * g:+.1f}" for g in summary["gain_per_seed"]) + ")")

    try:
        write_json(args.json, summary)
        if args.plot is not None:
            wd = results[0]  # weights+delays learners come first in the first job
            per_mode = len(seeds)
            delays = {"initial": np.ravel(wd["initial_delays"][:per_mode]),
                      "learned (weights+delays)": np.ravel(wd["learned_delays"][:per_mode])}
            plot_rows(args.plot, rows, list(keys), delays=delays, d_max=probe.d_max,
                      title=f"spoken digits, {len(seeds)} seeds, {args.n_hidden} hidden")
    except OSError as err:
        return fail(f"cannot write output ({err.strerror or err}: "
                    f"{getattr(err, 'filename', '')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
