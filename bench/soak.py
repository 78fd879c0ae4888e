"""Soak test: the golden model and the RTL side by side for a very long run.

Usage::

    python -m bench.soak --steps 1000000                      # Verilator, variant A
    python -m bench.soak --steps 20000 --sim icarus --check-every 1
    python -m bench.soak --steps 1000000 --learning           # once the learning engine lands

One simulator process runs the whole soak (:mod:`bench.soak_tb`): a new random network every
``--segment`` steps (loaded over the previous one, then a clear), new parameters without a
clear every ``--retune-every`` steps, inputs whose density changes every 1000 steps. Hidden
spikes are compared every step, membranes and readouts every ``--check-every`` steps (1 by
default: every step; reading them back costs about as much as the step itself, so a larger
value trades how soon a wrong ``v`` or ``y`` is seen for speed; a wrong value that matters
shows in the spikes within a few steps anyway). The run stops at the first divergence.

A progress bar shows the steps done and the rate; at the end the command prints the steps,
the segments, the steps per second and the first divergence (none, the goal), and ``--json``
writes them. Exit status 0 without divergence, 1 with one, 2 when the simulator or the
learning support is missing.

``--learning`` builds the variant with the learning engine (``learning=True``): each network
gets a random learning rule, ``--retune-every`` becomes the sample length (a clear and a new
label; learned values stay), and most steps learn; a full check then also compares every
synapse word, axonal delay and ``LEARN_COUNT``. It needs the learning lockstep of
:mod:`sim.tb` (:func:`bench.soak_tb.learning_support` says what is missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from sim.build import (
    HDL_CLOCK_IS_FASTER,
    SIMULATORS,
    CocotbRunError,
    SimulatorNotFoundError,
    run_cocotb,
    simulator_environment,
)
from sim.variants import CORE_VARIANTS, CoreVariant

__all__ = ["SoakPlan", "main", "run_soak"]


@dataclasses.dataclass(frozen=True)
class SoakPlan:
    """What a soak runs (passed to the simulator process as JSON)."""

    steps: int
    seed: int = 1
    segment_steps: int = 100_000
    retune_every: int = 20_000
    check_every: int = 1
    status_every: int = 500
    learning: bool = False


def soak_variant(name: str, learning: bool) -> CoreVariant:
    """Variant ``name`` of :data:`sim.variants.CORE_VARIANTS`, with the learning engine if asked."""
    variant = CORE_VARIANTS[name]
    if not learning:
        return variant
    return CoreVariant(f"{variant.name}L", {**variant.params, "learning": True})


def run_soak(plan: SoakPlan, simulator: str = "verilator", variant_name: str = "A",
             progress=None) -> dict:
    """Run a soak; returns the report of :mod:`bench.soak_tb` (``"divergence"`` is None when
    the core matched the golden model throughout).

    ``progress(status)`` is called about once a second with the latest status dictionary
    (``step``, ``total``, ``seconds``).
    """
    simulator_environment(simulator)
    variant = soak_variant(variant_name, plan.learning)
    workdir = Path(tempfile.mkdtemp(prefix="delaycore-soak-"))
    status_file = workdir / "status.json"
    result: dict = {}

    def run():
        try:
            result["report"] = run_cocotb(
                simulator, variant, "bench.soak_tb",
                extra_env={"DELAYCORE_SOAK": json.dumps(dataclasses.asdict(plan)),
                           "DELAYCORE_STATUS": str(status_file)},
                run_name=f"soak-{plan.seed}", hdl_clock=HDL_CLOCK_IS_FASTER[simulator])
        except Exception as err:  # noqa: BLE001 - handed to the caller below
            result["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(1.0)
        if progress is not None and status_file.is_file():
            try:
                progress(json.loads(status_file.read_text()))
            except (OSError, ValueError):
                pass
    if "error" in result:
        raise result["error"]
    return result["report"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Golden model and RTL side by side for a long run; reports the first "
                    "divergence and the steps per second.")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--sim", choices=SIMULATORS, default="verilator")
    parser.add_argument("--variant", default="A", choices=sorted(CORE_VARIANTS),
                        help="core variant (default A)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--segment", type=int, default=SoakPlan.segment_steps,
                        help="steps per network (a new network and a clear after each)")
    parser.add_argument("--retune-every", type=int, default=SoakPlan.retune_every,
                        help="steps between new parameters written without a clear (with "
                             "--learning: the sample length, a clear and a new label)")
    parser.add_argument("--check-every", type=int, default=1,
                        help="read back and compare v and y every N steps (default 1)")
    parser.add_argument("--learning", action="store_true",
                        help="build the learning engine; random rules, most steps learn")
    parser.add_argument("--json", type=Path, metavar="OUT")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name in ("steps", "segment", "retune_every", "check_every"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    plan = SoakPlan(steps=args.steps, seed=args.seed, segment_steps=args.segment,
                    retune_every=args.retune_every, check_every=args.check_every,
                    learning=args.learning)
    if args.learning:
        from bench.soak_tb import learning_support

        reason = learning_support()
        if reason:
            print(f"error: --learning: {reason}", file=sys.stderr)
            return 2

    from tqdm import tqdm

    bar = tqdm(total=args.steps, unit="step", smoothing=0.1, dynamic_ncols=True,
               desc=f"soak {soak_variant(args.variant, args.learning).name}/{args.sim}")

    def progress(status):
        bar.update(status["step"] - bar.n)

    started = time.perf_counter()
    try:
        report = run_soak(plan, args.sim, args.variant, progress=progress)
    except SimulatorNotFoundError as err:
        bar.close()
        print(f"error: {err}", file=sys.stderr)
        return 2
    except CocotbRunError as err:
        bar.close()
        print(f"error: the simulation failed: {err}", file=sys.stderr)
        return 1
    bar.update(report["steps"] - bar.n)
    bar.close()
    wall = time.perf_counter() - started
    divergence = report.get("divergence")
    print(f"soak: {report['steps']} steps in {report['segments']} networks, "
          f"{report['steps_per_second']:.0f} steps/s in the simulator "
          f"({report['seconds']:.0f} s; {wall:.0f} s with build and start-up), "
          f"v/y compared every {args.check_every} step(s)")
    if args.learning:
        print(f"learning steps: {report['learning_steps']}, learned parameters compared "
              f"after {report['parameter_checks']} of them")
    print("first divergence: " + (divergence["message"] if divergence else "none"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**report, "wall_seconds": wall}, indent=1))
    return 1 if divergence else 0


if __name__ == "__main__":
    sys.exit(main())
