"""cocotb module for ``bench/learning_cycles.py``: clock cycles of plain and learning steps.

Environment variables:

``DELAYCORE_VARIANT``
    JSON of the :class:`sim.variants.CoreVariant` (a core built with ``learning``).
``DELAYCORE_BENCH``
    JSON with ``networks``: a list of ``{"sizes": [n_in, n_hidden, n_out], "seed": int}``,
    ``steps`` (per measurement), ``density`` (input spike probability) and ``psi_width``
    (``None`` or the width of a Gaussian surrogate LUT, see :func:`bench_network`).
``DELAYCORE_REPORT``
    Path of the JSON report.

For each network (random weights and delays, every projection synaptic, the default
learning rule of :class:`golden.learning.LearningRule` with delay learning on) four runs of
``steps`` steps from a cleared core read ``CTRL.CYCLES`` after every step: without a rule
(``MODE = 0``), with the rule but ``learn`` low, learning, and learning with
``FLAGS.NO_ZERO_SKIP``. The spikes of the plain run and the learned parameters of both
learning runs are checked against the golden model, so the numbers come from a core that
computes the right thing. The share of post neurons the zero skip dropped is taken from the
golden model's post factors (recomputed here from its state).
"""

from __future__ import annotations

import dataclasses
import json
import os

import cocotb
import numpy as np

from rtl import memory_map as mm
from sim.learning_check import LearningProbe
from sim.tb import CoreTB, spikes_to_int
from sim.variants import CoreVariant


def bench_network(params, sizes, seed, psi_width=None):
    """The benchmark network: random, recurrent if the core is, synaptic delays, default
    learning rule with weights and delays learning (``psi_width``: a Gaussian surrogate LUT
    of that width instead of the default one)."""
    from golden.learning import LearningRule, gaussian_derivative_kernel, gaussian_psi_lut
    from golden.random import random_network

    n_in, n_hidden, n_out = sizes
    rng = np.random.default_rng(seed)
    net = random_network(
        rng, n_in=n_in, n_hidden=n_hidden, n_out=n_out, recurrent=params.recurrent,
        delay_in="synaptic", delay_rec="synaptic", delay_out="synaptic", d_max=params.d_max,
        weight_bits=params.weight_bits, weight_frac=params.weight_frac,
        delay_frac=params.delay_frac, decay_bits=params.decay_bits, v_bits=params.v_bits,
        y_bits=params.y_bits)
    half_width = min(3, params.kernel_max_half_width)
    rule = LearningRule(learn_weights=True, learn_delays=params.delay_learning,
                        trace_bits=params.trace_bits, u_bits=params.u_bits,
                        l_bits=params.l_bits, kernel=gaussian_derivative_kernel(half_width),
                        trace_shift=min(6, params.trace_bits - 1))
    if psi_width is not None:
        rule = dataclasses.replace(rule, psi_lut=gaussian_psi_lut(float(psi_width)))
    return dataclasses.replace(net, learning=rule)


def post_factor_counts(net, w_out, vpre, y, label) -> tuple[int, int]:
    """Nonzero post factors ``(hidden, readout)`` of a learning step (``docs/model.md`` 7.2).

    For the benchmark's rule (squared error, symmetric feedback): ``w_out`` before the step's
    update, ``vpre`` and ``y`` of the step.
    """
    rule = net.learning
    y_lo, y_hi = -(1 << (net.y_bits - 1)), (1 << (net.y_bits - 1)) - 1
    l_lo, l_hi = -(1 << (rule.l_bits - 1)), (1 << (rule.l_bits - 1)) - 1
    target = np.where(np.arange(net.n_out) == label, rule.target_amp, 0)
    error = np.clip(np.asarray(y, dtype=np.int64) - target, y_lo, y_hi)
    signal = np.clip((np.asarray(w_out, dtype=np.int64).T @ error) >> rule.l_shift, l_lo, l_hi)
    distance = np.abs(np.asarray(vpre, dtype=np.int64) - net.theta) >> rule.psi_shift
    psi = rule.psi_lut[np.minimum(distance, 255)]
    factor = (signal * psi) >> 8
    return int(np.count_nonzero(factor)), int(np.count_nonzero(error))


async def _run(tb, net, spikes, label, *, learn, check):
    """Run ``spikes`` from a cleared core; returns the cycles of every step, the post-list
    sizes of the learning steps and any differences from the golden model."""
    from golden.model import GoldenCore

    golden = GoldenCore(net)
    probe = LearningProbe(net, tb.params)
    await tb.clear()
    await tb.write_ctrl("LABEL", label)
    cycles, posts, failures = [], [], []
    for t, row in enumerate(spikes):
        w_out = golden.projections["out"].w[0].copy()
        expected = golden.step(row, labels=label, learn=learn)
        if learn:
            posts.append(post_factor_counts(net, w_out, expected.vpre, golden.y[0], label))
        out = await tb.run_step(spikes_to_int(row), learn=learn)
        cycles.append(await tb.read_ctrl("CYCLES"))
        z = np.array([(out >> i) & 1 for i in range(net.n_hidden)], dtype=bool)
        if check and not failures and not np.array_equal(z, expected.z):
            failures.append(f"hidden spikes differ from the golden model at step {t}")
    if check and learn:
        words = await tb.read_words(probe.parameter_addresses())
        problem = probe.check_parameters(golden, words)
        if problem is not None:
            failures.append(f"learned parameters differ from the golden model: {problem}")
    return cycles, posts, failures


@cocotb.test()
async def bench_learning(dut):
    """Cycles per step of plain and learning steps for each network of the settings."""
    variant = CoreVariant.from_json(os.environ["DELAYCORE_VARIANT"])
    settings = json.loads(os.environ["DELAYCORE_BENCH"])
    steps = int(settings["steps"])
    report = {"failures": [], "networks": []}
    tb = CoreTB(dut, variant.core_params(), log=dut._log)
    params = tb.params
    try:
        await tb.start()
        for entry in settings["networks"]:
            sizes, seed = tuple(entry["sizes"]), int(entry["seed"])
            net = bench_network(params, sizes, seed, settings.get("psi_width"))
            rng = np.random.default_rng([seed, 1])
            spikes = (rng.random((steps, net.n_in)) < float(settings["density"])).astype(
                np.uint8)
            label = int(rng.integers(0, net.n_out))
            result = {"sizes": list(sizes), "synapses": net.n_synapses, "seed": seed}
            runs = (("no_rule", False, False), ("traces", False, False),
                    ("learning", True, False), ("learning_no_skip", True, True))
            for name, learn, no_skip in runs:
                # Every run starts from the loaded parameters and a zero learning count.
                await tb.load(net)
                await tb.write_ctrl("LEARN_COUNT", 0)
                if name == "no_rule":
                    await tb.bus.write(
                        mm.address(mm.REGION_LEARN, mm.LEARN_REGISTERS["MODE"]), 0)
                if no_skip:
                    flags = await tb.read_ctrl("FLAGS")
                    await tb.write_ctrl("FLAGS", flags | mm.FLAG_NO_ZERO_SKIP)
                cycles, posts, failures = await _run(tb, net, spikes, label, learn=learn,
                                                     check=name != "no_rule")
                report["failures"].extend(f"{sizes} {name}: {f}" for f in failures)
                result[name] = cycles
                if name == "learning":
                    result["posts"] = posts
            report["networks"].append(result)
    finally:
        with open(os.environ["DELAYCORE_REPORT"], "w") as handle:
            json.dump(report, handle, indent=1)
    assert not report["failures"], "; ".join(report["failures"])
