"""Does learning delays pay? Weights-only vs delays-only vs weights+delays on the timing task.

Usage::

    python -m bench.delays --json out/delays.json [--seeds 3] [--epochs 12] [--plot out/delays.png]

On the built-in ``timing`` task (``golden.tasks``: every input fires once, classes differ
only in the relative timing of the spikes) the same initial networks, one per seed, are
trained online with the integer golden model in three modes: weights only (the random
initial delays stay), delays only (weights stay, readout included) and weights+delays. A
fourth, weights-only network without delays gets more hidden neurons, the fewest whose
weights take at least the parameter memory of the weights+delays network (``weight_bits``
per synapse against ``weight_bits + delay_bits``), so that comparison is at equal memory,
not equal neuron count.

The learners of one network size train together on the batch axis of one golden core (each
gets exactly the result it would get alone); the sizes run in parallel processes
(``--jobs``, default 2). The machinery is shared with ``bench/shd_like.py``
(``bench/compare.py``).

Prints a table (test accuracy, mean +- standard deviation over seeds, and per seed) and writes
``OUT.json`` with ``weights_only_acc``, ``delays_only_acc``, ``weights_delays_acc`` and
``weights_only_same_memory_acc`` (test accuracy after the last epoch, mean over seeds), the
per-seed values, per-epoch curves, the memory comparison and the configuration.

Measured numbers and how to read them: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import functools
import sys
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
    parameter_bits,
    plot_rows,
    run_jobs,
    summarise,
    write_json,
)
from golden.data import SampleSet
from golden.tasks import make_task
from golden.train import init_network

__all__ = ["main", "parameter_bits", "timing_sets"]

#: The three modes, in table order.
MODES = ("weights", "delays", "weights,delays")
SAME_MEMORY = "weights (same memory)"
SAME_MEMORY_KEY = "weights_only_same_memory_acc"
#: Task size, fixed here so that tiny sample sets still get one readout per class.
TASK = {"n_in": 16, "n_classes": 8}
TEST_SEED_OFFSET = 1_000_003  # as `python -m golden.tasks`: test samples from another seed


def timing_sets(train_samples: int, test_samples: int, task_seed: int) -> tuple[SampleSet,
                                                                                SampleSet]:
    """Training and test sets of the timing task (test samples from another seed)."""
    return (make_task("timing", train_samples, task_seed, **TASK),
            make_task("timing", test_samples, task_seed + TEST_SEED_OFFSET, **TASK))


def _parser() -> BenchParser:
    parser = BenchParser(prog="python -m bench.delays", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, seeds=3, epochs=12)
    parser.add_argument("--hidden", type=int, default=8, help="hidden neurons (default 8)")
    parser.add_argument("--train-samples", type=int, default=512, help="default 512")
    parser.add_argument("--test-samples", type=int, default=256, help="default 256")
    parser.add_argument("--task-seed", type=int, default=0, help="sample seed (default 0)")
    return parser


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        check_common_arguments(args, ("hidden", "train_samples", "test_samples"))
    except UsageError as err:
        return fail(str(err))

    seeds = list(range(args.seeds))
    probe = init_network(TASK["n_in"], args.hidden, TASK["n_classes"], np.random.default_rng(0))
    bits_wd = parameter_bits(probe, with_delays=True)
    # Smallest weights-only network with at least the memory of the weights+delays one.
    hidden_same = args.hidden
    while parameter_bits(init_network(TASK["n_in"], hidden_same, TASK["n_classes"],
                                      np.random.default_rng(0),
                                      delay_in="none"), with_delays=False) < bits_wd:
        hidden_same += 1
    load = functools.partial(timing_sets, args.train_samples, args.test_samples,
                             args.task_seed)
    common = {"load": load, "n_out": TASK["n_classes"], "seeds": seeds, "epochs": args.epochs,
              "exact": args.exact, "progress": args.progress}
    # Heaviest job first so that two workers finish at about the same time.
    # The three modes start from the same networks (weights-only keeps the random initial
    # delays); the equal-memory network has no delays at all, as its memory holds none.
    jobs = [Job(n_hidden=args.hidden, modes=["weights,delays", "delays"], **common),
            Job(n_hidden=args.hidden, modes=["weights"], **common),
            Job(n_hidden=hidden_same, modes=["weights"], label=SAME_MEMORY,
                init={"delay_in": "none"}, **common)]
    started = time.perf_counter()
    results = run_jobs(jobs, args.jobs)
    wall = time.perf_counter() - started

    rows = collect_rows(results)
    keys = {mode: MODE_KEYS[mode] for mode in MODES}
    keys[SAME_MEMORY] = SAME_MEMORY_KEY
    summary = {
        "config": {"task": "timing", "seeds": seeds, "epochs": args.epochs,
                   "hidden": args.hidden, "hidden_same_memory": hidden_same,
                   "train_samples": args.train_samples, "test_samples": args.test_samples,
                   "task_seed": args.task_seed, "mode": "exact" if args.exact else "float",
                   "learning": probe.learning.to_dict()},
        **summarise(rows, keys), "seconds": wall,
        "job_seconds": [r["seconds"] for r in results],
        "job_cpu_seconds": [r["cpu_seconds"] for r in results],
    }
    print(f"timing task, {args.epochs} epochs, seeds {seeds}, "
          f"{'integer' if args.exact else 'float'} golden model, {wall:.0f} s")
    print(format_table(rows, summary, keys))
    gain = summary["weights_delays_acc"] - summary["weights_only_acc"]
    gain_memory = summary["weights_delays_acc"] - summary[SAME_MEMORY_KEY]
    summary["gain_over_weights_only"] = gain
    summary["same_memory"] = {
        "bits_weights_delays": bits_wd,
        "bits_weights_only": rows[SAME_MEMORY]["bits"],
        "hidden_weights_delays": args.hidden, "hidden_weights_only": hidden_same,
        "gain": gain_memory, "delays_win": bool(gain_memory > 0),
    }
    print(f"weights+delays - weights-only: {100 * gain:+.1f} points; "
          f"at equal memory ({bits_wd} vs {rows[SAME_MEMORY]['bits']} bits, {args.hidden} vs "
          f"{hidden_same} hidden): {100 * gain_memory:+.1f} points")

    write_json(args.json, summary)
    if args.plot is not None:
        wd = results[0]  # the weights+delays and delays-only job
        per_mode = len(seeds)
        delays = {"initial": np.ravel(wd["initial_delays"][:per_mode]),
                  "learned (weights+delays)": np.ravel(wd["learned_delays"][:per_mode]),
                  "learned (delays only)": np.ravel(wd["learned_delays"][per_mode:])}
        plot_rows(args.plot, rows, list(keys), delays=delays, d_max=probe.d_max,
                  title=f"timing task, {len(seeds)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
