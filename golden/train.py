"""Online training of delaycore networks on the golden model.

Training is what the chip does: samples one after the other, one time step at a time, with
the three-factor rule of ``docs/model.md`` section 7 updating weights and delays during the
steps where the sample's ``target_mask`` is set. Evaluation freezes the parameters and runs
all samples at once on the golden model's batch axis.

Command line::

    python -m golden.train --train TRAIN.npz --test TEST.npz --net NET.json --epochs N \\
        --learn weights|delays|weights,delays --json OUT.json \\
        [--seed S] [--exact | --float] [--out-net TRAINED.json] [--plot PNG] \\
        [--schedule-every N] [--early-stop N]

    python -m golden.train init --n-in N --n-hidden H --n-out K --out NET.json [options]

The first form trains and writes ``OUT.json``:

- ``train_accuracy``, ``test_accuracy``: lists, one entry per epoch (after it);
- ``initial`` and ``final``: ``{"train_accuracy": ..., "test_accuracy": ...}`` before
  training and after the last epoch;
- ``delay_change``: mean absolute change of the integer delays since the start, per epoch;
- ``config``: files, flags, sizes and formats of the network, the learning rule;
- ``seconds``: wall time;
- ``stopped_epoch`` (only with ``--early-stop``): the last epoch that learned, or null.

``--schedule-every N`` halves every learning rate each ``N`` epochs; ``--early-stop N``
stops learning after ``N`` epochs without a better training accuracy (see
:func:`train_learners`).

A sample's prediction is the readout with the largest ``y`` summed over the sample's
``target_mask`` steps. ``--learn`` overrides the network rule's ``learn_weights`` and
``learn_delays``. The second form writes an initial network (:func:`init_network`). Bad
flags or unusable input files print one line ``error: ...`` naming the flag or file and exit
with status 2.

Library
-------
:func:`init_network`
    A sensible untrained network with the tuned learning-rule defaults.
:func:`evaluate`
    Accuracy of a (frozen) network on a sample set.
:func:`train`
    Online training of one network; returns the trained network and its history.
:func:`train_learners`
    Several independent learners (different initial parameters, sample orders or learning
    modes) trained together on the batch axis of one :class:`~golden.model.GoldenCore`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .data import DataError, SampleSet, load_samples
from .learning import LearningRule, exp_lut, gaussian_derivative_kernel, gaussian_psi_lut
from .model import GoldenCore
from .network import OPTION_DEFAULTS, Network, NetworkError, load_network, save_network

__all__ = [
    "LEARN_MODES",
    "default_rule",
    "evaluate",
    "halved_rates",
    "init_network",
    "main",
    "parse_learn",
    "sample_order",
    "train",
    "train_learners",
    "with_learning",
]

#: Exit status for unusable flags or input files (argparse uses the same).
EXIT_INPUT_ERROR = 2

#: ``--learn`` values and the (learn_weights, learn_delays) flags they set.
LEARN_MODES = {
    "weights": (True, False),
    "delays": (False, True),
    "weights,delays": (True, True),
}


def parse_learn(text: str) -> tuple[bool, bool]:
    """``"weights"``, ``"delays"`` or ``"weights,delays"`` (any order) -> the two flags."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts or any(p not in ("weights", "delays") for p in parts) \
            or len(set(parts)) != len(parts):
        raise ValueError(f"must be one of {', '.join(LEARN_MODES)}, got {text!r}")
    return "weights" in parts, "delays" in parts


def learn_name(weights: bool, delays: bool) -> str:
    """Inverse of :func:`parse_learn`."""
    for name, flags in LEARN_MODES.items():
        if flags == (weights, delays):
            return name
    return "none"


# -- initial networks ---------------------------------------------------------------------


def default_rule(*, learn_weights: bool = True, learn_delays: bool = True,
                 **overrides) -> LearningRule:
    """The learning-rule constants tuned for networks made by :func:`init_network`.

    They assume the number formats of :func:`init_network` (8 weight fraction bits,
    threshold 256, readout target 128); ``overrides`` replace single fields. Measured with
    ``python -m bench.delays`` (timing task) and on the ``rates`` and ``cue`` tasks.
    """
    # Why these values:
    # - trace_decay = alpha of init_network: the trace is the membrane's view of a spike,
    #   and the readout rule uses it in place of kappa (kappa = alpha there too).
    # - psi_shift 2 (Gaussian sigma of 96 membrane units, threshold 256): narrow enough that
    #   delays move towards the times a neuron is close to firing, which is what aligns
    #   the spikes of a class; wider surrogates mostly drift every arrival into the window.
    # - softmax error: with the squared error the hidden layer fell silent on 8 classes.
    # - eta_in 12 against eta_out 11: slower input weights leave the aligning to the
    #   delays. Timing task, 3 seeds: weights+delays 79% (72% with eta_in 11),
    #   weights-only 54% (56% with eta_in 11).
    # - eta_delay 22: one step lower drives most delays to the top of the range within a
    #   few epochs; one step higher learns visibly slower.
    # - kernel W = 3, sigma = 1.5: the best of the float checks; a wider kernel sees
    #   arrivals further from the current step.
    # - stochastic rounding: most single updates are below one LSB of the fraction bits.
    fields = {
        "learn_weights": learn_weights,
        "learn_delays": learn_delays,
        "trace_bits": 8,
        "trace_shift": 6,
        "trace_decay": 205,
        "psi_lut": gaussian_psi_lut(width=24.0),
        "psi_shift": 2,
        "error": "softmax",
        "exp_lut": exp_lut(8.0),
        "softmax_shift": 2,
        "feedback": "symmetric",
        "l_shift": 8,
        "l_bits": 16,
        "target_amp": 128,
        "eta_in": 12,
        "eta_rec": 11,
        "eta_out": 11,
        "eta_delay": 22,
        "kernel": gaussian_derivative_kernel(half_width=3, sigma=1.5, peak=64),
        "kernel_shift": 6,
        "u_bits": 8,
        "rounding": "stochastic",
        "seed": 1,
    }
    fields.update(overrides)
    return LearningRule(**fields)


def init_network(n_in: int, n_hidden: int, n_out: int, rng: np.random.Generator, *,
                 recurrent: bool = False, delay_in: str = "synaptic", delay_rec: str = "none",
                 delay_out: str = "none", d_max: int = 32, weight_bits: int = 16,
                 weight_frac: int = 8, delay_frac: int = 6, theta: int = 256,
                 alpha: int = 205, kappa: int = 205, w_in_gain: float = 2.0,
                 w_in_mean: float = 0.5, w_rec_gain: float = 0.5, w_out_gain: float = 1.0,
                 w_out_assigned: float = 2.0, learn_weights: bool = True,
                 learn_delays: bool = True, rule: LearningRule | None = None,
                 synapse: str = "delta", beta: int = 154, adaptation: str = "none",
                 rho: int = 243, coupling: int = 32, rec_kernel: int = 0,
                 learn_neurons: bool | None = None) -> Network:
    """A sensible untrained network: random weights with fraction bits, spread-out delays.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Population sizes (``n_out`` = number of classes).
    rng : numpy.random.Generator
        Source of the random weights and delays.
    recurrent : bool
        Build the recurrent projection.
    delay_in, delay_rec, delay_out : {"none", "synaptic", "axonal"}
        Delay kind of each projection.
    d_max, weight_bits, weight_frac, delay_frac : int
        Number formats (``docs/model.md`` section 2). Fraction bits let small online updates
        accumulate; 8 weight and 6 delay fraction bits are the proposed synapse word.
    theta, alpha, kappa : int
        Threshold and leak factors (``decay_bits`` = 8) shared by all neurons.
    w_in_gain, w_in_mean, w_rec_gain, w_out_gain : float
        Effective weights are normal. Input weights have standard deviation
        ``w_in_gain * theta / sqrt(n_in)`` and mean ``w_in_mean`` standard deviations (a
        positive mean makes hidden neurons fire from the start, so learning signals reach
        them); recurrent weights ``w_rec_gain * theta / sqrt(n_hidden)``, mean 0; readout
        weights ``w_out_gain * 128 / sqrt(n_hidden)``, mean 0 (128 = the readout target).
    w_out_assigned : float
        If nonzero, hidden neuron ``i`` gets an extra readout weight of
        ``+w_out_assigned`` standard deviations to class ``i mod n_out`` and
        ``-w_out_assigned / (n_out - 1)`` to the others.
    learn_weights, learn_delays : bool
        Learning flags of the rule.
    rule : LearningRule, optional
        The rule; default :func:`default_rule`.
    synapse, adaptation, rec_kernel : optional
        Neuron and connectivity options (``docs/model.md`` sections 8-10); the defaults are
        the plain LIF network with dense recurrent weights. With ``synapse = "current"`` the
        input weights are scaled by ``1 - beta / 2**8``, so that the synaptic current's
        stationary gain leaves the initial drive unchanged.
    beta, rho, coupling : int
        Initial synaptic-current decay, adaptation decay and threshold increase per spike,
        the same for all neurons.
    learn_neurons : bool, optional
        Learn the neuron parameters (default: whenever the network has some).

    Returns
    -------
    Network
    """
    unit = 1 << weight_frac
    w_hi = (1 << (weight_bits - 1)) - 1

    def weights(shape, std, mean=0.0):
        w = rng.normal(mean * std, std, size=shape) * unit
        return np.clip(np.round(w), -w_hi - 1, w_hi).astype(np.int64)

    def delays(kind, post, pre):
        if kind == "none":
            return None
        shape = (post, pre) if kind == "synaptic" else (pre,)
        # Spread over the whole range: the delay kernel only sees spikes within W steps of
        # the current arrival time, so delays all starting at 0 would barely move.
        return rng.integers(0, d_max << delay_frac, size=shape)

    std_in = w_in_gain * theta / np.sqrt(n_in)
    if synapse == "current":
        std_in *= 1.0 - beta / 256.0
    # Fan-in of a recurrent neuron: all hidden neurons, or the kernel's taps.
    std_rec = w_rec_gain * theta / np.sqrt(rec_kernel or n_hidden)
    std_out = w_out_gain * 128 / np.sqrt(n_hidden)
    w_out = weights((n_out, n_hidden), std_out)
    if w_out_assigned:
        # Hidden neuron i starts as a detector for class i mod n_out: one positive readout
        # weight per hidden neuron, so the learning signals of different classes do not all
        # pull on the same neurons.
        owner = np.arange(n_hidden) % n_out
        bonus = np.where(np.arange(n_out)[:, None] == owner[None, :], 1.0, -1.0 / max(1, n_out - 1))
        w_out = np.clip(w_out + np.round(bonus * w_out_assigned * std_out * unit),
                        -w_hi - 1, w_hi).astype(np.int64)
    if rule is None:
        rule = default_rule(learn_weights=learn_weights, learn_delays=learn_delays)
    else:
        rule = dataclasses.replace(rule, learn_weights=learn_weights, learn_delays=learn_delays)
    has_neurons = synapse != "delta" or adaptation != "none"
    if learn_neurons is None:
        learn_neurons = has_neurons
    if learn_neurons != rule.learn_neurons:
        rule = dataclasses.replace(rule, learn_neurons=learn_neurons)
    options = {}
    if synapse != "delta":
        options.update(synapse=synapse, beta=np.full(n_hidden, beta))
    if adaptation != "none":
        options.update(adaptation=adaptation, rho=np.full(n_hidden, rho),
                       coupling=np.full(n_hidden, coupling))
    if rec_kernel:
        options["rec_kernel"] = rec_kernel
    return Network(**options,
        n_in=n_in, n_hidden=n_hidden, n_out=n_out,
        w_in=weights((n_hidden, n_in), std_in, w_in_mean),
        w_rec=(weights((rec_kernel,) if rec_kernel else (n_hidden, n_hidden), std_rec)
               if recurrent else None),
        w_out=w_out,
        alpha=np.full(n_hidden, alpha), theta=np.full(n_hidden, theta),
        kappa=np.full(n_out, kappa), recurrent=recurrent,
        delay_in=delay_in, delay_rec=delay_rec if recurrent else "none", delay_out=delay_out,
        d_in=delays(delay_in, n_hidden, n_in),
        d_rec=delays(delay_rec, n_hidden, n_hidden) if recurrent else None,
        d_out=delays(delay_out, n_out, n_hidden),
        d_max=d_max, weight_bits=weight_bits, weight_frac=weight_frac, delay_frac=delay_frac,
        learning=rule,
    )


def with_learning(net: Network, weights: bool, delays: bool) -> Network:
    """A copy of ``net`` whose rule learns the given parameter groups.

    A network without a rule gets :func:`default_rule`.
    """
    data = net.to_dict()
    rule = dict(data.get("learning") or default_rule().to_dict())
    rule["learn_weights"], rule["learn_delays"] = bool(weights), bool(delays)
    data["learning"] = rule
    return Network.from_dict(data)


def has_learnable_delays(net: Network) -> bool:
    """Whether any projection of ``net`` stores delays."""
    return any(net.delay_kind(p) != "none" for p in net.projections())


# -- evaluation ---------------------------------------------------------------------------


def _params_of(net: Network) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    return {p: (net.weights(p), getattr(net, f"d_{p}")) for p in net.projections()}


def _evaluate_params(net: Network, params: dict, samples: SampleSet, *, exact: bool,
                     batch_size: int, neurons: dict | None = None) -> np.ndarray:
    """Predicted class of every sample with the given per-projection ``(w, d)`` arrays
    (and per-neuron parameters ``neurons``, default those of ``net``)."""
    predicted = np.zeros(samples.n_samples, dtype=np.int64)
    for start in range(0, samples.n_samples, batch_size):
        stop = min(start + batch_size, samples.n_samples)
        core = GoldenCore(net, batch=stop - start, exact=exact)
        for name, (w, d) in params.items():
            proj = core.projections[name]
            proj.w[...] = w
            if proj.d is not None:
                proj.d[...] = d
        for name, values in (neurons or {}).items():
            core.neurons[name][...] = values
        mask = samples.target_mask[start:stop]
        score = np.zeros((stop - start, net.n_out))
        for t in range(samples.n_steps):
            y = core.step(samples.spikes[start:stop, t]).y
            score += y * mask[:, t, None]
        predicted[start:stop] = np.argmax(score, axis=1)
    return predicted


def evaluate(net: Network, samples: SampleSet, *, exact: bool = True,
             batch_size: int = 512) -> dict[str, Any]:
    """Accuracy of ``net`` on ``samples`` with frozen parameters.

    The prediction of a sample is the readout with the largest ``y`` summed over the
    sample's ``target_mask`` steps (:func:`golden.run.predict`). All samples run together on
    the batch axis (``batch_size`` at a time), every copy with the same parameters.

    Returns
    -------
    dict
        ``accuracy`` (float) and ``predicted`` (int array, one class per sample).
    """
    predicted = _evaluate_params(net, _params_of(net), samples, exact=exact,
                                 batch_size=batch_size)
    return {"accuracy": float(np.mean(predicted == samples.labels)), "predicted": predicted}


# -- training -----------------------------------------------------------------------------


def _structure(net: Network) -> dict:
    """Everything of a network except its learnable values and learning flags."""
    data = net.to_dict()
    for proj in ("in", "rec", "out"):
        data.pop(f"w_{proj}", None)
        data.pop(f"d_{proj}", None)
    for name in net.neuron_parameters():
        data.pop(name)
    rule = dict(data.pop("learning", {}) or {})
    rule.pop("learn_weights", None)
    rule.pop("learn_delays", None)
    data["learning"] = rule
    return data


def sample_order(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """The order in which one epoch visits the training samples.

    A learner draws it from ``numpy.random.default_rng(seed)`` once per epoch; other
    trainers (``python -m sim.train``) call this to visit the samples in the same order.
    """
    return rng.permutation(n_samples)


def train_learners(nets: Sequence[Network], train_set: SampleSet,
                   test_set: SampleSet | None = None, epochs: int = 1, *,
                   seeds: Sequence[int] | None = None, exact: bool = True,
                   progress: bool | None = None, eval_batch: int = 512,
                   desc: str = "train", schedule_every: int = 0,
                   early_stop: int = 0) -> tuple[list[Network], list[dict]]:
    """Train several independent learners together, one per batch element of a core.

    Every learner sees every training sample once per epoch, in its own random order,
    online: one sample after the other from zero state, parameters updated during the
    sample's ``target_mask`` steps. The learners only share the simulation loop, so each
    gets exactly the result it would get alone.

    Parameters
    ----------
    nets : sequence of Network
        Initial networks. They must have the same structure and learning rule; they may
        differ in their weights, delays and in which groups learn (``learn_weights``,
        ``learn_delays``), e.g. several seeds and modes at once.
    train_set, test_set : SampleSet
        Training samples and (optional) test samples, evaluated after every epoch.
    epochs : int
        Passes over the training set.
    seeds : sequence of int, optional
        Seed of each learner's sample order (default ``0, 1, ...``).
    exact : bool
        Integer (bit-exact) or float golden model.
    progress : bool or None
        Progress bar on stderr: always, never, or only on a terminal (None).
    eval_batch : int
        Samples evaluated together.
    schedule_every : int
        Scheduled update: if positive, every ``schedule_every`` epochs all learning rates
        halve (every ``eta_*`` shift grows by one, up to its maximum). 0: fixed rates.
    early_stop : int
        If positive, a learner whose training accuracy has not improved for ``early_stop``
        epochs stops learning (its parameters stay as they are for the remaining epochs,
        which still evaluate it). 0: no early stop.

    Returns
    -------
    nets : list of Network
        Trained networks (float-mode values rounded to the integer grid).
    histories : list of dict
        Per learner: ``train_accuracy`` and ``test_accuracy`` lists (one entry per epoch;
        ``initial_*`` before training), ``delay_change`` (mean absolute change of the
        integer delays since the start, per epoch) and ``seconds``; with ``early_stop``,
        also ``stopped_epoch`` (the last epoch that learned, or None).
    """
    nets = list(nets)
    if not nets:
        raise ValueError("need at least one network")
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    for name, value in (("schedule_every", schedule_every), ("early_stop", early_stop)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    base = nets[0]
    if base.learning is None:
        raise ValueError("the network has no 'learning' rule")
    for index, other in enumerate(nets[1:], start=1):
        if _structure(other) != _structure(base):
            raise ValueError(f"network {index} differs from network 0 in more than its "
                             f"weights, delays and learning flags")
    train_set.check_network(n_in=base.n_in, n_classes=base.n_out)
    if test_set is not None:
        test_set.check_network(n_in=base.n_in, n_classes=base.n_out)
    n_learners = len(nets)
    seeds = list(range(n_learners)) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != n_learners:
        raise ValueError(f"got {len(seeds)} seeds for {n_learners} networks")
    learn_w = np.array([n.learning.learn_weights for n in nets])
    learn_d = np.array([n.learning.learn_delays for n in nets])

    # One core learns every group any learner learns; groups a learner does not learn are
    # put back after each step. Updates read only old values (docs/model.md 7), so this is
    # exactly the learner's own rule.
    core_net = with_learning(base, bool(learn_w.any()), bool(learn_d.any()))
    core = GoldenCore(core_net, batch=n_learners, exact=exact)
    for b, net in enumerate(nets):
        for name, (w, d) in _params_of(net).items():
            core.projections[name].w[b] = w
            if d is not None:
                core.projections[name].d[b] = d
        for name in net.neuron_parameters():
            core.neurons[name][b] = getattr(net, name)
    frozen_w = ~learn_w
    frozen_d = ~learn_d
    # Neuron parameters learn for every learner or none (learn_neurons is part of the
    # structure); early stop freezes them per learner.
    frozen_n = np.zeros(n_learners, dtype=bool)
    initial = {name: (p.w.copy(), None if p.d is None else p.d.copy())
               for name, p in core.projections.items()}
    rngs = [np.random.default_rng(s) for s in seeds]

    def learner_params(b):
        return {name: (p.w[b], None if p.d is None else p.d[b])
                for name, p in core.projections.items()}

    def accuracy(b, samples):
        if samples is None:
            return None
        predicted = _evaluate_params(base, learner_params(b), samples, exact=exact,
                                     batch_size=eval_batch,
                                     neurons={k: v[b] for k, v in core.neurons.items()})
        return float(np.mean(predicted == samples.labels))

    def delay_change(b):
        changes = [np.abs(np.floor_divide(p.d[b], 1 << base.delay_frac)
                          - np.floor_divide(initial[name][1][b], 1 << base.delay_frac)).mean()
                   for name, p in core.projections.items() if p.d is not None]
        return float(np.mean(changes)) if changes else 0.0

    histories = [{
        "seed": seeds[b],
        "learn": learn_name(bool(learn_w[b]), bool(learn_d[b])),
        "initial_train_accuracy": accuracy(b, train_set),
        "initial_test_accuracy": accuracy(b, test_set),
        "train_accuracy": [], "test_accuracy": [], "delay_change": [], "seconds": [],
    } for b in range(n_learners)]

    n, steps = train_set.n_samples, train_set.n_steps
    learner_index = np.arange(n_learners)
    bar = tqdm(total=epochs * n, desc=desc, unit="sample", file=sys.stderr,
               disable=None if progress is None else not progress)
    if early_stop:
        for history in histories:
            history["stopped_epoch"] = None
    best = [histories[b]["initial_train_accuracy"] for b in learner_index]
    since_best = np.zeros(n_learners, dtype=np.int64)
    for epoch in range(epochs):
        if schedule_every and epoch and epoch % schedule_every == 0:
            core.rule = halved_rates(core.rule)
        start_time = time.perf_counter()
        orders = np.stack([sample_order(rng, n) for rng in rngs])  # [learner, position]
        for position in range(n):
            sample = orders[:, position]
            spikes = train_set.spikes[sample]  # [learner, T, n_in]
            labels = train_set.labels[sample]
            mask = train_set.target_mask[sample]
            core.reset()
            for t in range(steps):
                if frozen_w.any() or frozen_d.any() or frozen_n.any():
                    before = {name: (p.w[frozen_w].copy(),
                                     None if p.d is None else p.d[frozen_d].copy())
                              for name, p in core.projections.items()}
                    before_n = {k: v[frozen_n].copy() for k, v in core.neurons.items()}
                core.step(spikes[:, t], labels=labels, learn=mask[:, t])
                if frozen_w.any() or frozen_d.any() or frozen_n.any():
                    for name, p in core.projections.items():
                        p.w[frozen_w] = before[name][0]
                        if p.d is not None:
                            p.d[frozen_d] = before[name][1]
                    for k, v in core.neurons.items():
                        v[frozen_n] = before_n[k]
            bar.update(1)
        seconds = time.perf_counter() - start_time
        for b in learner_index:
            history = histories[b]
            history["train_accuracy"].append(accuracy(b, train_set))
            if test_set is not None:
                history["test_accuracy"].append(accuracy(b, test_set))
            history["delay_change"].append(delay_change(b))
            history["seconds"].append(seconds)
            if early_stop and not frozen_n[b]:
                if history["train_accuracy"][-1] > best[b]:
                    best[b], since_best[b] = history["train_accuracy"][-1], 0
                else:
                    since_best[b] += 1
                if since_best[b] >= early_stop:  # stop: nothing of this learner moves
                    frozen_w[b] = frozen_d[b] = frozen_n[b] = True
                    history["stopped_epoch"] = epoch
        if test_set is not None:
            bar.set_postfix(test=" ".join(f"{h['test_accuracy'][-1]:.2f}" for h in histories))
    bar.close()

    trained = []
    for b, net in enumerate(nets):
        exported = core.export_network(b)
        trained.append(with_learning(exported, bool(learn_w[b]), bool(learn_d[b])))
    for history in histories:
        history["final_train_accuracy"] = (history["train_accuracy"][-1]
                                           if history["train_accuracy"]
                                           else history["initial_train_accuracy"])
        history["final_test_accuracy"] = (history["test_accuracy"][-1]
                                          if history["test_accuracy"]
                                          else history["initial_test_accuracy"])
    return trained, histories


def halved_rates(rule: LearningRule) -> LearningRule:
    """``rule`` with every learning rate halved (shift + 1, up to the field's maximum)."""
    limits = {"eta_in": 31, "eta_rec": 31, "eta_out": 31, "eta_delay": 31, "eta_beta": 47,
              "eta_coupling": 47, "eta_rho": 47}
    return dataclasses.replace(rule, **{name: min(getattr(rule, name) + 1, top)
                                        for name, top in limits.items()})


def train(net: Network, train_set: SampleSet, test_set: SampleSet | None = None,
          epochs: int = 1, *, learn: str | None = None, seed: int = 0, exact: bool = True,
          progress: bool | None = None, eval_batch: int = 512, schedule_every: int = 0,
          early_stop: int = 0) -> tuple[Network, dict]:
    """Train one network online; see :func:`train_learners`.

    Parameters
    ----------
    learn : str, optional
        ``"weights"``, ``"delays"`` or ``"weights,delays"``: overrides the network rule's
        ``learn_weights``/``learn_delays``.
    seed : int
        Seed of the sample order.
    schedule_every, early_stop : int
        Scheduled learning-rate halving and early stop, see :func:`train_learners`.

    Returns
    -------
    trained : Network
    history : dict
    """
    if learn is not None:
        net = with_learning(net, *parse_learn(learn))
    nets, histories = train_learners([net], train_set, test_set, epochs, seeds=[seed],
                                     exact=exact, progress=progress, eval_batch=eval_batch,
                                     schedule_every=schedule_every, early_stop=early_stop)
    return nets[0], histories[0]


# -- plots --------------------------------------------------------------------------------


def plot_training(path: str | Path, histories: Sequence[dict], labels: Sequence[str],
                  delays: dict[str, np.ndarray] | None = None, *, d_max: int | None = None,
                  title: str = "") -> None:
    """Write a PNG with accuracy curves and, if given, histograms of integer delays.

    Parameters
    ----------
    path : str or Path
        Output ``.png`` file.
    histories : sequence of dict
        Histories from :func:`train_learners`; epoch 0 is the initial accuracy.
    labels : sequence of str
        Legend label of each history (equal labels share a colour).
    delays : dict of str to array, optional
        Integer delays to histogram, by legend label (e.g. initial and learned).
    d_max : int, optional
        Delay range of the histograms.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    panels = 2 if delays else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    colours = {}
    for history, label in zip(histories, labels):
        first = label not in colours  # one legend entry per label
        colour = colours.setdefault(label, f"C{len(colours)}")
        test = [history["initial_test_accuracy"]] + list(history["test_accuracy"])
        if test[0] is None:
            test = [history["initial_train_accuracy"]] + list(history["train_accuracy"])
        ax.plot(range(len(test)), test, color=colour, alpha=0.8,
                label=label if first else None)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    if delays:
        ax = axes[0, 1]
        top = d_max if d_max is not None else max(int(np.max(d)) + 1 for d in delays.values())
        bins = np.arange(top + 1) - 0.5
        for label, values in delays.items():
            ax.hist(np.ravel(values), bins=bins, histtype="step", linewidth=1.5, label=label,
                    density=True)
        ax.set_xlabel("integer delay (steps)")
        ax.set_ylabel("fraction of synapses")
        ax.legend()
        ax.set_title("delay distribution")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- command line -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line ``error: ...`` and exit status 2."""

    def error(self, message):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_INPUT_ERROR


def _train_parser() -> _Parser:
    parser = _Parser(
        prog="python -m golden.train",
        description="Train a delaycore network online on the golden model "
                    "(`python -m golden.train init --help` makes an initial network).")
    parser.add_argument("--train", required=True, type=Path, help="training samples (.npz)")
    parser.add_argument("--test", required=True, type=Path, help="test samples (.npz)")
    parser.add_argument("--net", required=True, type=Path,
                        help="initial network (.json or .toml) with a 'learning' rule")
    parser.add_argument("--epochs", required=True, type=str, help="passes over --train (>= 1)")
    parser.add_argument("--learn", type=str, default=None,
                        help="weights, delays or weights,delays (default: the network's "
                             "learning flags)")
    parser.add_argument("--json", required=True, type=Path, help="output summary (.json)")
    parser.add_argument("--seed", type=str, default="0",
                        help="seed of the sample order (integer >= 0, default 0)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--exact", dest="exact", action="store_true", default=True,
                      help="integer, bit-exact golden model (default)")
    mode.add_argument("--float", dest="exact", action="store_false",
                      help="the same rules in float64 (learned values rounded on export)")
    parser.add_argument("--out-net", type=Path, default=None,
                        help="write the trained network here (.json)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="write accuracy curves and delay histograms here (.png)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only on a terminal)")
    parser.add_argument("--schedule-every", type=str, default="0",
                        help="halve every learning rate each N epochs (default 0: fixed)")
    parser.add_argument("--early-stop", type=str, default="0",
                        help="stop learning after N epochs without a better training "
                             "accuracy (default 0: never)")
    return parser


def _init_parser() -> _Parser:
    parser = _Parser(prog="python -m golden.train init",
                     description="Write an initial network with the tuned learning rule.")
    parser.add_argument("--out", required=True, type=Path, help="output network (.json)")
    parser.add_argument("--data", type=Path, default=None,
                        help="sample set (.npz) to take --n-in and --n-out from")
    parser.add_argument("--n-in", type=str, default=None, help="inputs")
    parser.add_argument("--n-hidden", type=str, default="8", help="hidden neurons (default 8)")
    parser.add_argument("--n-out", type=str, default=None, help="readouts (= classes)")
    parser.add_argument("--seed", type=str, default="0", help="seed of the random parameters")
    parser.add_argument("--recurrent", action="store_true", help="add the recurrent projection")
    for proj, default in (("in", "synaptic"), ("rec", "none"), ("out", "none")):
        parser.add_argument(f"--delay-{proj}", default=default,
                            help=f"delay kind of the '{proj}' projection: none, synaptic or "
                                 f"axonal (default {default})")
    parser.add_argument("--d-max", type=str, default="32", help="delay range (default 32)")
    parser.add_argument("--learn", type=str, default="weights,delays",
                        help="weights, delays or weights,delays (default weights,delays)")
    parser.add_argument("--synapse", default="delta",
                        help="hidden input: delta or current (decaying synaptic current with "
                             "a learned decay; default delta)")
    parser.add_argument("--adaptation", default="none",
                        help="none or threshold (adaptive threshold with learned coupling "
                             "and decay; default none)")
    parser.add_argument("--rec-kernel", type=str, default="0",
                        help="0: dense recurrent weights; K (odd): a shared kernel of K taps "
                             "(default 0)")
    return parser


def _int_flag(flag: str, text: str, lo: int, hi: int | None = None) -> int:
    """Parse an integer flag value, with a one-line message naming the flag."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise _UsageError(f"{flag} must be an integer, got {text!r}") from None
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise _UsageError(f"{flag} must be {allowed}, got {value}")
    return value


def _check_suffix(flag: str, path: Path | None, suffix: str) -> None:
    if path is not None and path.suffix.lower() != suffix:
        raise _UsageError(f"{flag} must name a {suffix} file, got {str(path)!r}")


def _main_init(argv: list[str]) -> int:
    parser = _init_parser()
    try:
        args = parser.parse_args(argv)
        _check_suffix("--out", args.out, ".json")
        n_in = n_out = None
        if args.data is not None:
            try:
                samples = load_samples(args.data)
            except DataError as err:
                return _fail(str(err))
            n_in, n_out = samples.n_in, int(samples.labels.max()) + 1
        n_in = _int_flag("--n-in", args.n_in, 1, 4096) if args.n_in is not None else n_in
        n_out = _int_flag("--n-out", args.n_out, 1, 4096) if args.n_out is not None else n_out
        if n_in is None or n_out is None:
            missing = "--n-in" if n_in is None else "--n-out"
            raise _UsageError(f"{missing} is required (or --data to take it from a sample set)")
        n_hidden = _int_flag("--n-hidden", args.n_hidden, 1, 4096)
        seed = _int_flag("--seed", args.seed, 0)
        d_max = _int_flag("--d-max", args.d_max, 7, 64)
        for proj in ("in", "rec", "out"):
            kind = getattr(args, f"delay_{proj}")
            if kind not in ("none", "synaptic", "axonal"):
                raise _UsageError(f"--delay-{proj} must be none, synaptic or axonal, "
                                  f"got {kind!r}")
        if args.delay_rec != "none" and not args.recurrent:
            raise _UsageError("--delay-rec needs --recurrent")
        if args.synapse not in ("delta", "current"):
            raise _UsageError(f"--synapse must be delta or current, got {args.synapse!r}")
        if args.adaptation not in ("none", "threshold"):
            raise _UsageError(f"--adaptation must be none or threshold, "
                              f"got {args.adaptation!r}")
        rec_kernel = _int_flag("--rec-kernel", args.rec_kernel, 0)
        if rec_kernel and not args.recurrent:
            raise _UsageError("--rec-kernel needs --recurrent")
        try:
            learn_w, learn_d = parse_learn(args.learn)
        except ValueError as err:
            raise _UsageError(f"--learn {err}") from None
    except _UsageError as err:
        return _fail(str(err))
    try:
        net = init_network(n_in, n_hidden, n_out, np.random.default_rng(seed),
                           recurrent=args.recurrent, delay_in=args.delay_in,
                           delay_rec=args.delay_rec, delay_out=args.delay_out, d_max=d_max,
                           learn_weights=learn_w, learn_delays=learn_d,
                           synapse=args.synapse, adaptation=args.adaptation,
                           rec_kernel=rec_kernel)
    except NetworkError as err:
        return _fail(str(err))
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_network(net, args.out)
    except OSError as err:
        return _fail(f"{args.out}: cannot write network ({err.strerror or err})")
    print(json.dumps({"out": str(args.out), "n_in": n_in, "n_hidden": n_hidden,
                      "n_out": n_out, "synapses": net.n_synapses}))
    return 0


def _network_summary(net: Network) -> dict:
    keys = ("n_in", "n_hidden", "n_out", "recurrent", "delay_in", "delay_rec", "delay_out",
            "reset", "d_max", "weight_bits", "weight_frac", "delay_frac", "decay_bits",
            "v_bits", "y_bits")
    summary = {key: getattr(net, key) for key in keys}
    # Options only when used, so that summaries of plain networks stay as they were.
    summary.update({name: getattr(net, name) for name, off in OPTION_DEFAULTS.items()
                    if getattr(net, name) != off})
    return summary


def load_training_inputs(args, learn: tuple[bool, bool] | None
                         ) -> tuple[Network, SampleSet, SampleSet, tuple[bool, bool]]:
    """Read ``--net``, ``--train`` and ``--test`` of a training command and apply ``--learn``.

    ``learn`` is the parsed ``--learn`` (``None``: what the network's rule says, or weights
    and, if the network has any, delays). Returns the network with that learning switched
    on, the two sample sets and the settled ``(weights, delays)``. Raises
    ``NetworkError``/``DataError`` for unreadable files and ``_UsageError`` for flags that do
    not fit the files. Shared by ``golden.train`` and ``sim.train``, so both read their
    inputs the same way.
    """
    net = load_network(args.net)
    train_set = load_samples(args.train, n_in=net.n_in, n_classes=net.n_out)
    test_set = load_samples(args.test, n_in=net.n_in, n_classes=net.n_out)
    if learn is None:
        learn = ((net.learning.learn_weights, net.learning.learn_delays)
                 if net.learning is not None else (True, has_learnable_delays(net)))
    if learn[1] and not has_learnable_delays(net):
        raise _UsageError(f"--learn {learn_name(*learn)}: {args.net} has no delays to learn "
                          f"(delay_in, delay_rec and delay_out are all 'none')")
    if train_set.n_steps != test_set.n_steps:
        # Not needed by the model, but a mismatch almost always means mixed-up files.
        raise _UsageError(f"--test has {test_set.n_steps} steps per sample but --train has "
                          f"{train_set.n_steps}")
    return with_learning(net, *learn), train_set, test_set, learn


def write_training_outputs(args, result: dict, net: Network, trained: Network,
                           history: dict, label: str) -> None:
    """Write the outputs of a training command: ``--json`` (``result``), ``--out-net``
    (``trained``) and ``--plot`` (the accuracy curves of ``history`` under ``label``, and the
    integer delays of ``net`` and ``trained`` when the network has delays).

    Missing parent folders are made. Raises ``OSError`` when a file cannot be written.
    Shared by ``golden.train`` and ``sim.train``, so both write the same files.
    """
    for path in (args.json, args.out_net, args.plot):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.out_net is not None:
        save_network(trained, args.out_net)
    if args.plot is not None:
        delays = None
        if has_learnable_delays(net):
            delays = {key: np.concatenate([n.integer_delays(p).ravel()
                                           for p in n.projections()
                                           if n.delay_kind(p) != "none"])
                      for key, n in (("initial", net), ("learned", trained))}
        plot_training(args.plot, [history], [label], delays, d_max=net.d_max,
                      title=args.train.name)


def _main_train(argv: list[str]) -> int:
    parser = _train_parser()
    try:
        args = parser.parse_args(argv)
        epochs = _int_flag("--epochs", args.epochs, 1)
        seed = _int_flag("--seed", args.seed, 0)
        schedule_every = _int_flag("--schedule-every", args.schedule_every, 0)
        early_stop = _int_flag("--early-stop", args.early_stop, 0)
        learn = None
        if args.learn is not None:
            try:
                learn = parse_learn(args.learn)
            except ValueError as err:
                raise _UsageError(f"--learn {err}") from None
        _check_suffix("--json", args.json, ".json")
        _check_suffix("--out-net", args.out_net, ".json")
        _check_suffix("--plot", args.plot, ".png")
        if args.plot is not None:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                raise _UsageError("--plot needs matplotlib (pip install matplotlib)") from None
    except _UsageError as err:
        return _fail(str(err))

    try:
        net, train_set, test_set, learn = load_training_inputs(args, learn)
    except (NetworkError, DataError, _UsageError) as err:
        return _fail(str(err))

    started = time.perf_counter()
    try:
        trained, history = train(net, train_set, test_set, epochs, seed=seed,
                                 exact=args.exact, progress=args.progress,
                                 schedule_every=schedule_every, early_stop=early_stop)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - started

    result = {
        "config": {
            "train": str(args.train), "test": str(args.test), "net": str(args.net),
            "epochs": epochs, "learn": learn_name(*learn), "seed": seed,
            "mode": "exact" if args.exact else "float",
            "train_samples": train_set.n_samples, "test_samples": test_set.n_samples,
            "steps": train_set.n_steps, "network": _network_summary(net),
            "learning": net.learning.to_dict(),
        },
        "train_accuracy": history["train_accuracy"],
        "test_accuracy": history["test_accuracy"],
        "initial": {"train_accuracy": history["initial_train_accuracy"],
                    "test_accuracy": history["initial_test_accuracy"]},
        "final": {"train_accuracy": history["final_train_accuracy"],
                  "test_accuracy": history["final_test_accuracy"]},
        "delay_change": history["delay_change"],
        "seconds": seconds,
    }
    # Only when used, so that the output of a plain run stays as it was.
    if schedule_every:
        result["config"]["schedule_every"] = schedule_every
    if early_stop:
        result["config"]["early_stop"] = early_stop
        result["stopped_epoch"] = history["stopped_epoch"]
    try:
        write_training_outputs(args, result, net, trained, history, learn_name(*learn))
    except OSError as err:
        return _fail(f"cannot write output ({err.strerror or err}: "
                     f"{getattr(err, 'filename', '')})")
    print(json.dumps({"json": str(args.json), "learn": learn_name(*learn),
                      "train_accuracy": history["final_train_accuracy"],
                      "test_accuracy": history["final_test_accuracy"],
                      "seconds": round(seconds, 1)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "init":
        return _main_init(argv[1:])
    return _main_train(argv)


if __name__ == "__main__":
    sys.exit(main())
