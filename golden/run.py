"""Run the golden model over a sample set from the command line.

Usage::

    python -m golden.run --net NET.json --data SAMPLES.npz --out OUT.npz
        [--plot RUN.png [--plot-sample N]]

Loads the network (``.json`` or ``.toml``, see :mod:`golden.network`) and the sample set
(``.npz``, see :mod:`golden.data`), runs every sample from zero state through
:func:`golden.model.run`, writes the recorded traces to ``OUT.npz`` and prints a one-line
JSON summary to stdout.

``OUT.npz`` holds:

- ``spikes``: hidden spikes ``z``, ``bool [samples, T, n_hidden]``;
- ``v``: hidden membranes after reset, ``int32 [samples, T, n_hidden]``;
- ``y``: readout values, ``int32 [samples, T, n_out]``;
- ``labels``: the labels of the sample set, ``int64 [samples]``;
- ``predicted``: the predicted class of each sample, ``int64 [samples]`` (see
  :func:`predict`).

``--plot RUN.png`` also draws one sample (``--plot-sample``, default 0): its input spikes,
the hidden spikes, the membranes of the most active hidden neurons with their thresholds and
the readouts (:func:`golden.plots.plot_run`).

A malformed network or sample file prints one line ``error: ...`` to stderr and exits
with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .data import DataError, SampleSet, load_samples
from .model import run as run_model
from .network import Network, NetworkError, load_network

__all__ = ["main", "predict", "run_samples", "summarise"]

#: Exit status for unusable inputs (the same that argparse uses for bad arguments).
EXIT_INPUT_ERROR = 2


def run_samples(net: Network, samples: SampleSet, batch_size: int = 64,
                progress: bool | None = None) -> dict[str, np.ndarray]:
    """Run every sample through the golden model, ``batch_size`` samples at a time.

    Parameters
    ----------
    net : Network
        The network; ``net.n_in`` must equal ``samples.n_in``.
    samples : SampleSet
        Input spike trains.
    batch_size : int
        Samples advanced together; larger batches are faster but use more memory.
    progress : bool or None
        Show a progress bar on stderr: always (True), never (False) or only when stderr
        is a terminal (None).

    Returns
    -------
    dict
        ``z`` (bool), ``v`` and ``y`` (int32) with shape ``[samples, T, ...]``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n, steps = samples.n_samples, samples.n_steps
    # v_bits and y_bits are at most 24 (golden.network), so int32 holds every value
    # exactly and halves the size of the output file.
    out = {
        "z": np.zeros((n, steps, net.n_hidden), dtype=bool),
        "v": np.zeros((n, steps, net.n_hidden), dtype=np.int32),
        "y": np.zeros((n, steps, net.n_out), dtype=np.int32),
    }
    starts = range(0, n, batch_size)
    bar = tqdm(starts, desc="golden", unit="batch", disable=None if progress is None
               else not progress, file=sys.stderr)
    for start in bar:
        stop = min(start + batch_size, n)
        traces = run_model(net, samples.spikes[start:stop])
        for key, trace in out.items():
            trace[start:stop] = traces[key]
    return out


def predict(y: np.ndarray, target_mask: np.ndarray) -> np.ndarray:
    """Predicted class per sample: argmax of the readout summed over the target steps.

    Ties go to the lowest class index, so a sample with no target steps is class 0.

    Parameters
    ----------
    y : array of int, shape (samples, T, n_out)
        Readout values.
    target_mask : array of bool, shape (samples, T)
        Steps that count.
    """
    score = (y.astype(np.int64) * target_mask[:, :, None]).sum(axis=1)
    return np.argmax(score, axis=1).astype(np.int64)


def summarise(samples: SampleSet, traces: dict[str, np.ndarray],
              predicted: np.ndarray) -> dict:
    """Summary statistics of a run, as plain Python values for JSON."""
    return {
        "samples": samples.n_samples,
        "steps": samples.n_steps,
        # Spikes per hidden neuron per step, averaged over samples, steps and neurons.
        "mean_hidden_rate": float(traces["z"].mean()),
        "accuracy": float(np.mean(predicted == samples.labels)),
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m golden.run",
        description="Run the delaycore golden model over a sample set and record v, z, y.")
    parser.add_argument("--net", required=True, type=Path,
                        help="network file (.json or .toml)")
    parser.add_argument("--data", required=True, type=Path,
                        help="sample set (.npz, see docs/model.md section 6)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output .npz with spikes, v, y, labels, predicted")
    parser.add_argument("--batch", type=int, default=64,
                        help="samples simulated together (default: %(default)s)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar (default: only on a terminal)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="also draw one sample's spikes, membranes and readouts (.png)")
    parser.add_argument("--plot-sample", type=int, default=0,
                        help="the sample --plot draws (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        parser.error(f"--plot must name a .png file, got {str(args.plot)!r}")
    if args.plot_sample < 0:
        parser.error(f"--plot-sample must be >= 0, got {args.plot_sample}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parse_args(argv)
    try:
        net = load_network(args.net)
        samples = load_samples(args.data, n_in=net.n_in, n_classes=net.n_out)
    except (NetworkError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    if args.plot is not None and args.plot_sample >= samples.n_samples:
        # Checked before the run, which can be long, rather than after it.
        print(f"error: --plot-sample must be below the {samples.n_samples} samples of "
              f"{args.data}, got {args.plot_sample}", file=sys.stderr)
        return EXIT_INPUT_ERROR

    try:
        traces = run_samples(net, samples, batch_size=args.batch, progress=args.progress)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    predicted = predict(traces["y"], samples.target_mask)

    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        # An open file keeps numpy from appending ".npz" to a name without that suffix.
        with open(args.out, "wb") as file:
            np.savez_compressed(file, spikes=traces["z"], v=traces["v"], y=traces["y"],
                                labels=samples.labels, predicted=predicted)
    except OSError as err:
        print(f"error: {args.out}: cannot write output ({err.strerror or err})",
              file=sys.stderr)
        return EXIT_INPUT_ERROR

    summary = summarise(samples, traces, predicted)
    summary["out"] = str(args.out)
    if args.plot is not None:
        from .plots import plot_run  # matplotlib only when a plot is asked for

        try:
            plot_run(args.plot, net, samples, traces, sample=args.plot_sample,
                     predicted=int(predicted[args.plot_sample]))
        except OSError as err:
            print(f"error: {args.plot}: cannot write plot ({err.strerror or err})",
                  file=sys.stderr)
            return EXIT_INPUT_ERROR
        summary["plot"] = str(args.plot)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
