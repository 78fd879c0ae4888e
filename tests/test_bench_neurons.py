"""``python -m bench.neurons`` with tiny settings: it runs, writes its JSON, refuses bad flags."""

from __future__ import annotations

import json

import numpy as np

from bench.neurons import ROWS, main, memory_bits
from golden.train import init_network


def test_tiny_run_writes_every_row(tmp_path, capsys):
    out = tmp_path / "neurons.json"
    rows = "LIF,CuBa (learned beta),adLIF + delays,rec dense + axonal delays," \
           "rec kernel + axonal delays"
    status = main(["--json", str(out), "--tasks", "cue", "--seeds", "2", "--epochs", "1",
                   "--train-samples", "6", "--test-samples", "6", "--hidden", "4",
                   "--jobs", "1", "--no-progress", "--rows", rows])
    assert status == 0
    summary = json.loads(out.read_text())
    got = {r["row"]: r for r in summary["results"]}
    assert list(got) == rows.split(",")
    for r in got.values():
        assert len(r["per_seed"]) == 2 and 0 <= r["mean"] <= 1
    # The kernel's recurrent memory is its taps (and the axonal delays), not n_hidden^2.
    assert got["rec kernel + axonal delays"]["rec_bits"] < got["rec dense + axonal delays"][
        "rec_bits"]
    assert "rec kernel + axonal delays" in capsys.readouterr().out


def test_memory_bits_counts_kernel_and_neuron_parameters():
    rng = np.random.default_rng(0)
    dense = init_network(4, 6, 2, rng, recurrent=True, delay_in="none")
    conv = init_network(4, 6, 2, rng, recurrent=True, delay_in="none", rec_kernel=3)
    adaptive = init_network(4, 6, 2, rng, delay_in="none", adaptation="threshold")
    assert memory_bits(dense)["recurrent"] == 36 * 16
    assert memory_bits(conv)["recurrent"] == 3 * 16
    plain = init_network(4, 6, 2, rng, delay_in="none")
    assert memory_bits(adaptive)["total"] - memory_bits(plain)["total"] == 6 * (8 + 15)


def test_bad_flags(capsys):
    assert main(["--json", "x.json", "--kernel", "2"]) == 2
    assert "--kernel must be odd" in capsys.readouterr().err
    assert main(["--json", "x.json", "--tasks", "nope"]) == 2
    assert "--tasks must name tasks" in capsys.readouterr().err
    assert main(["--json", "x.json", "--rows", "GRU"]) == 2
    assert "--rows must name rows" in capsys.readouterr().err
    assert set(ROWS) >= {"LIF", "adLIF", "CuBa (learned beta)"}
