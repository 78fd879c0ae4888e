"""What a learning core should hold after a step, from :class:`golden.model.GoldenCore`.

Pure Python (no simulator): the cocotb testbench (:mod:`sim.tb`) and the Amaranth-simulator
tests use the same reads and the same comparison. A :class:`LearningProbe` lists the bus
addresses to read after a step (every synapse word, every axonal delay in use, the neuron
parameters of the network's options, and trace-ring slots) and compares the words read with the golden model, naming the first difference
(``w_rec[2, 0]``, ``d_axon_out[1]``, ``beta[4]``, ``x_hidden[3] t=17``, ...).
"""

from __future__ import annotations

import dataclasses

from rtl import memory_map as mm

__all__ = ["LearningProbe", "ProbeMismatch"]


@dataclasses.dataclass
class ProbeMismatch:
    """The first difference between the core and the golden model."""

    field: str      #: e.g. ``"w_in"``, ``"d_rec"``, ``"d_axon_out"``, ``"x_hidden"``
    index: tuple    #: index in the field (``(post, pre)``, ``(pre,)`` or ``(source, time)``)
    rtl: int
    golden: int
    others: int     #: further differing values in the same comparison

    def __str__(self) -> str:
        index = ", ".join(str(i) for i in self.index)
        more = f" ({self.others} more values differ)" if self.others else ""
        return f"{self.field}[{index}] rtl={self.rtl} golden={self.golden}{more}"


class LearningProbe:
    """Bus reads and checks of the learned parameters and the traces of one network.

    Parameters
    ----------
    net : golden.network.Network
        The loaded network (sizes, kinds, formats).
    params : rtl.params.CoreParams
        The core (capacity, trace ring size).
    trace_depth : int or None
        Trace slots compared per source: the newest ``trace_depth`` steps (``x[t]`` and
        ``u[t - W]`` down), or every live slot of the golden ring with ``None``.
    """

    def __init__(self, net, params, trace_depth: int | None = 1):
        self.net = net
        self.params = params
        self.trace_depth = trace_depth
        self.projections = ["in", "rec", "out"] if net.recurrent else ["in", "out"]
        self.synapses = []   # (address, proj, post, pre); a kernel tap k: (address, proj, k, None)
        kernel = int(getattr(net, "rec_kernel", 0))
        for proj in self.projections:
            if proj == "rec" and kernel:
                self.synapses.extend((mm.address(mm.REGION_SYN, mm.kernel_offset(net, k, params)),
                                      proj, k, None) for k in range(kernel))
                continue
            post_count, pre_count = net.projection_shape(proj)
            for post in range(post_count):
                for pre in range(pre_count):
                    offset = mm.synapse_offset(net, proj, post, pre)
                    self.synapses.append((mm.address(mm.REGION_SYN, offset), proj, post, pre))
        # The core taps around a shorter network kernel must stay 0: (address, core tap).
        taps = int(getattr(params, "rec_kernel_taps", 0))
        pad = (taps - kernel) // 2
        self.padding = [(mm.address(mm.REGION_SYN, params.kernel_base + c), c)
                        for c in range(taps) if not pad <= c < pad + kernel]
        self.axons = []      # (address, proj, pre)
        for proj in self.projections:
            if net.delay_kind(proj) == "axonal":
                for pre in range(net.projection_shape(proj)[1]):
                    offset = mm.axon_offset(proj, pre, params)
                    self.axons.append((mm.address(mm.REGION_AXON, offset), proj, pre))
        # The parameters of the network's neuron options (beta; coupling, rho).
        self.neurons = [(mm.address(mm.REGION_NEURON, mm.neuron_offset(name.upper(), i, params)),
                         name, i)
                        for name in net.neuron_parameters() for i in range(net.n_hidden)]

    # -- parameters ---------------------------------------------------------------------------

    def parameter_addresses(self) -> list[int]:
        """Synapse words, then axonal delays, then neuron parameters, then the core's kernel
        taps outside the network kernel."""
        return ([a for a, *_ in self.synapses] + [a for a, *_ in self.axons]
                + [a for a, *_ in self.neurons] + [a for a, _ in self.padding])

    def check_parameters(self, golden, words) -> ProbeMismatch | None:
        """Compare the words read at :meth:`parameter_addresses` with ``golden``."""
        diffs = []
        p = self.params
        for (_, proj, post, pre), word in zip(self.synapses, words[:len(self.synapses)]):
            w, d = mm.unpack_synapse(word, p)
            g = golden.projections[proj]
            index = (post,) if pre is None else (post, pre)
            want_w = int(g.w[(0,) + index])
            want_d = int(g.d[0, post, pre]) if g.kind == "synaptic" else 0
            if w != want_w:
                diffs.append(ProbeMismatch(f"w_{proj}", index, w, want_w, 0))
            if d != want_d:
                diffs.append(ProbeMismatch(f"d_{proj}", index, d, want_d, 0))
        start = len(self.synapses)
        for (_, proj, pre), word in zip(self.axons, words[start:]):
            want = int(golden.projections[proj].d[0, pre])
            if int(word) != want:
                diffs.append(ProbeMismatch(f"d_axon_{proj}", (pre,), int(word), want, 0))
        start += len(self.axons)
        for (_, name, i), word in zip(self.neurons, words[start:]):
            want = int(golden.neurons[name][0, i])
            if int(word) != want:
                diffs.append(ProbeMismatch(name, (i,), int(word), want, 0))
        start += len(self.neurons)
        for (_, tap), word in zip(self.padding, words[start:]):
            if int(word) != 0:
                diffs.append(ProbeMismatch("w_rec_core_tap", (tap,), int(word), 0, 0))
        return _first(diffs)

    # -- traces -------------------------------------------------------------------------------

    def _trace_times(self, golden) -> tuple[list[int], list[int]]:
        """Times of ``x`` and of ``u`` to compare after the step ``golden.t - 1``."""
        t = golden.t - 1
        half_width = golden.rule.kernel_half_width
        live = golden.slots  # the golden ring holds the last ``slots`` steps
        depth = live if self.trace_depth is None else min(self.trace_depth, live)
        x_times = [time for time in range(t - depth + 1, t + 1) if time >= 0]
        u_times = [tau for tau in range(t - half_width - depth + 1, t - half_width + 1)
                   if tau >= 0]
        return x_times, u_times

    def _trace_slots(self, golden):
        x_times, u_times = self._trace_times(golden)
        net, p = self.net, self.params
        sources = [("input", j) for j in range(net.n_in)]
        sources += [("hidden", i) for i in range(net.n_hidden)]
        slots = []   # (region, source kind, index, time)
        for kind, index in sources:
            slots.extend((mm.REGION_TRACE_X, kind, index, time) for time in x_times)
            if p.delay_learning:
                slots.extend((mm.REGION_TRACE_U, kind, index, tau) for tau in u_times)
        return slots

    def trace_addresses(self, golden) -> list[int]:
        """Addresses of the trace slots to compare after the step just done by ``golden``."""
        ring = self.params.trace_ring
        return [mm.address(region, mm.trace_offset(kind, index, time % ring, self.params))
                for region, kind, index, time in self._trace_slots(golden)]

    def check_traces(self, golden, words) -> ProbeMismatch | None:
        """Compare the words read at :meth:`trace_addresses` with ``golden``."""
        diffs = []
        for (region, kind, index, time), word in zip(self._trace_slots(golden), words):
            source = "in" if kind == "input" else "hidden"
            slot = time % golden.slots
            if region == mm.REGION_TRACE_X:
                ring = golden.trace_in if kind == "input" else golden.trace_hidden
                got, name = int(word), f"x_{source}"
            else:
                ring = golden.dtrace_in if kind == "input" else golden.dtrace_hidden
                got, name = mm.decode_signed(word, 32), f"u_{source}"
            want = int(ring[0, slot, index])
            if got != want:
                diffs.append(ProbeMismatch(name, (index, f"t={time}"), got, want, 0))
        return _first(diffs)


def _first(diffs: list[ProbeMismatch]) -> ProbeMismatch | None:
    if not diffs:
        return None
    first = diffs[0]
    first.others = len(diffs) - 1
    return first


def step_cycle_bounds(net, params, learning: bool) -> tuple[int, int]:
    """``CTRL.CYCLES`` a step of ``net`` may take: ``(least, most)``.

    A plain step takes exactly :meth:`rtl.params.CoreParams.step_cycles` (traces on). A
    learning step takes :meth:`~rtl.params.CoreParams.learning_step_cycles`, between an empty
    post list (every post factor 0) and a full one (every post factor nonzero, or the zero
    skip off, which gives the upper bound exactly).
    """
    rule = net.learning
    sizes = (net.n_in, net.n_hidden, net.n_out, net.recurrent)
    half_width = rule.kernel_half_width
    if not learning:
        cycles = params.step_cycles(*sizes, traces=True, half_width=half_width)
        return cycles, cycles
    updates = [proj for proj in net.projections()
               if rule.learn_weights or (rule.learn_delays and net.delay_kind(proj) != "none")]
    common = dict(half_width=half_width, softmax=rule.error == "softmax", updates=updates)
    least = params.learning_step_cycles(*sizes, hidden_posts=0, out_posts=0, **common)
    most = params.learning_step_cycles(*sizes, hidden_posts=net.n_hidden,
                                       out_posts=net.n_out, **common)
    return least, most
