"""Random regression: many random networks on a few core variants, lockstep with the golden model.

Usage::

    python -m bench.regress --configs 1000 --sim verilator --json out/regress.json
    python -m bench.regress --configs 6 --sim icarus --steps 40       # a quick smoke run
    python -m bench.regress --sim verilator --seed 1 --only 417       # reproduce one config

Each configuration ``i`` of a run with seed ``S`` is drawn from ``numpy.random.default_rng([S,
i])`` alone, so any configuration is reproduced by its seed and index (``--only``), whatever
else the run contained. A configuration is a core variant (from :data:`REGRESS_VARIANTS`) and
a :class:`sim.cases.LockstepCase`: sizes from 1 to the capacity, feedforward or recurrent,
every delay kind per projection, soft or hard reset, input densities from sparse to almost
always on, saturation-heavy weights and inverted rows, delays forced to the extremes, a
network ``d_max`` below the core's, and new parameters written mid-run.

Throughput: each variant is built once (or reused from ``sim_build/``); its configurations
are split into chunks and each chunk is one simulator process that loads network after
network through the bus (:mod:`bench.regress_tb`). ``--jobs`` chunks run at a time. A
progress line is printed while the chunks run, and a table per variant at the end;
``--json`` writes every configuration, the mismatches with their reproducer commands, the
steps run and the wall time.

Modes: ``inference`` (the default) and ``learning`` (random learning rules on the learning
variants LA and LB, every step compared and, after each learning step, every synapse word,
axonal delay and ``LEARN_COUNT``: ``--modes learning`` or ``--modes inference,learning``), and
``neurons`` (inference configurations with current synapses and the adaptive threshold,
random or saturating ``beta``, ``rho`` and ``coupling``, on the lockstep variant N:
``--modes neurons``), and ``kernel`` (inference configurations whose recurrent weights are a
kernel of shared taps, on the lockstep variant K: ``--modes kernel``), and
``neuron_learning`` (learning configurations in which ``beta``, ``coupling`` and ``rho``
learn too, compared after every learning step, on the variant LN: ``--modes
neuron_learning``), and ``kernel_learning`` (learning configurations whose recurrent weights
are a kernel, on the variant LK: ``--modes kernel_learning``).
Adding a mode: write a draw function ``(rng, variant, steps, name) -> case`` and add it to
:data:`MODES` with the variants it runs on, and teach :func:`bench.regress_tb.run_item` how
to run its cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from sim.build import (
    HDL_CLOCK_IS_FASTER,
    SIMULATORS,
    CocotbRunError,
    SimulatorNotFoundError,
    build_core,
    run_cocotb,
    simulator_environment,
)
from sim.cases import LockstepCase
from sim.variants import CORE_VARIANTS, CoreVariant

__all__ = ["MODES", "REGRESS_VARIANTS", "Mode", "draw_config", "draw_inference",
           "draw_kernel", "draw_kernel_learning", "draw_learning", "draw_neuron_learning",
           "draw_neurons",
           "get_variant", "main",
           "run_regression"]

#: Core variants of the regression: the lockstep variants A and B (their builds are shared
#: with the lockstep tests) and four more with the extremes of the number formats.
REGRESS_VARIANTS: dict[str, CoreVariant] = {
    "A": CORE_VARIANTS["A"],
    "B": CORE_VARIANTS["B"],
    # Widest formats: 16-bit weights with fraction bits, 8 delay fraction bits, 16-bit
    # decay, 24-bit state; a 4-slot ring (d_max 3).
    "RW": CoreVariant("RW", {
        "max_in": 7, "max_hidden": 5, "max_out": 3, "d_max": 3,
        "weight_bits": 16, "weight_frac": 4, "delay_frac": 8, "decay_bits": 16,
        "v_bits": 24, "y_bits": 24, "recurrent": True,
    }),
    # Narrowest formats: 2-bit weights, 1-bit decay, 4-bit state (saturation almost every
    # step), d_max 1 (every delay 0, a 2-slot ring).
    "RN": CoreVariant("RN", {
        "max_in": 5, "max_hidden": 6, "max_out": 2, "d_max": 1,
        "weight_bits": 2, "weight_frac": 1, "delay_frac": 0, "decay_bits": 1,
        "v_bits": 4, "y_bits": 4, "recurrent": True,
    }),
    # Feedforward core (no recurrent hardware), a readout narrower than the membrane,
    # d_max 17 in a 32-slot ring.
    "RF": CoreVariant("RF", {
        "max_in": 16, "max_hidden": 8, "max_out": 6, "d_max": 17,
        "weight_bits": 6, "weight_frac": 2, "delay_frac": 3, "decay_bits": 5,
        "v_bits": 12, "y_bits": 8, "recurrent": False,
    }),
    # A 64-slot ring (two bus words per ring) with d_max 40, and a synapse memory smaller
    # than the dense maximum (networks are drawn to fit it).
    "RL": CoreVariant("RL", {
        "max_in": 4, "max_hidden": 12, "max_out": 3, "max_synapses": 200, "d_max": 40,
        "weight_bits": 12, "weight_frac": 0, "delay_frac": 1, "decay_bits": 10,
        "v_bits": 20, "y_bits": 14, "recurrent": True,
    }),
}

_DELAY_KINDS = ("none", "synaptic", "axonal")


def _size(rng: np.random.Generator, cap: int) -> int:
    """A population size in [1, cap], often at the edges."""
    u = rng.random()
    if u < 0.25:
        return cap
    if u < 0.4:
        return 1
    return int(rng.integers(1, cap, endpoint=True))


def _synapses(n_in: int, n_hidden: int, n_out: int, recurrent: bool) -> int:
    return n_hidden * (n_in + (n_hidden if recurrent else 0)) + n_out * n_hidden


def draw_inference(rng: np.random.Generator, variant: CoreVariant, steps: int,
                   name: str) -> LockstepCase:
    """A random inference configuration for ``variant`` (see the module docstring)."""
    params = variant.params
    n_in = _size(rng, params["max_in"])
    n_hidden = _size(rng, params["max_hidden"])
    n_out = _size(rng, params["max_out"])
    recurrent = bool(params.get("recurrent")) and rng.random() < 0.6
    cap = params.get("max_synapses")
    if cap is not None:
        # A core with a small synapse memory: shrink the network until it fits.
        while _synapses(n_in, n_hidden, n_out, recurrent) > cap:
            n_hidden -= 1
    delays = str(rng.choice(["random", "extremes", "max"], p=[0.6, 0.25, 0.15]))
    d_max = None
    if rng.random() < 0.3:
        d_max = int(rng.integers(1, params["d_max"], endpoint=True))
    density = float(rng.choice([0.02, 0.1, 0.3, 0.6, 0.95, rng.uniform(0, 1)]))
    retune_at = None if rng.random() < 0.5 else int(rng.integers(1, max(2, steps)))
    return LockstepCase(
        name=name, seed=int(rng.integers(0, 2**31 - 1)),
        n_in=n_in, n_hidden=n_hidden, n_out=n_out, recurrent=recurrent,
        delay_in=str(rng.choice(_DELAY_KINDS)),
        delay_rec=str(rng.choice(_DELAY_KINDS)) if recurrent else "none",
        delay_out=str(rng.choice(_DELAY_KINDS)),
        reset=str(rng.choice(["soft", "hard"])),
        density=round(density, 4),
        saturating=bool(rng.random() < 0.3),
        delays=delays,
        steps=steps,
        steps_after_clear=max(4, steps // 10),
        d_max=d_max,
        negate_rows=0.0 if rng.random() < 0.6 else round(float(rng.uniform(0.2, 1.0)), 3),
        retune_at=retune_at if retune_at is None or retune_at < steps else None,
    )


def draw_learning(rng: np.random.Generator, variant: CoreVariant, steps: int, name: str):
    """A random learning configuration: a :class:`sim.learning_cases.LearningCase`.

    A random network with a random rule (any error, rounding and feedback mode, weights
    and/or delays learned, sometimes saturating rates, extreme initial delays, the zero
    skip off), ``steps`` steps split into one to four samples (a clear and a new label
    between them, learned values kept), a share of learning steps of 30 %, 90 % or all.
    """
    from sim.learning_cases import LearningCase

    params = variant.params
    n_in = _size(rng, params["max_in"])
    n_hidden = _size(rng, params["max_hidden"])
    n_out = _size(rng, params["max_out"])
    recurrent = bool(params.get("recurrent")) and rng.random() < 0.6
    parts = int(rng.integers(1, 4, endpoint=True))
    cuts = sorted(int(c) for c in rng.choice(np.arange(1, steps), size=min(parts - 1,
                                                                           steps - 1),
                                             replace=False)) if steps > 1 else []
    bounds = [0, *cuts, steps]
    samples = tuple(b - a for a, b in zip(bounds, bounds[1:]) if b > a)
    return LearningCase(
        name=name, seed=int(rng.integers(0, 2**31 - 1)),
        n_in=n_in, n_hidden=n_hidden, n_out=n_out, recurrent=recurrent,
        delay_in=str(rng.choice(_DELAY_KINDS)),
        delay_rec=str(rng.choice(_DELAY_KINDS)) if recurrent else "none",
        delay_out=str(rng.choice(_DELAY_KINDS)),
        reset=str(rng.choice(["soft", "hard"])),
        samples=samples,
        learn_share=float(rng.choice([0.3, 0.9, 1.0])),
        density=round(float(rng.choice([0.05, 0.2, 0.4, 0.8])), 4),
        error="any",
        learn=[None, "weights", "delays", "both"][int(rng.integers(4))],
        saturate=bool(rng.random() < 0.2),
        extreme_delays=bool(rng.random() < 0.3),
        zero_skip=bool(rng.random() < 0.8),
    )


def draw_neurons(rng: np.random.Generator, variant: CoreVariant, steps: int,
                 name: str) -> LockstepCase:
    """A random inference configuration (:func:`draw_inference`) with the neuron options.

    Current synapses, the adaptive threshold or both (each on in two draws of three, so
    that the plain network, which the same core must run with the options off, appears
    too), and in three draws of ten ``beta``, ``rho`` and ``coupling`` at the top of their
    ranges. Current synapses need the soft reset.
    """
    case = draw_inference(rng, variant, steps, name)
    synapse = "current" if rng.random() < 2 / 3 else "delta"
    adaptation = "threshold" if rng.random() < 2 / 3 else "none"
    return dataclasses.replace(
        case, synapse=synapse, adaptation=adaptation,
        reset="soft" if synapse == "current" else case.reset,
        neuron_extremes=bool(rng.random() < 0.3))


def draw_neuron_learning(rng: np.random.Generator, variant: CoreVariant, steps: int,
                         name: str):
    """A random learning configuration (:func:`draw_learning`) whose neuron parameters learn:
    current synapses, the adaptive threshold or both (at least one), ``beta``, ``coupling``
    and ``rho`` learning beside the weights and delays drawn, or alone in one draw of five.
    Current synapses need the soft reset.
    """
    case = draw_learning(rng, variant, steps, name)
    options = [("current", "none"), ("delta", "threshold"), ("current", "threshold")]
    synapse, adaptation = options[int(rng.integers(len(options)))]
    learn = "neurons" if rng.random() < 0.2 else case.learn
    return dataclasses.replace(
        case, synapse=synapse, adaptation=adaptation, learn=learn, learn_neurons=True,
        reset="soft" if synapse == "current" else case.reset)


def draw_kernel(rng: np.random.Generator, variant: CoreVariant, steps: int,
                name: str) -> LockstepCase:
    """A random inference configuration (:func:`draw_inference`) for a core with a recurrent
    kernel: a recurrent network gets a kernel of any odd length up to the core's taps (and
    ``2 n_hidden - 1``), its recurrent delays axonal or none; a feedforward one, which the
    same core must run too, stays as drawn.
    """
    return _with_kernel(rng, variant, draw_inference(rng, variant, steps, name))


def _with_kernel(rng: np.random.Generator, variant: CoreVariant, case):
    """``case`` with a kernel of a random odd length up to the core's taps (and
    ``2 n_hidden - 1``) and axonal or no recurrent delays, if it is recurrent."""
    if not case.recurrent:
        return case
    longest = min(variant.params["rec_kernel_taps"], 2 * case.n_hidden - 1)
    kernel = 2 * int(rng.integers(0, longest // 2, endpoint=True)) + 1
    delay_rec = case.delay_rec if case.delay_rec != "synaptic" else "axonal"
    return dataclasses.replace(case, rec_kernel=kernel, delay_rec=delay_rec)


def draw_kernel_learning(rng: np.random.Generator, variant: CoreVariant, steps: int,
                         name: str):
    """A random learning configuration (:func:`draw_learning`) for a learning core with a
    recurrent kernel: a recurrent network gets a kernel of any odd length up to the core's
    taps (and ``2 n_hidden - 1``), its recurrent delays axonal or none; a feedforward one
    stays as drawn.
    """
    return _with_kernel(rng, variant, draw_learning(rng, variant, steps, name))


@dataclasses.dataclass(frozen=True)
class Mode:
    """A kind of configuration: how to draw one, and the variants it runs on.

    ``draw(rng, variant, steps, name)`` returns a case object with ``to_dict()``,
    ``describe()`` and ``name``; :mod:`bench.regress_tb` runs it by the mode's name.
    """

    draw: Callable[[np.random.Generator, CoreVariant, int, str], object]
    variants: tuple[str, ...]


#: Configuration modes. ``learning`` runs on the learning variants of
#: :data:`sim.learning_cases.LEARNING_VARIANTS` (their builds are shared with
#: ``tests/test_learning_lockstep.py``), ``neuron_learning`` on its variant LN, ``neurons``
#: and ``kernel`` on the lockstep variants N and K (shared with ``tests/test_lockstep.py``),
#: ``kernel_learning`` on the learning variant LK; they are off unless ``--modes`` names them.
MODES: dict[str, Mode] = {
    "inference": Mode(draw_inference, tuple(REGRESS_VARIANTS)),
    "learning": Mode(draw_learning, ("LA", "LB")),
    "neurons": Mode(draw_neurons, ("N",)),
    "neuron_learning": Mode(draw_neuron_learning, ("LN",)),
    "kernel": Mode(draw_kernel, ("K",)),
    "kernel_learning": Mode(draw_kernel_learning, ("LK",)),
}


def get_variant(name: str) -> CoreVariant:
    """A regression variant, a lockstep variant of :mod:`sim.variants`, or a learning
    variant of :mod:`sim.learning_cases`."""
    if name in REGRESS_VARIANTS:
        return REGRESS_VARIANTS[name]
    if name in CORE_VARIANTS:
        return CORE_VARIANTS[name]
    from sim.learning_cases import LEARNING_VARIANTS, NEURON_LEARNING_VARIANT

    if name == NEURON_LEARNING_VARIANT.name:
        return NEURON_LEARNING_VARIANT
    return LEARNING_VARIANTS[name]


@dataclasses.dataclass
class Config:
    """One drawn configuration of a run."""

    index: int
    mode: str
    variant: str
    case: object    # LockstepCase (inference) or LearningCase (learning)


def draw_config(seed: int, index: int, steps: int, modes: tuple[str, ...] = ("inference",)
                ) -> Config:
    """Configuration ``index`` of the run with ``seed``: depends on these arguments only."""
    rng = np.random.default_rng([seed, index])
    mode = modes[int(rng.integers(len(modes)))]
    variants = MODES[mode].variants
    variant = variants[int(rng.integers(len(variants)))]
    case = MODES[mode].draw(rng, get_variant(variant), steps, f"r{seed}_{index:05d}")
    return Config(index=index, mode=mode, variant=variant, case=case)


def reproducer(simulator: str, seed: int, index: int, steps: int,
               modes: tuple[str, ...]) -> str:
    """The command that runs configuration ``index`` alone."""
    extra = f" --modes {','.join(modes)}" if modes != ("inference",) else ""
    return (f"python -m bench.regress --sim {simulator} --seed {seed} --only {index} "
            f"--steps {steps}{extra}")


def _chunks(items: list, size: int) -> list[list]:
    count = max(1, math.ceil(len(items) / size))
    step = math.ceil(len(items) / count)
    return [items[i:i + step] for i in range(0, len(items), step)]


def run_regression(configs: list[Config], simulator: str, *, jobs: int = 2, chunk: int = 80,
                   workdir: Path | None = None, progress: Callable[[int, int, float], None]
                   | None = None) -> tuple[list[dict], dict]:
    """Run ``configs``; returns one entry per configuration and the build times per variant.

    An entry has ``index``, ``variant``, ``steps``, ``failure`` (None when the configuration
    matched the golden model at every step) and ``seconds``. ``progress(done, mismatches,
    elapsed)`` is called every couple of seconds.
    """
    simulator_environment(simulator)
    hdl_clock = HDL_CLOCK_IS_FASTER[simulator]
    workdir = Path(workdir or tempfile.mkdtemp(prefix="delaycore-regress-"))
    workdir.mkdir(parents=True, exist_ok=True)
    by_variant: dict[str, list[Config]] = {}
    for config in configs:
        by_variant.setdefault(config.variant, []).append(config)

    # Build every variant first (in parallel), so no chunk waits on another's build.
    build_seconds = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        built = {name: pool.submit(build_core, simulator, get_variant(name),
                                   hdl_clock=hdl_clock) for name in by_variant}
        for name, future in built.items():
            build_seconds[name] = future.result().build_seconds

    work = []
    for name, items in by_variant.items():
        for number, part in enumerate(_chunks(items, chunk)):
            work.append((name, number, part))
    work.sort(key=lambda w: -len(w[2]))   # longest first, for a balanced finish

    progress_files = []

    def run_chunk(name, number, part):
        tag = f"regress-{name}-{number}-{workdir.name}"
        cases_file = workdir / f"{tag}.json"
        cases_file.write_text(json.dumps([{"index": c.index, "mode": c.mode,
                                           **c.case.to_dict()} for c in part]))
        progress_file = workdir / f"{tag}.progress"
        progress_file.write_text("")
        progress_files.append(progress_file)
        try:
            report = run_cocotb(simulator, get_variant(name), "bench.regress_tb",
                                extra_env={"DELAYCORE_CASES_FILE": str(cases_file),
                                           "DELAYCORE_PROGRESS": str(progress_file)},
                                run_name=tag, hdl_clock=hdl_clock)
            entries = {e["index"]: e for e in report["cases"]}
            error = None
        except CocotbRunError as err:
            entries = {}
            for line in progress_file.read_text().splitlines():
                entry = json.loads(line)
                entries[entry["index"]] = entry
            error = str(err).splitlines()[0]
        # A configuration without an entry was cut short by a simulator crash.
        return [entries.get(c.index, {"index": c.index, "variant": name, "steps": 0,
                                      "failure": f"simulator run failed: {error}",
                                      "seconds": 0.0})
                for c in part]

    started = time.perf_counter()
    results: list[dict] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_chunk, *w) for w in work]
        while not all(f.done() for f in futures):
            time.sleep(2.0)
            if progress is not None:
                done = mismatches = 0
                for path in progress_files:
                    for line in path.read_text().splitlines():
                        done += 1
                        mismatches += json.loads(line)["failure"] is not None
                progress(done, mismatches, time.perf_counter() - started)
        for future in futures:
            results += future.result()
    results.sort(key=lambda e: e["index"])
    return results, build_seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.regress",
        description="Random networks on a few core variants, lockstep with the golden model.")
    parser.add_argument("--configs", type=int, default=100, help="configurations (default 100)")
    parser.add_argument("--sim", choices=SIMULATORS, default="verilator")
    parser.add_argument("--seed", type=int, default=1, help="run seed (default 1)")
    parser.add_argument("--steps", type=int, default=200,
                        help="steps of the main run of each configuration (default 200; a "
                             "tenth more run after a clear)")
    parser.add_argument("--only", type=int, action="append", metavar="INDEX",
                        help="run only this configuration index (repeatable)")
    parser.add_argument("--modes", default="inference",
                        help=f"comma-separated configuration modes ({', '.join(MODES)})")
    parser.add_argument("--jobs", type=int, default=2, help="simulators run at once (default 2)")
    parser.add_argument("--chunk", type=int, default=None,
                        help="configurations per simulator process (default 80 on Verilator, "
                             "10 on Icarus)")
    parser.add_argument("--workdir", type=Path, help="where case and progress files go")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        print(f"error: unknown mode {', '.join(unknown)}; known: {', '.join(MODES)}",
              file=sys.stderr)
        return 2
    if args.steps < 1 or args.configs < 1:
        print("error: --steps and --configs must be at least 1", file=sys.stderr)
        return 2
    indices = args.only if args.only else list(range(args.configs))
    configs = [draw_config(args.seed, i, args.steps, modes) for i in indices]
    chunk = args.chunk or (80 if args.sim == "verilator" else 10)
    if args.only:
        for config in configs:
            print(f"config {config.index}: variant {config.variant}, {config.case.describe()}")
    print(f"regression: {len(configs)} configurations, seed {args.seed}, {args.steps} steps, "
          f"{args.sim}, {args.jobs} jobs", flush=True)

    tty = sys.stdout.isatty()
    last_print = [0.0]
    lock = threading.Lock()

    def progress(done, mismatches, elapsed):
        with lock:
            rate = done / elapsed if elapsed > 0 else 0.0
            eta = (len(configs) - done) / rate if rate > 0 else float("nan")
            line = (f"[regress] {done}/{len(configs)} configs, {mismatches} mismatches, "
                    f"{elapsed:.0f} s, ETA {eta:.0f} s")
            if tty:
                print("\r" + line, end="", flush=True)
            elif elapsed - last_print[0] >= 15:
                print(line, flush=True)
                last_print[0] = elapsed

    started = time.perf_counter()
    try:
        results, build_seconds = run_regression(configs, args.sim, jobs=args.jobs, chunk=chunk,
                                                workdir=args.workdir, progress=progress)
    except SimulatorNotFoundError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - started
    if tty:
        print()

    by_config = {c.index: c for c in configs}
    mismatches = []
    for entry in results:
        config = by_config[entry["index"]]
        entry["mode"] = config.mode
        entry["case"] = config.case.to_dict()
        entry["description"] = config.case.describe()
        entry["reproducer"] = reproducer(args.sim, args.seed, config.index, args.steps, modes)
        if entry["failure"]:
            mismatches.append({k: entry[k] for k in ("index", "variant", "failure",
                                                     "reproducer", "description")})

    print(f"\n{'variant':8} {'configs':>8} {'steps':>10} {'mismatches':>10} {'sim s':>8} "
          f"{'build s':>8}")
    order = list(dict.fromkeys([*REGRESS_VARIANTS, *(v for m in MODES.values()
                                                      for v in m.variants)]))
    for name in sorted({e["variant"] for e in results}, key=order.index):
        rows = [e for e in results if e["variant"] == name]
        if not rows:
            continue
        print(f"{name:8} {len(rows):8d} {sum(e['steps'] for e in rows):10d} "
              f"{sum(e['failure'] is not None for e in rows):10d} "
              f"{sum(e['seconds'] for e in rows):8.1f} {build_seconds.get(name, 0.0):8.1f}")
    total_steps = sum(e["steps"] for e in results)
    print(f"{'total':8} {len(results):8d} {total_steps:10d} {len(mismatches):10d}   "
          f"wall {wall:.1f} s ({total_steps / wall:.0f} steps/s)")
    for item in mismatches[:20]:
        print(f"MISMATCH config {item['index']} (variant {item['variant']}): {item['failure']}"
              f"\n  reproduce: {item['reproducer']}")
    if len(mismatches) > 20:
        print(f"... and {len(mismatches) - 20} more (see --json)")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "simulator": args.sim, "seed": args.seed, "steps_per_config": args.steps,
            "modes": list(modes), "jobs": args.jobs,
            "variants": {name: dict(get_variant(name).params)
                         for name in {e["variant"] for e in results}},
            "build_seconds": build_seconds, "wall_seconds": wall, "steps": total_steps,
            "configs": results, "mismatches": mismatches,
        }, indent=1))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
