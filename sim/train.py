"""Online training on the simulated RTL core, checked against ``python -m golden.train``.

Command line (the flags of ``python -m golden.train``, plus ``--check`` and ``--sim``)::

    python -m sim.train --train TRAIN.npz --test TEST.npz --net NET.json --epochs N \\
        --learn weights|delays|weights,delays --json OUT.json \\
        [--seed S] [--out-net TRAINED.json] [--plot PNG] [--check end|lockstep|none]

The learning runs in the generated core (``CoreParams(learning=True)`` sized to the network,
:func:`core_params`) simulated on Verilator through cocotb (:mod:`sim.train_tb`): every time
step is started through the core's ports with ``CoreTB``, Python waking only at step
boundaries. The schedule is exactly that of ``golden.train``: the same sample order per
epoch (:func:`golden.train.sample_order` from ``--seed``), each sample from zero state with
its label and learning on its ``target_mask`` steps, ``LEARN_COUNT`` from 0. Accuracies are
measured on the core: the readouts ``y`` read through the bus, summed over the
``target_mask`` steps.

``OUT.json`` has the fields of ``golden.train`` (``train_accuracy``, ``test_accuracy``,
``initial``, ``final``, ``delay_change``, ``config``, ``seconds``) plus ``rtl`` (core
parameters, simulator, build and run times, steps) and ``check``. ``--out-net`` writes the
trained network read back from the core, in the format of ``golden.train``.

``--check end`` (default) then trains the same network with ``golden.train`` and compares
the final weights and delays and every accuracy; ``--check lockstep`` instead steps a golden
model inside the simulation and compares every weight and delay after every training
sample, stopping at the first difference; ``--check none`` skips the comparison. A
difference prints ``error: ...`` naming the first differing parameter and exits with
status 1. Bad flags, unusable files, a network the core cannot represent and a missing
simulator exit with status 2.

The compiled model is cached per core parameter set in the simulator build directory
(``sim_build/train-<digest>-verilator-hdlclk``), so only the first run of a network size
pays the build (about 40 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from golden.data import DataError
from golden.network import Network, NetworkError, save_network
from golden.train import (
    _check_suffix,
    _int_flag,
    _network_summary,
    _train_parser,
    _UsageError,
    has_learnable_delays,
    learn_name,
    load_training_inputs,
    parse_learn,
    train,
    write_training_outputs,
)

__all__ = ["CHECKS", "EXIT_INPUT_ERROR", "EXIT_MISMATCH", "RTLTrainError", "core_params",
           "first_array_difference", "first_difference", "main", "train_on_rtl"]

#: Exit status for unusable flags, files, networks or a missing simulator.
EXIT_INPUT_ERROR = 2
#: Exit status when the core and the golden model disagree, or the simulation failed.
EXIT_MISMATCH = 1
#: ``--check`` values.
CHECKS = ("end", "lockstep", "none")
#: Prefix of the variant names (and so of the build directories) of this trainer.
VARIANT_PREFIX = "train"


class RTLTrainError(RuntimeError):
    """The simulation failed or the core disagrees with the golden model (one-line message)."""


# -- the core -----------------------------------------------------------------------------


def core_params(net: Network):
    """The learning core for ``net``: its sizes, formats, neuron options and the learning
    parts its rule uses.

    The delay-learning hardware is built whenever the network has delays, whatever the
    rule's ``learn_delays``, so that ``--learn weights`` and ``--learn weights,delays`` on
    one network share a compiled model (``learn_delays`` is a run-time register).

    Raises
    ------
    ValueError
        The network needs something the core cannot represent; the message names the field
        and its allowed range.
    """
    from rtl.params import ADDRESS_SPACE, CoreParams, synapse_count

    synapses = synapse_count(net)
    if synapses > ADDRESS_SPACE:
        # Checked here because CoreParams words it as a generator option.
        raise ValueError(f"network synapses = {synapses} (n_hidden * (n_in + n_rec) + "
                         f"n_out * n_hidden) must be in [1, {ADDRESS_SPACE}]")
    return CoreParams.for_network(net, delay_learning=has_learnable_delays(net))


def _variant(params):
    from sim.variants import CoreVariant

    return CoreVariant(VARIANT_PREFIX, params.as_dict())


def first_array_difference(pairs) -> str | None:
    """``"w_in[2, 5] rtl=... golden=... (N more values of w_in differ)"`` for the first
    differing element of the ``(key, rtl array, golden array)`` triples, in order, or None.
    Triples whose two arrays are both None (a projection without delays) are skipped."""
    for key, got, want in pairs:
        if got is None and want is None:
            continue
        got, want = np.asarray(got), np.asarray(want)
        diff = np.argwhere(got != want)
        if len(diff):
            index = tuple(int(i) for i in diff[0])
            where = ", ".join(str(i) for i in index)
            return (f"{key}[{where}] rtl={int(got[index])} golden={int(want[index])} "
                    f"({len(diff) - 1} more values of {key} differ)")
    return None


def first_difference(rtl: Network, golden: Network) -> str | None:
    """``"w_in[2, 5] rtl=... golden=..."`` for the first differing weight, delay or neuron
    parameter, or None."""
    keys = [key for proj in rtl.projections() for key in (f"w_{proj}", f"d_{proj}")]
    return first_array_difference((key, getattr(rtl, key), getattr(golden, key))
                                  for key in keys + rtl.neuron_parameters())


def _poll_progress(path: Path, bar: tqdm, finished: threading.Event) -> None:
    """Move ``bar`` to the count in ``path`` (written by the simulation) until finished."""
    while not finished.wait(0.25):
        try:
            done, _, phase = path.read_text().strip().partition(" ")
        except OSError:
            continue
        if done.isdigit():
            bar.update(int(done) - bar.n)
            bar.set_postfix_str(phase, refresh=False)


def train_on_rtl(net: Network, train_path: Path, test_path: Path, epochs: int, *,
                 seed: int = 0, check: str = "end", simulator: str = "verilator",
                 progress: bool | None = None, n_train: int = 0, n_test: int = 0,
                 schedule_every: int = 0, early_stop: int = 0) -> tuple[Network, dict]:
    """Train ``net`` online on the simulated core; see the module docstring.

    Parameters
    ----------
    net : Network
        Initial network; its rule's ``learn_weights``/``learn_delays`` say what learns.
    train_path, test_path : Path
        Sample files (read again inside the simulator process).
    epochs, seed : int
        As ``golden.train``.
    check : {"end", "lockstep", "none"}
        Only ``"lockstep"`` matters here (the comparison inside the simulation).
    simulator : {"verilator", "icarus"}
    progress : bool or None
        Progress bar on stderr: always, never, or only on a terminal (None).
    n_train, n_test : int
        Sample counts, for the length of the progress bar.
    schedule_every, early_stop : int
        As ``golden.train``: every ``schedule_every`` epochs the learning-rate registers
        are rewritten with every shift one larger (rates halved); after ``early_stop``
        epochs without a better training accuracy the core stops learning (0: off).

    Returns
    -------
    trained : Network
        The network with the weights and delays read back from the core.
    report : dict
        The simulation's report (:mod:`sim.train_tb`) plus ``build_seconds``,
        ``run_seconds`` and ``log``.

    Raises
    ------
    SimulatorNotFoundError
        The simulator is not installed.
    RTLTrainError
        The simulation failed, or (``check="lockstep"``) the core learned something else
        than the golden model.
    """
    from sim.build import HDL_CLOCK_IS_FASTER, CocotbRunError, build_core, run_cocotb

    params = core_params(net)
    variant = _variant(params)
    hdl_clock = HDL_CLOCK_IS_FASTER[simulator]
    started = time.perf_counter()
    built = build_core(simulator, variant, hdl_clock=hdl_clock)
    if built.build_seconds:
        print(f"built the {simulator} model of the core in {built.build_seconds:.0f} s: "
              f"{built.build_dir}", file=sys.stderr)
    build_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="delaycore-train-") as tmp:
        net_file = Path(tmp) / "net.json"
        save_network(net, net_file)
        progress_file = Path(tmp) / "progress"
        config = {"net": str(net_file), "train": str(Path(train_path).resolve()),
                  "test": str(Path(test_path).resolve()), "epochs": epochs, "seed": seed,
                  "check": check, "progress": str(progress_file),
                  "schedule_every": schedule_every, "early_stop": early_stop}
        total = epochs * n_train + (epochs + 1) * (n_train + n_test)
        bar = tqdm(total=total, desc="train on RTL", unit="sample", file=sys.stderr,
                   disable=None if progress is None else not progress)
        finished = threading.Event()
        poller = threading.Thread(target=_poll_progress, args=(progress_file, bar, finished),
                                  daemon=True)
        poller.start()
        # One run directory per process: runs of the same core size may go on in parallel.
        run_name = f"train-{os.getpid()}"
        try:
            report = run_cocotb(simulator, variant, "sim.train_tb", run_name=run_name,
                                extra_env={"DELAYCORE_TRAIN": json.dumps(config)},
                                hdl_clock=hdl_clock)
        except CocotbRunError as err:
            raise RTLTrainError(f"the {simulator} simulation failed: "
                                f"{str(err).splitlines()[0]}") from None
        finally:
            finished.set()
            poller.join()
            bar.close()
    if report["failures"]:
        raise RTLTrainError(f"{report['failures'][0]} (simulator log: {report['log']})")
    # The log of a run that went through is not needed; a failed one stays for reading.
    shutil.rmtree(Path(report["log"]).parent, ignore_errors=True)
    report["build_seconds"] = build_seconds
    data = net.to_dict()
    data.update(report.pop("parameters"))
    trained = Network.from_dict(data)
    report["core_params"] = params.as_dict()
    report["simulator"] = simulator
    return trained, report


# -- command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    # The flags of golden.train, so one command line runs on either.
    parser = _train_parser()
    parser.prog = "python -m sim.train"
    parser.description = ("Train a delaycore network online on the RTL core simulated with "
                          "Verilator, and check the result against golden.train.")
    parser.add_argument("--check", default="end",
                        help="end: train with golden.train afterwards and compare (default); "
                             "lockstep: compare every parameter after every sample inside "
                             "the simulation; none")
    parser.add_argument("--sim", default="verilator",
                        help="simulator: verilator (default) or icarus (much slower)")
    return parser


def _fail(message: str, status: int = EXIT_INPUT_ERROR) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def _history(result_lists: dict, initial: dict) -> dict:
    """A ``golden.train`` style history for :func:`golden.train.plot_training`."""
    return {"initial_train_accuracy": initial["train_accuracy"],
            "initial_test_accuracy": initial["test_accuracy"],
            "train_accuracy": result_lists["train_accuracy"],
            "test_accuracy": result_lists["test_accuracy"]}


def _compare_with_golden(net: Network, trained: Network, report: dict, train_set, test_set,
                         epochs: int, seed: int, progress: bool | None,
                         schedule_every: int = 0, early_stop: int = 0) -> dict:
    """Train with ``golden.train`` and compare parameters and accuracies with the core's."""
    started = time.perf_counter()
    golden_net, history = train(net, train_set, test_set, epochs, seed=seed, exact=True,
                                progress=progress, schedule_every=schedule_every,
                                early_stop=early_stop)
    seconds = time.perf_counter() - started
    problem = first_difference(trained, golden_net)
    accuracies = {
        "initial_train_accuracy": (report["initial"]["train_accuracy"],
                                   history["initial_train_accuracy"]),
        "initial_test_accuracy": (report["initial"]["test_accuracy"],
                                  history["initial_test_accuracy"]),
        "train_accuracy": (report["train_accuracy"], history["train_accuracy"]),
        "test_accuracy": (report["test_accuracy"], history["test_accuracy"]),
        "delay_change": (report["delay_change"], history["delay_change"]),
    }
    if early_stop:
        accuracies["stopped_epoch"] = (report["stopped_epoch"], history["stopped_epoch"])
    differing = [key for key, (rtl, gold) in accuracies.items() if rtl != gold]
    return {"mode": "end", "parameters_identical": problem is None,
            "first_difference": problem, "accuracies_identical": not differing,
            "differing_accuracies": {key: {"rtl": accuracies[key][0],
                                           "golden": accuracies[key][1]}
                                     for key in differing},
            "golden_seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    from sim.build import SIMULATORS, SimulatorNotFoundError, simulator_environment

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
        epochs = _int_flag("--epochs", args.epochs, 1)
        seed = _int_flag("--seed", args.seed, 0)
        learn = None
        if args.learn is not None:
            try:
                learn = parse_learn(args.learn)
            except ValueError as err:
                raise _UsageError(f"--learn {err}") from None
        if not args.exact:
            raise _UsageError("--float: the RTL core computes in integers only (use --exact)")
        schedule_every = _int_flag("--schedule-every", args.schedule_every, 0)
        early_stop = _int_flag("--early-stop", args.early_stop, 0)
        if args.check not in CHECKS:
            raise _UsageError(f"--check must be one of {', '.join(CHECKS)}, got {args.check!r}")
        if args.sim not in SIMULATORS:
            raise _UsageError(f"--sim must be one of {', '.join(SIMULATORS)}, got {args.sim!r}")
        _check_suffix("--json", args.json, ".json")
        _check_suffix("--out-net", args.out_net, ".json")
        _check_suffix("--plot", args.plot, ".png")
    except _UsageError as err:
        return _fail(str(err))

    try:
        net, train_set, test_set, learn = load_training_inputs(args, learn)
    except (NetworkError, DataError, _UsageError) as err:
        return _fail(str(err))
    try:
        params = core_params(net)
    except ValueError as err:
        return _fail(f"--net {args.net}: the RTL core cannot represent this network: {err}")
    try:
        simulator_environment(args.sim)
    except SimulatorNotFoundError as err:
        return _fail(str(err))

    started = time.perf_counter()
    try:
        trained, report = train_on_rtl(
            net, args.train, args.test, epochs, seed=seed, check=args.check,
            simulator=args.sim, progress=args.progress, n_train=train_set.n_samples,
            n_test=test_set.n_samples, schedule_every=schedule_every, early_stop=early_stop)
    except RTLTrainError as err:
        return _fail(str(err), EXIT_MISMATCH)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - started

    final = {"train_accuracy": report["train_accuracy"][-1],
             "test_accuracy": report["test_accuracy"][-1]}
    result = {
        "config": {
            "train": str(args.train), "test": str(args.test), "net": str(args.net),
            "epochs": epochs, "learn": learn_name(*learn), "seed": seed, "mode": "exact",
            "train_samples": train_set.n_samples, "test_samples": test_set.n_samples,
            "steps": train_set.n_steps, "network": _network_summary(net),
            "learning": net.learning.to_dict(), "check": args.check, "simulator": args.sim,
        },
        "train_accuracy": report["train_accuracy"],
        "test_accuracy": report["test_accuracy"],
        "initial": report["initial"],
        "final": final,
        "delay_change": report["delay_change"],
        "seconds": seconds,
        "rtl": {"simulator": args.sim, "core_params": params.as_dict(),
                "build_seconds": report["build_seconds"], "run_seconds": report["run_seconds"],
                "steps": report["steps"], "learning_steps": report["learning_steps"],
                "learn_count": report["learn_count"],
                "epoch_seconds": report["epoch_seconds"]},
        "check": {"mode": args.check},
    }
    # As golden.train: only when used, so that the output of a plain run stays as it was.
    if schedule_every:
        result["config"]["schedule_every"] = schedule_every
    if early_stop:
        result["config"]["early_stop"] = early_stop
        result["stopped_epoch"] = report["stopped_epoch"]
    if args.check == "lockstep":
        result["check"].update(parameters_identical=True, first_difference=None)
    elif args.check == "end":
        print("training the same network with golden.train to compare", file=sys.stderr)
        result["check"] = _compare_with_golden(net, trained, report, train_set, test_set,
                                               epochs, seed, args.progress,
                                               schedule_every, early_stop)
    try:
        write_training_outputs(args, result, net, trained, _history(report, report["initial"]),
                               learn_name(*learn) + " (RTL)")
    except OSError as err:
        return _fail(f"cannot write output ({err.strerror or err}: "
                     f"{getattr(err, 'filename', '')})")
    check = result["check"]
    print(json.dumps({"json": str(args.json), "learn": learn_name(*learn),
                      "train_accuracy": final["train_accuracy"],
                      "test_accuracy": final["test_accuracy"],
                      "identical_to_golden": check.get("parameters_identical"),
                      "seconds": round(seconds, 1)}))
    if args.check == "end":
        if not check["parameters_identical"]:
            return _fail(f"the RTL core and golden.train learned different parameters: "
                         f"first difference {check['first_difference']}", EXIT_MISMATCH)
        if not check["accuracies_identical"]:
            key = next(iter(check["differing_accuracies"]))
            values = check["differing_accuracies"][key]
            return _fail(f"the RTL core and golden.train measured different {key}: "
                         f"rtl {values['rtl']}, golden {values['golden']}", EXIT_MISMATCH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
