"""Clock cycles per step of the learning core: plain steps and learning steps, with and
without the zero skip, against the number of synapses.

Usage::

    python bench/learning_cycles.py                          # Verilator, default sizes
    python bench/learning_cycles.py --json out/learning_cycles.json
    python bench/learning_cycles.py --sizes 8,8,4 16,16,4 --steps 40 --simulator icarus

One learning core (recurrent, default number formats, capacity of the largest size) is built
once; for every size a random network with every projection synaptic and the default
learning rule (weights and delays learning, squared error) is loaded through the bus and run
four times from a cleared core, reading ``CTRL.CYCLES`` after every step:

``no rule``
    ``LEARN.MODE = 0``: the inference core alone;
``traces``
    the rule loaded, ``learn`` low: traces run beside the forward pass;
``learn``
    every step learns, zero skip on;
``no skip``
    every step learns, ``FLAGS.NO_ZERO_SKIP``: every post neuron is visited.

The table shows mean cycles per step, the share of post neurons the skip kept (from the
golden model's post factors), and the cycles ``rtl.params.CoreParams`` predicts for the
plain step and for a learning step without the skip. The simulated spikes and learned
parameters are checked against the golden model. ``--psi-width`` narrows the surrogate
LUT, which makes more post factors 0 and shows what the skip saves.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Runnable as a script from anywhere: the packages live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.build import (
    HDL_CLOCK_IS_FASTER,
    SIMULATORS,
    CocotbRunError,
    SimulatorNotFoundError,
    run_cocotb,
)
from sim.variants import CoreVariant

DEFAULT_SIZES = ((4, 4, 2), (8, 8, 4), (12, 16, 4), (16, 24, 4), (24, 32, 6))


def _sizes(text: str) -> tuple[int, int, int]:
    try:
        n_in, n_hidden, n_out = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be n_in,n_hidden,n_out, got {text!r}")
    return n_in, n_hidden, n_out


def bench_variant(sizes) -> CoreVariant:
    """A recurrent learning core with the capacity of the largest of ``sizes``."""
    return CoreVariant("learnbench", {
        "max_in": max(s[0] for s in sizes), "max_hidden": max(s[1] for s in sizes),
        "max_out": max(s[2] for s in sizes), "d_max": 16, "recurrent": True,
        "learning": True,
    })


def predictions(params, sizes, net_rule_half_width) -> dict:
    """Cycles that ``CoreParams`` predicts for one size (every projection updates)."""
    n_in, n_hidden, n_out = sizes
    common = (n_in, n_hidden, n_out, True)
    return {
        "no_rule": params.step_cycles(*common),
        "traces": params.step_cycles(*common, traces=True, half_width=net_rule_half_width),
        "learning_no_skip": params.learning_step_cycles(
            *common, half_width=net_rule_half_width, softmax=False, hidden_posts=n_hidden,
            out_posts=n_out, updates=("in", "rec", "out")),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulator", choices=SIMULATORS, default="verilator")
    parser.add_argument("--sizes", type=_sizes, nargs="+", default=list(DEFAULT_SIZES),
                        help="networks as n_in,n_hidden,n_out (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=30, help="steps per run (default 30)")
    parser.add_argument("--density", type=float, default=0.2,
                        help="input spike probability (default 0.2)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--psi-width", type=float, default=None,
                        help="width of a Gaussian surrogate LUT (LUT steps) instead of the "
                             "default; narrow LUTs give more zero post factors to skip")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)

    variant = bench_variant(args.sizes)
    params = variant.core_params()
    settings = {"steps": args.steps, "density": args.density, "psi_width": args.psi_width,
                "networks": [{"sizes": list(s), "seed": args.seed + i}
                             for i, s in enumerate(args.sizes)]}
    try:
        report = run_cocotb(args.simulator, variant, "sim.bench_learning",
                            extra_env={"DELAYCORE_BENCH": json.dumps(settings)},
                            run_name="bench-learning",
                            hdl_clock=HDL_CLOCK_IS_FASTER[args.simulator])
    except (SimulatorNotFoundError, CocotbRunError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if report["failures"]:
        print("error: " + "; ".join(report["failures"]), file=sys.stderr)
        return 1

    from sim.bench_learning import bench_network

    rows = []
    for result in report["networks"]:
        sizes = tuple(result["sizes"])
        net = bench_network(params, sizes, result["seed"], args.psi_width)
        predicted = predictions(params, sizes, net.learning.kernel_half_width)
        posts = result["posts"]
        kept = sum(h + o for h, o in posts) / (len(posts) * (sizes[1] + sizes[2]))
        row = {
            "sizes": list(sizes),
            "synapses": result["synapses"],
            "cycles": {name: sum(result[name]) / len(result[name])
                       for name in ("no_rule", "traces", "learning", "learning_no_skip")},
            "posts_kept": kept,
            "predicted": predicted,
        }
        row["learning_cycles_per_synapse"] = (row["cycles"]["learning_no_skip"]
                                              / result["synapses"])
        rows.append(row)

    header = (f"{'in/hid/out':>11} {'synapses':>8} {'no rule':>8} {'traces':>8} "
              f"{'learn':>8} {'no skip':>8} {'kept':>5} {'pred.':>8} {'pred.ns':>8} "
              f"{'cyc/syn':>7}")
    lut = "default" if args.psi_width is None else f"Gaussian width {args.psi_width:g}"
    print(f"cycles per step, {args.simulator}, {args.steps} steps per run, "
          f"input density {args.density}, psi LUT {lut}")
    print(header)
    print("-" * len(header))
    for row in rows:
        c, pr = row["cycles"], row["predicted"]
        sizes = "/".join(str(v) for v in row["sizes"])
        print(f"{sizes:>11} {row['synapses']:>8} {c['no_rule']:>8.0f} {c['traces']:>8.0f} "
              f"{c['learning']:>8.0f} {c['learning_no_skip']:>8.0f} "
              f"{row['posts_kept']:>5.0%} {pr['traces']:>8} {pr['learning_no_skip']:>8} "
              f"{row['learning_cycles_per_synapse']:>7.2f}")
    print("learn: every step learns with the zero skip; no skip: FLAGS.NO_ZERO_SKIP; kept: "
          "post neurons with a nonzero factor; pred./pred.ns: CoreParams.step_cycles with "
          "traces / learning_step_cycles without the skip")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "simulator": args.simulator, "steps": args.steps, "density": args.density,
            "psi_width": args.psi_width,
            "core": variant.params, "networks": rows}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
