"""The delaycore core: sequencer, accumulator, parameter and state memories, bus decode.

One time step walks every synapse of the network once, one synapse per clock, in the order
of the synapse memory (``docs/architecture.md``, step schedule):

1. ``INPUT``: the input spikes sampled with ``start`` go into slot ``p`` of the input rings,
   one input per cycle.
2. ``HIDDEN``: each hidden neuron streams its input, then its recurrent synapses through a
   two-stage pipeline, then is updated by the :class:`~rtl.neuron.NeuronUnit`. Its spike is
   shifted into the pending spike register, not into a ring, so that the recurrent
   projection of later neurons still sees ``z[t - 1 - d]``.
3. ``HIDDEN_WRITE``: the pending spikes go into slot ``p`` of the hidden rings.
4. ``OUTPUT``: each readout streams its synapses, then ``y`` is updated.
5. The ring pointer ``p`` and the step counter advance (they are the same register:
   ``p = STEP mod ring``), and ``done`` pulses.

On a core built with ``synapse_current`` or ``adaptation`` the neuron update also reads and
writes the synaptic current ``c`` and the adaptation ``a`` of a hidden neuron, beside ``v``,
with their parameters in the ``NEURON`` region (``docs/architecture.md``, neuron options).

On a core built with ``rec_kernel_taps = K`` the recurrent projection is one kernel of ``K``
shared tap weights in the top words of the synapse memory (``docs/model.md`` section 10):
in ``HIDDEN`` neuron ``i`` streams only the sources ``i'`` of its band, ``|i' - i| <= K // 2``
clipped to ``[0, n_hidden)``, reading tap ``i' - i + K // 2``; the synapse address counter
holds still meanwhile, so the input and readout synapses keep their dense layout. A learning
core of this kind also has ``CTRL.REC_KERNEL``, the network kernel's taps, which the
learning engine's kernel pass needs.

On a core built with ``learning`` the :class:`~rtl.learning.LearningEngine` runs beside this
sequence: the input traces are updated while the hidden layer streams (started with the step),
the hidden traces while the readouts stream (started after ``HIDDEN_WRITE``, once the input
traces are done: ``HIDDEN_TRACE`` waits for them). After the readouts, ``LEARN_WAIT`` waits for
the traces; a step started with ``learn`` then runs the learning pass (``LEARN``), during which
the engine owns the synapse, readout and axonal-delay memories, and counts ``LEARN_COUNT``.

The synapse pipeline
--------------------
Stage 0 (*fetch*) drives the read addresses from the sequencer counters: the synapse word,
the source's axonal delay and the source's spike ring. Stage 1 (*accumulate*) has the three
words: it picks the delay of the projection's kind, selects the delayed bit of the ring and
adds ``w >> weight_frac`` to the accumulator (restarting it on a neuron's first synapse). In
the same cycle the neuron's parameters and state are read, addressed by the stage-1 neuron
index, so that stage 2 (*update*) applies the :class:`~rtl.neuron.NeuronUnit` to the finished
sum while stage 1 already accumulates the next neuron: consecutive neurons follow each other
without bubbles.

Pending spike register
----------------------
``out_spikes`` is one ``max_hidden``-bit register, used without decoders or wide muxes:
it is zeroed at ``start``; each hidden update shifts its spike in at the top (after
``n_hidden`` updates spike ``i`` is at bit ``max_hidden - n_hidden + i``, below are zeros);
writing the hidden rings rotates it left ``n_hidden`` times, taking each spike from the top
bit, which leaves spike ``i`` at bit ``i``. ``out_spikes`` is therefore valid while ``busy``
is low.
"""

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import memory_map as mm
from .block_ram import block_ram
from .bus import DATA_WIDTH, ConfigBus
from .delay_line import DelayLineMemory
from .learning import LearningEngine, _above
from .neuron import NeuronUnit
from .neuron_learning import NeuronLearningUnit
from .params import CoreParams
from .synapse_mem import make_synapse_memory

__all__ = ["Core", "Projection"]


class Projection(enum.Enum, shape=2):
    """Projection of the synapse in a pipeline stage."""
    IN = 0
    REC = 1
    OUT = 2



class Core(wiring.Component):
    """A delaycore core.

    Parameters
    ----------
    params : CoreParams
        Capacity and number formats.

    Members
    -------
    bus : In(ConfigBus())
        Configuration bus; accesses while ``busy`` is high are ignored.
    start : In(1)
        Start one time step (ignored while busy); ``in_spikes`` is sampled in this cycle.
    clear : In(1)
        Zero ``v``, ``y`` (and ``c``, ``a`` of the neuron options), every spike ring, the
        ring pointer, the step counter and ``out_spikes`` (ignored while busy; wins over
        ``start``). Takes ``params.clear_cycles`` cycles with ``busy`` high and no ``done``
        pulse.
    in_spikes : In(max_in)
        Input spike vector of the step, bit ``j`` for input ``j``.
    busy : Out(1)
        A step or a clear is running.
    done : Out(1)
        One-cycle pulse in the first cycle after a step (``busy`` is low again, so the bus
        can be used in the same cycle).
    out_spikes : Out(max_hidden)
        Hidden spikes ``z[t]`` of the last step, bit ``i`` for neuron ``i``; valid while
        ``busy`` is low.
    learn : In(1)
        Only on a core built with ``learning``: the step started in this cycle is a learning
        step (sampled with ``start``; the class label is ``CTRL.LABEL``).
    """

    def __init__(self, params: CoreParams):
        if not isinstance(params, CoreParams):
            raise TypeError(f"params must be a CoreParams, got {type(params).__name__}")
        self._params = params
        members = {
            "bus": In(ConfigBus()),
            "start": In(1),
            "clear": In(1),
            "in_spikes": In(params.max_in),
            "busy": Out(1),
            "done": Out(1),
            "out_spikes": Out(params.max_hidden),
        }
        if params.learning:
            members["learn"] = In(1)
        super().__init__(members)

    @property
    def params(self) -> CoreParams:
        return self._params

    def elaborate(self, platform):
        p = self._params
        m = Module()

        # -- memories ------------------------------------------------------------------------

        m.submodules.synapses = syn = make_synapse_memory(p)
        m.submodules.rings = rings = DelayLineMemory(p.n_sources, p.ring)
        m.submodules.neuron = neuron = NeuronUnit(p)

        axon_rd, axon_wr = block_ram(m, "axon", unsigned(p.delay_bits), p.axon_depth)
        alpha_rd, alpha_wr = block_ram(m, "alpha", unsigned(p.decay_bits), p.max_hidden)
        theta_rd, theta_wr = block_ram(m, "theta", unsigned(p.v_bits - 1), p.max_hidden)
        v_rd, v_wr = block_ram(m, "v", signed(p.v_bits), p.max_hidden)
        kappa_rd, kappa_wr = block_ram(m, "kappa", unsigned(p.decay_bits), p.max_out)
        y_rd, y_wr = block_ram(m, "y", signed(p.y_bits), p.max_out)
        # The neuron options: NEURON field -> (read port, write port), parameters then state.
        neuron_mems = {}
        if p.synapse_current:
            neuron_mems["BETA"] = block_ram(m, "beta", unsigned(p.decay_bits), p.max_hidden)
        if p.adaptation:
            neuron_mems["RHO"] = block_ram(m, "rho", unsigned(p.decay_bits), p.max_hidden)
            neuron_mems["COUPLING"] = block_ram(m, "coupling", unsigned(p.v_bits - 1),
                                                p.max_hidden)
        if p.synapse_current:
            neuron_mems["C"] = block_ram(m, "c", signed(p.v_bits), p.max_hidden)
        if p.adaptation:
            neuron_mems["A"] = block_ram(m, "a", unsigned(p.v_bits - 1), p.max_hidden)

        # -- control registers ---------------------------------------------------------------

        # Run-time sizes, always in [1, capacity]; they start at the capacity.
        n_in = Signal(range(p.max_in + 1), init=p.max_in)
        n_hidden = Signal(range(p.max_hidden + 1), init=p.max_hidden)
        n_out = Signal(range(p.max_out + 1), init=p.max_out)
        # FLAGS bit 8 exists on learning cores, bit 9 with current synapses.
        flags = Signal(10 if p.synapse_current else 9 if p.learning else 8)
        step = Signal(32)
        if p.learning:
            cycles = Signal(32)   # a learning step has no simple bound
        else:
            max_cycles = p.step_cycles(p.max_in, p.max_hidden, p.max_out, p.recurrent)
            cycles = Signal(range(max_cycles + 1))

        rec_on = flags[0] if p.recurrent else C(0, 1)
        hard_reset = flags[1]
        kind_in, kind_rec, kind_out = flags[2:4], flags[4:6], flags[6:8]
        if p.synapse_current:
            current_on = flags[9]
        # The ring pointer is the step counter modulo the (power-of-two) ring size.
        ptr = step[:p.ring_bits]
        slot_mask = Signal(p.ring)
        m.d.comb += slot_mask.eq(Const(1, p.ring) << ptr)
        all_slots = Const((1 << p.ring) - 1, p.ring)

        spikes = Signal(p.max_hidden)   # pending / output hidden spikes
        in_reg = Signal(p.max_in)       # input spikes sampled at ``start``
        m.d.comb += self.out_spikes.eq(spikes)

        if p.neuron_learning:
            m.submodules.neuron_learning = neuron_learning = NeuronLearningUnit(p)
        if p.learning:
            m.submodules.learning = engine = LearningEngine(p)
            label = Signal(16)
            learn_count = Signal(32)
            learn_reg = Signal()    # the running step learns (``learn`` and a rule loaded)
            # Synapse address of the first readout synapse, n_hidden * (n_in + n_rec).
            out_base = Signal(range(p.max_synapses + 1))
        # CTRL.REC_KERNEL: the learning pass needs the network kernel's taps (its rounding is
        # keyed by the network's tap index, and the core taps around it stay zero).
        kernel_learning = p.learning and p.rec_kernel_taps > 0
        if kernel_learning:
            rec_kernel = Signal(range(p.rec_kernel_taps + 1), init=p.rec_kernel_taps)
        ctrl_bits = 4 if kernel_learning else 3

        # -- sequencer counters and pipeline registers ---------------------------------------

        pre = Signal(range(p.n_sources))                    # source / generic index
        post = Signal(range(max(p.max_hidden, p.max_out)))  # neuron being streamed
        proj = Signal(Projection)
        syn_addr = Signal(range(p.max_synapses + 1))
        pre_next = pre + 1

        s1_valid = Signal()
        s1_first = Signal()
        s1_last = Signal()
        s1_proj = Signal(Projection)
        s1_post = Signal.like(post)

        acc = Signal(signed(p.acc_bits))
        s2_update = Signal()
        s2_readout = Signal()
        s2_post = Signal.like(post)

        # -- bus decode ----------------------------------------------------------------------

        region = self.bus.addr[16:20]
        offset = self.bus.addr[0:16]
        depth = mm.region_words(p)
        in_range = Signal()
        # One comparator against the region's size (each bit of it a function of the 4
        # region bits: one LUT), not one carry chain per region.
        region_size = Signal(range(max(depth.values()) + 1))
        with m.Switch(region):
            for number, words in depth.items():
                with m.Case(number):
                    m.d.comb += region_size.eq(words)
        m.d.comb += in_range.eq(offset < region_size)
        idle = Signal()
        bus_write = Signal()
        bus_read = Signal()
        m.d.comb += [
            bus_write.eq(idle & self.bus.w_en & in_range),
            bus_read.eq(idle & self.bus.r_en & in_range),
        ]
        w_data = self.bus.w_data
        # A 64-slot ring is two bus words in HIST: offset = 2 * source + half.
        hist_shift = ceil_log2(p.hist_words)
        hist_source = offset[hist_shift:]
        hist_half = offset[:hist_shift]
        if neuron_mems:
            # NEURON: the field in the top bits of the offset, the neuron in the bottom ones
            # (fields are next_pow2(max_hidden) words apart); the words between max_hidden and
            # the next field have no memory behind them.
            neuron_shift = ceil_log2(p.neuron_stride)
            neuron_index = offset[:neuron_shift]
            neuron_field = offset[neuron_shift:neuron_shift + 3]
            neuron_valid = Signal()
            m.d.comb += neuron_valid.eq(
                1 if p.neuron_stride == p.max_hidden else neuron_index < p.max_hidden)

        def clamp(value, cap):
            return Mux(value == 0, 1, Mux(_above(value, cap), cap, value))

        with m.If(bus_write & (region == mm.REGION_CTRL)), m.Switch(offset[:ctrl_bits]):
            with m.Case(mm.CTRL_N_IN):
                m.d.sync += n_in.eq(clamp(w_data, p.max_in))
            with m.Case(mm.CTRL_N_HIDDEN):
                m.d.sync += n_hidden.eq(clamp(w_data, p.max_hidden))
            with m.Case(mm.CTRL_N_OUT):
                m.d.sync += n_out.eq(clamp(w_data, p.max_out))
            with m.Case(mm.CTRL_FLAGS):
                mask = 0xFF if p.recurrent else 0xFF & ~mm.FLAG_RECURRENT
                if p.learning:
                    mask |= mm.FLAG_NO_ZERO_SKIP
                if p.synapse_current:
                    mask |= mm.FLAG_SYNAPSE_CURRENT
                m.d.sync += flags.eq(w_data & mask)
            if p.learning:
                with m.Case(mm.CTRL_LABEL):
                    m.d.sync += label.eq(w_data)
                with m.Case(mm.CTRL_LEARN_COUNT):
                    m.d.sync += learn_count.eq(w_data)
            if kernel_learning:
                with m.Case(mm.CTRL_REC_KERNEL):
                    top = p.rec_kernel_taps
                    m.d.sync += rec_kernel.eq(Mux(_above(w_data, top), top, w_data))

        # Read data is selected by what was read in the previous cycle.
        rd_valid = Signal()
        rd_region = Signal(4)
        rd_ctrl = Signal(ctrl_bits)
        m.d.sync += [
            rd_valid.eq(bus_read),
            rd_region.eq(region),
            rd_ctrl.eq(offset[:ctrl_bits]),
        ]
        if neuron_mems:
            rd_field = Signal(3)
            rd_neuron_valid = Signal()
            m.d.sync += [
                rd_field.eq(neuron_field),
                rd_neuron_valid.eq(neuron_valid),
            ]
        hist_rdata = rings.r_data
        if hist_shift:
            rd_half = Signal()
            m.d.sync += rd_half.eq(hist_half)
            hist_rdata = rings.r_data.word_select(rd_half, DATA_WIDTH)
        ctrl_words = [(mm.CTRL_N_IN, n_in), (mm.CTRL_N_HIDDEN, n_hidden),
                      (mm.CTRL_N_OUT, n_out), (mm.CTRL_FLAGS, flags), (mm.CTRL_STEP, step),
                      (mm.CTRL_CYCLES, cycles)]
        if p.learning:
            ctrl_words += [(mm.CTRL_LABEL, label), (mm.CTRL_LEARN_COUNT, learn_count)]
        if kernel_learning:
            ctrl_words.append((mm.CTRL_REC_KERNEL, rec_kernel))
        with m.If(rd_valid), m.Switch(rd_region):
            with m.Case(mm.REGION_CTRL), m.Switch(rd_ctrl):
                for number, value in ctrl_words:
                    with m.Case(number):
                        m.d.comb += self.bus.r_data.eq(value)
            if p.learning:
                # The learning regions: the engine decodes them and answers one cycle later.
                with m.Case(*range(mm.REGION_LEARN, mm.REGION_TRACE_U + 1)):
                    m.d.comb += self.bus.r_data.eq(engine.bus.r_data)
            for number, data in ((mm.REGION_SYN, syn.r_data),
                                 (mm.REGION_AXON, axon_rd.data),
                                 (mm.REGION_ALPHA, alpha_rd.data),
                                 (mm.REGION_THETA, theta_rd.data),
                                 (mm.REGION_V, v_rd.data),
                                 (mm.REGION_KAPPA, kappa_rd.data),
                                 (mm.REGION_Y, y_rd.data),
                                 (mm.REGION_HIST, hist_rdata)):
                with m.Case(number):
                    # ``v`` and ``y`` are signed: .eq() sign-extends them to 32 bits.
                    m.d.comb += self.bus.r_data.eq(data)
            if neuron_mems:
                with m.Case(mm.REGION_NEURON), m.If(rd_neuron_valid), m.Switch(rd_field):
                    for name, (port, _) in neuron_mems.items():
                        with m.Case(mm.NEURON_FIELDS[name]):
                            # ``c`` is signed and reads back sign-extended.
                            m.d.comb += self.bus.r_data.eq(port.data)

        # Read addresses: the bus owns the read ports while idle, the sequencer otherwise.
        axon_base = Mux(proj == Projection.IN, 0,
                        Mux(proj == Projection.REC, p.max_in, p.max_in + p.max_hidden))
        ring_base = Mux(proj == Projection.IN, 0, p.max_in)
        with m.If(idle):
            m.d.comb += [
                syn.addr.eq(offset),
                axon_rd.addr.eq(offset),
                rings.r_addr.eq(hist_source),
            ]
            for port in (alpha_rd, theta_rd, v_rd, kappa_rd, y_rd):
                m.d.comb += port.addr.eq(offset)
            for port, _ in neuron_mems.values():
                m.d.comb += port.addr.eq(neuron_index)
        with m.Else():
            if p.rec_kernel_taps:
                # Tap pre - post + K // 2 of the kernel; |pre - post| <= K // 2 in the band.
                kernel_addr = p.kernel_base + p.rec_kernel_taps // 2 + pre - post
                m.d.comb += syn.addr.eq(Mux(proj == Projection.REC, kernel_addr, syn_addr))
            else:
                m.d.comb += syn.addr.eq(syn_addr)
            m.d.comb += [
                axon_rd.addr.eq(axon_base + pre),
                rings.r_addr.eq(ring_base + pre),
            ]
            # Parameters and state of the neuron in stage 1, ready for its update in stage 2.
            for port in (alpha_rd, theta_rd, v_rd, kappa_rd, y_rd):
                m.d.comb += port.addr.eq(s1_post)
            for port, _ in neuron_mems.values():
                m.d.comb += port.addr.eq(s1_post)
            if p.neuron_learning:
                # The learning pass reads and writes the learned neuron parameters.
                with m.If(neuron_learning.busy):
                    for name in ("BETA", "RHO", "COUPLING"):
                        if name in neuron_mems:
                            m.d.comb += neuron_mems[name][0].addr.eq(neuron_learning.param_addr)

        # -- stage 1: select the delayed spike and accumulate --------------------------------

        w = syn.r_data[:p.weight_bits].as_signed()
        d_syn = syn.r_data[p.weight_bits:]
        kind = Mux(s1_proj == Projection.IN, kind_in,
                   Mux(s1_proj == Projection.REC, kind_rec, kind_out))
        delay = Signal(p.delay_bits)
        with m.Switch(kind):
            with m.Case(mm.DELAY_SYNAPTIC):
                m.d.comb += delay.eq(d_syn)
            with m.Case(mm.DELAY_AXONAL):
                m.d.comb += delay.eq(axon_rd.data)
        # The recurrent projection reads one slot further back: its delay 0 is step t - 1.
        slot = Signal(p.ring_bits)
        m.d.comb += slot.eq(ptr - delay[p.delay_frac:] - (s1_proj == Projection.REC))
        arrived = rings.r_data.bit_select(slot, 1)
        contribution = Mux(arrived, w >> p.weight_frac, 0)

        m.d.sync += s2_update.eq(s1_valid & s1_last)
        with m.If(s1_valid):
            m.d.sync += [
                acc.eq(Mux(s1_first, 0, acc) + contribution),
                s2_readout.eq(s1_proj == Projection.OUT),
                s2_post.eq(s1_post),
            ]

        # -- stage 2: neuron update ----------------------------------------------------------

        m.d.comb += [
            neuron.readout.eq(s2_readout),
            neuron.hard_reset.eq(hard_reset),
            neuron.decay.eq(Mux(s2_readout, kappa_rd.data, alpha_rd.data)),
            neuron.state.eq(Mux(s2_readout, y_rd.data, v_rd.data)),
            neuron.acc.eq(acc),
            neuron.theta.eq(theta_rd.data),
        ]
        # Port of a unit -> NEURON memory whose read data (the stage-2 neuron) it takes.
        option_reads = {}
        if p.synapse_current:
            option_reads.update(beta="BETA", current="C")
            m.d.comb += neuron.current_on.eq(current_on)
        if p.adaptation:
            option_reads.update(rho="RHO", coupling="COUPLING", adaptation="A")
        m.d.comb += [getattr(neuron, port).eq(neuron_mems[name][0].data)
                     for port, name in option_reads.items()]
        with m.If(s2_update):
            with m.If(s2_readout):
                m.d.comb += [
                    y_wr.addr.eq(s2_post),
                    y_wr.data.eq(neuron.next_state),
                    y_wr.en.eq(1),
                ]
            with m.Else():
                m.d.comb += [
                    v_wr.addr.eq(s2_post),
                    v_wr.data.eq(neuron.next_state),
                    v_wr.en.eq(1),
                ]
                if p.synapse_current:
                    # With the option off ``c`` keeps the 0 of the last clear, as in golden.
                    c_wr = neuron_mems["C"][1]
                    m.d.comb += [
                        c_wr.addr.eq(s2_post),
                        c_wr.data.eq(neuron.next_current),
                        c_wr.en.eq(current_on),
                    ]
                if p.adaptation:
                    a_wr = neuron_mems["A"][1]
                    m.d.comb += [
                        a_wr.addr.eq(s2_post),
                        a_wr.data.eq(neuron.next_adaptation),
                        a_wr.en.eq(1),
                    ]
                m.d.sync += spikes.eq(Cat(spikes[1:], neuron.spike))

        if p.neuron_learning:
            # The eligibilities follow the hidden update of stage 2 (the unit's stage 3).
            m.d.comb += [
                neuron_learning.time.eq(step),
                neuron_learning.fwd_addr.eq(s1_post),
                neuron_learning.fwd_en.eq(s2_update & ~s2_readout),
                neuron_learning.fwd_index.eq(s2_post),
                neuron_learning.alpha.eq(alpha_rd.data),
                neuron_learning.spike.eq(neuron.spike),
                *(getattr(neuron_learning, port).eq(neuron_mems[name][0].data)
                  for port, name in option_reads.items()),
            ]

        def bus_writes():
            """Bus writes to the memories (only while idle)."""
            if hist_shift:
                hist_data = w_data.replicate(p.hist_words)
                hist_mask = Mux(hist_half, ((1 << DATA_WIDTH) - 1) << DATA_WIDTH,
                                (1 << DATA_WIDTH) - 1)
            else:
                hist_data, hist_mask = w_data, all_slots
            m.d.comb += [
                syn.w_data.eq(w_data),
                syn.w_en.eq(bus_write & (region == mm.REGION_SYN)),
                rings.w_addr.eq(hist_source),
                rings.w_data.eq(hist_data),
                rings.w_mask.eq(Mux(bus_write & (region == mm.REGION_HIST), hist_mask, 0)),
            ]
            for port, number in ((axon_wr, mm.REGION_AXON), (alpha_wr, mm.REGION_ALPHA),
                                 (theta_wr, mm.REGION_THETA), (v_wr, mm.REGION_V),
                                 (kappa_wr, mm.REGION_KAPPA), (y_wr, mm.REGION_Y)):
                m.d.comb += [
                    port.addr.eq(offset),
                    port.data.eq(w_data),
                    port.en.eq(bus_write & (region == number)),
                ]
            for name, (_, port) in neuron_mems.items():
                m.d.comb += [
                    port.addr.eq(neuron_index),
                    port.data.eq(w_data),
                    port.en.eq(bus_write & (region == mm.REGION_NEURON) & neuron_valid
                               & (neuron_field == mm.NEURON_FIELDS[name])),
                ]

        # -- learning engine -----------------------------------------------------------------

        if p.learning:
            learning_region = region >= mm.REGION_LEARN
            if neuron_mems:
                # NEURON (region 15) is the core's own.
                learning_region &= region <= mm.REGION_TRACE_U
            m.d.comb += [
                engine.bus.addr.eq(self.bus.addr),
                engine.bus.w_data.eq(self.bus.w_data),
                engine.bus.w_en.eq(bus_write & learning_region),
                engine.bus.r_en.eq(bus_read & learning_region),
                engine.n_in.eq(n_in),
                engine.n_hidden.eq(n_hidden),
                engine.n_out.eq(n_out),
                engine.flags.eq(flags),
                engine.time.eq(step),
                engine.label.eq(label),
                engine.count.eq(learn_count),
                engine.out_base.eq(out_base),
                engine.in_spikes.eq(self.in_spikes),
                engine.hidden_spikes.eq(spikes),
                # Stage 2 of a hidden neuron: the engine keeps its distance to the threshold.
                engine.hidden_en.eq(s2_update & ~s2_readout),
                engine.hidden_index.eq(s2_post),
                engine.vpre.eq(neuron.vpre),
                # The surrogate is centred on the threshold of the step (model.md 9).
                engine.theta.eq(neuron.threshold if p.adaptation else theta_rd.data),
                engine.syn_r_data.eq(syn.r_data),
                engine.y_data.eq(y_rd.data),
                engine.axon_r_data.eq(axon_rd.data),
            ]
            if p.neuron_learning:
                m.d.comb += [
                    neuron_learning.count.eq(learn_count),
                    *(getattr(neuron_learning, name).eq(getattr(engine, name))
                      for name in ("learn_beta", "learn_threshold", "stochastic", "seed",
                                   "trace_shift", "eta_beta", "eta_coupling", "eta_rho")),
                    neuron_learning.factor_en.eq(engine.factor_en),
                    neuron_learning.factor_index.eq(engine.factor_index),
                    neuron_learning.factor.eq(engine.factor_value),
                ]
                with m.If(neuron_learning.busy):
                    for name in ("BETA", "RHO", "COUPLING"):
                        if name in neuron_mems:
                            port = neuron_mems[name][1]
                            m.d.comb += [
                                port.addr.eq(neuron_learning.param_w_addr),
                                port.data.eq(neuron_learning.param_w_data),
                                port.en.eq(getattr(neuron_learning, f"{name.lower()}_w_en")),
                            ]
            if kernel_learning:
                m.d.comb += engine.rec_kernel.eq(rec_kernel)
            # The learning pass owns the synapse, readout and axonal-delay memories.
            with m.If(engine.learn_busy):
                m.d.comb += [
                    syn.addr.eq(engine.syn_addr),
                    syn.w_data.eq(engine.syn_w_data),
                    syn.w_en.eq(engine.syn_w_en),
                    y_rd.addr.eq(engine.y_addr),
                    axon_rd.addr.eq(engine.axon_r_addr),
                    axon_wr.addr.eq(engine.axon_w_addr),
                    axon_wr.data.eq(engine.axon_w_data),
                    axon_wr.en.eq(engine.axon_w_en),
                ]

        def finish_step():
            """Count the step and pulse ``done`` (in the first cycle of ``IDLE``)."""
            m.d.sync += [
                step.eq(step + 1),
                self.done.eq(1),
            ]
            m.next = "IDLE"

        # -- sequencer -----------------------------------------------------------------------

        def fetch(first, last):
            """Stage 0: hand the synapse at the counters to stage 1."""
            m.d.sync += [
                s1_valid.eq(1),
                s1_first.eq(first),
                s1_last.eq(last),
                s1_proj.eq(proj),
                s1_post.eq(post),
            ]
            if p.rec_kernel_taps:
                # The kernel taps are not in the run-time layout the counter walks.
                m.d.sync += syn_addr.eq(syn_addr + (proj != Projection.REC))
            else:
                m.d.sync += syn_addr.eq(syn_addr + 1)

        def write_slot(source, bit):
            """Set slot ``ptr`` of the ring of ``source`` to ``bit``."""
            m.d.comb += [
                rings.w_addr.eq(source),
                rings.w_data.eq(bit.replicate(p.ring)),
                rings.w_mask.eq(slot_mask),
            ]

        m.d.sync += [
            s1_valid.eq(0),
            self.done.eq(0),
        ]

        with m.FSM(name="sequencer") as fsm:
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                with m.If(self.clear):
                    m.d.sync += [
                        pre.eq(0),
                        step.eq(0),
                        spikes.eq(0),
                    ]
                    m.next = "CLEAR"
                with m.Elif(self.start):
                    m.d.sync += [
                        in_reg.eq(self.in_spikes),
                        spikes.eq(0),
                        pre.eq(0),
                        syn_addr.eq(0),
                        cycles.eq(0),
                    ]
                    if p.learning:
                        # The input traces need nothing of the forward pass: start them now.
                        m.d.comb += engine.trace_inputs.eq(1)
                        m.d.sync += learn_reg.eq(self.learn & engine.enabled)
                    m.next = "INPUT"
                bus_writes()

            with m.State("CLEAR"):
                m.d.comb += [
                    rings.w_addr.eq(pre),
                    rings.w_data.eq(0),
                    rings.w_mask.eq(all_slots),
                    v_wr.addr.eq(pre),
                    v_wr.data.eq(0),
                    v_wr.en.eq(pre < p.max_hidden),
                    y_wr.addr.eq(pre),
                    y_wr.data.eq(0),
                    y_wr.en.eq(pre < p.max_out),
                ]
                for name in ("C", "A"):
                    if name in neuron_mems:
                        port = neuron_mems[name][1]
                        m.d.comb += [
                            port.addr.eq(pre),
                            port.data.eq(0),
                            port.en.eq(pre < p.max_hidden),
                        ]
                m.d.sync += pre.eq(pre_next)
                with m.If(pre == p.n_sources - 1):
                    m.next = "IDLE"

            with m.State("INPUT"):
                write_slot(pre, in_reg[0])
                m.d.sync += in_reg.eq(in_reg[1:])
                with m.If(pre_next == n_in):
                    m.d.sync += [
                        pre.eq(0),
                        post.eq(0),
                        proj.eq(Projection.IN),
                    ]
                    m.next = "HIDDEN"
                with m.Else():
                    m.d.sync += pre.eq(pre_next)

            with m.State("HIDDEN"):
                first = (pre == 0) & (proj == Projection.IN)
                end_of_inputs = (proj == Projection.IN) & (pre_next == n_in)
                end_of_sources = pre_next == n_hidden
                rec_first = 0
                if p.rec_kernel_taps:
                    # The band of neuron ``post``: sources post - K // 2 .. post + K // 2.
                    half = p.rec_kernel_taps // 2
                    end_of_sources |= pre == post + half
                    rec_first = Mux(post > half, post - half, 0)
                end_of_neuron = Mux(proj == Projection.IN,
                                    end_of_inputs & ~rec_on, end_of_sources)
                fetch(first, end_of_neuron)
                with m.If(end_of_neuron):
                    m.d.sync += [
                        pre.eq(0),
                        proj.eq(Projection.IN),
                        post.eq(post + 1),
                    ]
                    with m.If(post + 1 == n_hidden):
                        m.next = "HIDDEN_FLUSH"
                with m.Elif(end_of_inputs):
                    m.d.sync += [
                        pre.eq(rec_first),
                        proj.eq(Projection.REC),
                    ]
                with m.Else():
                    m.d.sync += pre.eq(pre_next)

            with m.State("HIDDEN_FLUSH"):
                # The last hidden neuron is accumulated (s1_valid), then updated.
                with m.If(~s1_valid):
                    m.d.sync += pre.eq(n_hidden - 1)
                    m.next = "HIDDEN_WRITE"

            with m.State("HIDDEN_WRITE"):
                # Rotate left: the top bit is spike ``pre`` (see the module docstring).
                write_slot(p.max_in + pre, spikes[-1])
                m.d.sync += [
                    spikes.eq(Cat(spikes[-1], spikes[:-1])),
                    pre.eq(pre - 1),
                ]
                if p.learning:
                    m.d.sync += out_base.eq(syn_addr)
                with m.If(pre == 0):
                    m.d.sync += [
                        pre.eq(0),
                        post.eq(0),
                        proj.eq(Projection.OUT),
                    ]
                    if p.learning:
                        # The hidden traces start with the spikes of this last rotation, once
                        # the input traces are done.
                        with m.If(engine.trace_busy):
                            m.next = "HIDDEN_TRACE"
                        with m.Else():
                            # The pass reads the spikes from the next cycle on, when this
                            # last rotation has put them in place.
                            m.d.comb += engine.trace_hidden.eq(1)
                            m.next = "OUTPUT"
                    else:
                        m.next = "OUTPUT"

            if p.learning:
                with m.State("HIDDEN_TRACE"):
                    with m.If(~engine.trace_busy):
                        m.d.comb += engine.trace_hidden.eq(1)
                        m.next = "OUTPUT"

            with m.State("OUTPUT"):
                end_of_neuron = pre_next == n_hidden
                fetch(pre == 0, end_of_neuron)
                with m.If(end_of_neuron):
                    m.d.sync += [
                        pre.eq(0),
                        post.eq(post + 1),
                    ]
                    with m.If(post + 1 == n_out):
                        m.next = "OUTPUT_FLUSH"
                with m.Else():
                    m.d.sync += pre.eq(pre_next)

            with m.State("OUTPUT_FLUSH"):
                # When stage 1 is empty, stage 2 updates the last readout in this cycle.
                with m.If(~s1_valid):
                    if p.learning:
                        with m.If(engine.trace_busy | learn_reg):
                            m.next = "LEARN_WAIT"
                        with m.Else():
                            finish_step()
                    else:
                        finish_step()

            if p.learning:
                with m.State("LEARN_WAIT"):
                    with m.If(~engine.trace_busy):
                        with m.If(learn_reg):
                            m.d.comb += engine.learn_start.eq(1)
                            m.next = "LEARN"
                        with m.Else():
                            finish_step()

                with m.State("LEARN"):
                    learning_done = ~engine.learn_busy
                    if p.neuron_learning:
                        learning_done &= ~neuron_learning.busy
                    with m.If(learning_done):
                        m.d.sync += learn_count.eq(learn_count + 1)
                        finish_step()

        m.d.comb += self.busy.eq(~idle)
        with m.If(~idle & ~fsm.ongoing("CLEAR")):
            m.d.sync += cycles.eq(cycles + 1)

        return m
