"""Built-in synthetic tasks, written in the sample format of ``docs/model.md`` section 6.

``python -m golden.tasks NAME --out DIR`` writes ``DIR/train.npz`` and ``DIR/test.npz``.

Tasks
-----
rates
    Each class has its own Poisson rate profile over the inputs; a weights-only network
    solves it. Learning on every step after a short warm-up.
timing
    Every input fires exactly once, at a time that depends on the class (plus jitter), and
    the whole pattern starts at a random onset (``shift``); all classes use the same inputs
    and the same spike count, and the onset blurs absolute times, so mainly the *relative
    timing* separates them, which delays can align. Supervision on a final window.
cue
    Delayed supervision (cue-accumulation style): a few cue bursts on one of two input
    groups, a silent delay, then a recall window in which the target mask is set; the class
    is the group that had more cues.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .data import SampleSet, save_samples

__all__ = ["TASKS", "make_task", "main"]


def _rates(rng, n_samples, *, n_in=16, n_classes=4, steps=50, rate=0.25, warmup=10,
           pattern_seed=54321):
    # Class profiles come from their own seed so train and test sets share them.
    profiles = np.random.default_rng(pattern_seed).uniform(0.02, rate, size=(n_classes, n_in))
    labels = rng.integers(0, n_classes, n_samples)
    spikes = rng.random((n_samples, steps, n_in)) < profiles[labels][:, None, :]
    mask = np.zeros((n_samples, steps), dtype=bool)
    mask[:, warmup:] = True
    return spikes, labels, mask


def _timing(rng, n_samples, *, n_in=16, n_classes=8, steps=60, spread=24, jitter=2,
            shift=16, noise=0.01, window=30, pattern_seed=12345):
    # The class templates come from their own seed so train and test share them.
    templates = np.random.default_rng(pattern_seed).integers(0, spread, size=(n_classes, n_in))
    labels = rng.integers(0, n_classes, n_samples)
    times = templates[labels] + rng.integers(-jitter, jitter + 1, size=(n_samples, n_in))
    # A random onset per sample moves the whole pattern: the absolute time of a spike then
    # says little about the class, only the times relative to each other do.
    onset = rng.integers(0, shift + 1, size=(n_samples, 1))
    times = np.clip(times + jitter + onset, 0, steps - 1)
    spikes = np.zeros((n_samples, steps, n_in), dtype=bool)
    sample_index, input_index = np.meshgrid(np.arange(n_samples), np.arange(n_in), indexing="ij")
    spikes[sample_index, times, input_index] = True
    spikes |= rng.random(spikes.shape) < noise
    mask = np.zeros((n_samples, steps), dtype=bool)
    mask[:, steps - window:] = True
    return spikes, labels, mask


def _cue(rng, n_samples, *, n_in=20, cues=5, cue_len=4, gap=2, delay=20, recall=10,
         rate=0.6, noise=0.02):
    group = n_in // 2
    steps = cues * (cue_len + gap) + delay + recall
    labels = rng.integers(0, 2, n_samples)
    spikes = rng.random((n_samples, steps, n_in)) < noise
    for s in range(n_samples):
        majority = rng.integers(cues // 2 + 1, cues + 1)
        sides = np.array([labels[s]] * majority + [1 - labels[s]] * (cues - majority))
        rng.shuffle(sides)
        for c, side in enumerate(sides):
            t0 = c * (cue_len + gap)
            block = rng.random((cue_len, group)) < rate
            spikes[s, t0:t0 + cue_len, side * group:(side + 1) * group] |= block
    mask = np.zeros((n_samples, steps), dtype=bool)
    mask[:, steps - recall:] = True
    return spikes, labels, mask


TASKS = {"rates": _rates, "timing": _timing, "cue": _cue}


def make_task(name: str, n_samples: int, seed: int, **options) -> SampleSet:
    """Generate ``n_samples`` samples of task ``name`` with ``numpy`` seed ``seed``."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {name!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    rng = np.random.default_rng(seed)
    spikes, labels, mask = TASKS[name](rng, n_samples, **options)
    meta = {"task": name, "seed": seed, **options}
    return SampleSet(spikes=spikes.astype(np.uint8), labels=labels.astype(np.int64),
                     target_mask=mask, meta=meta)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m golden.tasks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--train", type=int, default=512, help="training samples (default 512)")
    parser.add_argument("--test", type=int, default=256, help="test samples (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    for flag in ("train", "test"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for split, count, seed in (("train", args.train, args.seed),
                               ("test", args.test, args.seed + 1_000_003)):
        samples = make_task(args.task, count, seed)
        path = args.out / f"{split}.npz"
        save_samples(path, samples)
        print(json.dumps({"split": split, "path": str(path), "samples": count,
                          "steps": samples.spikes.shape[1], "n_in": samples.spikes.shape[2],
                          "classes": int(samples.labels.max()) + 1}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
