"""Figures (``golden.plots``) and ``python -m golden.run --plot``."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from golden.data import SampleSet, save_samples
from golden.network import save_network
from golden.plots import plot_delays, plot_learning, plot_run
from golden.random import random_network, random_spikes
from golden.run import main as run_main
from golden.run import run_samples

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5000  # axes, labels and data, not an empty canvas


@pytest.fixture
def setup(tmp_path):
    rng = np.random.default_rng(0)
    net = random_network(rng, n_in=6, n_hidden=9, n_out=3, recurrent=True,
                         delay_in="synaptic", delay_rec="axonal", d_max=8)
    spikes = np.stack([random_spikes(rng, 30, 6, 0.3) for _ in range(4)])
    mask = np.zeros((4, 30), dtype=bool)
    mask[:, 10:] = True
    samples = SampleSet(spikes=spikes, labels=np.array([0, 1, 2, 0]), target_mask=mask)
    return net, samples


def test_plot_run(tmp_path, setup):
    net, samples = setup
    traces = run_samples(net, samples, progress=False)
    assert_png(plot_run(tmp_path / "a" / "run.png", net, samples, traces, sample=2,
                        predicted=1))
    with pytest.raises(ValueError, match="sample"):
        plot_run(tmp_path / "x.png", net, samples, traces, sample=4)


def test_plot_learning_and_delays(tmp_path, setup):
    net, _ = setup
    curves = {"weights": [0.25, 0.5, 0.75], "weights,delays": [0.25, None, 0.9]}
    assert_png(plot_learning(tmp_path / "curves.png", curves, chance=1 / 3))
    delays = {"initial": net.integer_delays("in"), "learned": net.integer_delays("in") // 2}
    assert_png(plot_learning(tmp_path / "both.png", curves, delays=delays, d_max=net.d_max,
                             title="timing"))
    assert_png(plot_delays(tmp_path / "delays.png", net))
    plain = random_network(np.random.default_rng(1), n_in=3, n_hidden=4, n_out=2,
                           delay_in="none")
    with pytest.raises(ValueError, match="no delays"):
        plot_delays(tmp_path / "none.png", plain)


def test_run_cli_plot(tmp_path, setup, capsys):
    net, samples = setup
    save_network(net, tmp_path / "net.json")
    save_samples(tmp_path / "data.npz", samples)
    base = ["--net", str(tmp_path / "net.json"), "--data", str(tmp_path / "data.npz"),
            "--out", str(tmp_path / "run.npz")]
    assert run_main(base + ["--plot", str(tmp_path / "fig" / "run.png"),
                            "--plot-sample", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["plot"] == str(tmp_path / "fig" / "run.png")
    assert_png(tmp_path / "fig" / "run.png")

    assert run_main(base + ["--plot", str(tmp_path / "run.png"), "--plot-sample", "4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--plot-sample" in err
    with pytest.raises(SystemExit) as exit_info:
        run_main(base + ["--plot", str(tmp_path / "run.jpg")])
    assert exit_info.value.code == 2
    assert "--plot must name a .png file" in capsys.readouterr().err
