"""``python -m bench.up5k_options``: rows, flags and the capacity search, without the tools.

The builds themselves are faked here (or only their files written, ``--dry-run``); one real
inference build is behind ``-m slow``.
"""

from __future__ import annotations

import json

import pytest

import rtl.build as rtl_build
from bench import up5k_options as bench
from bench.compare import UsageError


def test_every_row_resolves_to_its_options():
    for row in bench.ROWS.values():
        plan = bench.plan_row("icebreaker", row.flags)
        p = plan.params
        learning = row.name.startswith("learning-")
        assert p.learning == learning, row.name
        assert (p.max_in, p.max_hidden, p.max_out) == ((32, 112, 10) if learning
                                                       else (64, 128, 16)), row.name
        assert plan.clock.freq == (6e6 if learning else 12e6), row.name
        assert p.synapse_current == ("current" in row.name or "both" in row.name), row.name
        assert p.adaptation == ("adaptation" in row.name or "both" in row.name), row.name
        assert p.rec_kernel_taps == (9 if "kernel9" in row.name else 0), row.name


def test_groups_and_row_selection():
    assert [r.name for r in bench.select_rows("inference", [])] == bench.GROUPS["inference"]
    rows = bench.select_rows("learning-both, inference-plain,learning-both", [])
    assert [r.name for r in rows] == ["learning-both", "inference-plain"]
    extra = bench.parse_extra("x=--adaptation")
    assert [r.name for r in bench.select_rows(None, [extra])][-1] == "x"
    with pytest.raises(UsageError, match="--rows must name rows"):
        bench.select_rows("inference,gru", [])


@pytest.mark.parametrize("text, message", [
    ("no-equals-sign", "--extra must be NAME="),
    ("two words=--adaptation", "--extra: the row name"),
    ("a,b=--adaptation", "--extra: the row name"),
    ("learning-plain=--adaptation", "exists already"),
    ("inference=--adaptation", "exists already"),
    ("q=--adaptation 'unclosed", "--extra q: its flags do not split"),
    ("q=--adaptation --board upduino", "--extra q: --board is set by the bench"),
    ("q=--seed=3", "--extra q: --seed is set by the bench"),
])
def test_bad_extra_names_the_flag(text, message):
    with pytest.raises(UsageError, match=message):
        bench.parse_extra(text, set(bench.ROWS))


def test_extra_splits_like_a_shell():
    row = bench.parse_extra('nl = --synapse-current  --max-hidden "64"')
    assert row.name == "nl" and row.flags == ("--synapse-current", "--max-hidden", "64")


def test_ladder():
    C = bench.Capacity
    assert bench.parse_ladder("32/112/10:16384, 16/48/8") == (C(32, 112, 10, 16384),
                                                             C(16, 48, 8))
    assert C(32, 112, 10, 16384).text == "32/112/10:16384"
    assert C(16, 48, 8).flags() == ("--max-in", "16", "--max-hidden", "48", "--max-out", "8")
    for bad in ("32/64", "32/x/10", "0/4/4", "32/64/10:", "32/64/10:x", "32/64/10:0"):
        if bad == "32/64/10:":
            assert bench.parse_ladder(bad) == (C(32, 64, 10),)
            continue
        with pytest.raises(UsageError, match="--ladder must be"):
            bench.parse_ladder(bad)
    params = bench.plan_row("icebreaker", ()).params  # 32/112/10, 17248 synapses
    ladder = (C(64, 64, 10), C(32, 112, 10), C(32, 112, 10, 20000), C(32, 112, 10, 16384),
              C(32, 96, 10))
    assert bench._ladder_for(params, ladder) == [C(32, 112, 10, 16384), C(32, 96, 10)]


def test_usage_errors_exit_2(tmp_path, capsys):
    out = str(tmp_path / "o.json")
    assert bench.main(["--json", out, "--rows", "nope"]) == 2
    assert "--rows must name rows" in capsys.readouterr().err
    assert bench.main(["--json", out, "--extra", "bad"]) == 2
    assert "--extra must be NAME=" in capsys.readouterr().err
    assert bench.main(["--json", out, "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_dry_run_of_one_row_and_a_rejected_extra(tmp_path, capsys):
    out = tmp_path / "o.json"
    status = bench.main(["--json", str(out), "--rows", "inference-kernel9,future",
                         "--extra", "future=--no-learning --no-such-option",
                         "--out-dir", str(tmp_path / "build"), "--dry-run"])
    assert status == 0
    summary = json.loads(out.read_text())
    first, second = summary["results"]
    assert first["name"] == "inference-kernel9" and first["status"] == "not built"
    assert first["capacity"] == "64/128/16" and first["clock_mhz"] == 12
    assert (tmp_path / "build" / "inference-kernel9" / "top.il").exists()
    assert second["status"] == "rejected" and "--no-such-option" in second["error"]
    assert summary["config"]["rows"]["future"]["flags"] == ["--no-learning",
                                                            "--no-such-option"]
    captured = capsys.readouterr()
    assert "future: will be skipped, rtl.build rejects" in captured.err
    assert "rejected: unrecognized arguments: --no-such-option" in captured.out


def test_a_row_that_core_params_refuses_is_rejected(tmp_path):
    row = bench.parse_extra("small=--no-learning --max-in 0")
    [result] = bench.run_row(row, board="icebreaker", out_dir=tmp_path, seed=1, run=True,
                             search=True, ladder=bench.DEFAULT_LADDER, progress=False)
    assert result["status"] == "rejected" and "--max-in must be in" in result["error"]


def test_block_ram_overflow_before_the_tools(tmp_path, monkeypatch):
    def no_tools(family, environ=None):
        raise AssertionError("the tools must not run")

    monkeypatch.setattr(rtl_build, "tool_environment", no_tools)
    row = bench.parse_extra("bram=--no-learning --synapse-memory bram")
    [result] = bench.run_row(row, board="icebreaker", out_dir=tmp_path, seed=1, run=True,
                             search=False, ladder=(), progress=False)
    assert result["status"] == "does not fit" and result["fits"] is False
    assert result["over_is_lower_bound"] and result["over"]["ebr"] > 60
    assert "block RAM overflows" in result["error"]
    assert bench._verdict(result).startswith("no: EBR +")


def _fake_report(params, lc_used, status):
    return {
        "status": status,
        "capacity": {"step_cycles_at_capacity": 100, "step_us_at_capacity": 16.7},
        "resources": {"lc": {"used": lc_used, "available": 5280},
                      "lut": {"used": lc_used - 1000, "available": 5280},
                      "ff": {"used": 1800, "available": 5280},
                      "ebr": {"used": 15, "available": 30},
                      "spram": {"used": 4, "available": 4},
                      "dsp": {"used": 6, "available": 8}},
        "fmax_mhz": 13.0 if status == "ok" else None,
        "fmax_dsp_mhz": 14.5 if status == "ok" else None,
        "timing_met": status == "ok",
        "build_seconds": 1.0,
    }


def test_search_goes_down_the_ladder_until_a_build_fits(tmp_path, monkeypatch):
    built = []

    def fake_build(board, params, *, build_dir, run, **kwargs):
        built.append((params.max_in, params.max_hidden, params.max_out, params.max_synapses,
                      params.adaptation))
        # 81 over; one SPRAM bank saves 40 cells, every hidden neuron 3: fits at 96.
        lc = 5361 - 3 * (112 - params.max_hidden) - 40 * (params.max_synapses <= 16384)
        if lc > 5280:
            raise rtl_build.BuildError("does not fit", _fake_report(params, lc, "does not fit"))
        return rtl_build.BuildResult(build_dir, None, _fake_report(params, lc, "ok"))

    monkeypatch.setattr(rtl_build, "build", fake_build)
    saw = []
    results = bench.run_row(bench.ROWS["learning-adaptation"], board="icebreaker",
                            out_dir=tmp_path, seed=1, run=True, search=True,
                            ladder=(bench.Capacity(64, 64, 16), *bench.DEFAULT_LADDER),
                            progress=False, on_result=saw.append)
    assert built == [(32, 112, 10, 17248, True), (32, 112, 10, 16384, True),
                     (32, 96, 10, 13248, True)]
    assert [r["name"] for r in results] == ["learning-adaptation",
                                            "learning-adaptation @ 32/112/10:16384",
                                            "learning-adaptation @ 32/96/10"]
    assert saw == results
    assert [r["fits"] for r in results] == [False, False, True]
    assert results[0]["over"] == {"lc": 81} and "search_of" not in results[0]
    assert results[1]["over"] == {"lc": 41} and results[1]["search_of"] == "learning-adaptation"
    assert results[1]["build_dir"].endswith("learning-adaptation@32-112-10-16384")
    assert results[2]["lc"] == 5273 and results[2]["fmax_mhz"] == 13.0
    assert results[2]["synapses"] == 13248
    table = bench.format_table(results)
    assert "no: LC +81" in table and "13.0 / 14.5 @ 6" in table

    # A row with an explicit capacity is not searched; nor with --no-search.
    built.clear()
    for flags in ("--adaptation --max-hidden 100", "--adaptation --max-synapses 16000"):
        explicit = bench.parse_extra(f"x={flags}")
        assert len(bench.run_row(explicit, board="icebreaker", out_dir=tmp_path, seed=1,
                                 run=True, search=True, ladder=bench.DEFAULT_LADDER,
                                 progress=False)) == 1
    assert len(bench.run_row(bench.ROWS["learning-adaptation"], board="icebreaker",
                             out_dir=tmp_path, seed=1, run=True, search=False,
                             ladder=bench.DEFAULT_LADDER, progress=False)) == 1
    assert len(built) == 3


@pytest.mark.slow
def test_real_inference_build_fits(tmp_path):
    out = tmp_path / "o.json"
    assert bench.main(["--json", str(out), "--rows", "inference-plain", "--no-progress",
                       "--out-dir", str(tmp_path / "build")]) == 0
    [result] = json.loads(out.read_text())["results"]
    assert result["fits"] and result["timing_met"]
    assert 2000 < result["lc"] < 5280 and result["spram"] == 2
