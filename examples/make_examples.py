"""Regenerate the small example network and sample set used by the README.

Usage, after ``pip install -e .``::

    python examples/make_examples.py

Writes ``examples/net_small.json`` and ``examples/samples_small.npz``. The network is
random (drawn by :func:`golden.random.random_network`), so the example shows the file
formats and the tool chain, not a trained classifier: expect chance-level accuracy.
The output is deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from golden.data import SampleSet, save_samples
from golden.network import Network, save_network
from golden.random import random_network, random_spikes

HERE = Path(__file__).resolve().parent

N_IN, N_HIDDEN, N_OUT = 16, 32, 4
N_SAMPLES, STEPS = 32, 50


def make_samples(rng: np.random.Generator) -> SampleSet:
    """Spike trains whose input rates depend on the class, so classes differ visibly.

    Each class drives its own quarter of the inputs at a higher rate on top of sparse
    background activity.
    """
    labels = np.arange(N_SAMPLES, dtype=np.int64) % N_OUT
    rng.shuffle(labels)
    spikes = np.zeros((N_SAMPLES, STEPS, N_IN), dtype=np.uint8)
    group = N_IN // N_OUT
    for s, label in enumerate(labels):
        spikes[s] = random_spikes(rng, STEPS, N_IN, density=0.05)
        burst = random_spikes(rng, STEPS, group, density=0.4)
        spikes[s, :, label * group:(label + 1) * group] |= burst
    # Score (and, later, learn) only in the second half, once the readout has integrated.
    target_mask = np.zeros((N_SAMPLES, STEPS), dtype=bool)
    target_mask[:, STEPS // 2:] = True
    meta = {
        "description": "delaycore example: class-dependent input rates",
        "generator": "examples/make_examples.py",
        "classes": N_OUT,
    }
    return SampleSet(spikes=spikes, labels=labels, target_mask=target_mask, meta=meta)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--out-dir", type=Path, default=HERE,
                        help="where to write the files (default: examples/)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    net = random_network(rng, n_in=N_IN, n_hidden=N_HIDDEN, n_out=N_OUT, recurrent=True,
                         delay_in="synaptic", delay_rec="axonal", delay_out="none",
                         d_max=16)
    # random_network draws thresholds for exercising the arithmetic, and with recurrence
    # most neurons then fire nearly every step. Higher thresholds give a sparser, more
    # typical activity (about 15% of neurons per step) for the example.
    fields = net.to_dict()
    theta_max = (1 << (net.v_bits - 1)) - 1
    fields["theta"] = [min(theta_max, 8 * int(t)) for t in net.theta]
    net = Network.from_dict(fields)
    samples = make_samples(rng)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    save_network(net, args.out_dir / "net_small.json")
    save_samples(args.out_dir / "samples_small.npz", samples)
    print(f"wrote {args.out_dir / 'net_small.json'} and {args.out_dir / 'samples_small.npz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
