"""Proof: the sequencer stays inside every memory and visits every synapse once per step.

:class:`SequencerHarness` drives a small :class:`rtl.core.Core` with free inputs: any bus
traffic in any cycle (writes of any word to any address, reads, so any run-time sizes and
flags), ``start`` and ``clear`` at any time, any input spikes. A monitor follows each step
with its own counters, walking the synapse layout of ``docs/architecture.md`` (hidden neuron
``i``: its ``n_in`` input synapses, then its ``n_hidden`` recurrent ones if the recurrent
flag is on; then readout ``k``: its ``n_hidden`` synapses) for the sizes in force when the
step started.

Asserted in every cycle (within the depth):

1. **In range.** Every write port of every memory (synapses, spike rings, axonal delays,
   ``alpha``, ``theta``, ``v``, ``kappa``, ``y``) is enabled only at an address below its
   depth, whatever the bus does; while the hidden layer streams, the ``alpha``, ``theta``
   and ``v`` reads are below ``max_hidden``, while the readouts stream the ``kappa`` and
   ``y`` reads are below ``max_out``.
2. **Every synapse once per step, in order.** The ``k``-th synapse fetch of a step reads
   synapse word ``k`` (so no word twice and none skipped), together with the spike ring and
   the axonal delay of that synapse's source; when the step ends (``done``) exactly
   ``n_hidden * (n_in + n_rec) + n_out * n_hidden`` synapses were fetched.
3. **Every neuron and ring once per step, in order.** The ``j``-th ``v`` write of a step is
   neuron ``j``, the ``k``-th ``y`` write readout ``k``; the input rings ``0 .. n_in - 1``
   and then the hidden rings get their slot written once each; at ``done`` the counts are
   ``n_hidden``, ``n_out``, ``n_in`` and ``n_hidden``.
4. **Bounded steps** (inference core): ``done`` comes exactly
   ``CoreParams.step_cycles(...)`` cycles after ``start`` and a ``clear`` ends after
   ``clear_cycles``.

The harness observes the core through its memories' ports and the sequencer FSM's state
register (read after elaboration, :mod:`formal.introspect`), so it needs no debug port. A
core built with ``learning`` keeps properties 1-3 for the forward pass (the learning pass
runs in its own FSM states and is not a synapse *fetch*); there the harness also drives
``learn`` freely and asserts that the learning pass writes synapse words in increasing order
(each at most once) inside the network; property 4 does not apply (a learning step has no
fixed length).
"""

from __future__ import annotations

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Elaboratable, Module, Mux, ResetSignal, Signal

from rtl import memory_map as mm
from rtl.core import Core
from rtl.params import CoreParams

from .introspect import fsm_state

__all__ = ["SEQUENCER_CONFIGS", "SequencerHarness"]

#: name -> (core parameters, quick depth, deep depth). Capacities are tiny so that a whole
#: step fits the depth, and of unequal sizes (``max_out > max_hidden``: the readout phase
#: indexes past the hidden memories) so that a mixed-up index shows.
SEQUENCER_CONFIGS = {
    # Recurrent: a full step takes 2 + 2 * 4 + 2 + 2 + 3 * 2 + 2 = 22 cycles.
    "recurrent": (CoreParams(max_in=2, max_hidden=2, max_out=3, d_max=2, weight_bits=2,
                             decay_bits=1, v_bits=4, y_bits=4, recurrent=True), 26, 40),
    # Feedforward, odd capacities, the largest ring (two bus words) and fraction bits.
    "feedforward": (CoreParams(max_in=3, max_hidden=1, max_out=2, d_max=64, weight_bits=3,
                               weight_frac=1, delay_frac=1, decay_bits=1, v_bits=4,
                               y_bits=4), 20, 32),
    # A learning core (the learning pass in its own FSM states after the forward pass):
    # properties 1-3 and the order of the learning pass's synapse writes.
    "learning": (CoreParams(max_in=2, max_hidden=2, max_out=2, d_max=2, weight_bits=3,
                            decay_bits=2, v_bits=4, y_bits=4, recurrent=True, learning=True,
                            trace_bits=2, u_bits=2, l_bits=4, softmax=False,
                            random_feedback=False), 14, 36),
}

_STEP_STATES = ("INPUT", "HIDDEN", "HIDDEN_FLUSH", "HIDDEN_WRITE", "OUTPUT", "OUTPUT_FLUSH")


class SequencerHarness(Elaboratable):
    """A :class:`~rtl.core.Core` under free bus traffic and controls, with a step monitor.

    Parameters
    ----------
    params : CoreParams
        The core under proof (small, so that whole steps fit the depth).
    fetch_states : tuple of str
        Sequencer states in which a synapse word is fetched for the forward pass.
    """

    def __init__(self, params: CoreParams, fetch_states: tuple[str, ...] = ("HIDDEN", "OUTPUT")):
        self.params = params
        self.fetch_states = fetch_states

    def elaborate(self, platform):
        p = self.params
        m = Module()
        core = Core(p)
        # Elaborated here (not added as a component) so the harness can read its FSM.
        core._MustUse__silence = True
        core_module = core.elaborate(platform)
        m.submodules.core = core_module
        subs = {name: sub for name, (sub, _loc) in core_module._named_submodules.items()}
        syn, rings = subs["synapses"], subs["rings"]

        def in_state(*states):
            return fsm_state(core_module, "sequencer", *states)

        # -- environment: anything, any time --------------------------------------------------

        m.d.comb += Assume(~ResetSignal())
        controls = [core.bus.addr, core.bus.w_data, core.bus.w_en, core.bus.r_en,
                    core.start, core.clear, core.in_spikes]
        if p.learning:
            controls.append(core.learn)
        for port in controls:
            m.d.comb += port.eq(AnySeq(port.shape()))
        m.d.comb += Assume(~(core.bus.w_en & core.bus.r_en))

        # -- the run-time configuration, from the bus writes ----------------------------------

        n_in = Signal(range(p.max_in + 1), init=p.max_in)
        n_hidden = Signal(range(p.max_hidden + 1), init=p.max_hidden)
        n_out = Signal(range(p.max_out + 1), init=p.max_out)
        rec_on = Signal()
        region = core.bus.addr[16:20]
        offset = core.bus.addr[:16]
        data = core.bus.w_data

        def clamped(cap):
            return Mux(data == 0, 1, Mux(data > cap, cap, data))

        # A write takes effect in its cycle: a step started in the same cycle runs with it.
        n_in_next = Signal.like(n_in)
        n_hidden_next = Signal.like(n_hidden)
        n_out_next = Signal.like(n_out)
        rec_next = Signal()
        m.d.comb += [n_in_next.eq(n_in), n_hidden_next.eq(n_hidden), n_out_next.eq(n_out),
                     rec_next.eq(rec_on)]
        with m.If(~core.busy & core.bus.w_en & (region == mm.REGION_CTRL)):
            with m.If(offset == mm.CTRL_N_IN):
                m.d.comb += n_in_next.eq(clamped(p.max_in))
            with m.If(offset == mm.CTRL_N_HIDDEN):
                m.d.comb += n_hidden_next.eq(clamped(p.max_hidden))
            with m.If(offset == mm.CTRL_N_OUT):
                m.d.comb += n_out_next.eq(clamped(p.max_out))
            with m.If(offset == mm.CTRL_FLAGS):
                m.d.comb += rec_next.eq(data[0] & p.recurrent)
        m.d.sync += [n_in.eq(n_in_next), n_hidden.eq(n_hidden_next), n_out.eq(n_out_next),
                     rec_on.eq(rec_next)]

        # -- property 1: every memory port in range -------------------------------------------

        m.d.comb += [
            Assert(~syn.w_en | (syn.addr < p.max_synapses), "synapse write in range"),
            Assert((rings.w_mask == 0) | (rings.w_addr < p.n_sources), "ring write in range"),
        ]
        depths = {"axon": p.axon_depth, "alpha": p.max_hidden, "theta": p.max_hidden,
                  "v": p.max_hidden, "kappa": p.max_out, "y": p.max_out}
        for name, depth in depths.items():
            for port in subs[name].write_ports:
                m.d.comb += Assert(~port.en.any() | (port.addr < depth),
                                   f"{name} write in range")
        with m.If(in_state("HIDDEN", "HIDDEN_FLUSH")):
            for name in ("alpha", "theta", "v"):
                m.d.comb += Assert(subs[name].read_ports[0].addr < p.max_hidden,
                                   f"{name} read in range")
        with m.If(in_state("OUTPUT", "OUTPUT_FLUSH")):
            for name in ("kappa", "y"):
                m.d.comb += Assert(subs[name].read_ports[0].addr < p.max_out,
                                   f"{name} read in range")

        # -- the step monitor ------------------------------------------------------------------

        # Sizes of the running step (the bus cannot change them while busy, but the monitor
        # keeps its own copy from ``start`` rather than rely on that).
        s_in = Signal.like(n_in)
        s_hidden = Signal.like(n_hidden)
        s_out = Signal.like(n_out)
        s_rec = Signal()
        stepping = Signal()
        clearing = Signal()
        age = Signal(range(p.step_cycles(p.max_in, p.max_hidden, p.max_out, p.recurrent) + 64))
        with m.If(~core.busy):
            with m.If(core.clear):
                m.d.sync += [clearing.eq(1), stepping.eq(0), age.eq(0)]
            with m.Elif(core.start):
                m.d.sync += [stepping.eq(1), clearing.eq(0), age.eq(0), s_in.eq(n_in_next),
                             s_hidden.eq(n_hidden_next), s_out.eq(n_out_next),
                             s_rec.eq(rec_next)]
        with m.Else():
            m.d.sync += age.eq(age + 1)

        # The monitor's walk through the layout: synapse ``fetches`` of neuron ``post``,
        # source ``pre`` of projection ``proj`` (0 input, 1 recurrent, 2 readout).
        fetches = Signal(range(p.max_synapses + 1))
        post = Signal(range(max(p.max_hidden, p.max_out) + 1))
        pre = Signal(range(p.n_sources + 1))
        proj = Signal(2)
        v_writes = Signal(range(p.max_hidden + 1))
        y_writes = Signal(range(p.max_out + 1))
        ring_writes = Signal(range(p.n_sources + 1))
        n_rec = Mux(s_rec, s_hidden, 0)
        total = s_hidden * (s_in + n_rec) + s_out * s_hidden

        with m.If(~core.busy & core.start):
            m.d.sync += [fetches.eq(0), post.eq(0), pre.eq(0), proj.eq(0), v_writes.eq(0),
                         y_writes.eq(0), ring_writes.eq(0)]

        fetch = Signal()
        m.d.comb += fetch.eq(stepping & core.busy & in_state(*self.fetch_states))
        with m.If(fetch):
            source = Mux(proj == 0, pre, p.max_in + pre)
            axon = Mux(proj == 0, pre, Mux(proj == 1, p.max_in + pre,
                                            p.max_in + p.max_hidden + pre))
            m.d.comb += [
                Assert(fetches < total, "no synapse fetched beyond the network"),
                Assert(syn.addr == fetches, "the k-th fetch reads synapse word k"),
                Assert(rings.r_addr == source, "the ring of the synapse's source"),
                Assert(subs["axon"].read_ports[0].addr == axon,
                       "the axonal delay of the synapse's source"),
                Assert(in_state("OUTPUT") == (proj == 2), "readout synapses in OUTPUT"),
            ]
            m.d.sync += fetches.eq(fetches + 1)
            # Advance the walk: inputs, then recurrent sources, of each hidden neuron; then
            # the hidden sources of each readout.
            row_end = Mux(proj == 0, s_in, s_hidden)
            with m.If(pre + 1 < row_end):
                m.d.sync += pre.eq(pre + 1)
            with m.Elif((proj == 0) & s_rec):
                m.d.sync += [pre.eq(0), proj.eq(1)]
            with m.Elif((proj != 2) & (post + 1 < s_hidden)):
                m.d.sync += [pre.eq(0), proj.eq(0), post.eq(post + 1)]
            with m.Elif(proj != 2):
                m.d.sync += [pre.eq(0), proj.eq(2), post.eq(0)]
            with m.Else():
                m.d.sync += [pre.eq(0), post.eq(post + 1)]

        v_port = subs["v"].write_ports[0]
        y_port = subs["y"].write_ports[0]
        with m.If(stepping & core.busy & v_port.en.any()):
            m.d.comb += Assert(v_port.addr == v_writes, "the j-th v update is neuron j")
            m.d.sync += v_writes.eq(v_writes + 1)
        with m.If(stepping & core.busy & y_port.en.any()):
            m.d.comb += Assert(y_port.addr == y_writes, "the k-th y update is readout k")
            m.d.sync += y_writes.eq(y_writes + 1)
        with m.If(stepping & core.busy & in_state("INPUT", "HIDDEN_WRITE")):
            # Slot writes of the spike rings: inputs 0 .. n_in - 1, then hidden neurons
            # n_hidden - 1 down to 0 (the pending register rotates out its top bit first).
            expected = Mux(ring_writes < s_in, ring_writes,
                           p.max_in + s_in + s_hidden - 1 - ring_writes)
            m.d.comb += [
                Assert(rings.w_mask != 0, "a ring slot is written"),
                Assert(rings.w_addr == expected, "the ring of the next source"),
            ]
            m.d.sync += ring_writes.eq(ring_writes + 1)

        with m.If(core.done):
            m.d.comb += [
                Assert(stepping, "done only after a step"),
                Assert(fetches == total, "every synapse fetched once per step"),
                Assert(v_writes == s_hidden, "every hidden neuron updated once per step"),
                Assert(y_writes == s_out, "every readout updated once per step"),
                Assert(ring_writes == s_in + s_hidden, "every ring written once per step"),
            ]
            # ``done`` is an idle cycle: a new step (or clear) may start in it.
            m.d.sync += stepping.eq(core.start & ~core.clear)

        # -- property 4: bounded steps and clears ----------------------------------------------

        if not p.learning:
            cycles = p.step_cycles
            step_len = Signal(range(cycles(p.max_in, p.max_hidden, p.max_out, p.recurrent) + 1))
            m.d.comb += step_len.eq(s_in + s_hidden * (s_in + n_rec) + 2 + s_hidden
                                    + s_out * s_hidden + 2)
            with m.If(stepping & core.busy):
                m.d.comb += Assert(age < step_len, "a step ends after step_cycles")
            with m.If(stepping & ~core.busy & (age != 0)):
                m.d.comb += Assert(age == step_len, "a step takes exactly step_cycles")
            with m.If(clearing & core.busy):
                m.d.comb += Assert(age < p.clear_cycles, "a clear ends after clear_cycles")
            with m.If(clearing & ~core.busy & (age != 0)):
                m.d.comb += Assert(age == p.clear_cycles, "a clear takes clear_cycles")
            with m.If(~core.busy):
                m.d.sync += [clearing.eq(Mux(core.clear, 1, 0))]
        else:
            # The learning pass writes each synapse word at most once, in increasing order,
            # inside the network.
            last_write = Signal(range(p.max_synapses + 1))
            wrote = Signal()
            with m.If(~core.busy & core.start):
                m.d.sync += wrote.eq(0)
            with m.If(core.busy & syn.w_en):
                m.d.comb += [
                    Assert(syn.addr < total, "learning writes inside the network"),
                    Assert(~wrote | (syn.addr > last_write),
                           "learning writes each synapse at most once, in order"),
                ]
                m.d.sync += [wrote.eq(1), last_write.eq(syn.addr)]
        return m
