"""NIR export and import (``golden.nir_io``, ``python -m golden.nir``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from golden.model import run
from golden.network import Network, load_network, save_network
from golden.nir import main
from golden.nir_io import NIRError, export_nir, import_nir, read_nir, write_nir
from golden.random import random_network

REPO = Path(__file__).resolve().parent.parent
DT = 1e-3

KINDS = [
    # (recurrent, delay_in, delay_rec, delay_out, reset)
    (False, "none", "none", "none", "soft"),
    (False, "synaptic", "none", "axonal", "hard"),
    (True, "axonal", "synaptic", "none", "soft"),
    (True, "synaptic", "axonal", "synaptic", "hard"),
    (True, "none", "none", "none", "hard"),
]


def network(kinds, seed=0, **formats):
    """A random network without zero effective weights (see
    ``test_zero_weight_synaptic_delay_comes_back_as_zero``)."""
    recurrent, delay_in, delay_rec, delay_out, reset = kinds
    net = random_network(np.random.default_rng(seed), n_in=6, n_hidden=5, n_out=3,
                         recurrent=recurrent, delay_in=delay_in, delay_rec=delay_rec,
                         delay_out=delay_out, reset=reset, d_max=formats.pop("d_max", 8),
                         **formats)
    data = net.to_dict()
    for key in ("w_in", "w_rec", "w_out"):
        if key in data:
            w = np.array(data[key])
            data[key] = np.where(w >> net.weight_frac == 0, 1 << net.weight_frac, w)
    return Network.from_dict(data)


def same(a: Network, b: Network) -> bool:
    left, right = a.to_dict(), b.to_dict()
    left.pop("learning", None)
    right.pop("learning", None)
    return left.keys() == right.keys() and all(
        np.array_equal(np.asarray(left[k]), np.asarray(right[k])) for k in left)


@pytest.mark.parametrize("kinds", KINDS)
def test_round_trip_gives_the_same_network(kinds, tmp_path):
    net = network(kinds, seed=len(tmp_path.name))
    assert same(import_nir(export_nir(net)), net)
    # Through a file as well: the metadata survives nir.write / nir.read.
    write_nir(net, tmp_path / "net.nir")
    assert same(import_nir(read_nir(tmp_path / "net.nir")), net)


def test_round_trip_with_fraction_bits_runs_the_same():
    net = network((True, "synaptic", "axonal", "axonal", "soft"), weight_bits=12,
                  weight_frac=4, delay_frac=3)
    back = import_nir(export_nir(net))
    # The fraction bits are learning state: dropped, and the network computes the same.
    assert back.weight_frac == 4 and back.delay_frac == 3
    for proj in net.projections():
        np.testing.assert_array_equal(back.effective_weights(proj), net.effective_weights(proj))
        np.testing.assert_array_equal(back.integer_delays(proj), net.integer_delays(proj))
    spikes = np.random.default_rng(1).integers(0, 2, (3, 40, net.n_in))
    a, b = run(net, spikes), run(back, spikes)
    for key in ("z", "v", "y"):
        np.testing.assert_array_equal(a[key], b[key])


def test_zero_weight_synaptic_delay_comes_back_as_zero():
    net = network((False, "synaptic", "none", "none", "hard"))
    data = net.to_dict()
    w, d = np.array(data["w_in"]), np.array(data["d_in"])
    w[0, 0], d[0, 0] = 0, 5
    data["w_in"], data["d_in"] = w, d
    back = import_nir(export_nir(Network.from_dict(data)))
    assert back.d_in[0, 0] == 0
    expected = d.copy()
    expected[0, 0] = 0
    np.testing.assert_array_equal(back.d_in, expected)


def simulate_graph(graph, spikes, dt=DT):
    """A plain float simulator of the exported graph layout, with NIR's semantics.

    Forward Euler, spike when ``v > v_threshold``, reset to ``v_reset``, ``Delay`` nodes
    as whole steps, a recurrent edge read one step late.
    """
    nodes, edges = graph.nodes, graph.edges
    into = {}
    for src, dst in edges:
        into.setdefault(dst, []).append(src)

    def chain(target):
        """(source, weight, delay steps per pre) of every path into ``target``."""
        for linear in into[target]:
            (first,) = into[linear]
            if isinstance(nodes[first], nir.Delay):
                (source,) = into[first]
                steps = np.rint(nodes[first].delay / dt).astype(int)
            else:
                source, steps = first, np.zeros(nodes[linear].weight.shape[1], dtype=int)
            yield source, nodes[linear].weight, steps

    hidden, readout = nodes["hidden"], nodes["readout"]
    steps_total = spikes.shape[0]
    z = np.zeros((steps_total, hidden.tau.size))
    y = np.zeros((steps_total, readout.tau.size))
    v = np.zeros(hidden.tau.size)
    out = np.zeros(readout.tau.size)
    for t in range(steps_total):
        current = np.zeros_like(v)
        for source, weight, steps in chain("hidden"):
            if source == "input":
                seen = [spikes[t - s, j] if t - s >= 0 else 0 for j, s in enumerate(steps)]
            else:  # recurrent: one step late
                seen = [z[t - 1 - s, j] if t - 1 - s >= 0 else 0 for j, s in enumerate(steps)]
            current += weight @ np.array(seen, dtype=float)
        v = v + dt / hidden.tau * (hidden.v_leak - v + hidden.r * current)
        z[t] = v > hidden.v_threshold
        v = np.where(z[t] > 0, hidden.v_reset, v)
        drive = np.zeros_like(out)
        for _, weight, steps in chain("readout"):
            seen = [z[t - s, j] if t - s >= 0 else 0 for j, s in enumerate(steps)]
            drive += weight @ np.array(seen, dtype=float)
        out = out + dt / readout.tau * (readout.v_leak - out + readout.r * drive)
        y[t] = out
    return z, y


@pytest.mark.parametrize("kinds", [k for k in KINDS if k[4] == "hard"])
def test_exported_graph_computes_what_the_network_computes(kinds):
    """A float NIR simulator agrees with the golden model on the exported graph.

    Without leak (alpha = kappa = 0) the golden model's floor in the leak has nothing to
    round, so the agreement is exact; this checks the threshold, delay, recurrent and
    readout conventions of the export.
    """
    net = network(kinds, seed=5)
    data = net.to_dict()
    data["alpha"] = [0] * net.n_hidden
    data["kappa"] = [0] * net.n_out
    net = Network.from_dict(data)
    spikes = np.random.default_rng(2).integers(0, 2, (60, net.n_in))
    z, y = simulate_graph(export_nir(net), spikes)
    golden = run(net, spikes)
    assert golden["z"].any()
    np.testing.assert_array_equal(z, golden["z"])
    np.testing.assert_allclose(y, golden["y"], atol=1e-9)


def test_leak_and_threshold_parameters():
    net = network((False, "none", "none", "none", "soft"))
    graph = export_nir(net)
    a = net.alpha / 256.0
    np.testing.assert_allclose(graph.nodes["hidden"].tau, DT / (1 - a))
    np.testing.assert_allclose(graph.nodes["hidden"].r * DT / graph.nodes["hidden"].tau, 1.0)
    np.testing.assert_array_equal(graph.nodes["hidden"].v_threshold, net.theta - 0.5)
    assert isinstance(graph.nodes["readout"], nir.LI)
    assert json.loads(graph.metadata["delaycore"])["reset"] == "soft"


def hand_built(**changes):
    """Input(3) -> Delay -> Linear -> LIF -> Linear -> LI -> Output, made by hand."""
    nodes = {
        "in": nir.Input(input_type={"input": np.array([3])}),
        "axon": nir.Delay(delay=np.array([0.0, 2e-3, 1e-3])),
        "fc1": nir.Linear(weight=np.array([[0.5, -1.0, 0.25], [1.0, 0.0, -0.5]])),
        "lif": nir.LIF(tau=np.array([2e-3, 4e-3]), r=np.array([2.0, 4.0]),
                       v_leak=np.zeros(2), v_threshold=np.array([0.9, 1.0])),
        "fc2": nir.Affine(weight=np.array([[2.0, -1.0], [0.5, 1.0]]), bias=np.zeros(2)),
        "li": nir.LI(tau=np.array([1e-3, 1e-3]), r=np.array([1.0, 1.0]), v_leak=np.zeros(2)),
        "out": nir.Output(output_type={"output": np.array([2])}),
    }
    edges = [("in", "axon"), ("axon", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "li"),
             ("li", "out")]
    nodes.update(changes.pop("nodes", {}))
    edges = changes.pop("edges", edges)
    return nir.NIRGraph(nodes=nodes, edges=edges, **changes)


def test_import_of_a_hand_built_graph():
    net = import_nir(hand_built())
    # Hidden scale 127 / 1.0 (the largest input weight; input gain r dt / tau = 1).
    np.testing.assert_array_equal(net.w_in, [[64, -127, 32], [127, 0, -64]])
    # Strictly above v_threshold: floor(0.9 * 127) + 1 and floor(1.0 * 127) + 1.
    np.testing.assert_array_equal(net.theta, [115, 128])
    np.testing.assert_array_equal(net.alpha, [128, 192])  # 256 (1 - dt/tau)
    # Readout scale 127 / 2.0; -63.5 and 63.5 round to even.
    np.testing.assert_array_equal(net.w_out, [[127, -64], [32, 64]])
    np.testing.assert_array_equal(net.kappa, [0, 0])
    assert net.delay_in == "axonal" and net.d_in.tolist() == [0, 2, 1]
    assert net.delay_out == "none" and not net.recurrent
    assert net.d_max == 4 and net.reset == "hard" and net.weight_bits == 8


def test_import_folds_input_gain_and_post_delays():
    # r = 1 with tau = 2 dt halves the input; a Delay after the Linear is per post neuron.
    graph = hand_built(
        nodes={"lif": nir.LIF(tau=np.array([2e-3, 2e-3]), r=np.array([1.0, 1.0]),
                              v_leak=np.zeros(2), v_threshold=np.array([0.5, 0.5])),
               "dend": nir.Delay(delay=np.array([3e-3, 0.0]))},
        edges=[("in", "axon"), ("axon", "fc1"), ("fc1", "dend"), ("dend", "lif"),
               ("lif", "fc2"), ("fc2", "li"), ("li", "out")])
    net = import_nir(graph, weight_bits=10)
    # Hidden scale 511 / 0.5; threshold 0.5 * 1022 -> 512.
    np.testing.assert_array_equal(net.w_in, [[256, -511, 128], [511, 0, -256]])
    np.testing.assert_array_equal(net.theta, [512, 512])
    assert net.delay_in == "synaptic"
    np.testing.assert_array_equal(net.d_in, [[3, 5, 4], [0, 2, 1]])
    assert net.d_max == 8


def test_import_recurrent_subgraph_and_cuba():
    """A recurrent layer as a subgraph (as snnTorch exports RLeaky), CubaLIF with tau_syn=dt."""
    inner = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2])}),
               "lif": nir.CubaLIF(tau_syn=np.full(2, DT), tau_mem=np.full(2, DT),
                                  r=np.ones(2), v_leak=np.zeros(2),
                                  v_threshold=np.array([1.0, 2.0])),
               "rec": nir.Linear(weight=np.array([[0.0, 0.5], [-0.5, 0.0]])),
               "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")])
    graph = hand_built(nodes={"lif": inner}, edges=[
        ("in", "axon"), ("axon", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "li"),
        ("li", "out")])
    net = import_nir(graph, reset="soft")
    assert net.recurrent and net.reset == "soft"
    np.testing.assert_array_equal(net.w_rec, [[0, 64], [-64, 0]])
    np.testing.assert_array_equal(net.theta, [128, 255])
    np.testing.assert_array_equal(net.alpha, [0, 0])


@pytest.mark.parametrize("changes, fragments", [
    ({"nodes": {"li": nir.I(r=np.ones(2))}}, ["'li'", "type I", "not supported"]),
    ({"nodes": {"fc1": nir.Conv1d(input_shape=3, weight=np.ones((2, 1, 1)), stride=1,
                                  padding=0, dilation=1, groups=1, bias=np.zeros(2))},
      "type_check": False}, ["'fc1'", "Conv1d"]),
    ({"nodes": {"lif": nir.LIF(tau=np.full(2, 2e-3), r=np.full(2, 2.0), v_leak=np.ones(2),
                               v_threshold=np.ones(2))}}, ["'lif'", "v_leak"]),
    ({"nodes": {"lif": nir.LIF(tau=np.full(2, 2e-3), r=np.full(2, 2.0), v_leak=np.zeros(2),
                               v_threshold=np.ones(2), v_reset=np.full(2, -1.0))}},
     ["'lif'", "v_reset"]),
    ({"nodes": {"lif": nir.LIF(tau=np.full(2, 5e-4), r=np.ones(2), v_leak=np.zeros(2),
                               v_threshold=np.ones(2))}}, ["'lif'", "below dt"]),
    ({"nodes": {"fc2": nir.Affine(weight=np.ones((2, 2)), bias=np.ones(2))}},
     ["'fc2'", "bias"]),
    ({"nodes": {"li": nir.CubaLI(tau_syn=np.full(2, 5e-3), tau_mem=np.full(2, 1e-3),
                                 r=np.ones(2), v_leak=np.zeros(2))}}, ["'li'", "tau_syn"]),
    ({"nodes": {"axon": nir.Delay(delay=np.array([0.0, 40e-3, 0.0]))}},
     ["projection 'in'", "'axon'", "beyond d_max"]),
    ({"nodes": {"fc1": nir.Linear(weight=np.ones((3, 3)))}, "type_check": False},
     ["'fc1'", "weight shape"]),
])
def test_import_errors_name_the_node(changes, fragments):
    kwargs = {"d_max": 16} if "beyond d_max" in fragments else {}
    with pytest.raises(NIRError) as err:
        import_nir(hand_built(**changes), **kwargs)
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_import_value_out_of_range():
    with pytest.raises(NIRError, match=r"v_threshold\[1\].*outside \[1, 127\]"):
        import_nir(hand_built(), v_bits=8)
    with pytest.raises(NIRError, match=r"weight \[0, 1\] of projection 'in'.*8-bit"):
        import_nir(hand_built(), scale=200.0)


def test_import_conflicting_path_delays():
    graph = hand_built(
        nodes={"fc1b": nir.Linear(weight=np.array([[1.0, 0, 0], [0, 0, 0]]))},
        edges=[("in", "axon"), ("axon", "fc1"), ("fc1", "lif"), ("in", "fc1b"),
               ("fc1b", "lif"), ("lif", "fc2"), ("fc2", "li"), ("li", "out")])
    # Synapse [0, 0] has delay 0 on both paths: allowed, weights add.
    assert import_nir(graph).w_in[0, 0] == 127  # (0.5 + 1.0) scaled to the largest
    graph.nodes["axon"].delay = np.array([1e-3, 2e-3, 1e-3])
    with pytest.raises(NIRError, match=r"synapse \[0, 0\] of projection 'in'.*different "
                                       r"delays"):
        import_nir(graph)


def run_cli(*args, cwd):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "golden.nir", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_cli_round_trip(tmp_path):
    net = network((True, "synaptic", "axonal", "none", "soft"))
    save_network(net, tmp_path / "net.json")
    result = run_cli("export", "--net", "net.json", "--out", "out/net.nir", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_hidden"] == net.n_hidden
    result = run_cli("import", "--nir", "out/net.nir", "--out", "back.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert same(load_network(tmp_path / "back.json"), net)


def test_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "bad.nir").write_text("not hdf5")
    nir.write(tmp_path / "odd.nir", hand_built(nodes={"li": nir.I(r=np.ones(2))}))
    for argv, fragment in (
            (["import", "--nir", str(tmp_path / "none.nir"), "--out", "x.json"], "no such"),
            (["import", "--nir", str(tmp_path / "bad.nir"), "--out", "x.json"],
             "not a readable NIR file"),
            (["import", "--nir", str(tmp_path / "odd.nir"), "--out", str(tmp_path / "x.json")],
             "type I is not supported"),
            (["export", "--net", str(tmp_path / "none.json"), "--out", "x.nir"], "none.json"),
            (["export", "--net", "x.json", "--out", "x.h5"], ".nir file")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and len(err.splitlines()) == 1
        assert fragment in err, err
