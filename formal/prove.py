"""Run the formal proofs: ``python -m formal.prove [--depth N] [--only NAME] [--quick]``.

Each proof is a harness (an Amaranth ``Elaboratable`` holding the design under proof, the
environment as free inputs with ``Assume`` statements, and the properties as ``Assert``
statements), converted to RTLIL and checked by SymbiYosys with the Boolector SMT solver
(:mod:`formal.tools`). A proof has one or more *tasks*: the same harness on different
parameters.

Proofs (``--list`` prints them):

``neuron``
    :mod:`formal.neuron`: the neuron unit's saturating arithmetic equals the exact saturated
    sum and never wraps (combinational: complete for each parameter set).
``host_link``
    :mod:`formal.host_link`: the host link against a reference parser of
    ``docs/protocol.md``, for every byte stream: no bus access, step or clear on a
    malformed or out-of-range frame; exactly the frame's words are written; every frame
    gets its one reply with the right status, length, payload and CRC; the link is idle
    exactly when the protocol says so and returns there within a bound.
``sequencer``
    :mod:`formal.sequencer`: the core's sequencer under any bus traffic, sizes and inputs:
    no memory access out of range, every synapse visited exactly once per step, in order,
    with the ring and axonal delay of its source.

By default every task runs at its *deep* depth; ``--quick`` uses the shallow depth of the
test suite (``tests/test_formal.py``) and ``--depth N`` sets one depth for every sequential
task (combinational tasks always use 1). Exit status 0 when every task passed, 1 when one
failed (the failed assertion's source line and the counterexample VCD are printed), 2 when
the tools are missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .tools import FormalToolError, ProofResult, find_tools, run_sby, warm_up

__all__ = ["PROOFS", "Proof", "Task", "main", "run_proofs", "tasks_of"]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where SymbiYosys jobs go (one directory per task).
DEFAULT_WORKDIR = REPO_ROOT / "formal_build"


@dataclasses.dataclass(frozen=True)
class Task:
    """One SymbiYosys run: a harness on one parameter set.

    Attributes
    ----------
    name : str
        ``<proof>-<parameter set>``, the job name.
    harness : Callable[[], object]
        Makes the harness ``Elaboratable`` (called when the task runs).
    quick_depth, deep_depth : int
        Bounded model checking depth of the test suite and of ``python -m formal.prove``.
    combinational : bool
        The harness has no state: depth 1 is a complete proof, ``--depth`` does not apply.
    """

    name: str
    harness: Callable[[], object]
    quick_depth: int
    deep_depth: int
    combinational: bool = False

    def depth(self, mode: str, override: int | None = None) -> int:
        if self.combinational:
            return 1
        if override is not None:
            return override
        return self.quick_depth if mode == "quick" else self.deep_depth


@dataclasses.dataclass(frozen=True)
class Proof:
    """A named property with the tasks that prove it."""

    name: str
    summary: str
    tasks: Callable[[], list[Task]]


def _neuron_tasks() -> list[Task]:
    from .neuron import NEURON_CONFIGS, NeuronHarness

    return [Task(f"neuron-{name}", lambda p=params: NeuronHarness(p), 1, 1, combinational=True)
            for name, params in NEURON_CONFIGS.items()]


def _neuron_learning_tasks() -> list[Task]:
    from .neuron_learning import ROUNDING_WIDTHS, RoundingHarness

    return [Task(f"neuron_learning-{name}", lambda w=width: RoundingHarness(w), 1, 1,
                 combinational=True)
            for name, width in ROUNDING_WIDTHS.items()]


def _host_link_tasks() -> list[Task]:
    from .host_link import HOST_LINK_CONFIGS, HostLinkHarness

    return [Task(f"host_link-{name}", lambda c=config: HostLinkHarness(**c), quick, deep)
            for name, (config, quick, deep) in HOST_LINK_CONFIGS.items()]


def _sequencer_tasks() -> list[Task]:
    from .sequencer import SEQUENCER_CONFIGS, SequencerHarness

    return [Task(f"sequencer-{name}", lambda p=params: SequencerHarness(p), quick, deep)
            for name, (params, quick, deep) in SEQUENCER_CONFIGS.items()]


PROOFS: dict[str, Proof] = {
    "neuron": Proof("neuron", "saturating neuron arithmetic equals the exact saturated sum",
                    _neuron_tasks),
    "neuron_learning": Proof("neuron_learning", "the rounding of a neuron-parameter update "
                             "is exact for shifts up to 47", _neuron_learning_tasks),
    "host_link": Proof("host_link", "host link never acts on a bad frame, replies once, "
                       "returns to idle", _host_link_tasks),
    "sequencer": Proof("sequencer", "sequencer stays in range and visits every synapse once "
                       "per step", _sequencer_tasks),
}


def tasks_of(names: list[str] | None = None) -> list[Task]:
    """The tasks of the proofs ``names`` (all proofs when ``None``).

    A name may also select one task, e.g. ``"neuron-wide"``.
    """
    selected = []
    for proof in PROOFS.values():
        tasks = proof.tasks()
        if names is None or proof.name in names:
            selected += tasks
        else:
            selected += [task for task in tasks if task.name in names]
    if names is not None:
        known = {p for p in PROOFS} | {t.name for p in PROOFS.values() for t in p.tasks()}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"unknown proof {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known))}")
    return selected


def run_task(task: Task, depth: int, workdir: Path, timeout: float | None = None
             ) -> ProofResult:
    """Convert the harness of ``task`` to RTLIL and check it to ``depth``."""
    from amaranth.back import rtlil

    text = rtlil.convert(task.harness(), name="top", ports=[])
    return run_sby(task.name, text, depth, workdir, timeout=timeout)


def run_proofs(names: list[str] | None = None, *, mode: str = "deep",
               depth: int | None = None, workdir: Path = DEFAULT_WORKDIR, jobs: int = 2,
               timeout: float | None = None,
               progress: Callable[[ProofResult], None] | None = None) -> list[ProofResult]:
    """Run the tasks of ``names`` (see :func:`tasks_of`), ``jobs`` at a time.

    Raises
    ------
    FormalToolError
        A tool is missing (the message names the pip package).
    """
    find_tools()
    warm_up()
    tasks = tasks_of(names)
    results: list[ProofResult] = []

    def one(task):
        result = run_task(task, task.depth(mode, depth), Path(workdir), timeout)
        if progress is not None:
            progress(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, tasks))
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m formal.prove",
        description="Formal proofs of delaycore blocks (SymbiYosys + Boolector from PyPI).")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this proof or task (repeatable; --list shows names)")
    parser.add_argument("--depth", type=int, metavar="N",
                        help="bounded model checking depth of every sequential task "
                             "(default: each task's deep depth)")
    parser.add_argument("--quick", action="store_true",
                        help="the shallow depths of the test suite")
    parser.add_argument("--jobs", type=int, default=2, help="tasks run in parallel (default 2)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="SymbiYosys work directory (default: %(default)s)")
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="stop a task after S seconds (reported as ERROR)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    parser.add_argument("--list", action="store_true", help="list proofs and tasks, then exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    mode = "quick" if args.quick else "deep"
    if args.list:
        for proof in PROOFS.values():
            print(f"{proof.name}: {proof.summary}")
            for task in proof.tasks():
                print(f"  {task.name} (depth {task.depth('quick')} quick, "
                      f"{task.depth('deep')} deep)")
        return 0
    if args.depth is not None and args.depth < 1:
        print("error: --depth must be at least 1", file=sys.stderr)
        return 2
    try:
        tasks_of(args.only)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        results = run_proofs(args.only, mode=mode, depth=args.depth, workdir=args.workdir,
                             jobs=args.jobs, timeout=args.timeout,
                             progress=lambda r: print(r.describe(), flush=True))
    except FormalToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - started
    print()
    print(f"{'task':32} {'depth':>5} {'status':>6} {'seconds':>8}")
    for result in results:
        print(f"{result.name:32} {result.depth:5d} {result.status:>6} {result.seconds:8.1f}")
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed in {wall:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "wall_seconds": wall,
            "results": [{"task": r.name, "status": r.status, "depth": r.depth,
                         "seconds": r.seconds, "failed": r.failed, "trace": r.trace}
                        for r in results],
        }, indent=1))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
