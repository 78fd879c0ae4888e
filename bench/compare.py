"""Shared machinery of the learning benchmarks: learning modes compared over seeds.

A learning benchmark trains the same initial networks, one per seed, in several *modes*
(what learns: weights, delays or both) and compares their test accuracy. This module holds
what every such benchmark needs, so that ``bench/delays.py`` (synthetic timing task) and
``bench/shd_like.py`` (spoken digits) differ only in their task and their report:

- :class:`Job` and :func:`run_jobs`: a group of learners (modes x seeds) that train together
  on the batch axis of one golden core (:func:`golden.train.train_learners`, where each
  learner gets exactly the result it would get alone); groups run in worker processes.
- :func:`collect_rows`, :func:`summarise` and :func:`format_table`: per-mode accuracies,
  mean and spread over seeds, per-epoch curves, and the printed table.
- :func:`plot_rows` and :func:`write_json`: the PNG and ``OUT.json``.
- :class:`BenchParser` and the flag helpers: the options every learning benchmark has and
  one-line ``error: ...`` messages (exit status 2) for bad flags.

Mode names are those of ``python -m golden.train --learn``; the JSON key of a mode's mean
accuracy is :data:`MODE_KEYS`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from golden.data import SampleSet
from golden.network import Network
from golden.train import LEARN_MODES, init_network, plot_training, train_learners

__all__ = [
    "EXIT_USAGE",
    "MODE_KEYS",
    "BenchParser",
    "Job",
    "UsageError",
    "add_common_arguments",
    "check_common_arguments",
    "collect_rows",
    "fail",
    "format_table",
    "parameter_bits",
    "plot_rows",
    "run_jobs",
    "stats",
    "summarise",
    "write_json",
]

#: Exit status for bad flags or unusable inputs (as argparse and ``golden.train``).
EXIT_USAGE = 2

#: Mode -> JSON key of its mean test accuracy.
MODE_KEYS = {
    "weights": "weights_only_acc",
    "delays": "delays_only_acc",
    "weights,delays": "weights_delays_acc",
}

#: A function without arguments that returns ``(train_set, test_set)``. It runs in the
#: worker process, so it must pickle: a module-level function or a ``functools.partial``
#: of one.
Loader = Callable[[], tuple[SampleSet, SampleSet]]


def parameter_bits(net: Network, *, with_delays: bool) -> int:
    """Bits of learnable parameter memory: weights, plus delays if ``with_delays``.

    A stored delay takes ``ceil(log2(d_max)) + delay_frac`` bits (``docs/architecture.md``).
    """
    delay_bits = math.ceil(math.log2(net.d_max)) + net.delay_frac
    bits = 0
    for proj in net.projections():
        post, pre = net.projection_shape(proj)
        bits += post * pre * net.weight_bits
        kind = net.delay_kind(proj)
        if with_delays and kind != "none":
            bits += (post * pre if kind == "synaptic" else pre) * delay_bits
    return bits


# -- training -----------------------------------------------------------------------------


@dataclasses.dataclass
class Job:
    """Learners that train together on the batch axis of one golden core.

    Every mode gets one learner per seed; learners of the same seed start from the same
    initial network (``init_network`` with ``numpy.random.default_rng(seed)``) and see the
    training samples in the same order, so modes differ only in what learns.

    Parameters
    ----------
    load : callable
        Returns ``(train_set, test_set)``; called in the worker (see :data:`Loader`).
    n_hidden : int
        Hidden neurons.
    modes : sequence of str
        Keys of :data:`golden.train.LEARN_MODES`.
    seeds : sequence of int
        Seeds of the initial networks and sample orders.
    epochs : int
        Passes over the training set.
    n_out : int, optional
        Readouts (classes); default one more than the largest label of the two sets, which
        a small sample set may not reach.
    label : str, optional
        Row label of all learners of the job (default: each learner's mode).
    init : dict
        Further keyword arguments of :func:`golden.train.init_network` (``delay_in``, ...).
    exact : bool
        Integer (bit-exact) or float golden model.
    progress : bool or None
        Progress bar on stderr: always, never, or only on a terminal (None).
    """

    load: Loader
    n_hidden: int
    modes: Sequence[str]
    seeds: Sequence[int]
    epochs: int
    n_out: int | None = None
    label: str | None = None
    init: dict[str, Any] = dataclasses.field(default_factory=dict)
    exact: bool = True
    progress: bool | None = None


def run_job(job: Job) -> dict[str, Any]:
    """Train the learners of ``job``; runs in a worker process.

    Returns
    -------
    dict
        ``labels``, ``modes``, ``seeds`` and ``histories`` (one entry per learner, modes
        outer, seeds inner), ``n_hidden``, ``bits`` (:func:`parameter_bits`, counting
        delays if any mode learns them), ``initial_delays`` and ``learned_delays`` (integer
        input delays per learner; zeros without delays), ``learners``, ``seconds`` (wall
        time of the training) and ``cpu_seconds`` (CPU time of this process).
    """
    train_set, test_set = job.load()
    n_out = job.n_out
    if n_out is None:
        n_out = int(max(train_set.labels.max(), test_set.labels.max())) + 1
    nets, seeds, labels, modes = [], [], [], []
    for mode in job.modes:
        learn_weights, learn_delays = LEARN_MODES[mode]
        for seed in job.seeds:
            # Same seed -> same initial weights and delays in every mode: init_network draws
            # the same numbers whatever the learning flags.
            nets.append(init_network(train_set.n_in, job.n_hidden, n_out,
                                     np.random.default_rng(seed), learn_weights=learn_weights,
                                     learn_delays=learn_delays, **job.init))
            seeds.append(seed)
            labels.append(job.label or mode)
            modes.append(mode)
    started, cpu_started = time.perf_counter(), time.process_time()
    trained, histories = train_learners(nets, train_set, test_set, job.epochs, seeds=seeds,
                                        exact=job.exact, progress=job.progress,
                                        desc=job.label or " / ".join(job.modes))
    seconds = time.perf_counter() - started
    # CPU time as well: on a shared machine the wall time says more about the load.
    cpu_seconds = time.process_time() - cpu_started
    return {
        "labels": labels, "modes": modes, "seeds": seeds, "histories": histories,
        "n_hidden": job.n_hidden,
        "bits": parameter_bits(nets[0], with_delays=any(LEARN_MODES[m][1] for m in job.modes)),
        "initial_delays": [net.integer_delays("in").tolist() for net in nets],
        "learned_delays": [net.integer_delays("in").tolist() for net in trained],
        "learners": len(nets), "seconds": seconds, "cpu_seconds": cpu_seconds,
    }


def run_jobs(jobs: Sequence[Job], workers: int) -> list[dict[str, Any]]:
    """Run :func:`run_job` on every job, in up to ``workers`` processes; results in order.

    List the heaviest jobs first: the pool hands them out in order, so that the workers
    finish at about the same time.
    """
    if workers <= 1 or len(jobs) <= 1:
        return [run_job(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(run_job, jobs))


# -- results ------------------------------------------------------------------------------


def stats(values: Sequence[float]) -> dict[str, float]:
    """Mean, (population) standard deviation, minimum and maximum of ``values``."""
    values = np.asarray(values, dtype=float)
    return {"mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max())}


def collect_rows(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Learners of all job results grouped by label.

    Returns
    -------
    dict
        Label -> ``{"n_hidden", "bits", "seeds", "histories"}``, in order of appearance.
    """
    rows: dict[str, dict[str, Any]] = {}
    for result in results:
        for label, seed, history in zip(result["labels"], result["seeds"],
                                        result["histories"]):
            row = rows.setdefault(label, {"n_hidden": result["n_hidden"],
                                          "bits": result["bits"], "seeds": [],
                                          "histories": []})
            row["seeds"].append(seed)
            row["histories"].append(history)
    return rows


def summarise(rows: Mapping[str, dict[str, Any]], keys: Mapping[str, str]) -> dict[str, Any]:
    """Accuracies of the rows named in ``keys`` (label -> JSON key), for ``OUT.json``.

    Returns
    -------
    dict
        ``KEY``: mean final test accuracy over seeds, for every key; ``per_seed[KEY]``: the
        final test accuracy of each seed; ``stats[KEY]``: :func:`stats` of those, with
        ``n_hidden``, ``bits`` and the final ``train_accuracy`` per seed; ``curves[KEY]``:
        test accuracy per epoch (epoch 0 = before training), one list per seed.
    """
    summary: dict[str, Any] = {"per_seed": {}, "stats": {}, "curves": {}}
    for label, key in keys.items():
        row = rows[label]
        accuracies = [h["final_test_accuracy"] for h in row["histories"]]
        summary[key] = stats(accuracies)["mean"]
        summary["per_seed"][key] = accuracies
        summary["stats"][key] = dict(stats(accuracies), n_hidden=row["n_hidden"],
                                     bits=row["bits"],
                                     train_accuracy=[h["final_train_accuracy"]
                                                     for h in row["histories"]])
        summary["curves"][key] = [[h["initial_test_accuracy"]] + h["test_accuracy"]
                                  for h in row["histories"]]
    return summary


def format_table(rows: Mapping[str, dict[str, Any]], summary: Mapping[str, Any],
                 keys: Mapping[str, str]) -> str:
    """The accuracy table: one line per row of ``keys``, test accuracy in percent."""
    lines = [f"{'mode':24s} {'hidden':>6s} {'bits':>6s}  {'test acc':>15s}  per seed"]
    for label, key in keys.items():
        row, spread = rows[label], summary["stats"][key]
        lines.append(f"{label:24s} {row['n_hidden']:6d} {row['bits']:6d}  "
                     f"{100 * spread['mean']:6.1f} +- {100 * spread['std']:4.1f}  "
                     + " ".join(f"{100 * a:5.1f}" for a in summary["per_seed"][key]))
    return "\n".join(lines)


def write_json(path: Path, summary: Mapping[str, Any]) -> None:
    """Write ``summary`` as indented JSON, making the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")


def plot_rows(path: Path, rows: Mapping[str, dict[str, Any]], labels: Sequence[str], *,
              delays: Mapping[str, np.ndarray] | None = None, d_max: int | None = None,
              title: str = "") -> None:
    """Test-accuracy curves of every seed of the ``labels`` rows (one colour per row) and,
    if given, delay histograms; see :func:`golden.train.plot_training`."""
    histories = [h for label in labels for h in rows[label]["histories"]]
    curve_labels = [label for label in labels for _ in rows[label]["histories"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_training(path, histories, curve_labels, dict(delays) if delays else None,
                  d_max=d_max, title=title)


# -- command line -------------------------------------------------------------------------


class UsageError(Exception):
    """A bad flag or unusable input; the message is printed as ``error: MESSAGE``."""


class BenchParser(argparse.ArgumentParser):
    """Argument parser whose errors raise :class:`UsageError` instead of exiting.

    ``main`` then prints one line ``error: ...`` and returns :data:`EXIT_USAGE`, as the
    ``golden`` tools do; ``--help`` still prints and exits.
    """

    def error(self, message):
        raise UsageError(message)


def add_common_arguments(parser: argparse.ArgumentParser, *, seeds: int,
                         epochs: int) -> None:
    """Add the flags of every learning benchmark, with these default seeds and epochs."""
    parser.add_argument("--json", required=True, type=Path, help="output summary (.json)")
    parser.add_argument("--seeds", type=int, default=seeds,
                        help=f"seeds 0..N-1 (default {seeds})")
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"epochs (default {epochs})")
    parser.add_argument("--plot", type=Path, default=None, help="accuracy curves (.png)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--float", dest="exact", action="store_false",
                        help="float golden model instead of the integer one")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars on stderr (default: only on a terminal)")


def check_common_arguments(args: argparse.Namespace, positive: Sequence[str] = ()) -> None:
    """Check the flags of :func:`add_common_arguments` and the integer flags ``positive``
    (attribute names) are >= 1; raise :class:`UsageError` naming the flag."""
    for name in ("seeds", "epochs", "jobs", *positive):
        value = getattr(args, name)
        if value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.json.suffix.lower() != ".json":
        raise UsageError(f"--json must name a .json file, got {str(args.json)!r}")
    if args.plot is not None:
        if args.plot.suffix.lower() != ".png":
            raise UsageError(f"--plot must name a .png file, got {str(args.plot)!r}")
        try:
            import matplotlib  # noqa: F401  (only to fail before hours of training)
        except ImportError:
            raise UsageError("--plot needs matplotlib (pip install matplotlib)") from None


def fail(message: str) -> int:
    """Print ``error: message`` on stderr and return :data:`EXIT_USAGE`."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE
