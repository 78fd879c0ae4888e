"""Steps per second of one fixed network on the golden model, Verilator and Icarus.

Usage::

    python bench/sim_speed.py                       # all three, default sizes
    python bench/sim_speed.py --steps 2000 --json out/sim_speed.json
    python bench/sim_speed.py --engines golden verilator

The network is the lockstep case ``bench`` of the chosen core variant (default ``A``): full
capacity, recurrent, synaptic delays on every projection, input density 0.2, seed 7. For the
simulators two rates are printed: ``step`` (start a step, wait for ``done``, sample the
hidden spikes) and ``step+readback`` (the same, then read every ``v`` and ``y`` over the bus,
as the lockstep test does). Build time is reported separately and is 0 when an earlier build
in ``sim_build/`` was reused. The simulated spikes are checked against the golden model, so
a broken core fails the benchmark instead of timing garbage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# Runnable as a script from anywhere: the packages live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.build import (
    HDL_CLOCK_IS_FASTER,
    SIMULATORS,
    CocotbRunError,
    SimulatorNotFoundError,
    run_cocotb,
    simulator_environment,
)
from sim.cases import LockstepCase
from sim.variants import CORE_VARIANTS, get_variant

ENGINES = ("golden",) + SIMULATORS


def bench_case(variant) -> LockstepCase:
    """The fixed benchmark network: full capacity of ``variant``, recurrent, synaptic delays."""
    p = variant.params
    return LockstepCase(name="bench", seed=7, n_in=p["max_in"], n_hidden=p["max_hidden"],
                        n_out=p["max_out"], recurrent=bool(p.get("recurrent", False)),
                        delay_in="synaptic",
                        delay_rec="synaptic" if p.get("recurrent") else "none",
                        delay_out="synaptic", reset="soft", density=0.2)


def bench_golden(variant, case: LockstepCase, steps: int) -> dict:
    """Steps per second of :class:`golden.model.GoldenCore`, one unbatched step at a time."""
    import numpy as np

    from golden.model import GoldenCore

    net = case.network(variant.core_params())
    spikes = np.resize(case.spikes()[0], (steps, net.n_in))
    core = GoldenCore(net)
    started = time.perf_counter()
    for row in spikes:
        core.step(row)
    wall = time.perf_counter() - started
    return {"engine": "golden", "steps": steps, "step_per_s": steps / wall,
            "readback_step_per_s": None, "cycles_per_step": None, "cycles_per_s": None,
            "build_s": 0.0, "run_s": wall}


def bench_simulator(simulator: str, variant, case: LockstepCase, steps: int) -> dict:
    """Steps per second of ``simulator`` running the core, via ``sim.bench_steps``."""
    simulator_environment(simulator)
    report = run_cocotb(simulator, variant, "sim.bench_steps",
                        extra_env={"DELAYCORE_BENCH": json.dumps(
                            {"case": case.to_dict(), "steps": steps})},
                        run_name=f"bench-{steps}", hdl_clock=HDL_CLOCK_IS_FASTER[simulator])
    if report["failures"]:
        raise CocotbRunError("; ".join(report["failures"]))
    plain, readback = report["loops"]["step"], report["loops"]["step_readback"]
    return {"engine": simulator, "steps": steps,
            "step_per_s": plain["steps"] / plain["wall_seconds"],
            "readback_step_per_s": readback["steps"] / readback["wall_seconds"],
            "cycles_per_step": plain["cycles"] / plain["steps"],
            "cycles_per_s": plain["cycles"] / plain["wall_seconds"],
            "build_s": report["build_seconds"], "run_s": report["run_seconds"]}


def format_table(rows: list[dict]) -> str:
    """Plain-text table of :func:`bench_golden` / :func:`bench_simulator` rows."""
    columns = [  # (title, key, format)
        ("engine", "engine", "s"), ("steps", "steps", "d"), ("step/s", "step_per_s", ".0f"),
        ("step+readback/s", "readback_step_per_s", ".0f"),
        ("clk/step", "cycles_per_step", ".0f"), ("clk/s", "cycles_per_s", ".0f"),
        ("build s", "build_s", ".1f"), ("run s", "run_s", ".1f"),
    ]
    cells = [[title for title, _, _ in columns]]
    for row in rows:
        cells.append(["-" if row[key] is None else format(row[key], fmt)
                      for _, key, fmt in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(line, widths))) for line in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/sim_speed.py",
        description="Steps per second of one fixed network on the golden model and the "
                    "HDL simulators.")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
                        metavar="ENGINE",
                        help=f"what to time, any of {', '.join(ENGINES)} (default: all)")
    parser.add_argument("--variant", default="A", choices=sorted(CORE_VARIANTS),
                        help="core variant (sim/variants.py); the network fills its capacity "
                             "(default: A)")
    parser.add_argument("--steps", type=int, default=1000,
                        help="steps per timed loop (default: 1000)")
    parser.add_argument("--icarus-steps", type=int, default=None,
                        help="steps for Icarus, which is much slower (default: --steps / 5)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    icarus_steps = args.icarus_steps or max(1, args.steps // 5)

    variant = get_variant(args.variant)
    case = bench_case(variant)
    rows, errors = [], []
    for engine in args.engines:
        try:
            if engine == "golden":
                rows.append(bench_golden(variant, case, args.steps))
            else:
                steps = icarus_steps if engine == "icarus" else args.steps
                rows.append(bench_simulator(engine, variant, case, steps))
        except (SimulatorNotFoundError, CocotbRunError) as err:
            errors.append(f"{engine}: {err}")
            print(f"error: {engine}: {str(err).splitlines()[0]}", file=sys.stderr)

    print(f"network: {case.describe()}, variant {variant.name} {dict(variant.params)}")
    print(format_table(rows))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"variant": variant.name,
                                         "params": dict(variant.params),
                                         "network": case.to_dict(), "results": rows,
                                         "errors": errors}, indent=1) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
