"""Neuron models and recurrent connectivity: LIF vs current-based vs adaptive, dense vs kernel.

Usage::

    python -m bench.neurons --json out/neurons.json [--tasks timing,cue] [--seeds 3]
        [--epochs 4] [--hidden 8] [--train-samples 128] [--test-samples 128] [--kernel 3]

On the built-in temporal tasks (``golden.tasks``: ``timing``, where only the relative spike
timing separates 8 classes, and ``cue``, a 2-class evidence accumulation with delayed
recall) the same seeds train, online on the integer golden model:

- the neuron models, each without delays (weights learn) and with synaptic input delays
  (weights and delays learn): plain LIF; current-based synapses whose decay ``beta`` learns
  (``docs/model.md`` sections 8 and 11); the adaptive threshold whose coupling and decay
  learn (sections 9 and 11);
- recurrent LIF networks with learned axonal recurrent delays, with a dense recurrent
  matrix and with a shared recurrent kernel of ``--kernel`` taps (section 10).

Every row reports the final test accuracy (mean +- standard deviation over seeds and each
seed) and the learnable parameter memory in bits: weights, stored delays and neuron
parameters (``beta``, ``rho``: ``decay_bits``; ``coupling``: ``v_bits - 1``), and separately
the recurrent weights and delays. Rows of one configuration train together on the batch axis
of one golden core; configurations run in ``--jobs`` worker processes.

``OUT.json`` holds ``results`` (one entry per task and row: ``mean``, ``std``, ``min``,
``max``, ``per_seed`` and final ``train_accuracy`` per seed, ``curves`` (test accuracy per
epoch, epoch 0 before training), ``bits``, ``rec_bits``, ``seconds``), ``config`` and
``seconds``; ``--plot`` draws the curves.

The defaults (small networks, few samples and epochs) take a few minutes on two cores;
raise ``--hidden``, ``--train-samples`` and ``--epochs`` for bigger runs. Measured numbers:
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from pathlib import Path

import numpy as np

# Runnable as a script from anywhere: the packages live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare import (
    BenchParser,
    Job,
    UsageError,
    add_common_arguments,
    check_common_arguments,
    fail,
    run_jobs,
    stats,
    write_json,
)
from golden.data import SampleSet
from golden.network import Network
from golden.tasks import TASKS, make_task
from golden.train import init_network

__all__ = ["ROWS", "main", "memory_bits", "task_sets"]

TEST_SEED_OFFSET = 1_000_003  # as `python -m golden.tasks`: test samples from another seed
#: Classes of each task (fixed, so that tiny sample sets still get every readout).
CLASSES = {"timing": 8, "cue": 2, "rates": 4}
#: Row label -> (learning mode, init_network options). ``{kernel}`` is filled from --kernel.
ROWS = {
    "LIF": ("weights", {"delay_in": "none"}),
    "LIF + delays": ("weights,delays", {}),
    "CuBa (learned beta)": ("weights", {"delay_in": "none", "synapse": "current"}),
    "CuBa (learned beta) + delays": ("weights,delays", {"synapse": "current"}),
    "adLIF": ("weights", {"delay_in": "none", "adaptation": "threshold"}),
    "adLIF + delays": ("weights,delays", {"adaptation": "threshold"}),
    "rec dense + axonal delays": ("weights,delays", {"recurrent": True, "delay_rec": "axonal"}),
    "rec kernel + axonal delays": ("weights,delays", {"recurrent": True, "delay_rec": "axonal",
                                                      "rec_kernel": None}),
}


def task_sets(task: str, train_samples: int, test_samples: int,
              task_seed: int) -> tuple[SampleSet, SampleSet]:
    """Training and test sets of a built-in task (test samples from another seed)."""
    return (make_task(task, train_samples, task_seed),
            make_task(task, test_samples, task_seed + TEST_SEED_OFFSET))


def memory_bits(net: Network) -> dict[str, int]:
    """Learnable parameter memory of ``net`` in bits.

    Returns
    -------
    dict
        ``total``: weights (``weight_bits`` each; a recurrent kernel counts its taps), stored
        delays (``ceil(log2(d_max)) + delay_frac`` each) and neuron parameters;
        ``recurrent``: the recurrent weights and delays alone.
    """
    delay_bits = math.ceil(math.log2(net.d_max)) + net.delay_frac
    total = recurrent = 0
    for proj in net.projections():
        post, pre = net.projection_shape(proj)
        bits = net.weights(proj).size * net.weight_bits
        kind = net.delay_kind(proj)
        if kind != "none":
            bits += (post * pre if kind == "synaptic" else pre) * delay_bits
        total += bits
        if proj == "rec":
            recurrent = bits
    widths = {"beta": net.decay_bits, "rho": net.decay_bits, "coupling": net.v_bits - 1}
    total += sum(widths[name] * net.n_hidden for name in net.neuron_parameters())
    return {"total": total, "recurrent": recurrent}


def _parser() -> BenchParser:
    parser = BenchParser(prog="python -m bench.neurons", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser, seeds=3, epochs=4)
    parser.add_argument("--tasks", default="timing,cue",
                        help="comma-separated built-in tasks (default timing,cue)")
    parser.add_argument("--hidden", type=int, default=8, help="hidden neurons (default 8)")
    parser.add_argument("--kernel", type=int, default=3,
                        help="taps of the recurrent kernel, odd (default 3)")
    parser.add_argument("--train-samples", type=int, default=128, help="default 128")
    parser.add_argument("--test-samples", type=int, default=128, help="default 128")
    parser.add_argument("--task-seed", type=int, default=0, help="sample seed (default 0)")
    parser.add_argument("--rows", default=None,
                        help="comma-separated subset of the rows (default all)")
    return parser


def _format(results: list[dict]) -> str:
    lines = [f"{'task':7s} {'model':30s} {'test acc':>15s}  {'per seed':24s} {'bits':>7s} "
             f"{'rec bits':>8s}"]
    for r in results:
        lines.append(f"{r['task']:7s} {r['row']:30s} {100 * r['mean']:6.1f} +- "
                     f"{100 * r['std']:4.1f}  "
                     f"{' '.join(f'{100 * a:5.1f}' for a in r['per_seed']):24s} "
                     f"{r['bits']:7d} {r['rec_bits']:8d}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        check_common_arguments(args, ("hidden", "train_samples", "test_samples"))
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        for task in tasks or [""]:
            if task not in TASKS:
                raise UsageError(f"--tasks must name tasks among {', '.join(TASKS)}, "
                                 f"got {task!r}")
        rows = list(ROWS) if args.rows is None else [r.strip() for r in args.rows.split(",")]
        for row in rows:
            if row not in ROWS:
                raise UsageError(f"--rows must name rows among {', '.join(ROWS)}, got {row!r}")
        if args.kernel < 1 or args.kernel % 2 == 0 or args.kernel > 2 * args.hidden - 1:
            raise UsageError(f"--kernel must be odd in [1, {2 * args.hidden - 1}], "
                             f"got {args.kernel}")
    except UsageError as err:
        return fail(str(err))

    seeds = list(range(args.seeds))
    jobs, keys = [], []
    for task in tasks:
        load = functools.partial(task_sets, task, args.train_samples, args.test_samples,
                                 args.task_seed)
        for row in rows:
            mode, init = ROWS[row]
            init = {k: (args.kernel if k == "rec_kernel" else v) for k, v in init.items()}
            jobs.append(Job(load=load, n_hidden=args.hidden, modes=[mode], seeds=seeds,
                            epochs=args.epochs, n_out=CLASSES[task], label=row, init=init,
                            exact=args.exact, progress=args.progress))
            keys.append((task, row, init))
    started = time.perf_counter()
    outputs = run_jobs(jobs, args.jobs)
    wall = time.perf_counter() - started

    results = []
    for (task, row, init), output in zip(keys, outputs):
        n_in = make_task(task, 1, 0).n_in
        probe = init_network(n_in, args.hidden, CLASSES[task], np.random.default_rng(0),
                             **init)
        bits = memory_bits(probe)
        accuracies = [h["final_test_accuracy"] for h in output["histories"]]
        results.append({
            "task": task, "row": row, "mode": ROWS[row][0], "init": init,
            **stats(accuracies), "per_seed": accuracies,
            "train_accuracy": [h["final_train_accuracy"] for h in output["histories"]],
            "curves": [[h["initial_test_accuracy"]] + h["test_accuracy"]
                       for h in output["histories"]],
            "bits": bits["total"], "rec_bits": bits["recurrent"],
            "seconds": output["seconds"], "cpu_seconds": output["cpu_seconds"],
        })
    print(f"tasks {', '.join(tasks)}; {args.epochs} epochs, {args.train_samples} training "
          f"samples, {args.hidden} hidden, seeds {seeds}, "
          f"{'integer' if args.exact else 'float'} golden model, {wall:.0f} s")
    print(_format(results))
    summary = {
        "config": {"tasks": tasks, "rows": rows, "seeds": seeds, "epochs": args.epochs,
                   "hidden": args.hidden, "kernel": args.kernel,
                   "train_samples": args.train_samples, "test_samples": args.test_samples,
                   "task_seed": args.task_seed, "mode": "exact" if args.exact else "float"},
        "results": results, "seconds": wall,
    }
    write_json(args.json, summary)
    if args.plot is not None:
        from golden.train import plot_training

        args.plot.parent.mkdir(parents=True, exist_ok=True)
        histories = [h for output in outputs for h in output["histories"]]
        labels = [f"{task}: {row}" for (task, row, _), output in zip(keys, outputs)
                  for _ in output["histories"]]
        plot_training(args.plot, histories, labels, title="neuron models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
