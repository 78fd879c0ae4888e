"""Figures of runs, training and delays, written as PNG files with matplotlib's Agg backend.

Panels (each draws into a matplotlib ``Axes``):

- :func:`spike_raster`: spikes of a ``[T, n]`` raster as dots (time on x, neuron on y);
- :func:`membrane_traces`: membranes of a few neurons over time, with their thresholds;
- :func:`readout_traces`: readout values over time, the label's readout highlighted;
- :func:`learning_curves`: accuracy per epoch of one or more training runs;
- :func:`delay_histogram`: distribution of integer delays.

Figures (each writes one PNG):

- :func:`plot_run`: one sample of a golden-model run (``python -m golden.run --plot``);
- :func:`plot_learning`: learning curves and, optionally, delay histograms;
- :func:`plot_delays`: delay histograms of a network, one per projection with delays.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas directly, not
through ``pyplot``: nothing depends on a display or changes a notebook's backend, and no
figure is left open in a global registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "delay_histogram",
    "learning_curves",
    "membrane_traces",
    "plot_delays",
    "plot_learning",
    "plot_run",
    "readout_traces",
    "spike_raster",
]


def _figure(rows: int, cols: int = 1, *, width: float = 8.0, height: float = 2.4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


# -- panels -------------------------------------------------------------------------------


def spike_raster(ax, spikes: np.ndarray, *, title: str = "", color: str = "k",
                 ylabel: str = "neuron") -> None:
    """Dots at the (step, neuron) of every spike of ``spikes [T, n]``."""
    spikes = np.asarray(spikes)
    steps, neurons = np.nonzero(spikes)
    ax.scatter(steps, neurons, s=max(1.0, 200.0 / max(1, spikes.shape[1])), marker="|",
               color=color, linewidths=1)
    ax.set_xlim(-0.5, spikes.shape[0] - 0.5)
    ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{len(steps)} spikes")


def membrane_traces(ax, v: np.ndarray, theta: np.ndarray | None = None, *,
                    neurons: Sequence[int] | None = None, title: str = "membranes") -> None:
    """Membranes ``v [T, n]`` of ``neurons`` (default: the first four) and thresholds."""
    v = np.asarray(v)
    neurons = list(range(min(4, v.shape[1]))) if neurons is None else list(neurons)
    for k, i in enumerate(neurons):
        ax.plot(v[:, i], color=f"C{k}", linewidth=1, label=f"neuron {i}")
        if theta is not None:
            ax.axhline(float(np.asarray(theta)[i]), color=f"C{k}", linestyle=":", linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("v")
    ax.set_title(title + (" (dotted: thresholds)" if theta is not None else ""))
    if neurons:
        ax.legend(fontsize="small", loc="upper right")


def readout_traces(ax, y: np.ndarray, label: int | None = None, *,
                   target_mask: np.ndarray | None = None, title: str = "readouts") -> None:
    """Readouts ``y [T, n_out]``; the label's readout bold, learning steps shaded."""
    y = np.asarray(y)
    if target_mask is not None and np.any(target_mask):
        on = np.flatnonzero(target_mask)
        ax.axvspan(on[0] - 0.5, on[-1] + 0.5, color="0.9", zorder=0)
    for k in range(y.shape[1]):
        bold = k == label
        ax.plot(y[:, k], color=f"C{k % 10}", linewidth=2.0 if bold else 0.8,
                label=f"class {k}" + (" (label)" if bold else ""))
    ax.set_xlabel("step")
    ax.set_ylabel("y")
    ax.set_title(title)
    if y.shape[1] <= 12:
        ax.legend(fontsize="small", loc="upper left", ncol=2)


def learning_curves(ax, curves: Mapping[str, Sequence[float | None]], *,
                    ylabel: str = "test accuracy", title: str = "",
                    chance: float | None = None) -> None:
    """One line per entry of ``curves``: accuracy per epoch, epoch 0 being before training.

    ``None`` entries (no measurement) are skipped.
    """
    for k, (label, values) in enumerate(curves.items()):
        points = [(epoch, v) for epoch, v in enumerate(values) if v is not None]
        if points:
            epochs, accuracy = zip(*points)
            ax.plot(epochs, accuracy, marker="o", markersize=3, color=f"C{k % 10}",
                    label=label)
    if chance is not None:
        ax.axhline(chance, color="0.5", linestyle="--", linewidth=1, label="chance")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")


def delay_histogram(ax, delays: Mapping[str, np.ndarray], d_max: int | None = None, *,
                    title: str = "delay distribution") -> None:
    """Step histograms of integer delays, one per entry (e.g. initial and learned)."""
    if d_max is None:
        d_max = max((int(np.max(d)) + 1 for d in delays.values() if np.size(d)), default=1)
    bins = np.arange(d_max + 1) - 0.5
    for k, (label, values) in enumerate(delays.items()):
        ax.hist(np.ravel(values), bins=bins, histtype="step", linewidth=1.5,
                color=f"C{k % 10}", label=f"{label} (n={np.size(values)})")
    ax.set_xlim(-0.5, d_max - 0.5)
    ax.set_xlabel("integer delay (steps)")
    ax.set_ylabel("synapses")
    ax.set_title(title)
    ax.legend(fontsize="small")


# -- figures ------------------------------------------------------------------------------


def plot_run(path: str | Path, net, samples, traces: Mapping[str, np.ndarray],
             sample: int = 0, predicted: int | None = None) -> Path:
    """Input spikes, hidden spikes, membranes and readouts of one sample of a run.

    Parameters
    ----------
    path : str or Path
        Output ``.png``.
    net : Network
        The network that ran (for the thresholds).
    samples : SampleSet
        The inputs.
    traces : dict
        ``z``, ``v``, ``y`` of :func:`golden.run.run_samples` (``[samples, T, ...]``).
    sample : int
        Which sample.
    predicted : int, optional
        The predicted class, shown in the title.
    """
    if not 0 <= sample < samples.n_samples:
        raise ValueError(f"sample must be in [0, {samples.n_samples - 1}], got {sample}")
    fig, axes = _figure(4)
    label = int(samples.labels[sample])
    head = f"sample {sample}, label {label}"
    if predicted is not None:
        head += f", predicted {predicted}"
    spike_raster(axes[0, 0], samples.spikes[sample], ylabel="input", color="C0",
                 title=f"{head}: input spikes ({int(samples.spikes[sample].sum())})")
    spike_raster(axes[1, 0], traces["z"][sample], ylabel="hidden",
                 title=f"hidden spikes ({int(traces['z'][sample].sum())})")
    # The four neurons that spiked most show what the threshold does.
    active = np.argsort(-traces["z"][sample].sum(axis=0), kind="stable")[:4]
    membrane_traces(axes[2, 0], traces["v"][sample], net.theta, neurons=sorted(active.tolist()))
    readout_traces(axes[3, 0], traces["y"][sample], label,
                   target_mask=samples.target_mask[sample])
    for ax in axes[:, 0]:
        ax.set_xlim(-0.5, samples.n_steps - 0.5)
    return _save(fig, path)


def plot_learning(path: str | Path, curves: Mapping[str, Sequence[float | None]], *,
                  delays: Mapping[str, np.ndarray] | None = None, d_max: int | None = None,
                  title: str = "", chance: float | None = None) -> Path:
    """Learning curves and, if ``delays`` is given, delay histograms side by side."""
    fig, axes = _figure(1, 2 if delays else 1, width=6.0, height=4.0)
    learning_curves(axes[0, 0], curves, title=title, chance=chance)
    if delays:
        delay_histogram(axes[0, 1], delays, d_max)
    return _save(fig, path)


def plot_delays(path: str | Path, net) -> Path:
    """Histograms of the integer delays of every projection of ``net`` that has delays."""
    projections = [p for p in net.projections() if net.delay_kind(p) != "none"]
    if not projections:
        raise ValueError("the network has no delays (every delay kind is 'none')")
    fig, axes = _figure(1, len(projections), width=4.5, height=3.5)
    for ax, proj in zip(axes[0], projections):
        kind = net.delay_kind(proj)
        values = getattr(net, f"d_{proj}") >> net.delay_frac
        delay_histogram(ax, {kind: values}, net.d_max, title=f"projection '{proj}'")
    return _save(fig, path)
