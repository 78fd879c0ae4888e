"""Online learning on a delaycore board: ``python -m host.demo --port PORT``.

The demo asks the board for its core (``PING``), builds an untrained network that fits it
(:func:`golden.train.init_network` with :func:`golden.train.default_rule`), generates a small
built-in task (:mod:`golden.tasks`), and then, over the serial link:

1. loads the network with its learning rule;
2. measures the test accuracy with learning off (the readouts summed over each sample's
   ``target_mask`` steps; the largest sum is the prediction);
3. streams the training samples once with learning on: ``CTRL.LABEL`` per sample, ``STEP``
   frames with the learn flag where the sample's ``target_mask`` is set;
4. measures the test accuracy again and reads the learned weights and delays back.

It prints the accuracies before and after, chance level, the number of learning steps and
the time taken; ``--json FILE`` writes them to a JSON file too (``--json -`` prints the JSON
line instead). ``--check``
runs the same samples on the golden model and reports whether the board's predictions and
learned network are bit-exact with it.

``python -m host.demo --sim`` runs the same demo against the RTL in simulation: a learning
core with its host link, compiled with Verilator (:mod:`sim.learning_link`), driven by the
same :class:`~host.device.Device` over a simulated serial line.

Errors (no serial port, a device without the learning engine, bad flags) print one line
``error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from golden.learning import gaussian_derivative_kernel
from golden.network import Network
from golden.tasks import make_task
from golden.train import default_rule, init_network

__all__ = ["DEMO_TASKS", "demo_network", "demo_samples", "golden_reference", "main", "run_demo",
           "summary"]

#: Tasks of :mod:`golden.tasks` the demo can run.
DEMO_TASKS = ("rates", "timing")

_EXIT_ERROR = 2
# Sample counts and lengths of the command line. On a board the demo takes about half a
# minute at 115200 baud (the rates task reaches about 80 % from 22 %, golden model); in
# simulation about a minute (62 % from 28 %).
_BOARD_DEFAULTS = {"train": 128, "test": 64, "steps": 30}
_SIM_DEFAULTS = {"train": 40, "test": 32, "steps": 20}


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < lo or (hi is not None and value > hi):
        allowed = f"[{lo}, {hi}]" if hi is not None else f"at least {lo}"
        raise ValueError(f"{name} must be {'in ' if hi is not None else ''}{allowed}, "
                         f"got {value}")
    return value


def demo_samples(task: str, n_samples: int, seed: int, *, n_in: int, n_classes: int,
                 steps: int):
    """A :class:`golden.data.SampleSet` of built-in task ``task``, scaled to ``steps``.

    ``rates``: learning (and scoring) after a warm-up of ``steps // 5`` steps. ``timing``:
    patterns spread over half the steps, onsets up to a sixth, supervision on the second half.
    """
    if task not in DEMO_TASKS:
        raise ValueError(f"task must be one of {', '.join(DEMO_TASKS)}, got {task!r}")
    options: dict[str, Any] = {"n_in": n_in, "n_classes": n_classes, "steps": steps}
    if task == "rates":
        options["warmup"] = steps // 5
    else:
        options.update(spread=max(1, steps // 2), shift=steps // 6, window=max(1, steps // 2))
    return make_task(task, n_samples, seed, **options)


def demo_network(params, n_in: int, n_hidden: int, n_out: int, seed: int):
    """An untrained network with the default learning rule that fits core ``params``.

    The number formats, ``d_max`` (at most 32) and the learning widths are the core's; the
    rest are the defaults of :func:`golden.train.init_network`. Input delays are synaptic
    when the core learns delays.

    Raises
    ------
    ValueError
        The core cannot hold such a network (the message names the field).
    """
    if not params.learning:
        raise ValueError("the core has no learning engine (learning = False)")
    scale = 1 << max(0, params.decay_bits - 8)
    half_width = min(3, params.kernel_max_half_width)
    rule = default_rule(
        trace_bits=params.trace_bits, u_bits=params.u_bits, l_bits=params.l_bits,
        trace_shift=min(6, params.trace_bits - 2),
        error="softmax" if params.softmax else "mse",
        kernel=gaussian_derivative_kernel(half_width=half_width, sigma=1.5, peak=64),
        learn_delays=params.delay_learning)
    delay_in = "synaptic" if params.delay_learning else "none"
    net = init_network(
        n_in, n_hidden, n_out, np.random.default_rng(seed), delay_in=delay_in,
        d_max=min(32, params.d_max), weight_bits=params.weight_bits,
        weight_frac=params.weight_frac, delay_frac=params.delay_frac,
        alpha=205 * scale, kappa=205 * scale, learn_delays=params.delay_learning, rule=rule)
    data = net.to_dict()
    data.update(decay_bits=params.decay_bits, v_bits=params.v_bits, y_bits=params.y_bits)
    net = Network.from_dict(data)
    params.check_network(net)
    return net


def _predict(device, samples, progress, desc: str) -> np.ndarray:
    from tqdm import tqdm

    predicted = np.zeros(samples.n_samples, dtype=np.int64)
    for s in tqdm(range(samples.n_samples), desc=desc, unit="sample", **progress):
        mask = samples.target_mask[s]
        score = device.run_sample(samples.spikes[s], score=mask)
        predicted[s] = int(np.argmax(score))
    return predicted


def run_demo(device, *, task: str = "rates", n_train: int = 48, n_test: int = 48,
             steps: int = 30, hidden: int = 16, seed: int = 0, check: bool = False,
             progress: bool | None = None, progress_file=None,
             return_network: bool = False) -> dict[str, Any]:
    """Train a fresh network online on ``device`` and measure it before and after.

    Parameters
    ----------
    device : host.device.Device
        A board (or simulation) whose core has the learning engine.
    task : {"rates", "timing"}
        Built-in task (:func:`demo_samples`); its inputs and classes are capped at 16 and 4
        and at the core's ``max_in`` and ``max_out``.
    n_train, n_test : int
        Training and test samples (at least 1 each).
    steps : int
        Time steps per sample, in ``[10, 1000]``.
    hidden : int
        Hidden neurons, at most the core's ``max_hidden``.
    seed : int
        Seed of the network and of the samples.
    check : bool
        Also run the golden model (:func:`golden_reference`) and report whether the
        predictions and the learned network match it bit for bit.
    progress : bool or None
        Progress bars: always, never, or only on a terminal (None).
    progress_file : file, optional
        Where the progress bars go (default stderr).
    return_network : bool
        Put the learned network (its ``to_dict()``) in the result under ``"network"``.

    Returns
    -------
    dict
        ``task``, sizes, ``chance`` (1 / classes), ``accuracy_before``, ``accuracy_after``,
        ``learning_steps``, ``learn_count`` (read from the core), ``seconds`` and
        ``steps_per_second``; with ``check``, ``golden_match`` and the golden accuracies.

    Raises
    ------
    host.device.LearningUnsupportedError
        The device's core has no learning engine.
    ValueError, TypeError
        An argument is out of range (the message names it).
    """
    from .device import LearningUnsupportedError

    if task not in DEMO_TASKS:
        raise ValueError(f"task must be one of {', '.join(DEMO_TASKS)}, got {task!r}")
    _check_int("n_train", n_train, 1)
    _check_int("n_test", n_test, 1)
    _check_int("steps", steps, 10, 1000)
    _check_int("seed", seed, 0)
    info = device.ping()
    if not info.learning:
        raise LearningUnsupportedError(
            f"the device has no learning engine (PING: protocol version {info.version}, "
            f"learning = 0); build the board with a learning core")
    params = info.core_params()
    _check_int("hidden", hidden, 1, params.max_hidden)
    n_in, n_classes = min(16, params.max_in), min(4, params.max_out)
    if n_classes < 2:
        raise ValueError(f"the core has max_out = {params.max_out}; the demo needs at least "
                         f"2 readouts (one per class)")
    train_set = demo_samples(task, n_train, seed, n_in=n_in, n_classes=n_classes, steps=steps)
    test_set = demo_samples(task, n_test, seed + 1_000_003, n_in=n_in, n_classes=n_classes,
                            steps=steps)
    net = demo_network(params, n_in, hidden, n_classes, seed)
    bars = {"disable": (not sys.stderr.isatty()) if progress is None else not progress,
            "file": progress_file if progress_file is not None else sys.stderr,
            "leave": True, "dynamic_ncols": progress_file is None}

    from tqdm import tqdm

    started = time.perf_counter()
    device.load_network(net)
    before = _predict(device, test_set, bars, "test, learning off")
    for s in tqdm(range(train_set.n_samples), desc="train, learning on", unit="sample", **bars):
        mask = train_set.target_mask[s]
        device.run_sample(train_set.spikes[s], label=int(train_set.labels[s]), learn=mask)
    after = _predict(device, test_set, bars, "test, learned")
    learned = device.export_network()
    learn_count = device.learn_count()
    seconds = time.perf_counter() - started

    total_steps = (n_train + 2 * n_test) * steps
    result: dict[str, Any] = {
        "task": task, "n_in": n_in, "n_hidden": hidden, "n_out": n_classes, "steps": steps,
        "n_train": n_train, "n_test": n_test, "seed": seed,
        "chance": 1.0 / n_classes,
        "accuracy_before": float(np.mean(before == test_set.labels)),
        "accuracy_after": float(np.mean(after == test_set.labels)),
        "learning_steps": int(train_set.target_mask.sum()),
        "learn_count": int(learn_count),
        "seconds": round(seconds, 3),
        "steps_per_second": round(total_steps / seconds, 1),
    }
    if check:
        reference = golden_reference(net, train_set, test_set)
        same_net = _learned_values(learned) == _learned_values(reference["network"])
        result.update(
            golden_accuracy_before=reference["accuracy_before"],
            golden_accuracy_after=reference["accuracy_after"],
            golden_match=bool(same_net
                              and np.array_equal(before, reference["predicted_before"])
                              and np.array_equal(after, reference["predicted_after"])
                              and learn_count == reference["learn_count"]))
    if return_network:
        result["network"] = learned.to_dict()
    return result


def _learned_values(net) -> dict:
    """The weights and delays of ``net`` as plain lists (for exact comparison)."""
    data = net.to_dict()
    return {key: data[key] for key in sorted(data) if key[:2] in ("w_", "d_")}


def golden_reference(net, train_set, test_set) -> dict[str, Any]:
    """What the board should do: the demo's steps on :class:`golden.model.GoldenCore`.

    Returns
    -------
    dict
        ``network`` (learned), ``learn_count``, ``predicted_before``, ``predicted_after``
        and the two accuracies.
    """
    from golden.model import GoldenCore
    from golden.train import evaluate

    first = evaluate(net, test_set)
    core = GoldenCore(net)
    for s in range(train_set.n_samples):
        core.reset()
        for t in range(train_set.n_steps):
            core.step(train_set.spikes[s, t], labels=int(train_set.labels[s]),
                      learn=bool(train_set.target_mask[s, t]))
    learned = core.export_network()
    second = evaluate(learned, test_set)
    return {"network": learned, "learn_count": int(core.learn_count[0]),
            "predicted_before": first["predicted"], "predicted_after": second["predicted"],
            "accuracy_before": first["accuracy"], "accuracy_after": second["accuracy"]}


# -- command line -----------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> _Parser:
    parser = _Parser(prog="python -m host.demo", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serial port of the board, e.g. /dev/ttyUSB1")
    where.add_argument("--sim", action="store_true",
                       help="run against the RTL in Verilator instead of a board")
    parser.add_argument("--baud", type=int, default=None,
                        help="baud rate of the board (default 115200)")
    parser.add_argument("--timeout", type=float, default=1.0,
                        help="serial read timeout in seconds (default 1.0)")
    parser.add_argument("--task", choices=DEMO_TASKS, default="rates",
                        help="built-in task (default rates)")
    parser.add_argument("--train", type=int, default=None,
                        help="training samples (default 128 on a board, 40 with --sim)")
    parser.add_argument("--test", type=int, default=None,
                        help="test samples (default 64 on a board, 32 with --sim)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per sample (default 30 on a board, 20 with --sim)")
    parser.add_argument("--hidden", type=int, default=16,
                        help="hidden neurons (default 16, at most the core's max_hidden)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the golden model (bit-exact predictions and "
                             "learned network)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the result as JSON to FILE ('-': print only the "
                             "JSON line instead of the summary)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _run_sim(options: dict, progress: bool) -> dict:
    """The demo in Verilator; the progress bars of the simulation are copied to stderr."""
    import tempfile

    from sim.learning_link import run_learning_link

    with tempfile.TemporaryDirectory(prefix="delaycore-demo-") as tmp:
        progress_path = Path(tmp) / "progress.txt"
        progress_path.write_text("")
        stop = threading.Event()

        def copy_progress():
            with open(progress_path, "r", errors="replace") as handle:
                while True:
                    text = handle.read()
                    if text:
                        sys.stderr.write(text)
                        sys.stderr.flush()
                    elif stop.is_set():
                        return
                    else:
                        time.sleep(0.2)

        copier = threading.Thread(target=copy_progress, daemon=True)
        if progress:
            copier.start()
        sys.stderr.write("building the simulated board (Verilator; reused once built)...\n")
        try:
            report = run_learning_link(["demo"], demo={**options, "progress": progress},
                                       progress_file=str(progress_path), run_name="demo")
        finally:
            stop.set()
            if progress:
                copier.join()
    if report.get("failures"):
        raise RuntimeError(f"the simulated demo failed: {report['failures'][0]} "
                           f"(log: {report['log']})")
    result = report["results"]["demo"]
    result["simulator"] = "verilator"
    return result


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except _UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return _EXIT_ERROR
    # A simulated board runs about a hundred steps a second: smaller defaults there.
    defaults = _SIM_DEFAULTS if args.sim else _BOARD_DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    options = {"task": args.task, "n_train": args.train, "n_test": args.test,
               "steps": args.steps, "hidden": args.hidden, "seed": args.seed,
               "check": args.check}
    progress = not args.no_progress
    try:
        for name, value, lo, hi in (("--train", args.train, 1, None),
                                    ("--test", args.test, 1, None),
                                    ("--steps", args.steps, 10, 1000),
                                    ("--hidden", args.hidden, 1, None),
                                    ("--seed", args.seed, 0, None)):
            _check_int(name, value, lo, hi)
        if args.sim:
            if args.baud is not None:
                raise ValueError("--baud applies to --port only (the simulated board has "
                                 "its own serial settings)")
            result = _run_sim(options, progress)
        else:
            from .device import DEFAULT_BAUD, Device

            baud = DEFAULT_BAUD if args.baud is None else args.baud
            _check_int("--baud", baud, 1)
            with Device.open(args.port, baud, timeout=args.timeout) as device:
                result = run_demo(device, progress=progress, **options)
            result["port"] = args.port
    except (OSError, ImportError, ValueError, TypeError, RuntimeError) as err:
        # Device.open names the port in its own errors; the others happen behind it.
        where = f"{args.port}: " if args.port and not isinstance(err, OSError) else ""
        print(f"error: {where}{err}", file=sys.stderr)
        return _EXIT_ERROR
    except Exception as err:  # protocol errors: the device's reply is named in the message
        from .protocol import ProtocolError

        if not isinstance(err, ProtocolError):
            raise
        print(f"error: {args.port or 'simulated board'}: {err}", file=sys.stderr)
        return _EXIT_ERROR
    text = json.dumps(result)
    if args.json is not None and str(args.json) == "-":
        print(text)
        return 0
    print(summary(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


def summary(result: dict[str, Any]) -> str:
    """The lines the command line prints for a :func:`run_demo` result."""
    where = result.get("port") or f"simulated board ({result.get('simulator', 'rtl')})"
    lines = [
        f"{where}: {result['task']} task, {result['n_in']} inputs, {result['n_hidden']} hidden "
        f"neurons, {result['n_out']} classes, {result['steps']} steps per sample",
        f"learned online from {result['n_train']} samples ({result['learning_steps']} learning "
        f"steps, LEARN_COUNT {result['learn_count']})",
        f"test accuracy on {result['n_test']} samples: {100 * result['accuracy_before']:.1f} % "
        f"before, {100 * result['accuracy_after']:.1f} % after (chance "
        f"{100 * result['chance']:.1f} %)",
    ]
    if "golden_match" in result:
        verdict = "bit-exact" if result["golden_match"] else "DIFFERENT"
        lines.append(f"golden model: {verdict} (golden accuracy "
                     f"{100 * result['golden_accuracy_before']:.1f} % before, "
                     f"{100 * result['golden_accuracy_after']:.1f} % after)")
    lines.append(f"time: {result['seconds']:.1f} s ({result['steps_per_second']:.0f} steps/s)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
