"""Smoke tests of the verification commands: random regression, soak and coverage.

The full runs (``python -m bench.regress --configs 1000``, ``python -m bench.soak --steps
1000000``, ``python -m bench.coverage``) are documented in ``docs/verification.md``; here a
few configurations on Icarus check that the commands work end to end, that a configuration
is reproducible from its seed and index, and that the coverage data is read correctly.
"""

from __future__ import annotations

import json

import pytest

from bench.regress import REGRESS_VARIANTS, draw_config
from bench.regress import main as regress_main


def test_draw_is_reproducible_and_fits():
    """Configuration ``i`` depends on the seed and the index only, and fits its variant."""
    from sim.cases import LockstepCase

    first = [draw_config(5, i, 60) for i in range(40)]
    again = [draw_config(5, i, 60) for i in (39, 3, 17)]
    assert [c.case for c in again] == [first[39].case, first[3].case, first[17].case]
    for config in first:
        assert isinstance(config.case, LockstepCase)
        params = REGRESS_VARIANTS[config.variant].core_params()
        params.check_network(config.case.network(params))
    assert len({c.variant for c in first}) > 3


def test_neurons_mode_draws_options():
    """The neurons mode draws networks with and without the options, all fitting variant N."""
    from bench.regress import get_variant

    configs = [draw_config(7, i, 60, ("neurons",)) for i in range(30)]
    params = get_variant("N").core_params()
    seen = set()
    for config in configs:
        assert config.variant == "N"
        net = config.case.network(params)
        params.check_network(net)
        seen.add((net.synapse, net.adaptation))
        assert net.synapse == "delta" or net.reset == "soft"
    assert len(seen) == 4
    assert any(c.case.neuron_extremes for c in configs)


@pytest.mark.parametrize("mode, variant, seed, learning", [("kernel", "K", 7, False),
                                                           ("kernel_learning", "LK", 8, True)])
def test_kernel_modes_draw_kernels(mode, variant, seed, learning):
    """The kernel modes draw (learning) cases with kernels of every length and feedforward
    networks, all fitting their variant."""
    from bench.regress import get_variant

    configs = [draw_config(seed, i, 60, (mode,)) for i in range(40)]
    params = get_variant(variant).core_params()
    kernels = set()
    for config in configs:
        assert config.variant == variant
        net = config.case.network(params)
        params.check_network(net)
        kernels.add(net.rec_kernel)
        assert (net.learning is not None) == learning
        assert net.delay_rec != "synaptic"
    assert kernels == {0, 1, 3, 5}


@pytest.mark.sim
@pytest.mark.icarus
@pytest.mark.lockstep
def test_regress_smoke_icarus(tmp_path, require_simulator, capsys):
    require_simulator("icarus")
    out = tmp_path / "regress.json"
    status = regress_main(["--configs", "6", "--sim", "icarus", "--steps", "30",
                           "--seed", "3", "--json", str(out), "--workdir", str(tmp_path)])
    report = json.loads(out.read_text())
    assert status == 0, report["mismatches"]
    assert len(report["configs"]) == 6 and report["mismatches"] == []
    assert all(c["failure"] is None for c in report["configs"])
    assert report["steps"] == sum(c["steps"] for c in report["configs"]) >= 6 * 30
    assert "--seed 3 --only 4" in report["configs"][4]["reproducer"]
    assert "total" in capsys.readouterr().out


@pytest.mark.sim
@pytest.mark.icarus
@pytest.mark.lockstep
def test_regress_learning_smoke_icarus(tmp_path, require_simulator):
    """The learning mode draws learning cases and runs them on the learning variants."""
    require_simulator("icarus")
    out = tmp_path / "regress.json"
    status = regress_main(["--configs", "2", "--modes", "learning", "--sim", "icarus",
                           "--steps", "30", "--json", str(out), "--workdir", str(tmp_path)])
    report = json.loads(out.read_text())
    assert status == 0, report["mismatches"]
    assert {c["mode"] for c in report["configs"]} == {"learning"}
    assert all(c["variant"] in ("LA", "LB") for c in report["configs"])
    assert report["steps"] == 60


@pytest.mark.sim
@pytest.mark.icarus
@pytest.mark.lockstep
def test_soak_smoke_icarus(tmp_path, require_simulator):
    """A short soak crosses a retune and a new network, and finds no divergence."""
    require_simulator("icarus")
    from bench.soak import main as soak_main

    out = tmp_path / "soak.json"
    status = soak_main(["--steps", "300", "--sim", "icarus", "--segment", "200",
                        "--retune-every", "120", "--check-every", "3", "--json", str(out)])
    report = json.loads(out.read_text())
    assert status == 0, report["divergence"]
    assert report["steps"] == 300 and report["segments"] == 2
    assert report["divergence"] is None


@pytest.mark.sim
@pytest.mark.icarus
def test_soak_learning_smoke_icarus(tmp_path, require_simulator, capsys):
    """The learning soak learns and compares what was learned; without the learning
    lockstep it says what is missing instead of running a half-checked soak."""
    from bench.soak import main as soak_main
    from bench.soak_tb import learning_support

    if learning_support() is not None:
        assert soak_main(["--steps", "10", "--learning"]) == 2
        assert "learning" in capsys.readouterr().err
        return
    require_simulator("icarus")
    out = tmp_path / "soak.json"
    status = soak_main(["--steps", "200", "--learning", "--sim", "icarus", "--segment", "120",
                        "--retune-every", "50", "--check-every", "4", "--json", str(out)])
    report = json.loads(out.read_text())
    assert status == 0, report["divergence"]
    assert report["steps"] == 200 and report["learning_steps"] > 50
    assert report["parameter_checks"] > 10


def test_coverage_file_merge(tmp_path):
    """Points of two runs merge by key; line and toggle shares are counted apart."""
    from bench.coverage import parse_coverage

    def key(page, line, comment):
        return "\x01".join(["f\x02core.v", f"l\x02{line}", f"page\x02{page}",
                            f"o\x02{comment}", "h\x02TOP.core"])

    (tmp_path / "a.dat").write_text(
        "# SystemC::Coverage-3\n"
        f"C '{key('v_line/core', 10, 'block')}' 3\n"
        f"C '{key('v_line/core', 12, 'block')}' 0\n"
        f"C '{key('v_toggle/core', 5, 'x[0]:0->1')}' 0\n")
    (tmp_path / "b.dat").write_text(
        "# SystemC::Coverage-3\n"
        f"C '{key('v_line/core', 12, 'block')}' 2\n"
        f"C '{key('v_toggle/core', 5, 'x[0]:0->1')}' 0\n"
        f"C '{key('v_branch/core', 14, 'if')}' 0\n")
    data = parse_coverage([tmp_path / "a.dat", tmp_path / "b.dat"])
    assert data.summary(("line", "branch")) == (2, 3)
    assert data.summary(("toggle",)) == (0, 1)
