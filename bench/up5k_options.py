"""Which neuron and connectivity options fit the iCE40 UP5K: one bitstream per option.

Usage::

    python -m bench.up5k_options --json out/up5k_options.json
    python -m bench.up5k_options --json out/up5k_options.json --rows inference
    python -m bench.up5k_options --json out/nl.json --rows learning-plain \\
        --extra "learning-neuron-learning=--synapse-current --adaptation --neuron-learning"
    python -m bench.up5k_options --json out/dry.json --dry-run     # check the rows only

Every row is a set of ``python -m rtl.build`` options, built for the iCEBreaker (or
``--board upduino``) with ``rtl.build.build`` into its own directory,
``build/up5k-options/<row>/``:

- the inference core (``--no-learning``, 64 / 128 / 16 at 12 MHz) plain, with current-based
  synapses, with the adaptive threshold, with both, and with a recurrent kernel of 9 taps;
- the learning core (the iCEBreaker default, 32 / 112 / 10 at 6 MHz) plain, with each neuron
  option, with both, and with a recurrent kernel of 9 taps.

``inference`` and ``learning`` in ``--rows`` stand for their group of rows. ``--extra
NAME=FLAGS`` adds a row (repeatable): ``FLAGS`` are ``rtl.build`` options in one string.
A row whose flags the ``rtl.build`` of this checkout rejects (an unknown option, a value
out of range, a combination ``CoreParams`` refuses) is listed as ``rejected`` with the
reason, and the other rows still build; so a row for an option that is not there yet can
be written down now and measured once it is.

Capacity search. A row that does not fit, and does not set ``--max-in``, ``--max-hidden``,
``--max-out`` or ``--max-synapses`` itself, is built again at the capacities of ``--ladder``
(``IN/HIDDEN/OUT``, optionally ``:SYNAPSES``, else the dense maximum; largest first; those not
smaller than the row's own are skipped) until one fits; each attempt is a result of its own,
``<row> @ <capacity>``, with ``search_of`` naming the row.
The ladder rather than a bisection: a build that overflows stops after synthesis and
packing (about a minute), a build that fits places and routes the full device (up to a few
minutes), so going down in order costs one complete build per row and finds the largest
capacity of the ladder that fits. ``--no-search`` turns it off.

For every build the table and ``OUT.json`` give: whether it fits, and if not which resource
overflows by how much (logic cells, LUT4, flip-flops, block RAM, SPRAM, DSP; block RAM and
SPRAM found before synthesis are lower bounds: the tools did not run), the resources used,
Fmax against the clock (``fmax_mhz`` register to register, ``fmax_dsp_mhz`` through the
combinational DSP multipliers, ``timing_met``), the step time at capacity and the build time.
``OUT.json`` holds ``config`` (board, seed, ladder, rows with their flags, the commit and any
uncommitted files under ``rtl/`` and ``boards/``), ``results`` (one entry per build, in
order) and ``seconds``; it is rewritten after every build, so an interrupted run keeps what
it measured. Each build's own ``report.json`` and tool log stay in its directory.

Builds take 0.5 to 3.5 minutes each on two cores; ``--jobs N`` runs N rows at a time (each
row's search stays in order), with one line per finished build instead of the tools' status
line. Measured numbers: ``docs/boards.md``, *Neuron options on the UP5K*.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import io
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Runnable as a script from anywhere: the packages live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare import BenchParser, UsageError, fail, write_json

__all__ = ["DEFAULT_LADDER", "GROUPS", "ROWS", "Capacity", "Row", "RowRejected", "main",
           "parse_extra", "parse_ladder", "run_row", "select_rows"]

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Row:
    """A named build: ``rtl.build`` options (without ``--board``, ``--out``, ``--seed``)."""

    name: str
    flags: tuple[str, ...]
    description: str = ""


#: The rows built by default, in order.
ROWS: dict[str, Row] = {row.name: row for row in (
    Row("inference-plain", ("--no-learning",), "inference core"),
    Row("inference-current", ("--no-learning", "--synapse-current"),
        "inference + current-based synapses"),
    Row("inference-adaptation", ("--no-learning", "--adaptation"),
        "inference + adaptive threshold"),
    Row("inference-both", ("--no-learning", "--synapse-current", "--adaptation"),
        "inference + both neuron options"),
    Row("inference-kernel9", ("--no-learning", "--rec-kernel-taps", "9"),
        "inference + recurrent kernel of 9 taps"),
    Row("learning-plain", (), "learning core"),
    Row("learning-current", ("--synapse-current",), "learning + current-based synapses"),
    Row("learning-adaptation", ("--adaptation",), "learning + adaptive threshold"),
    Row("learning-both", ("--synapse-current", "--adaptation"),
        "learning + both neuron options"),
    Row("learning-kernel9", ("--rec-kernel-taps", "9"),
        "learning + recurrent kernel of 9 taps (learned taps)"),
)}

#: Names in ``--rows`` that stand for several rows.
GROUPS = {
    "inference": [name for name in ROWS if name.startswith("inference-")],
    "learning": [name for name in ROWS if name.startswith("learning-")],
}

@dataclasses.dataclass(frozen=True)
class Capacity:
    """A capacity of the ladder: sizes, and the synapses (``None``: the dense maximum)."""

    max_in: int
    max_hidden: int
    max_out: int
    max_synapses: int | None = None

    @property
    def text(self) -> str:
        sizes = f"{self.max_in}/{self.max_hidden}/{self.max_out}"
        return sizes if self.max_synapses is None else f"{sizes}:{self.max_synapses}"

    def flags(self) -> tuple[str, ...]:
        flags = ("--max-in", str(self.max_in), "--max-hidden", str(self.max_hidden),
                 "--max-out", str(self.max_out))
        if self.max_synapses is not None:
            flags += ("--max-synapses", str(self.max_synapses))
        return flags

    def smaller_than(self, params) -> bool:
        """Whether this capacity is smaller than ``params``' (and nowhere larger)."""
        own = (params.max_in, params.max_hidden, params.max_out)
        sizes = (self.max_in, self.max_hidden, self.max_out)
        if not all(a <= b for a, b in zip(sizes, own)):
            return False
        if self.max_synapses is not None and self.max_synapses > params.max_synapses:
            return False
        return sizes != own or (self.max_synapses or params.max_synapses) < params.max_synapses


#: Capacities tried, largest first, for a row that does not fit: the full sizes with the
#: synapses of one SPRAM block (16384 13-bit words: one bank, no bank select), then fewer
#: hidden neurons (80 and fewer: the dense synapses of a row fit one block as well; 64 and
#: fewer: a 6-bit neuron index), then smaller networks.
DEFAULT_LADDER = (Capacity(32, 112, 10, 16384), Capacity(32, 96, 10), Capacity(32, 80, 10),
                  Capacity(32, 64, 10), Capacity(16, 48, 8), Capacity(16, 32, 8),
                  Capacity(8, 16, 4))

#: rtl.build options the bench sets itself; a row may not.
_BENCH_OPTIONS = ("--board", "--out", "--seed", "--program", "--dry-run", "--no-progress",
                  "--list-boards")
_CAPACITY_OPTIONS = ("--max-in", "--max-hidden", "--max-out", "--max-synapses")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_RESOURCE_LABELS = {"lc": "LC", "lut": "LUT4", "ff": "FF", "ebr": "EBR", "spram": "SPRAM",
                    "dsp": "DSP", "pll": "PLL", "io": "I/O"}


class RowRejected(Exception):
    """``rtl.build`` refuses the options of a row; the message says why."""


# -- rows -----------------------------------------------------------------------------------------

def _option_name(flag: str) -> str:
    return flag.split("=", 1)[0]


def parse_extra(text: str, taken: set[str] | frozenset[str] = frozenset()) -> Row:
    """A row from ``--extra NAME=FLAGS``.

    Raises
    ------
    UsageError
        No ``=``, a bad or taken name, flags that do not split (unbalanced quotes), or an
        option the bench sets itself; the message names ``--extra``.
    """
    name, sep, flags_text = text.partition("=")
    name = name.strip()
    if not sep:
        raise UsageError(f"--extra must be NAME=\"FLAGS\" (rtl.build options), got {text!r}")
    if not _NAME.match(name):
        raise UsageError(f"--extra: the row name must be letters, digits and _.+- (no "
                         f"spaces or commas), got {name!r}")
    if name in taken or name in GROUPS:
        raise UsageError(f"--extra: a row named {name!r} exists already")
    try:
        flags = tuple(shlex.split(flags_text))
    except ValueError as err:
        raise UsageError(f"--extra {name}: its flags do not split ({err}): {flags_text!r}")
    for flag in flags:
        if _option_name(flag) in _BENCH_OPTIONS:
            raise UsageError(f"--extra {name}: {_option_name(flag)} is set by the bench "
                             f"(--board, --seed, --dry-run, ...), not by a row")
    return Row(name, flags, f"extra: {' '.join(flags) or '(board default)'}")


def select_rows(text: str | None, extras: list[Row]) -> list[Row]:
    """The rows ``--rows`` names (default: all, then the extras), groups expanded."""
    available = dict(ROWS)
    available.update({row.name: row for row in extras})
    if text is None:
        return list(available.values())
    names: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        expanded = GROUPS.get(item, [item])
        for name in expanded:
            if name not in available:
                raise UsageError(f"--rows must name rows among {', '.join(available)} or the "
                                 f"groups {', '.join(GROUPS)}, got {name!r}")
            if name not in names:
                names.append(name)
    if not names:
        raise UsageError("--rows names no row")
    return [available[name] for name in names]


def parse_ladder(text: str) -> tuple[Capacity, ...]:
    """``--ladder`` as capacities: ``32/112/10:16384,32/64/10,16/48/8`` (``:SYNAPSES``
    optional, default the dense maximum of the sizes)."""
    ladder = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        sizes_text, _, synapses_text = item.partition(":")
        try:
            sizes = tuple(int(v) for v in sizes_text.split("/"))
            synapses = int(synapses_text) if synapses_text else None
        except ValueError:
            sizes, synapses = (), None
        if len(sizes) != 3 or min(sizes) < 1 or (synapses is not None and synapses < 1):
            raise UsageError(f"--ladder must be capacities IN/HIDDEN/OUT[:SYNAPSES] separated "
                             f"by commas (e.g. 32/112/10:16384,32/64/10), got {item!r}")
        ladder.append(Capacity(*sizes, synapses))
    return tuple(ladder)


# -- one build ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Plan:
    """The resolved options of a row: what ``python -m rtl.build`` would build."""

    board: Any
    device: str
    params: Any
    clock: Any
    flags: tuple[str, ...]


def plan_row(board_name: str, flags: tuple[str, ...] | list[str]) -> Plan:
    """Resolve ``flags`` as ``python -m rtl.build --board BOARD FLAGS`` does.

    Raises
    ------
    RowRejected
        ``rtl.build`` refuses the flags: an unknown option, a bad value, parameters
        ``CoreParams`` refuses, or a clock the board cannot make.
    """
    from boards import get_board
    from rtl import build as rtl_build

    parser = rtl_build._parser()

    def error(message):
        raise RowRejected(message)

    parser.error = error  # argparse's own errors, without exiting
    try:
        args = parser.parse_args(["--board", board_name, *flags])
    except SystemExit:  # --help and the like
        raise RowRejected(f"rtl.build does not accept {' '.join(flags)!r}") from None
    board = get_board(args.board)
    device = args.device.upper() if args.device else board.default_device
    if device not in board.devices:
        raise RowRejected(f"--device must be one of {', '.join(board.devices)} on "
                          f"{board.name}, got {args.device}")
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(rtl_build.CoreParams)
                 if f.name not in rtl_build._HIDDEN_FIELDS and getattr(args, f.name) is not None}
    try:
        params = rtl_build.resolve_params(board, device, overrides)
        clock = board.plan_clock(None if args.clock is None else args.clock * 1e6,
                                 args.clock_source, params)
    except (rtl_build.BuildError, ValueError) as err:
        raise RowRejected(str(err)) from None
    return Plan(board, device, params, clock, tuple(flags))


def _capacity_text(params) -> str:
    return f"{params.max_in}/{params.max_hidden}/{params.max_out}"


def _overflow_before_tools(plan: Plan) -> dict[str, int]:
    """Block RAM and SPRAM over what the device has, as ``rtl.build.check_fit`` finds them
    before synthesis (lower bounds)."""
    from rtl.build import DEVICE_RESOURCES, block_ram_estimate
    from rtl.params import spram_blocks

    available = DEVICE_RESOURCES[plan.device]
    over = {}
    ebr = sum(block_ram_estimate(plan.params, plan.board.family).values())
    if ebr > available["ebr"]:
        over["ebr"] = ebr - available["ebr"]
    if plan.params.synapse_memory == "spram":
        spram = spram_blocks(plan.params.max_synapses, plan.params.syn_word_bits)
        spram += plan.params.trace_spram_blocks if plan.params.learning else 0
        if spram > available.get("spram", 0):
            over["spram"] = spram - available.get("spram", 0)
    return over


def build_one(name: str, plan: Plan, build_dir: Path, *, seed: int, run: bool,
              progress: bool) -> dict[str, Any]:
    """Build ``plan`` into ``build_dir`` and summarise the outcome (never raises BuildError)."""
    from rtl import build as rtl_build

    result: dict[str, Any] = {
        "name": name, "flags": list(plan.flags), "build_dir": str(build_dir),
        "capacity": _capacity_text(plan.params), "synapses": plan.params.max_synapses,
        "learning": bool(plan.params.learning), "clock_mhz": plan.clock.freq / 1e6,
        "status": None, "fits": None, "over": {}, "error": None,
    }
    reporter = None if progress else rtl_build._Progress(io.StringIO(), interactive=False)
    started = time.monotonic()
    report = None
    try:
        built = rtl_build.build(plan.board, plan.params, device=plan.device, clock=plan.clock,
                                build_dir=build_dir, seed=seed, run=run, progress=reporter)
        report = built.report
    except rtl_build.ToolNotFoundError as err:
        result.update(status="tool missing", error=str(err))
    except rtl_build.BuildError as err:
        report = err.report
        result["error"] = str(err)
        if report is None:  # check_fit: a memory overflows before the tools run
            result.update(status="does not fit", fits=False, over=_overflow_before_tools(plan),
                          over_is_lower_bound=True)
    result["seconds"] = round(time.monotonic() - started, 1)
    if report is not None:
        resources = report.get("resources", {})
        over = {key: value["used"] - value["available"] for key, value in resources.items()
                if value["used"] > value["available"]}
        status = report.get("status")
        result.update({
            "status": status,
            "fits": _fits(status, over),
            "over": over,
            "resources": resources,
            **{key: resources[key]["used"] for key in ("lc", "lut", "ff", "ebr", "spram", "dsp")
               if key in resources},
            **{key: report.get(key) for key in ("fmax_mhz", "fmax_dsp_mhz",
                                                "fmax_effective_mhz", "timing_met",
                                                "critical_path")},
            "step_cycles": report["capacity"].get("step_cycles_at_capacity"),
            "step_us": report["capacity"].get("step_us_at_capacity"),
            "build_seconds": report.get("build_seconds"),
            "tool_seconds": report.get("tool_seconds"),
        })
    return result


def _fits(status: str | None, over: dict[str, int]) -> bool | None:
    """Whether the resources fit the device: ``None`` when nothing says (not built, a tool
    failed without an overflow). A build that misses timing fits."""
    if over or status == "does not fit":
        return False
    if status in ("ok", "timing failed"):
        return True
    return None


def _ladder_for(params, ladder) -> list[Capacity]:
    """The ladder's capacities smaller than ``params``' own (none larger in any size)."""
    return [capacity for capacity in ladder if capacity.smaller_than(params)]


def run_row(row: Row, *, board: str, out_dir: Path, seed: int, run: bool, search: bool,
            ladder, progress: bool, log=None, on_result=None) -> list[dict[str, Any]]:
    """Every build of one row: the row itself and, when it does not fit, the search.

    ``log(text)`` gets progress lines, ``on_result(result)`` each result as it comes.
    """
    log = log or (lambda text: None)
    results: list[dict[str, Any]] = []

    def add(result):
        results.append(result)
        if on_result is not None:
            on_result(result)
    try:
        plan = plan_row(board, row.flags)
    except RowRejected as err:
        log(f"{row.name}: skipped, rtl.build rejects {' '.join(row.flags)!r}: {err}")
        add({"name": row.name, "flags": list(row.flags), "status": "rejected", "fits": None,
             "over": {}, "error": str(err)})
        return results
    add(_build_logged(row.name, plan, out_dir / row.name, seed=seed, run=run,
                      progress=progress, log=log))
    explicit = any(_option_name(flag) in _CAPACITY_OPTIONS for flag in row.flags)
    if not (search and run and results[0]["fits"] is False and not explicit):
        return results
    candidates = _ladder_for(plan.params, ladder)
    for capacity in candidates:
        name = f"{row.name} @ {capacity.text}"
        flags = (*row.flags, *capacity.flags())
        try:
            smaller = plan_row(board, flags)
        except RowRejected as err:
            log(f"{name}: skipped, rtl.build rejects it: {err}")
            add({"name": name, "flags": list(flags), "status": "rejected", "fits": None,
                 "over": {}, "error": str(err), "search_of": row.name})
            continue
        slug = capacity.text.replace("/", "-").replace(":", "-")
        result = _build_logged(name, smaller, out_dir / f"{row.name}@{slug}",
                               seed=seed, run=run, progress=progress, log=log,
                               search_of=row.name)
        add(result)
        if result["fits"] is not False:
            break
    else:
        log(f"{row.name}: no capacity of the ladder fits")
    return results


def _build_logged(name, plan, build_dir, *, seed, run, progress, log, search_of=None):
    log(f"{name}: {_capacity_text(plan.params)}, {plan.params.max_synapses} synapses, "
        f"{plan.clock.describe()}: {'building' if run else 'writing the build files'} in "
        f"{build_dir}")
    result = build_one(name, plan, build_dir, seed=seed, run=run, progress=progress)
    if search_of is not None:
        result["search_of"] = search_of
    log(f"{name}: {_verdict(result)}" + (f", {result['seconds']:.0f} s" if run else ""))
    return result


# -- output ---------------------------------------------------------------------------------------

def _verdict(result: dict[str, Any]) -> str:
    status = result["status"]
    if status == "rejected":
        return "rejected: " + result["error"].splitlines()[0]
    if status == "not built":
        return "not built (--dry-run)"
    if result["fits"] is False:
        bound = " (at least)" if result.get("over_is_lower_bound") else ""
        return "no: " + ", ".join(f"{_RESOURCE_LABELS.get(k, k)} +{v}"
                                  for k, v in result["over"].items()) + bound
    if result["fits"]:
        if result.get("timing_met") is False:
            return "yes, timing NOT met"
        return "yes"
    return f"{status}: {(result.get('error') or '').splitlines()[0] if result.get('error') else ''}"


def _fmax_text(result: dict[str, Any]) -> str:
    if result.get("fmax_mhz") is None:
        return "-"
    text = f"{result['fmax_mhz']:.1f}"
    if result.get("fmax_dsp_mhz") is not None:
        text += f" / {result['fmax_dsp_mhz']:.1f}"
    return f"{text} @ {result['clock_mhz']:g}"


def format_table(results: list[dict[str, Any]]) -> str:
    """The results as a plain text table."""
    width = max([len(r["name"]) for r in results] + [36])
    head = (f"{'row':{width}s} {'in/hid/out':>11s} {'synapses':>8s} {'LCs':>5s} {'LUT4':>5s} "
            f"{'FF':>5s} {'EBR':>4s} {'SPRAM':>5s} {'DSP':>3s} {'Fmax/DSP @ clock (MHz)':>23s} "
            f"{'time':>6s}  fits")
    lines = [head]
    for r in results:
        def num(key, r=r):
            return "-" if r.get(key) is None else str(r[key])
        seconds = r.get("seconds")
        lines.append(
            f"{r['name']:{width}s} {r.get('capacity', '-'):>11s} {num('synapses'):>8s} "
            f"{num('lc'):>5s} {num('lut'):>5s} {num('ff'):>5s} {num('ebr'):>4s} "
            f"{num('spram'):>5s} {num('dsp'):>3s} {_fmax_text(r):>23s} "
            f"{'-' if seconds is None else f'{seconds:.0f} s':>6s}  {_verdict(r)}")
    return "\n".join(lines)


def _git_state() -> dict[str, Any]:
    def git(*args):
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                 check=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    status = git("status", "--porcelain", "--", "rtl", "boards")
    return {"commit": git("rev-parse", "HEAD"),
            "uncommitted": [line[3:] for line in status.splitlines()] if status else []}


# -- command line ---------------------------------------------------------------------------------

def _parser() -> BenchParser:
    parser = BenchParser(prog="python -m bench.up5k_options", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, required=True, metavar="OUT.json",
                        help="write the results here (rewritten after every build)")
    parser.add_argument("--rows", default=None, metavar="NAME,...",
                        help=f"comma-separated rows or groups (default: all): "
                             f"{', '.join(ROWS)}; groups {', '.join(GROUPS)}")
    parser.add_argument("--extra", action="append", default=[], metavar='NAME="FLAGS"',
                        help="add a row of rtl.build options, e.g. "
                             "learning-nl=\"--adaptation --neuron-learning\" (repeatable)")
    parser.add_argument("--board", choices=("icebreaker", "upduino"), default="icebreaker",
                        help="UP5K board (default icebreaker)")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    parser.add_argument("--ladder", default=",".join(c.text for c in DEFAULT_LADDER),
                        help="capacities IN/HIDDEN/OUT[:SYNAPSES] tried for a row that does "
                             "not fit, largest first (default %(default)s)")
    parser.add_argument("--no-search", dest="search", action="store_false",
                        help="do not look for a smaller capacity that fits")
    parser.add_argument("--out-dir", type=Path, default=Path("build") / "up5k-options",
                        help="build directories go under this (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="rows built at a time (default 1)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check every row and write its build files without running "
                             "the tools")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no status lines while the tools run")
    return parser


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        extras: list[Row] = []
        for text in args.extra:
            extras.append(parse_extra(text, set(ROWS) | {row.name for row in extras}))
        rows = select_rows(args.rows, extras)
        ladder = parse_ladder(args.ladder)
        if args.jobs < 1:
            raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    except UsageError as err:
        return fail(str(err))

    # Check every row first, so that a rejected one is reported before the long builds.
    for row in rows:
        try:
            plan = plan_row(args.board, row.flags)
            _log(f"row {row.name}: {' '.join(row.flags) or '(board default)'}: "
                 f"{_capacity_text(plan.params)}, {plan.clock.describe()}")
        except RowRejected as err:
            _log(f"row {row.name}: will be skipped, rtl.build rejects "
                 f"{' '.join(row.flags)!r}: {err}")

    config = {"board": args.board, "seed": args.seed, "search": args.search,
              "ladder": [c.text for c in ladder], "dry_run": args.dry_run,
              "rows": {row.name: {"flags": list(row.flags), "description": row.description}
                       for row in rows},
              **_git_state()}
    results: list[dict[str, Any]] = []
    started = time.monotonic()

    def save():
        write_json(args.json, {"config": config, "results": results,
                               "seconds": round(time.monotonic() - started, 1)})

    options = {"board": args.board, "out_dir": args.out_dir, "seed": args.seed,
               "run": not args.dry_run, "search": args.search, "ladder": ladder}
    if args.jobs == 1:
        for i, row in enumerate(rows, 1):
            _log(f"[{i}/{len(rows)}] {row.name} ({row.description})")
            run_row(row, progress=args.progress, log=_log,
                    on_result=lambda result: (results.append(result), save()), **options)
    else:
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(run_row, row, progress=False, log=None, **options): row
                       for row in rows}
            done: dict[str, list] = {}
            for future in concurrent.futures.as_completed(futures):
                row = futures[future]
                done[row.name] = future.result()
                for result in done[row.name]:
                    _log(f"{result['name']}: {_verdict(result)}")
                results[:] = [r for row in rows if row.name in done for r in done[row.name]]
                save()
    save()
    print(f"{args.board}, seed {args.seed}, {len(results)} builds, "
          f"{time.monotonic() - started:.0f} s")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
