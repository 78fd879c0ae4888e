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
(``--jobs``, default 2).

Prints a table (test accuracy, mean +- standard deviation over seeds, and per seed) and writes
``OUT.json`` with ``weights_only_acc``, ``delays_only_acc``, ``weights_delays_acc`` and
``weights_only_same_memory_acc`` (test accuracy after the last epoch, mean over seeds), the
per-seed values, per-epoch curves, the memory comparison and the configuration.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

# Runnable as a script from anywhere: the packages live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golden.tasks import make_task
from golden.train import init_network, plot_training, train_learners

#: Mode name -> (learn_weights, learn_delays, JSON key of the mean accuracy).
MODES = {
    "weights": (True, False, "weights_only_acc"),
    "delays": (False, True, "delays_only_acc"),
    "weights,delays": (True, True, "weights_delays_acc"),
}
SAME_MEMORY = "weights (same memory)"
SAME_MEMORY_KEY = "weights_only_same_memory_acc"
#: Task size, fixed here so that tiny sample sets still get one readout per class.
TASK = {"n_in": 16, "n_classes": 8}
TEST_SEED_OFFSET = 1_000_003  # as `python -m golden.tasks`: test samples from another seed


def parameter_bits(net, *, with_delays: bool) -> int:
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


def _job(spec: dict) -> dict:
    """Train the learners of one network size (runs in a worker process)."""
    train_set = make_task("timing", spec["train_samples"], spec["task_seed"], **TASK)
    test_set = make_task("timing", spec["test_samples"], spec["task_seed"] + TEST_SEED_OFFSET,
                         **TASK)
    n_out = TASK["n_classes"]
    nets, seeds, labels = [], [], []
    for mode in spec["modes"]:
        learn_w, learn_d = MODES[mode][:2]
        for seed in spec["seeds"]:
            # Same seed -> same initial weights and delays in every mode.
            nets.append(init_network(train_set.n_in, spec["n_hidden"], n_out,
                                     np.random.default_rng(seed), delay_in=spec["delay_in"],
                                     learn_weights=learn_w, learn_delays=learn_d))
            seeds.append(seed)
            labels.append(spec["label"] if spec["label"] else mode)
    started = time.perf_counter()
    trained, histories = train_learners(nets, train_set, test_set, spec["epochs"], seeds=seeds,
                                        exact=spec["exact"], progress=spec["progress"],
                                        desc=f"{spec['n_hidden']} hidden")
    seconds = time.perf_counter() - started
    initial_delays = [net.integer_delays("in") for net in nets]
    learned_delays = [net.integer_delays("in") for net in trained]  # zeros without delays
    return {
        "labels": labels, "histories": histories, "seconds": seconds,
        "n_hidden": spec["n_hidden"],
        "bits": parameter_bits(nets[0], with_delays=any(MODES[m][1] for m in spec["modes"])),
        "initial_delays": [d.tolist() for d in initial_delays],
        "learned_delays": [d.tolist() for d in learned_delays],
        "learners": len(nets),
    }


def _stats(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {"mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delays", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", required=True, type=Path, help="output summary (.json)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--epochs", type=int, default=12, help="epochs (default 12)")
    parser.add_argument("--plot", type=Path, default=None, help="accuracy/delay plot (.png)")
    parser.add_argument("--hidden", type=int, default=8, help="hidden neurons (default 8)")
    parser.add_argument("--train-samples", type=int, default=512, help="default 512")
    parser.add_argument("--test-samples", type=int, default=256, help="default 256")
    parser.add_argument("--task-seed", type=int, default=0, help="sample seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--float", dest="exact", action="store_false",
                        help="float golden model instead of the integer one")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars on stderr (default: only on a terminal)")
    args = parser.parse_args(argv)
    for flag in ("seeds", "epochs", "hidden", "train_samples", "test_samples", "jobs"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.json.suffix.lower() != ".json":
        parser.error(f"--json must name a .json file, got {str(args.json)!r}")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        parser.error(f"--plot must name a .png file, got {str(args.plot)!r}")

    seeds = list(range(args.seeds))
    probe = init_network(TASK["n_in"], args.hidden, TASK["n_classes"], np.random.default_rng(0))
    bits_wd = parameter_bits(probe, with_delays=True)
    # Smallest weights-only network with at least the memory of the weights+delays one.
    hidden_same = args.hidden
    while parameter_bits(init_network(TASK["n_in"], hidden_same, TASK["n_classes"],
                                      np.random.default_rng(0),
                                      delay_in="none"), with_delays=False) < bits_wd:
        hidden_same += 1
    common = {"seeds": seeds, "epochs": args.epochs, "train_samples": args.train_samples,
              "test_samples": args.test_samples, "task_seed": args.task_seed,
              "exact": args.exact, "progress": args.progress}
    # Heaviest job first so that two workers finish at about the same time.
    # The three modes start from the same networks (weights-only keeps the random initial
    # delays); the equal-memory network has no delays at all, as its memory holds none.
    specs = [dict(common, n_hidden=args.hidden, modes=["weights,delays", "delays"], label="",
                  delay_in="synaptic"),
             dict(common, n_hidden=args.hidden, modes=["weights"], label="",
                  delay_in="synaptic"),
             dict(common, n_hidden=hidden_same, modes=["weights"], label=SAME_MEMORY,
                  delay_in="none")]
    started = time.perf_counter()
    if args.jobs == 1:
        results = [_job(spec) for spec in specs]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(_job, specs))
    wall = time.perf_counter() - started

    rows = {}
    for result in results:
        for label, history in zip(result["labels"], result["histories"]):
            row = rows.setdefault(label, {"n_hidden": result["n_hidden"], "bits": result["bits"],
                                          "histories": []})
            row["histories"].append(history)
    summary = {
        "config": {"task": "timing", "seeds": seeds, "epochs": args.epochs,
                   "hidden": args.hidden, "hidden_same_memory": hidden_same,
                   "train_samples": args.train_samples, "test_samples": args.test_samples,
                   "task_seed": args.task_seed, "mode": "exact" if args.exact else "float",
                   "learning": probe.learning.to_dict()},
        "per_seed": {}, "stats": {}, "curves": {}, "seconds": wall,
        "job_seconds": [r["seconds"] for r in results],
    }
    print(f"timing task, {args.epochs} epochs, seeds {seeds}, "
          f"{'integer' if args.exact else 'float'} golden model, {wall:.0f} s")
    print(f"{'mode':24s} {'hidden':>6s} {'bits':>6s}  {'test acc':>15s}  per seed")
    for label in list(MODES) + [SAME_MEMORY]:
        row = rows[label]
        accs = [h["final_test_accuracy"] for h in row["histories"]]
        stats = _stats(accs)
        key = MODES[label][2] if label in MODES else SAME_MEMORY_KEY
        summary[key] = stats["mean"]
        summary["per_seed"][key] = accs
        summary["stats"][key] = dict(stats, n_hidden=row["n_hidden"], bits=row["bits"],
                                     train_accuracy=[h["final_train_accuracy"]
                                                     for h in row["histories"]])
        summary["curves"][key] = [[h["initial_test_accuracy"]] + h["test_accuracy"]
                                  for h in row["histories"]]
        print(f"{label:24s} {row['n_hidden']:6d} {row['bits']:6d}  "
              f"{100 * stats['mean']:6.1f} +- {100 * stats['std']:4.1f}  "
              + " ".join(f"{100 * a:5.1f}" for a in accs))
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

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1) + "\n")
    if args.plot is not None:
        wd = results[0]  # the weights+delays and delays-only job
        per_mode = len(seeds)
        delays = {"initial": np.ravel(wd["initial_delays"][:per_mode]),
                  "learned (weights+delays)": np.ravel(wd["learned_delays"][:per_mode]),
                  "learned (delays only)": np.ravel(wd["learned_delays"][per_mode:])}
        histories = [h for label in list(MODES) + [SAME_MEMORY]
                     for h in rows[label]["histories"]]
        labels = [label for label in list(MODES) + [SAME_MEMORY]
                  for _ in rows[label]["histories"]]
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot_training(args.plot, histories, labels, delays, d_max=probe.d_max,
                      title=f"timing task, {len(seeds)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
