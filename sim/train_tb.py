"""cocotb test module: online training on the RTL core, for ``python -m sim.train``.

Run by :func:`sim.build.run_cocotb` from :mod:`sim.train`. Inputs come from environment
variables:

``DELAYCORE_VARIANT``
    JSON of the :class:`sim.variants.CoreVariant` (a core built with ``learning``).
``DELAYCORE_TRAIN``
    JSON of the run: ``net`` (network file with its learning rule and learning flags),
    ``train`` and ``test`` (sample files), ``epochs``, ``seed``, ``check`` (``"lockstep"``
    steps a golden model alongside and compares every learned parameter after every
    training sample) and ``progress`` (a file this module rewrites with the number of
    samples done and the current phase).
``DELAYCORE_REPORT``
    Path of the JSON report: accuracies before and after every epoch, the mean change of the
    integer delays per epoch, the learned parameters read back from the core, the core's
    ``LEARN_COUNT``, the steps run and ``failures`` (empty when the run went through).

The schedule is that of :func:`golden.train.train_learners` for one learner: per epoch the
training samples in the order of :func:`golden.train.sample_order`, each from a ``clear``
(learned values and ``LEARN_COUNT`` stay) with its label in ``CTRL.LABEL`` and ``learn`` set
on the steps of its ``target_mask``. Accuracies come from the core itself: every sample runs
without learning and the prediction is the readout with the largest ``y`` summed over the
sample's ``target_mask`` steps, read through the bus. With ``schedule_every`` the learning
rate registers are rewritten with halved rates (:func:`golden.train.halved_rates`) before
every ``schedule_every``-th epoch; with ``early_stop`` the core stops learning (the training
samples are no longer run) once its training accuracy has not improved for that many epochs,
and the report has ``stopped_epoch``, as in ``golden.train``.
"""

from __future__ import annotations

import json
import os
import time
import traceback

import cocotb
import numpy as np

from golden.data import load_samples
from golden.model import GoldenCore
from golden.network import load_network
from golden.train import halved_rates, sample_order
from rtl import memory_map as mm
from sim.learning_check import LearningProbe
from sim.tb import CoreTB
from sim.train import first_array_difference
from sim.variants import CoreVariant

#: Seconds between two rewrites of the progress file (the parent polls it).
PROGRESS_INTERVAL = 0.2


class RTLMismatch(AssertionError):
    """The core's learned parameters differ from the golden model's (lockstep check)."""


class _Progress:
    """Samples done and the current phase, in a small file the parent process polls."""

    def __init__(self, path: str | None):
        self.path = path
        self.done = 0
        self.phase = ""
        self._last = 0.0

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self._write()

    def advance(self) -> None:
        self.done += 1
        if time.monotonic() - self._last >= PROGRESS_INTERVAL:
            self._write()

    def _write(self) -> None:
        if not self.path:
            return
        self._last = time.monotonic()
        # Write then rename, so the reader never sees half a line.
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as handle:
            handle.write(f"{self.done} {self.phase}\n")
        os.replace(tmp, self.path)


def _spike_words(samples) -> list[list[int]]:
    """``in_spikes`` bus value of every step of every sample (input ``j`` at bit ``j``)."""
    bits = [1 << j for j in range(samples.n_in)]
    words = np.asarray(samples.spikes, dtype=object).dot(np.array(bits, dtype=object))
    return [[int(w) for w in row] for row in words]


class CoreTrainer:
    """Trains and evaluates one network on the core, as :func:`golden.train.train` does.

    Parameters
    ----------
    tb : sim.tb.CoreTB
        A started testbench of a core built with ``learning``.
    net : golden.network.Network
        The initial network with its learning rule (its learning flags are the mode).
    progress : _Progress
    """

    def __init__(self, tb: CoreTB, net, progress: _Progress):
        self.tb = tb
        self.net = net
        self.progress = progress
        self.probe = LearningProbe(net, tb.params, trace_depth=0)
        self.y_addresses = [mm.address(mm.REGION_Y, k) for k in range(net.n_out)]
        self.steps = 0
        self.learning_steps = 0

    async def load(self) -> None:
        """Write the network and its rule; start counting learning steps from 0."""
        await self.tb.load(self.net)
        # The golden model counts learning steps from 0 for a new network (model.md 7.6).
        await self.tb.write_ctrl("LEARN_COUNT", 0)

    async def evaluate(self, samples, words: list[list[int]]) -> float:
        """Accuracy of the core's current parameters on ``samples`` (no learning)."""
        n_out = self.net.n_out
        hits = 0
        for s in range(samples.n_samples):
            await self.tb.clear()
            score = np.zeros(n_out, dtype=np.int64)
            mask = samples.target_mask[s]
            for t, word in enumerate(words[s]):
                await self.tb.run_step(word, learn=False)
                if mask[t]:
                    y = await self.tb.read_words(self.y_addresses)
                    score += np.array([mm.decode_signed(v, 32) for v in y], dtype=np.int64)
            self.steps += len(words[s])
            # Ties go to the lowest readout, as numpy.argmax in golden.train.evaluate.
            hits += int(np.argmax(score)) == int(samples.labels[s])
            self.progress.advance()
        return hits / samples.n_samples

    async def train_sample(self, spikes_words: list[int], label: int, mask) -> None:
        """One training sample from zero state, learning on the steps of ``mask``."""
        await self.tb.write_ctrl("LABEL", int(label))
        await self.tb.clear()
        for t, word in enumerate(spikes_words):
            await self.tb.run_step(word, learn=bool(mask[t]))
        self.steps += len(spikes_words)
        self.learning_steps += int(np.sum(mask))
        self.progress.advance()

    async def write_rates(self, rule) -> None:
        """Rewrite the learning-rate registers with those of ``rule``."""
        await self.tb.bus.write_many(mm.learning_rate_writes(rule, self.tb.params))

    async def read_words(self) -> list[int]:
        """Every synapse word, axonal delay and learned neuron parameter of the network
        (:class:`LearningProbe` order)."""
        return await self.tb.read_words(self.probe.parameter_addresses())

    def parameters(self, words: list[int]) -> dict[str, np.ndarray]:
        """``w_<proj>``, ``d_<proj>`` and neuron-parameter (``beta``, ``coupling``, ``rho``)
        arrays from the words of :meth:`read_words`."""
        net, params = self.net, self.tb.params
        out: dict[str, np.ndarray] = {}
        for proj in self.probe.projections:
            out[f"w_{proj}"] = np.array(net.weights(proj), dtype=np.int64, copy=True)
            d = getattr(net, f"d_{proj}")
            if d is not None:
                out[f"d_{proj}"] = np.array(d, dtype=np.int64, copy=True)
        synapses = self.probe.synapses
        for (_, proj, post, pre), word in zip(synapses, words[:len(synapses)]):
            w, d = mm.unpack_synapse(word, params)
            out[f"w_{proj}"][post, pre] = w
            if net.delay_kind(proj) == "synaptic":
                out[f"d_{proj}"][post, pre] = d
        for (_, proj, pre), word in zip(self.probe.axons, words[len(synapses):]):
            out[f"d_{proj}"][pre] = int(word)
        for name in net.neuron_parameters():
            out[name] = np.array(getattr(net, name), dtype=np.int64, copy=True)
        start = len(synapses) + len(self.probe.axons)
        for (_, name, i), word in zip(self.probe.neurons, words[start:]):
            out[name][i] = int(word)
        return out


def delay_change(net, initial: dict, current: dict) -> float:
    """Mean absolute change of the integer delays, as ``golden.train.train_learners``."""
    frac = 1 << net.delay_frac
    changes = [np.abs(np.floor_divide(current[key], frac)
                      - np.floor_divide(initial[key], frac)).mean()
               for key in initial if key.startswith("d_")]
    return float(np.mean(changes)) if changes else 0.0


def _first_difference(golden: GoldenCore, parameters: dict) -> str | None:
    """``"w_in[2, 5] rtl=... golden=..."`` for the first differing parameter, or None."""
    wanted = []
    for name, p in golden.projections.items():
        wanted.append((f"w_{name}", p.w[0]))
        if p.d is not None:
            wanted.append((f"d_{name}", p.d[0]))
    wanted += [(name, values[0]) for name, values in golden.neurons.items()]
    return first_array_difference((key, parameters[key], want) for key, want in wanted)


async def train_on_core(tb: CoreTB, config: dict, report: dict) -> None:
    """The whole run; fills ``report`` as it goes."""
    net = load_network(config["net"])
    train_set = load_samples(config["train"], n_in=net.n_in, n_classes=net.n_out)
    test_set = load_samples(config["test"], n_in=net.n_in, n_classes=net.n_out)
    epochs, seed = int(config["epochs"]), int(config["seed"])
    progress = _Progress(config.get("progress"))
    trainer = CoreTrainer(tb, net, progress)
    train_words, test_words = _spike_words(train_set), _spike_words(test_set)
    golden = GoldenCore(net) if config.get("check") == "lockstep" else None

    await trainer.load()
    initial = trainer.parameters(await trainer.read_words())
    progress.set_phase("initial accuracy")
    report["initial"] = {"train_accuracy": await trainer.evaluate(train_set, train_words),
                         "test_accuracy": await trainer.evaluate(test_set, test_words)}
    rng = np.random.default_rng(seed)
    schedule_every = int(config.get("schedule_every", 0))
    early_stop = int(config.get("early_stop", 0))
    rule = net.learning
    best, since_best, stopped = report["initial"]["train_accuracy"], 0, False
    if early_stop:
        report["stopped_epoch"] = None
    for epoch in range(epochs):
        if schedule_every and epoch and epoch % schedule_every == 0:
            rule = halved_rates(rule)
            await trainer.write_rates(rule)
            if golden is not None:
                golden.rule = rule
        started = time.perf_counter()
        progress.set_phase(f"epoch {epoch + 1}/{epochs} training")
        order = sample_order(rng, train_set.n_samples)
        for position, s in enumerate(order):
            if stopped:   # the order is still drawn: it keeps the generator in step
                progress.advance()
                continue
            label, mask = int(train_set.labels[s]), train_set.target_mask[s]
            await trainer.train_sample(train_words[s], label, mask)
            if golden is not None:
                golden.reset()
                for t in range(train_set.n_steps):
                    golden.step(train_set.spikes[s, t], labels=label, learn=bool(mask[t]))
                problem = _first_difference(golden, trainer.parameters(
                    await trainer.read_words()))
                if problem is not None:
                    raise RTLMismatch(f"epoch {epoch + 1}, sample {position} (index {s}): "
                                      f"{problem}")
        report["train_seconds"].append(time.perf_counter() - started)
        progress.set_phase(f"epoch {epoch + 1}/{epochs} accuracy")
        report["train_accuracy"].append(await trainer.evaluate(train_set, train_words))
        report["test_accuracy"].append(await trainer.evaluate(test_set, test_words))
        if early_stop and not stopped:
            if report["train_accuracy"][-1] > best:
                best, since_best = report["train_accuracy"][-1], 0
            else:
                since_best += 1
            if since_best >= early_stop:
                stopped = True
                report["stopped_epoch"] = epoch
        current = trainer.parameters(await trainer.read_words())
        report["delay_change"].append(delay_change(net, initial, current))
        report["epoch_seconds"].append(time.perf_counter() - started)
        progress.set_phase(f"epoch {epoch + 1}/{epochs} done")
    report["parameters"] = {k: v.tolist() for k, v in
                            trainer.parameters(await trainer.read_words()).items()}
    report["learn_count"] = await tb.read_ctrl("LEARN_COUNT")
    report["steps"] = trainer.steps
    report["learning_steps"] = trainer.learning_steps


def _write_report(path: str, report: dict) -> None:
    with open(path, "w") as handle:
        json.dump(report, handle)


@cocotb.test()
async def train_network(dut):
    """Train the network of ``DELAYCORE_TRAIN`` on the core and report what it learned."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    config = json.loads(os.environ["DELAYCORE_TRAIN"])
    report_path = os.environ.get("DELAYCORE_REPORT")
    report = {"variant": variant.name, "failures": [], "train_accuracy": [],
              "test_accuracy": [], "delay_change": [], "train_seconds": [],
              "epoch_seconds": []}
    started = time.perf_counter()
    tb = CoreTB(dut, variant.core_params(), log=dut._log)
    try:
        await tb.start()
        await train_on_core(tb, config, report)
    except RTLMismatch as err:
        report["failures"].append(f"learned parameters differ from the golden model at {err}")
    except Exception as err:  # noqa: BLE001 - reported to the parent, which prints it
        report["failures"].append(f"{type(err).__name__}: {err}".splitlines()[0])
        report["traceback"] = traceback.format_exc()
    finally:
        report["seconds"] = time.perf_counter() - started
        if report_path:
            _write_report(report_path, report)
    assert not report["failures"], "; ".join(report["failures"])
