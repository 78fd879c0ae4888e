"""On-chip learning engine: traces, learning signal, weight and delay updates.

The engine implements ``docs/model.md`` section 7 bit for bit. It sits beside the
:class:`~rtl.core.Core`, which starts its passes from its sequencer and lends it the synapse,
readout and axonal-delay memories while a learning pass runs. Four blocks, and a fifth on a
core with a recurrent kernel:

:class:`TraceUnit`
    The presynaptic traces ``x`` and the delay-derivative traces ``u`` of every source, in
    rings of ``trace_ring = next_pow2(d_max + 1)`` slots (one more than a spike ring: the
    recurrent learning read ``x[t - d_max]`` must survive the write of ``x[t]``). A pass
    updates ``x[t]`` and ``u[t - W]`` of a range of sources, ``2W + 2`` cycles per source on
    one shared multiplier (1 cycle without delay learning). The input pass runs while the
    core streams the hidden layer, the hidden pass while it streams the readouts.
:class:`SignalUnit`
    After the forward pass of a learning step: the readout errors ``e_k`` (squared error, or
    softmax with an exponential LUT and a serial divider), the learning signals
    ``L_i = sat_l(sum_k B_ki e_k >> l_shift)``, the surrogate ``psi_i`` from the membrane
    distance kept during the forward pass, and the post factors. Every post neuron with a
    nonzero factor is appended to a *post list* (its first synapse address and its factor):
    this is where the zero skip happens.
:class:`UpdateUnit`
    Walks each projection source by source, and for each source over the post list: a
    read-modify-write of every synapse word ``{w, d}`` of a listed post neuron, two cycles
    per synapse on the single-port synapse memory (read in even, write in odd cycles of a
    six-stage pipeline). Walking source-major makes the axonal delay sum of a source one
    accumulator, rounded once and written after the source's last synapse.
:class:`KernelUpdateUnit`
    Only on a core built with ``rec_kernel_taps``: the recurrent kernel taps and the
    recurrent axonal delays (``docs/model.md`` sections 10 and 11.2), after the update pass,
    which then skips the recurrent projection. Source by source over the neurons of its
    band, with one accumulator per tap; each tap is rounded and written once at the end.
:class:`LearningEngine`
    The ``LEARN``, ``PSI``, ``EXP``, ``FEEDBACK``, ``TRACE_X`` and ``TRACE_U`` regions of the
    configuration bus, and the sequence of a learning pass (signal, then update).

Time: the engine reads the step counter ``t`` of the core (``STEP``, cleared by ``clear``).
A trace of a step before the last ``clear`` reads as 0 because its time is negative, so
``clear`` does not have to touch the trace rings.
"""

from amaranth.hdl import C, Cat, Const, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from . import memory_map as mm
from .block_ram import block_ram
from .bus import DATA_WIDTH
from .params import CoreParams

__all__ = ["HASH_LATENCY", "KernelUpdateUnit", "LearningEngine", "Mix32Pipeline", "SignalUnit",
           "TraceUnit", "UpdateUnit"]

# Projection codes, as in rtl.core.Projection (not imported: the core imports this module).
_IN, _REC, _OUT = 0, 1, 2
#: Cycles from a key to its hash in :class:`Mix32Pipeline` (one register per half round).
HASH_LATENCY = 4
# Stochastic-rounding streams (docs/model.md 7.6).
_STREAM_SYNAPTIC_DELAY, _STREAM_AXONAL_DELAY = 1, 2
# Shared parameters (recurrent kernel taps: group 0, address = tap) use stream 3 (model.md 11.3).
_STREAM_SHARED = 3


def _saturate(value, bits):
    """``value`` (signed) clamped to the signed range of ``bits`` bits, as ``signed(bits)``.

    The value fits when its bits from ``bits - 1`` up are all equal (sign extension), which
    costs a few LUTs instead of two wide comparators.
    """
    value = value.as_signed()
    if len(value) <= bits:
        return value
    top = value[bits - 1:]
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Mux(fits, value[:bits].as_signed(), Mux(value[-1], lo, hi)).as_signed()


def _above(value, cap):
    """``value > cap`` for an unsigned ``value`` and a constant ``cap``, with a comparator
    only as wide as ``cap`` (the bits above it decide at once)."""
    width = max(1, cap.bit_length())
    if len(value) <= width:
        return value > cap
    return (value[width:] != 0) | (value[:width] > cap)


def _reached(time, k, k_bits=7):
    """``time >= k`` for a 32-bit step counter and a small ``k`` (below ``2**k_bits``)."""
    return (time[k_bits:] != 0) | (time[:k_bits] >= k)


def _rounding_bias_width(value_width):
    """Width of ``value + bias`` in :func:`_rounding_biased` (the bias has 32 bits)."""
    return max(value_width, 33) + 1


def _rounding_biased(m, value, shift, random, stochastic):
    """``value + bias`` of ``R(value, shift)`` (``docs/model.md`` 7.6, combinational).

    ``R(value, shift) = (value + bias) >> shift`` (floor), with ``bias`` the low ``shift``
    bits of ``random`` (stochastic) or ``2**shift - 1`` for a negative ``value`` (truncate
    toward zero). The shift itself is the engine's shared shifter (:func:`_shift_members`).
    """
    mask = Signal(32)
    m.d.comb += mask.eq(~(Const(0xFFFF_FFFF, 32) << shift)[:32])
    bias = Mux(stochastic, random & mask, Mux(value < 0, mask, 0))
    total = Signal(signed(_rounding_bias_width(len(value))))
    m.d.comb += total.eq(value + bias)
    return total


def _shift_members(width):
    """Ports of a unit that uses the engine's arithmetic right shifter.

    The trace pass, the learning signals and the update pass each shift a wide value right
    by a run-time amount (a barrel shifter of about ``5 * width`` LUTs), and they never run
    at once, so :class:`LearningEngine` has one shifter and routes it to the unit that is
    busy: ``shift_result = shift_value >> shift_amount`` (floor), combinational.
    """
    return {
        "shift_value": Out(signed(width)),
        "shift_amount": Out(5),
        "shift_result": In(signed(width)),
    }


def _update_memory_members(p):
    """Ports of a unit that updates parameters in the core's memories: the single port of
    the synapse memory, the axonal delay memory and the trace ring reads (TraceUnit)."""
    trace_addr_bits = ceil_log2(p.n_sources * p.trace_ring)
    return {
        "syn_addr": Out(range(p.max_synapses + 1)),
        "syn_r_data": In(p.syn_word_bits),
        "syn_w_data": Out(p.syn_word_bits),
        "syn_w_en": Out(1),
        "axon_r_addr": Out(range(p.axon_depth)),
        "axon_r_data": In(p.delay_bits),
        "axon_w_addr": Out(range(p.axon_depth)),
        "axon_w_data": Out(p.delay_bits),
        "axon_w_en": Out(1),
        "x_addr": Out(trace_addr_bits),
        "x_data": In(p.trace_bits),
        "u_addr": Out(trace_addr_bits),
        "u_data": In(signed(p.u_bits)),
    }


class Mix32Pipeline(wiring.Component):
    """The hash ``mix32`` of ``docs/model.md`` 7.6 (``golden.learning.mix32``) in
    :data:`HASH_LATENCY` register stages, a new key every cycle.

    Each half round (two of the hash's operations) ends in a register. On an FPGA those
    registers are the free flip-flops of the logic cells the operations need anyway; in an
    event-driven simulator they stop the glitches of the reconverging XOR layers from
    multiplying through all eight layers.

    Members
    -------
    key : In(32)
        Key of this cycle.
    value : Out(32)
        ``mix32`` of the key of ``HASH_LATENCY`` cycles ago.
    """

    def __init__(self):
        super().__init__({"key": In(32), "value": Out(32)})

    def elaborate(self, platform):
        m = Module()
        x = self.key
        for half in range(HASH_LATENCY):
            stage = Signal(32, name=f"half_round_{half}")
            if half % 2 == 0:
                y = x ^ (x << 13)[:32]
                y = y ^ (y >> 17)
            else:
                y = x ^ (x << 5)[:32]
                y = (y + Cat(y[25:32], y[0:25]))[:32]   # y + rotl(y, 7)
            m.d.sync += stage.eq(y)
            x = stage
        m.d.comb += self.value.eq(x)
        return m


class _RingPort:
    """The read or the write port of a trace ring: ``addr``, ``data`` and (write) ``en``."""

    def __init__(self, addr, data, en=None):
        self.addr, self.data, self.en = addr, data, en


def _trace_ring(m, name, shape, depth, memory, write_at_read=False):
    """A trace ring of ``depth`` words of ``shape``: ``(read_port, write_port)``.

    ``memory = "bram"``: a simple dual-port block RAM. ``"spram"``: one ``SB_SPRAM256KA``
    block (:class:`~rtl.spram.SPRAM256KA`), whose single port writes when the write port is
    enabled and reads otherwise; the :class:`TraceUnit` never needs the read in a write
    cycle. Either way the read port returns the word of the previous cycle's address.
    ``write_at_read``: the caller only writes where it reads in that cycle, so the block
    takes the read address alone (no address multiplexer).
    """
    if memory == "bram":
        return block_ram(m, name, shape, depth)

    from .spram import SPRAM256KA

    width = Shape.cast(shape).width
    m.submodules[name] = block = SPRAM256KA()
    read = _RingPort(Signal(range(depth), name=f"{name}_r_addr"),
                     Signal(shape, name=f"{name}_r_data"))
    write = _RingPort(Signal(range(depth), name=f"{name}_w_addr"),
                      Signal(shape, name=f"{name}_w_data"), Signal(name=f"{name}_w_en"))
    m.d.comb += [
        block.addr.eq(read.addr if write_at_read else Mux(write.en, write.addr, read.addr)),
        block.w_data.eq(write.data.as_unsigned()),
        block.w_mask.eq(0b1111),
        block.w_en.eq(write.en),
        block.select.eq(1),
        read.data.eq(block.r_data[:width]),
    ]
    return read, write


class TraceUnit(wiring.Component):
    """Presynaptic traces ``x`` and delay-derivative traces ``u`` (``docs/model.md`` 7.1).

    One pass updates the sources ``first_source .. first_source + count - 1`` for step
    ``time``: ``x[t] = min((decay * x[t - 1] >> A) + (s << spike_shift), 2**trace_bits - 1)``
    and, on a core with ``delay_learning``, ``u[t - W] = sat_u(sum_m g[m] x[t - W - m] >>
    kernel_shift)`` once ``t >= W``. Per source: cycle 0 decays (reading ``x[t - 1]``),
    cycles ``1 .. 2W + 1`` multiply the kernel taps with ``x[t]``, ``x[t - 1]`` (registers)
    and ``x[t - 2] .. x[t - 2W]`` (one read per cycle); ``u`` is written in the following
    cycle, overlapping the next source. A slot of a time before 0 reads as 0.

    The rings are block RAM, or with ``trace_memory = "spram"`` one single-port
    ``SB_SPRAM256KA`` each. The schedule suits one port as it is: ``x`` is written only in
    cycle 0, whose read is not used, and ``u`` is only written here and only read by the
    update pass and the bus. Without delay learning a source takes one cycle on block RAM
    (write ``x[t]`` and read the next source's ``x[t - 1]`` at once) and two on SPRAM.

    Parameters
    ----------
    params : CoreParams

    Members
    -------
    start : In(1)
        Start a pass (ignored while ``busy``); ``hidden``, ``first_source``, ``count`` and
        ``in_spikes`` are sampled in this cycle.
    hidden : In(1)
        The pass is of hidden neurons (``hidden_spikes``), else of inputs (``in_spikes``).
    first_source : In(range(max_in + max_hidden))
        Ring index of the first source (inputs ``j``, hidden neurons ``max_in + i``).
    count : In(range(max(max_in, max_hidden) + 1))
        Number of sources of the pass.
    in_spikes : In(max_in)
        Spike of source ``first_source + n`` of an input pass at bit ``n``.
    hidden_spikes : In(max_hidden)
        Spike of source ``first_source + n`` of a hidden pass at bit ``n``; read during the
        pass, so it must hold from the cycle after ``start`` to the end of the pass (the
        core's hidden spike register does: it changes only in the next step). Reading it in
        place saves a copy of the widest spike vector.
    time : In(32)
        Step ``t``; must not change during a pass.
    decay, spike_shift, half_width, kernel, kernel_shift : In
        ``trace_decay``, ``trace_shift``, ``W``, the taps ``g[-W..W]`` (index 0 is ``-W``)
        and ``kernel_shift`` of the rule.
    busy : Out(1)
        A pass is running.
    x_addr, u_addr : In
        Ring offsets (``source * trace_ring + slot``) read while no pass runs; the words
        are on ``x_data`` / ``u_data`` in the next cycle.
    x_data : Out(trace_bits)
    u_data : Out(signed(u_bits))
        Always 0 on a core without ``delay_learning``.
    """

    def __init__(self, params: CoreParams):
        p = params
        self._params = p
        spike_width = max(p.max_in, p.max_hidden)
        addr_bits = ceil_log2(p.n_sources * p.trace_ring)
        members = _shift_members(self.acc_bits(p)) if p.delay_learning else {}
        super().__init__({
            **members,
            "start": In(1),
            "first_source": In(range(p.n_sources)),
            "count": In(range(spike_width + 1)),
            "hidden": In(1),
            "in_spikes": In(p.max_in),
            "hidden_spikes": In(p.max_hidden),
            "time": In(32),
            "decay": In(p.decay_bits),
            "spike_shift": In(4),
            "half_width": In(range(p.kernel_max_half_width + 1)),
            "kernel": In(data.ArrayLayout(signed(8), p.kernel_taps)),
            "kernel_shift": In(5),
            "busy": Out(1),
            "x_addr": In(addr_bits),
            "x_data": Out(p.trace_bits),
            "u_addr": In(addr_bits),
            "u_data": Out(signed(p.u_bits)),
        })

    @property
    def params(self) -> CoreParams:
        return self._params

    @staticmethod
    def acc_bits(p):
        """Width of the kernel accumulator, the value of the ``u`` shift."""
        operand_width = max(p.decay_bits + 1, 8)
        return operand_width + p.trace_bits + ceil_log2(p.kernel_taps + 1) + 1

    def elaborate(self, platform):
        p = self._params
        m = Module()
        depth = p.n_sources * p.trace_ring
        slot_bits = p.trace_ring_bits

        # x[t] is written in a source's cycle 0, whose read address is that same slot (the
        # read is not used); without delay learning on block RAM cycle 0 reads the next
        # source instead, but block RAM has a write address of its own.
        x_rd, x_wr = _trace_ring(m, "x_ring", unsigned(p.trace_bits), depth, p.trace_memory,
                                 write_at_read=p.trace_memory == "spram")
        m.d.comb += self.x_data.eq(x_rd.data)
        if p.delay_learning:
            u_rd, u_wr = _trace_ring(m, "u_ring", signed(p.u_bits), depth, p.trace_memory)
            m.d.comb += [u_rd.addr.eq(self.u_addr), self.u_data.eq(u_rd.data)]

        running = Signal()
        source = Signal(range(p.n_sources))
        remaining = Signal.like(self.count)
        # Input spikes are a snapshot shifted by one per source; hidden spikes are read in
        # place at the index of the source within the pass.
        in_spikes = Signal.like(self.in_spikes)
        hidden_pass = Signal()
        index = Signal(range(p.max_hidden))
        tap = Signal(range(p.kernel_taps + 1))
        if p.delay_learning:
            last_tap = 2 * self.half_width + 1
        elif p.trace_memory == "spram":
            # Tap 0 writes x[t]; a single port reads the next source's x[t - 1] in tap 1.
            last_tap = C(1, 1)
        else:
            last_tap = C(0, 1)
        x_prev = Signal(p.trace_bits)   # x[t - 1] of the current source (0 before t = 1)
        x_new = Signal(p.trace_bits)    # x[t]
        u_pending = Signal()
        u_source = Signal.like(source)
        u_valid = Signal()
        m.d.comb += self.busy.eq(running | u_pending)

        # The step counter changes only between steps, and a pass masks with it from its
        # second cycle on: a registered copy keeps the wide compare off the multiplier's input.
        # The masks compare with k < 2**7 only (_reached), so the copy keeps the low 7 bits
        # and whether any higher bit is set.
        time = Signal(8)
        m.d.sync += time.eq(Cat(self.time[:7], self.time[7:] != 0))
        now = self.time[:slot_bits]

        def slot(back):
            return (now - back)[:slot_bits]

        # -- read address: the tap of the next cycle ----------------------------------------
        with m.If(running):
            with m.If(tap == last_tap):
                # Next source: its x[t - 1] for the decay.
                m.d.comb += x_rd.addr.eq(Cat(slot(1), source + 1))
            with m.Else():
                # Tap j + 1 >= 3 multiplies x[t - j].
                m.d.comb += x_rd.addr.eq(Cat(slot(tap), source))
        with m.Elif(self.start):
            m.d.comb += x_rd.addr.eq(Cat(slot(1), self.first_source))
        with m.Else():
            m.d.comb += x_rd.addr.eq(self.x_addr)

        # -- one multiplier: the decay in tap 0, a kernel tap in taps 1 .. 2W + 1 ------------
        operand_width = max(p.decay_bits + 1, 8)
        factor = Signal(signed(operand_width))
        sample = Signal(p.trace_bits)
        product = Signal(signed(operand_width + p.trace_bits))
        m.d.comb += product.eq(factor * sample)

        read_x = Mux(_reached(time, 1), x_rd.data, 0)
        with m.If(tap == 0):
            m.d.comb += [factor.eq(self.decay), sample.eq(read_x)]
        with m.Else():
            m.d.comb += factor.eq(self.kernel[(tap - 1)[:ceil_log2(p.kernel_taps + 1)]])
            with m.If(tap == 1):
                m.d.comb += sample.eq(x_new)
            with m.Elif(tap == 2):
                m.d.comb += sample.eq(x_prev)
            with m.Else():
                # Tap k reads x[t - k + 1], written at step t - k + 1 >= 0 only.
                m.d.comb += sample.eq(Mux(_reached(time, tap - 1), x_rd.data, 0))

        # Tap 0: the new trace. decay < 2**A, so the decayed trace fits trace_bits.
        decayed = product[p.decay_bits:p.decay_bits + p.trace_bits]
        spike = Mux(hidden_pass, self.hidden_spikes.bit_select(index, 1), in_spikes[0])
        jump = Mux(spike, Const(1, 1) << self.spike_shift, 0)
        summed = Signal(p.trace_bits + 2)
        m.d.comb += summed.eq(decayed + jump)
        top = (1 << p.trace_bits) - 1
        next_x = Mux(summed > top, top, summed)[:p.trace_bits]
        m.d.comb += [
            x_wr.addr.eq(Cat(slot(0), source)),
            x_wr.data.eq(next_x),
            x_wr.en.eq(running & (tap == 0)),
        ]

        if p.delay_learning:
            acc = Signal(signed(self.acc_bits(p)))
            with m.If(running & (tap != 0)):
                m.d.sync += acc.eq(Mux(tap == 1, 0, acc) + product)
            # u of the source finished in the previous cycle.
            m.d.comb += [self.shift_value.eq(acc), self.shift_amount.eq(self.kernel_shift)]
            shifted = self.shift_result
            m.d.comb += [
                u_wr.addr.eq(Cat(slot(self.half_width), u_source)),
                u_wr.data.eq(_saturate(shifted, p.u_bits)),
                u_wr.en.eq(u_pending & u_valid),
            ]

        m.d.sync += u_pending.eq(0)
        with m.If(running):
            with m.If(tap == 0):
                m.d.sync += [x_prev.eq(read_x), x_new.eq(next_x)]
            with m.If(tap == last_tap):
                if p.delay_learning:
                    m.d.sync += [
                        u_pending.eq(1),
                        u_source.eq(source),
                        u_valid.eq(_reached(time, self.half_width)),
                    ]
                m.d.sync += [
                    tap.eq(0),
                    source.eq(source + 1),
                    remaining.eq(remaining - 1),
                    in_spikes.eq(in_spikes >> 1),
                    index.eq(index + 1),
                ]
                with m.If(remaining == 1):
                    m.d.sync += running.eq(0)
            with m.Else():
                m.d.sync += tap.eq(tap + 1)
        with m.Elif(self.start & ~u_pending):
            m.d.sync += [
                running.eq(self.count != 0),
                source.eq(self.first_source),
                remaining.eq(self.count),
                hidden_pass.eq(self.hidden),
                in_spikes.eq(self.in_spikes),
                index.eq(0),
                tap.eq(0),
            ]
        return m


class SignalUnit(wiring.Component):
    """Readout errors, learning signals and post factors of a learning step (model.md 7.2).

    Phases after ``start``:

    1. squared error: one cycle per readout, ``e_k = sat_y(y_k - ystar_k)``; softmax: the
       largest readout (one cycle per readout), ``q_k = exp_lut[...]`` and their sum (one
       cycle per readout), then per readout ``p_k = q_k * target_amp // sum`` by restoring
       division (``y_bits - 1`` cycles) and ``e_k = p_k - ystar_k``;
    2. per hidden neuron ``n_out`` multiply-accumulate cycles ``B_ki * e_k``, one cycle for
       ``L_i = sat_l(acc >> l_shift)``, one for ``F_i = L_i * psi_i >> 8``.

    Readouts and hidden neurons whose factor is nonzero (all of them when ``zero_skip`` is
    low) go to the post list: hidden neuron entries from index 0, readout entries from
    ``max_hidden``; each holds the synapse address of the neuron's first synapse and its
    factor. One multiplier serves the accumulation, the ``psi`` product and the softmax
    numerator.

    The forward pass writes ``min(|vpre_i - theta_i| >> psi_shift, 255)`` of every hidden
    neuron (``hidden_en``), the ``psi_lut`` index of the step.

    Parameters
    ----------
    params : CoreParams

    Members
    -------
    start : In(1)
        Start (ignored while ``busy``).
    busy : Out(1)
    n_hidden, n_out, label, target_amp, softmax, random_feedback, zero_skip, psi_shift, \
softmax_shift, l_shift : In
        Run-time sizes, ``CTRL.LABEL``, the rule's constants and modes; ``zero_skip`` low
        lists every post neuron.
    out_base, row : In
        Synapse address of the first readout synapse, and the synapses of a hidden neuron
        (``n_in + n_rec``): the first-synapse addresses of the list entries.
    y_addr : Out, y_data : In
        Read port of the readout memory (data one cycle later).
    syn_addr : Out, syn_data : In
        Synapse memory reads of the readout weights (symmetric feedback).
    hidden_en, hidden_index, vpre, theta : In
        A hidden neuron's update in the forward pass.
    cfg_addr, cfg_data, psi_w_en, exp_w_en, fb_w_en : In
        Bus writes of the LUTs and the feedback weights.
    psi_r_data, exp_r_data, fb_r_data : Out
        Bus reads (address ``cfg_addr`` one cycle earlier, while idle).
    list_addr : In, list_row, list_factor : Out
        Read port of the post list (hidden neurons from 0, readouts from ``max_hidden``).
    hidden_count, out_count : Out
        Entries of the two lists after the pass.
    key_row : In, list_key, key_out_base : Out
        Only on a core built with ``rec_kernel_taps``: the post list also holds the hash
        address of a neuron's first synapse in the dense layout (:meth:`key_bound`):
        ``key_row`` apart (``n_in + n_hidden``, or ``n_in`` without the recurrent projection)
        from 0 for hidden neurons, ``n_hidden`` apart from 0 for readouts, to which the
        address of the first readout synapse is added: ``key_out_base``, valid after the
        pass (``n_hidden * key_row``, reached by the hidden neurons' count).
    shift_value, shift_amount : Out, shift_result : In
        The engine's shared shifter (``acc >> l_shift``).
    factor_en, factor_index, factor_value : Out
        With ``neuron_learning`` or ``rec_kernel_taps``: the post factor ``F_i`` of hidden
        neuron ``factor_index``, for one cycle as it is made (every hidden neuron, in order,
        skipped or not).
    """

    def __init__(self, params: CoreParams):
        p = params
        self._params = p
        list_depth = p.max_hidden + p.max_out
        factor_stream = {}
        if p.neuron_learning or p.rec_kernel_taps:
            factor_stream = {
                "factor_en": Out(1),
                "factor_index": Out(range(p.max_hidden)),
                "factor_value": Out(signed(p.post_factor_bits)),
            }
        super().__init__({
            **factor_stream,
            **_shift_members(self.acc_bits(p)),
            "start": In(1),
            "busy": Out(1),
            "n_hidden": In(range(p.max_hidden + 1)),
            "n_out": In(range(p.max_out + 1)),
            "label": In(16),
            "target_amp": In(p.y_bits - 1),
            "softmax": In(1),
            "random_feedback": In(1),
            "zero_skip": In(1),
            "psi_shift": In(5),
            "softmax_shift": In(5),
            "l_shift": In(5),
            "out_base": In(range(p.max_synapses + 1)),
            "row": In(range(p.max_in + p.max_hidden + 1)),
            "y_addr": Out(range(p.max_out)),
            "y_data": In(signed(p.y_bits)),
            "syn_addr": Out(range(p.max_synapses + 1)),
            "syn_data": In(p.syn_word_bits),
            "hidden_en": In(1),
            "hidden_index": In(range(p.max_hidden)),
            "vpre": In(signed(p.state_bits)),
            "theta": In(unsigned(p.v_bits - 1)),
            "cfg_addr": In(16),
            "cfg_data": In(DATA_WIDTH),
            "psi_w_en": In(1),
            "exp_w_en": In(1),
            "fb_w_en": In(1),
            "psi_r_data": Out(8),
            "exp_r_data": Out(8),
            "fb_r_data": Out(signed(p.weight_bits)),
            "list_addr": In(range(list_depth)),
            "list_row": Out(range(p.max_synapses + 1)),
            "list_factor": Out(signed(p.post_factor_bits)),
            "hidden_count": Out(range(p.max_hidden + 1)),
            "out_count": Out(range(p.max_out + 1)),
            **({
                "key_row": In(range(p.max_in + p.max_hidden + 1)),
                "key_out_base": Out(range(self.key_bound(p))),
                "list_key": Out(range(self.key_bound(p))),
            } if p.rec_kernel_taps else {}),
        })

    @property
    def params(self) -> CoreParams:
        return self._params

    @staticmethod
    def key_bound(p):
        """Bound of the hash addresses of the in and out synapses of a kernel core: those of
        the dense layout (``golden.model.synapse_addresses``), which has ``n_rec = n_hidden``
        where the synapse memory has none."""
        return p.max_hidden * (p.max_in + p.max_hidden) + p.max_out * p.max_hidden + 1

    @staticmethod
    def acc_bits(p):
        """Width of the accumulator of ``sum_k B_ki e_k``, the value of the ``L`` shift."""
        product_bits = max(p.weight_bits, 9) + max(p.y_bits, p.l_bits)
        return product_bits + ceil_log2(p.max_out + 1)

    def elaborate(self, platform):
        p = self._params
        m = Module()
        factor_bits = p.post_factor_bits
        entry = data.StructLayout({
            "row": unsigned(ceil_log2(p.max_synapses + 1)),
            "factor": signed(factor_bits),
            **({"key": unsigned(ceil_log2(self.key_bound(p)))} if p.rec_kernel_taps else {}),
        })

        psi_index_rd, psi_index_wr = block_ram(m, "psi_index", unsigned(8), p.max_hidden)
        psi_rd, psi_wr = block_ram(m, "psi_lut", unsigned(8), 256)
        error_bits = max(p.y_bits, 9)    # e_k, or q_k <= 255 during the softmax
        error_rd, error_wr = block_ram(m, "error", signed(error_bits), p.max_out)
        list_rd, list_wr = block_ram(m, "post_list", entry, p.max_hidden + p.max_out)
        if p.softmax:
            exp_rd, exp_wr = block_ram(m, "exp_lut", unsigned(8), 256)
        if p.random_feedback:
            fb_rd, fb_wr = block_ram(m, "feedback", signed(p.weight_bits),
                                     p.max_out * p.max_hidden)

        # -- forward pass: the psi index of each hidden neuron -----------------------------
        # One register stage first: vpre comes out of the neuron's multiplier and adder, so
        # the distance and its shift get a cycle of their own.
        hidden_en = Signal()
        hidden_index = Signal.like(self.hidden_index)
        vpre = Signal.like(self.vpre)
        theta = Signal.like(self.theta)
        m.d.sync += [
            hidden_en.eq(self.hidden_en),
            hidden_index.eq(self.hidden_index),
            vpre.eq(self.vpre),
            theta.eq(self.theta),
        ]
        difference = Signal(signed(p.state_bits + 1))
        m.d.comb += difference.eq(vpre - theta)
        distance = Mux(difference < 0, -difference, difference).as_unsigned()
        far = distance >> self.psi_shift
        m.d.comb += [
            psi_index_wr.addr.eq(hidden_index),
            psi_index_wr.data.eq(Mux(far > 255, 255, far)),
            psi_index_wr.en.eq(hidden_en),
        ]

        # -- bus side of the LUTs and the feedback memory ----------------------------------
        m.d.comb += [
            psi_wr.addr.eq(self.cfg_addr),
            psi_wr.data.eq(self.cfg_data),
            psi_wr.en.eq(self.psi_w_en),
            self.psi_r_data.eq(psi_rd.data),
        ]
        if p.softmax:
            m.d.comb += [
                exp_wr.addr.eq(self.cfg_addr),
                exp_wr.data.eq(self.cfg_data),
                exp_wr.en.eq(self.exp_w_en),
                self.exp_r_data.eq(exp_rd.data),
            ]
        if p.random_feedback:
            m.d.comb += [
                fb_wr.addr.eq(self.cfg_addr),
                fb_wr.data.eq(self.cfg_data),
                fb_wr.en.eq(self.fb_w_en),
                self.fb_r_data.eq(fb_rd.data),
            ]
        m.d.comb += [
            list_rd.addr.eq(self.list_addr),
            self.list_row.eq(list_rd.data.row),
            self.list_factor.eq(list_rd.data.factor),
        ]
        if p.rec_kernel_taps:
            # Hash address of a neuron's first synapse in the dense layout.
            key_out = Signal(range(self.key_bound(p)))
            key_hidden = Signal(range(self.key_bound(p)))
            m.d.comb += [self.list_key.eq(list_rd.data.key), self.key_out_base.eq(key_hidden)]

        # -- shared multiplier -------------------------------------------------------------
        mul_a = Signal(signed(max(p.weight_bits, 9)))
        mul_b = Signal(signed(max(p.y_bits, p.l_bits)))
        product = Signal(signed(len(mul_a) + len(mul_b)))
        m.d.comb += product.eq(mul_a * mul_b)

        hidden_count = Signal.like(self.hidden_count)
        out_count = Signal.like(self.out_count)
        m.d.comb += [self.hidden_count.eq(hidden_count), self.out_count.eq(out_count)]

        def target(k):
            # k < 2**len(k): a label with a higher bit set matches no readout.
            hit = (self.label[len(k):] == 0) & (self.label[:len(k)] == k)
            return Mux(hit, self.target_amp, 0)

        def append_out(factor):
            """Append readout entry (row_out, factor) unless the zero skip drops it."""
            m.d.comb += [
                list_wr.addr.eq(p.max_hidden + out_count),
                list_wr.data.row.eq(row_out),
                list_wr.data.factor.eq(factor),
                list_wr.en.eq((factor != 0) | ~self.zero_skip),
            ]
            with m.If((factor != 0) | ~self.zero_skip):
                m.d.sync += out_count.eq(out_count + 1)
            m.d.sync += row_out.eq(row_out + self.n_hidden)
            if p.rec_kernel_taps:
                m.d.comb += list_wr.data.key.eq(key_out)
                m.d.sync += key_out.eq(key_out + self.n_hidden)

        # Stream counters: stage 0 issues k (or an op of neuron i), stage 1 has its data.
        k = Signal(range(p.max_out + 2))
        i = Signal(range(p.max_hidden))
        issuing = Signal()
        s1_valid = Signal()
        s1_k = Signal.like(k)
        s1_first = Signal()
        s2_valid = Signal()
        s2_k = Signal.like(k)
        row_out = Signal(range(p.max_synapses + 1))
        row_hidden = Signal(range(p.max_synapses + 1))
        last_k = k == self.n_out - 1

        y_max = Signal(signed(p.y_bits))
        q_sum = Signal(8 + ceil_log2(p.max_out + 1))
        quotient_bits = p.y_bits - 1
        remainder = Signal(len(q_sum) + 1)
        quotient = Signal(quotient_bits)
        iteration = Signal(range(quotient_bits + 1))

        # The readout errors are done when the signal phase starts: its feedback address
        # reuses the register of the readouts' first-synapse address.
        b_addr = row_out
        b_base = Signal(range(p.max_synapses + 1))
        fb_addr = Signal(range(max(2, p.max_out * p.max_hidden)))
        fb_base = Signal.like(fb_addr)
        acc = Signal(signed(self.acc_bits(p)))
        signal = Signal(signed(p.l_bits))
        s1_op = Signal(2)   # 0 multiply-accumulate, 1 learning signal, 2 post factor
        scaled = Signal(signed(factor_bits))

        m.d.comb += self.y_addr.eq(k)
        m.d.sync += [s1_valid.eq(0), s2_valid.eq(0)]

        # Bus reads of the LUTs while idle; the error memory and the feedback memory are
        # addressed by the phases below.
        m.d.comb += psi_rd.addr.eq(self.cfg_addr)
        if p.softmax:
            m.d.comb += exp_rd.addr.eq(self.cfg_addr)
        if p.random_feedback:
            m.d.comb += fb_rd.addr.eq(self.cfg_addr)

        with m.FSM(name="signal") as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        k.eq(0),
                        issuing.eq(1),
                        out_count.eq(0),
                        hidden_count.eq(0),
                        row_out.eq(self.out_base),
                    ]
                    if p.rec_kernel_taps:
                        m.d.sync += key_out.eq(0)
                    if p.softmax:
                        with m.If(self.softmax):
                            m.next = "MAX"
                        with m.Else():
                            m.next = "ERROR"
                    else:
                        m.next = "ERROR"

            def stream_readouts():
                """Stage 0 of a pass over the readouts: y_addr = k, one per cycle."""
                with m.If(issuing):
                    m.d.sync += [s1_valid.eq(1), s1_k.eq(k), s1_first.eq(k == 0), k.eq(k + 1)]
                    with m.If(last_k):
                        m.d.sync += issuing.eq(0)

            if p.softmax:
                with m.State("MAX"):
                    stream_readouts()
                    with m.If(s1_valid):
                        with m.If(s1_first | (self.y_data > y_max)):
                            m.d.sync += y_max.eq(self.y_data)
                    with m.If(~issuing & ~s1_valid):
                        m.d.sync += [k.eq(0), issuing.eq(1), q_sum.eq(0)]
                        m.next = "EXP"

                with m.State("EXP"):
                    # Stage 1: the LUT index of the readout; stage 2: q_k, summed and kept.
                    stream_readouts()
                    gap = Signal(p.y_bits + 1)
                    m.d.comb += gap.eq(y_max - self.y_data)
                    far = gap >> self.softmax_shift
                    m.d.comb += exp_rd.addr.eq(Mux(far > 255, 255, far))
                    with m.If(s1_valid):
                        m.d.sync += [s2_valid.eq(1), s2_k.eq(s1_k)]
                    with m.If(s2_valid):
                        m.d.comb += [
                            error_wr.addr.eq(s2_k),
                            error_wr.data.eq(exp_rd.data),
                            error_wr.en.eq(1),
                        ]
                        m.d.sync += q_sum.eq(q_sum + exp_rd.data)
                    with m.If(~issuing & ~s1_valid & ~s2_valid):
                        m.d.sync += k.eq(0)
                        m.next = "DIV_READ"

                with m.State("DIV_READ"):
                    m.d.comb += error_rd.addr.eq(k)
                    m.next = "DIV_INIT"

                with m.State("DIV_INIT"):
                    # N = q_k * target_amp < 2**8 * 2**(y_bits - 1); N / sum <= target_amp, so
                    # N >> (y_bits - 1) < sum: the remainder starts below the divisor.
                    m.d.comb += [mul_a.eq(error_rd.data[:8]), mul_b.eq(self.target_amp)]
                    m.d.sync += [
                        remainder.eq(product >> quotient_bits),
                        quotient.eq(product[:quotient_bits]),
                        iteration.eq(quotient_bits),
                    ]
                    m.next = "DIV_ITER"

                with m.State("DIV_ITER"):
                    widened = Cat(quotient[-1], remainder)
                    fits = widened >= q_sum
                    m.d.sync += [
                        remainder.eq(Mux(fits, widened - q_sum, widened)),
                        quotient.eq(Cat(fits, quotient[:-1])),
                        iteration.eq(iteration - 1),
                    ]
                    with m.If(iteration == 1):
                        m.next = "DIV_WRITE"

                with m.State("DIV_WRITE"):
                    error = Signal(signed(p.y_bits + 1))
                    m.d.comb += [
                        error.eq(quotient - target(k)),
                        error_wr.addr.eq(k),
                        error_wr.data.eq(error),
                        error_wr.en.eq(1),
                    ]
                    append_out(error)
                    m.d.sync += k.eq(k + 1)
                    with m.If(last_k):
                        m.next = "SIGNAL_START"
                    with m.Else():
                        m.next = "DIV_READ"

            with m.State("ERROR"):
                stream_readouts()
                with m.If(s1_valid):
                    error = Signal(signed(p.y_bits + 1))
                    m.d.comb += [
                        error.eq(_saturate(self.y_data - target(s1_k), p.y_bits)),
                        error_wr.addr.eq(s1_k),
                        error_wr.data.eq(error),
                        error_wr.en.eq(1),
                    ]
                    append_out(error)
                with m.If(~issuing & ~s1_valid):
                    m.next = "SIGNAL_START"

            with m.State("SIGNAL_START"):
                m.d.sync += [
                    i.eq(0),
                    k.eq(0),
                    issuing.eq(1),
                    b_base.eq(self.out_base),
                    b_addr.eq(self.out_base),
                    fb_base.eq(0),
                    fb_addr.eq(0),
                    row_hidden.eq(0),
                ]
                if p.rec_kernel_taps:
                    m.d.sync += key_hidden.eq(0)
                m.next = "SIGNAL"

            with m.State("SIGNAL"):
                # Stage 0: ops of neuron i: k < n_out accumulate B_ki e_k, k == n_out makes
                # L_i, k == n_out + 1 makes F_i.
                m.d.comb += [
                    error_rd.addr.eq(k),
                    self.syn_addr.eq(b_addr),
                    psi_index_rd.addr.eq(i),
                    psi_rd.addr.eq(psi_index_rd.data),
                ]
                if p.random_feedback:
                    m.d.comb += fb_rd.addr.eq(fb_addr)
                with m.If(issuing):
                    m.d.sync += [
                        s1_valid.eq(1),
                        s1_first.eq(k == 0),
                        s1_op.eq(Mux(k < self.n_out, 0, Mux(k == self.n_out, 1, 2))),
                    ]
                    with m.If(k < self.n_out):
                        m.d.sync += [
                            k.eq(k + 1),
                            b_addr.eq(b_addr + self.n_hidden),
                            fb_addr.eq(fb_addr + p.max_hidden),
                        ]
                    with m.Elif(k == self.n_out):
                        m.d.sync += k.eq(k + 1)
                    with m.Else():
                        m.d.sync += [
                            k.eq(0),
                            i.eq(i + 1),
                            b_base.eq(b_base + 1),
                            b_addr.eq(b_base + 1),
                            fb_base.eq(fb_base + 1),
                            fb_addr.eq(fb_base + 1),
                        ]
                        with m.If(i == self.n_hidden - 1):
                            m.d.sync += issuing.eq(0)

                # Stage 1.
                feedback = self.syn_data[:p.weight_bits].as_signed()
                if p.random_feedback:
                    feedback = Mux(self.random_feedback, fb_rd.data, feedback)
                with m.If(s1_valid):
                    with m.Switch(s1_op):
                        with m.Case(0):
                            m.d.comb += [mul_a.eq(feedback), mul_b.eq(error_rd.data)]
                            m.d.sync += acc.eq(Mux(s1_first, 0, acc) + product)
                        with m.Case(1):
                            m.d.comb += [self.shift_value.eq(acc),
                                         self.shift_amount.eq(self.l_shift)]
                            m.d.sync += signal.eq(_saturate(self.shift_result, p.l_bits))
                        with m.Case(2):
                            # |L * psi >> 8| < 2**(l_bits - 1): it fits the factor width.
                            m.d.comb += [mul_a.eq(psi_rd.data), mul_b.eq(signal)]
                            m.d.sync += [
                                scaled.eq((product >> 8)[:factor_bits]),
                                s2_valid.eq(1),
                            ]

                # Stage 2: append the hidden neuron unless skipped.
                keep = (scaled != 0) | ~self.zero_skip
                if p.neuron_learning or p.rec_kernel_taps:
                    # The neuron's index: the hidden entries appended or skipped so far.
                    factor_index = Signal.like(self.factor_index)
                    m.d.comb += [
                        self.factor_en.eq(s2_valid),
                        self.factor_index.eq(factor_index),
                        self.factor_value.eq(scaled),
                    ]
                    with m.If(s2_valid):
                        m.d.sync += factor_index.eq(factor_index + 1)
                    with m.If(~issuing & ~s1_valid & ~s2_valid):
                        m.d.sync += factor_index.eq(0)
                with m.If(s2_valid):
                    m.d.comb += [
                        list_wr.addr.eq(hidden_count),
                        list_wr.data.row.eq(row_hidden),
                        list_wr.data.factor.eq(scaled),
                        list_wr.en.eq(keep),
                    ]
                    with m.If(keep):
                        m.d.sync += hidden_count.eq(hidden_count + 1)
                    m.d.sync += row_hidden.eq(row_hidden + self.row)
                    if p.rec_kernel_taps:
                        m.d.comb += list_wr.data.key.eq(key_hidden)
                        m.d.sync += key_hidden.eq(key_hidden + self.key_row)
                with m.If(~issuing & ~s1_valid & ~s2_valid):
                    m.next = "IDLE"

        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m


class UpdateUnit(wiring.Component):
    """Weight and delay updates of a learning step (``docs/model.md`` 7.3 to 7.6).

    For each projection (``in``, ``rec``, ``out``) that can change anything, and for each
    source ``pre`` of it, the unit walks the post list (:class:`SignalUnit`) and updates the
    synapse ``pre -> post`` of every listed post neuron. Post neurons with a zero factor are
    not in the list: their synapses are neither read nor written (the zero skip).

    One synapse every two cycles through six stages; the synapse memory is read in the even
    cycles (stage 0) and written in the odd ones (stage 5):

    0. address ``row(post) + pre`` from the post list; read the synapse word; the source's
       axonal delay (read while the synapse was issued) is kept; the weight's hash key
       (the synapse address) enters the hash pipeline;
    1. old weight and delay: the integer delay picks the trace slots ``x[n - d]`` and
       ``u[n - max(d, W)]`` (``n = t``, or ``t - 1`` for ``rec``); the delay's hash key
       (synapse address, or source index for an axonal delay) enters the hash pipeline;
    2. ``F * x`` and ``(w >> weight_frac) * u``;
    3. ``F * (w_eff * u)`` on the multiplier of stage 2;
    4. the weight is rounded (hash of stage 0) and saturated; an axonal delay term joins
       the source's sum;
    5. a synaptic delay is rounded (hash of stage 1) and clamped, the new word written;
       after a source's last synapse its axonal delay sum is rounded and clamped, and the
       new axonal delay written.

    A stage is busy every other cycle, so the two uses of the multiplier (stages 2 and 3)
    and of the rounding shifter (stages 4 and 5) never meet: two multipliers, one rounding
    shifter, one hash pipeline. The pipeline drains between projections.

    Parameters
    ----------
    params : CoreParams

    Members
    -------
    start : In(1)
        Start (ignored while ``busy``).
    busy : Out(1)
    n_in, n_hidden, rec_on, kinds, learn_weights, learn_delays, stochastic, eta_in, \
eta_rec, eta_out, eta_delay, seed, count, time, half_width, delay_top : In
        Run-time sizes, ``FLAGS`` (recurrent, the three 2-bit delay kinds), the rule's
        modes and constants, ``LEARN_COUNT`` and the step ``t``.
    hidden_count, out_count : In
        Entries of the post lists (:class:`SignalUnit`).
    list_addr : Out, list_row, list_factor : In
        Post list read port.
    list_key, key_out_base : In
        Only on a core built with ``rec_kernel_taps``: the hash address of a listed neuron's
        first synapse in the dense layout, and that of the first readout synapse (added to
        the readouts' keys): the weights and synaptic delays are keyed by them, not by the
        synapse word's address (:meth:`SignalUnit.key_bound`).
    syn_addr, syn_w_data, syn_w_en : Out, syn_r_data : In
        The single port of the synapse memory.
    axon_r_addr, axon_w_addr, axon_w_data, axon_w_en : Out, axon_r_data : In
        Axonal delay memory (capacity layout of the ``AXON`` region).
    x_addr, u_addr : Out, x_data, u_data : In
        Trace ring reads (:class:`TraceUnit`).
    shift_value, shift_amount : Out, shift_result : In
        The engine's shared shifter: the rounding shift of stages 4 and 5.
    """

    def __init__(self, params: CoreParams):
        p = params
        self._params = p
        list_depth = p.max_hidden + p.max_out
        super().__init__({
            **_shift_members(_rounding_bias_width(self.round_bits(p))),
            "start": In(1),
            "busy": Out(1),
            "n_in": In(range(p.max_in + 1)),
            "n_hidden": In(range(p.max_hidden + 1)),
            "rec_on": In(1),
            "kinds": In(6),
            "learn_weights": In(1),
            "learn_delays": In(1),
            "stochastic": In(1),
            "eta_in": In(5),
            "eta_rec": In(5),
            "eta_out": In(5),
            "eta_delay": In(5),
            "seed": In(32),
            "count": In(32),
            "time": In(32),
            "half_width": In(range(p.kernel_max_half_width + 1)),
            "delay_top": In(p.delay_bits),
            "hidden_count": In(range(p.max_hidden + 1)),
            "out_count": In(range(p.max_out + 1)),
            "list_addr": Out(range(list_depth)),
            "list_row": In(range(p.max_synapses + 1)),
            "list_factor": In(signed(p.post_factor_bits)),
            **_update_memory_members(p),
            **({"list_key": In(range(SignalUnit.key_bound(p))),
                "key_out_base": In(range(SignalUnit.key_bound(p)))} if p.rec_kernel_taps else {}),
            **({"kernel_key_en": In(1), "kernel_key": In(32), "hash_value": Out(32)}
               if p.rec_kernel_taps and p.stochastic_rounding else {}),
        })

    @property
    def params(self) -> CoreParams:
        return self._params

    @staticmethod
    def round_bits(p):
        """Width of the rounding input: a weight step ``F * x`` or an axonal delay sum."""
        return max(p.post_factor_bits + p.trace_bits, p.axon_sum_bits)

    def elaborate(self, platform):
        p = self._params
        m = Module()
        wb, db = p.weight_bits, p.delay_bits
        factor_bits = p.post_factor_bits
        eff_bits = p.weight_bits - p.weight_frac
        slot_bits = p.trace_ring_bits

        # -- the projection being walked and its constants --------------------------------
        proj = Signal(2)
        is_in, is_rec, is_out = proj == _IN, proj == _REC, proj == _OUT
        kind = self.kinds.word_select(proj, 2)
        synaptic = kind == mm.DELAY_SYNAPTIC
        axonal = kind == mm.DELAY_AXONAL
        count = Mux(is_out, self.out_count, self.hidden_count)
        list_base = Mux(is_out, p.max_hidden, 0)
        n_pre = Mux(is_in, self.n_in, self.n_hidden)
        pre_offset = Mux(is_rec, self.n_in, 0)
        axon_base = Mux(is_in, 0, Mux(is_rec, p.max_in, p.max_in + p.max_hidden))
        source_key = Mux(is_in, 0, Mux(is_rec, self.n_in, self.n_in + self.n_hidden))
        trace_base = Mux(is_in, 0, p.max_in)
        eta = Mux(is_in, self.eta_in, Mux(is_rec, self.eta_rec, self.eta_out))
        delays_learn = self.learn_delays & (synaptic | axonal) if p.delay_learning else C(0, 1)
        active = ((count != 0) & (self.learn_weights | delays_learn)
                  & (~is_rec | self.rec_on))

        # -- walker --------------------------------------------------------------------------
        pre = Signal(range(p.n_sources))
        post = Signal(range(max(p.max_hidden, p.max_out)))
        phase = Signal()   # 1 in the cycles that issue a synapse
        m.d.comb += [
            self.list_addr.eq(list_base + post),
            self.axon_r_addr.eq(axon_base + pre),
        ]

        # -- pipeline registers ---------------------------------------------------------------
        # A synapse is issued every other cycle, so stages 2k and 2k + 1 are never valid at
        # once: each pair shares one bank of registers. A field a stage passes on unchanged
        # to the other stage of its pair stays where it is; one that changes is updated in
        # place. This halves the copies, which on an iCE40 each take a logic cell of their own
        # (a flip-flop fed by a flip-flop cannot share a cell with a LUT).
        banks = ({}, {}, {})

        def stage(name, **fields):
            index = int(name[1:])
            bank = banks[index // 2]
            regs = {"valid": Signal(name=f"{name}_valid")}
            for field, shape in fields.items():
                if field not in bank:
                    pair = f"s{index // 2 * 2}{index // 2 * 2 + 1}"
                    bank[field] = Signal(shape, name=f"{pair}_{field}")
                regs[field] = bank[field]
            return regs

        addr_shape = range(p.max_synapses + 1)
        fx_shape = signed(factor_bits + p.trace_bits)
        wu_shape = signed(eff_bits + p.u_bits)
        g_shape = signed(p.axon_sum_bits)
        s0 = stage("s0", pre=range(p.n_sources), first=1, last=1)
        s1 = stage("s1", addr=addr_shape, factor=signed(factor_bits), pre=range(p.n_sources),
                   first=1, last=1, d_axon=db)
        if p.rec_kernel_taps:
            # The hash address of the synapse (the dense layout's) differs from its word's.
            s1_key = Signal(range(SignalUnit.key_bound(p)), name="s1_key")
        s2 = stage("s2", addr=addr_shape, factor=signed(factor_bits), pre=range(p.n_sources),
                   first=1, last=1, w=signed(wb), d=db, d_axon=db, x_ok=1, u_ok=1)
        s3 = stage("s3", addr=addr_shape, factor=signed(factor_bits), pre=range(p.n_sources),
                   first=1, last=1, w=signed(wb), d=db, d_axon=db, fx=fx_shape, wu=wu_shape)
        s4 = stage("s4", addr=addr_shape, pre=range(p.n_sources), first=1, last=1,
                   w=signed(wb), d=db, d_axon=db, fx=fx_shape, g=g_shape)
        s5 = stage("s5", addr=addr_shape, pre=range(p.n_sources), last=1, w=signed(wb), d=db,
                   d_axon=db, g=g_shape)
        d_new = Signal(db)
        stages = (s0, s1, s2, s3, s4, s5)
        m.d.sync += [st["valid"].eq(0) for st in stages]
        pipeline_empty = ~Cat(*(st["valid"] for st in stages)).any()

        with m.FSM(name="update") as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += proj.eq(_IN)
                    m.next = "SELECT"

            with m.State("SELECT"):
                with m.If(active):
                    m.d.sync += [pre.eq(0), post.eq(0), phase.eq(1)]
                    m.next = "WALK"
                with m.Elif(is_out):
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += proj.eq(proj + 1)

            with m.State("WALK"):
                m.d.sync += phase.eq(~phase)
                with m.If(phase):
                    last_post = post == count - 1
                    m.d.sync += [
                        s0["valid"].eq(1),
                        s0["pre"].eq(pre),
                        s0["first"].eq(post == 0),
                        s0["last"].eq(last_post),
                    ]
                    with m.If(last_post):
                        m.d.sync += post.eq(0)
                        with m.If(pre == n_pre - 1):
                            m.next = "DRAIN"
                        with m.Else():
                            m.d.sync += pre.eq(pre + 1)
                    with m.Else():
                        m.d.sync += post.eq(post + 1)

            with m.State("DRAIN"):
                with m.If(pipeline_empty):
                    with m.If(is_out):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += proj.eq(proj + 1)
                        m.next = "SELECT"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))

        # -- stage 0: read the synapse word; weight key into the hash ------------------------
        address = Signal(addr_shape)
        m.d.comb += address.eq(self.list_row + pre_offset + s0["pre"])
        if p.rec_kernel_taps:
            key_address = Signal(range(SignalUnit.key_bound(p)))
            m.d.comb += key_address.eq(self.list_key + Mux(is_out, self.key_out_base, 0)
                                       + s0["pre"])
            with m.If(s0["valid"]):
                m.d.sync += s1_key.eq(key_address)
        else:
            key_address = address
        with m.If(s5["valid"]):
            m.d.comb += [
                self.syn_addr.eq(s5["addr"]),
                self.syn_w_data.eq(Cat(s5["w"], d_new)),
                self.syn_w_en.eq(1),
            ]
        with m.Else():
            m.d.comb += self.syn_addr.eq(address)
        with m.If(s0["valid"]):
            m.d.sync += [
                s1["valid"].eq(1),
                s1["addr"].eq(address),
                s1["factor"].eq(self.list_factor),
                s1["pre"].eq(s0["pre"]),
                s1["first"].eq(s0["first"]),
                s1["last"].eq(s0["last"]),
                s1["d_axon"].eq(self.axon_r_data),
            ]

        # The hash is pipelined (HASH_LATENCY cycles): the weight key enters in stage 0, the
        # delay key in stage 1, their values come out in stages 4 and 5.
        if p.stochastic_rounding:
            m.submodules.hash = hasher = Mix32Pipeline()
            key_base = self.seed ^ Cat(C(0, 16), self.count[:16])
            with m.If(s0["valid"]):
                m.d.comb += hasher.key.eq(key_base ^ key_address)
            with m.Elif(axonal):
                m.d.comb += hasher.key.eq(key_base ^ (_STREAM_AXONAL_DELAY << 30)
                                          ^ (source_key + s1["pre"]))
            with m.Else():
                m.d.comb += hasher.key.eq(key_base ^ (_STREAM_SYNAPTIC_DELAY << 30)
                                          ^ (s1_key if p.rec_kernel_taps else s1["addr"]))
            if p.rec_kernel_taps:
                # The kernel unit runs after this one and borrows the hash pipeline.
                m.d.comb += self.hash_value.eq(hasher.value)
                with m.If(self.kernel_key_en):
                    m.d.comb += hasher.key.eq(self.kernel_key)
            random, stochastic = hasher.value, self.stochastic
        else:
            # Truncation only: no hash, and the rounding bias is a constant per sign.
            random, stochastic = C(0, 32), C(0, 1)

        # -- stage 1: old word, trace slots ---------------------------------------------------
        w_old = self.syn_r_data[:wb].as_signed()
        d_word = self.syn_r_data[wb:wb + db]
        d_stored = Mux(synaptic, d_word, Mux(axonal, s1["d_axon"], 0))
        if p.delay_int_bits:
            d_int = d_stored[p.delay_frac:p.delay_frac + p.delay_int_bits]
        else:
            d_int = C(0, 1)
        rec = is_rec
        back_x = Signal(8)
        back_u = Signal(8)
        m.d.comb += [
            back_x.eq(d_int + rec),
            back_u.eq(Mux(d_int > self.half_width, d_int, self.half_width) + rec),
        ]
        now = self.time[:slot_bits]
        ring = trace_base + s1["pre"]
        m.d.comb += [
            self.x_addr.eq(Cat((now - back_x)[:slot_bits], ring)),
            self.u_addr.eq(Cat((now - back_u)[:slot_bits], ring)),
        ]
        with m.If(s1["valid"]):
            m.d.sync += [
                s2["valid"].eq(1),
                s2["w"].eq(w_old),
                s2["d"].eq(d_word),
                s2["x_ok"].eq(_reached(self.time, back_x, 8)),
                s2["u_ok"].eq(_reached(self.time, back_u, 8)),
            ]
            for field in ("addr", "factor", "pre", "first", "last", "d_axon"):
                m.d.sync += s2[field].eq(s1[field])

        # -- one multiplier for F * x (stage 2) and F * (w_eff * u) (stage 3) ----------------
        mul_factor = Signal(signed(factor_bits))
        mul_other = Signal(signed(max(p.trace_bits + 1, eff_bits + p.u_bits)))
        product = Signal(signed(len(mul_factor) + len(mul_other)))
        m.d.comb += product.eq(mul_factor * mul_other)

        # -- stage 2: F * x, w_eff * u --------------------------------------------------------
        x = Mux(s2["x_ok"], self.x_data, 0)
        with m.If(s2["valid"]):
            m.d.comb += [mul_factor.eq(s2["factor"]), mul_other.eq(x)]
            m.d.sync += [s3["valid"].eq(1), s3["fx"].eq(product)]
            if p.delay_learning:
                u = Mux(s2["u_ok"], self.u_data, 0)
                m.d.sync += s3["wu"].eq((s2["w"] >> p.weight_frac) * u)
            for field in ("addr", "factor", "pre", "first", "last", "w", "d", "d_axon"):
                m.d.sync += s3[field].eq(s2[field])

        # -- stage 3: F * w_eff * u -----------------------------------------------------------
        with m.If(s3["valid"]):
            m.d.comb += [mul_factor.eq(s3["factor"]), mul_other.eq(s3["wu"])]
            m.d.sync += [s4["valid"].eq(1), s4["g"].eq(product)]
            for field in ("addr", "pre", "first", "last", "w", "d", "d_axon", "fx"):
                m.d.sync += s4[field].eq(s3[field])

        # -- one rounding shifter: weights in stage 4, delays in stage 5 ----------------------
        round_in = Signal(signed(self.round_bits(p)))
        round_shift = Signal(5)
        m.d.comb += [
            self.shift_value.eq(_rounding_biased(m, round_in, round_shift, random, stochastic)),
            self.shift_amount.eq(round_shift),
        ]
        rounded = self.shift_result

        # -- stage 4: the weight; the axonal sum ----------------------------------------------
        if p.delay_learning:
            axon_sum = Signal(signed(p.axon_sum_bits))
            total = Signal(signed(p.axon_sum_bits))
            m.d.comb += total.eq(Mux(s4["first"], 0, axon_sum) + s4["g"])
        with m.If(s4["valid"]):
            m.d.comb += [round_in.eq(s4["fx"]), round_shift.eq(eta)]
            # A step beyond +-2**wb saturates the weight either way: narrow it first.
            w_next = Signal(signed(wb + 3))
            m.d.comb += w_next.eq(s4["w"] - _saturate(rounded, wb + 2))
            m.d.sync += [
                s5["valid"].eq(1),
                s5["w"].eq(Mux(self.learn_weights, _saturate(w_next, wb), s4["w"])),
            ]
            if p.delay_learning:
                m.d.sync += [axon_sum.eq(total), s5["g"].eq(Mux(axonal, total, s4["g"]))]
            for field in ("addr", "pre", "last", "d", "d_axon"):
                m.d.sync += s5[field].eq(s4[field])

        # -- stage 5: the delay; write the word -----------------------------------------------
        m.d.comb += d_new.eq(s5["d"])
        if p.delay_learning:
            with m.If(s5["valid"]):
                # s5.g is the synapse's term (synaptic) or the source's sum so far (axonal).
                m.d.comb += [round_in.eq(s5["g"]), round_shift.eq(self.eta_delay)]
                # A step beyond +-2**db clamps the delay either way: narrow it first.
                old = Mux(axonal, s5["d_axon"], s5["d"])
                moved = Signal(signed(db + 3))
                m.d.comb += moved.eq(old - _saturate(rounded, db + 2))
                clamped = Mux(moved < 0, 0, Mux(moved > self.delay_top, self.delay_top, moved))
                with m.If(self.learn_delays & synaptic):
                    m.d.comb += d_new.eq(clamped)
                with m.If(axonal):
                    m.d.comb += [
                        self.axon_w_addr.eq(axon_base + s5["pre"]),
                        self.axon_w_data.eq(clamped),
                        self.axon_w_en.eq(self.learn_delays & s5["last"]),
                    ]
        return m


class KernelUpdateUnit(wiring.Component):
    """Recurrent kernel taps and recurrent axonal delays of a learning step on a core built
    with ``rec_kernel_taps`` (``docs/model.md`` sections 10 and 11.2).

    It runs after the :class:`UpdateUnit` (which then skips the recurrent projection), and
    walks source by source: for source ``i'`` it reads the axonal delay once, and with it the
    trace slots ``x[t - 1 - d]`` and ``u[t - 1 - max(d, W)]``, then the post neurons ``i`` of
    its band, ``|i' - i| <= K_c // 2`` clipped to ``[0, n_hidden)``, one per cycle: the post
    factor ``F_i`` (from the factor memory, which :class:`SignalUnit` fills) and the old tap
    word ``c = i' - i + K_c // 2``. Per pair it adds ``F_i * x`` to the accumulator of tap
    ``c`` and ``F_i * (w_c >> weight_frac)`` to the source's sum, whose product with ``u``
    after the band is the axonal delay sum of section 7.4 (``u`` is one value per source, so
    it factors out of the sum exactly). The delay is rounded once and written, then the next
    source follows. After the last source every tap of the network kernel is rounded once
    and written; the taps read during the walk are therefore the old ones.

    A source takes ``b + 6`` cycles (``b`` post neurons in its band; the product with ``u``
    takes two of them, in halves on the ``F * x`` multiplier), the taps ``2 K_c + 3`` cycles
    (read and write alternate on the single-port synapse memory while the hash of the next
    tap runs). The walk has no zero skip: a factor of 0 adds 0. The pass is skipped when the
    post list is empty (every factor 0, so nothing can change). Two multipliers; the tap
    sums in a block RAM of ``K_c`` words with one adder; the rounding shift is the engine's,
    the hash pipeline the update unit's (both idle meanwhile).

    Parameters
    ----------
    params : CoreParams
        A core with ``learning`` and ``rec_kernel_taps > 0``.

    Members
    -------
    start : In(1)
        Start (ignored while ``busy``); does nothing unless something can change.
    busy : Out(1)
    n_in, n_hidden, rec_kernel, rec_on, axonal, learn_weights, learn_delays, stochastic, \
eta_rec, eta_delay, seed, count, time, half_width, delay_top, hidden_count : In
        Run-time sizes, ``CTRL.REC_KERNEL`` (the network kernel's taps ``K``), ``FLAGS``
        (recurrent on, recurrent delays axonal), the rule's modes and constants,
        ``LEARN_COUNT``, the step ``t`` and the length of the hidden post list.
    factor_en, factor_index, factor_value : In
        Hidden post factors from :class:`SignalUnit`, written to the factor memory.
    syn_addr, syn_w_data, syn_w_en : Out, syn_r_data : In
        The single port of the synapse memory (the taps at ``kernel_base``).
    axon_r_addr, axon_w_addr, axon_w_data, axon_w_en : Out, axon_r_data : In
        Axonal delay memory (recurrent sources at ``max_in + i``).
    x_addr, u_addr : Out, x_data, u_data : In
        Trace ring reads (:class:`TraceUnit`).
    shift_value, shift_amount : Out, shift_result : In
        The engine's shared shifter: the rounding shifts.
    hash_key : Out(32), hash_value : In(32)
        Only with ``stochastic_rounding``: the update unit's hash pipeline
        (:class:`Mix32Pipeline`), ``hash_value`` being the hash of the key of
        :data:`HASH_LATENCY` cycles ago.
    """

    def __init__(self, params: CoreParams):
        p = params
        if not (p.learning and p.rec_kernel_taps):
            raise ValueError("KernelUpdateUnit needs CoreParams(learning=True, "
                             "rec_kernel_taps > 0)")
        self._params = p
        super().__init__({
            **_shift_members(_rounding_bias_width(self.round_bits(p))),
            "start": In(1),
            "busy": Out(1),
            "n_in": In(range(p.max_in + 1)),
            "n_hidden": In(range(p.max_hidden + 1)),
            "rec_kernel": In(range(p.rec_kernel_taps + 1)),
            "rec_on": In(1),
            "axonal": In(1),
            "learn_weights": In(1),
            "learn_delays": In(1),
            "stochastic": In(1),
            "eta_rec": In(5),
            "eta_delay": In(5),
            "seed": In(32),
            "count": In(32),
            "time": In(32),
            "half_width": In(range(p.kernel_max_half_width + 1)),
            "delay_top": In(p.delay_bits),
            "hidden_count": In(range(p.max_hidden + 1)),
            "factor_en": In(1),
            "factor_index": In(range(p.max_hidden)),
            "factor_value": In(signed(p.post_factor_bits)),
            **_update_memory_members(p),
            **({"hash_key": Out(32), "hash_value": In(32)} if p.stochastic_rounding else {}),
        })

    @property
    def params(self) -> CoreParams:
        return self._params

    @staticmethod
    def tap_sum_bits(p):
        """Width of a tap accumulator: up to ``max_hidden`` terms ``F * x``."""
        return p.post_factor_bits + p.trace_bits + ceil_log2(p.max_hidden + 1)

    @staticmethod
    def weight_sum_bits(p):
        """Width of a source's sum of ``F * (w >> weight_frac)`` over its band."""
        eff_bits = p.weight_bits - p.weight_frac
        return p.post_factor_bits + eff_bits + ceil_log2(p.rec_kernel_taps + 1)

    @classmethod
    def round_bits(cls, p):
        """Width of the rounding input: a tap sum or an axonal delay sum."""
        return max(cls.tap_sum_bits(p), cls.weight_sum_bits(p) + p.u_bits)

    def elaborate(self, platform):
        p = self._params
        m = Module()
        wb, db = p.weight_bits, p.delay_bits
        taps = p.rec_kernel_taps
        half = taps // 2
        slot_bits = p.trace_ring_bits
        factor_bits = p.post_factor_bits
        eff_bits = wb - p.weight_frac

        factor_rd, factor_wr = block_ram(m, "factors", signed(factor_bits), p.max_hidden)
        m.d.comb += [
            factor_wr.addr.eq(self.factor_index),
            factor_wr.data.eq(self.factor_value),
            factor_wr.en.eq(self.factor_en),
        ]

        delays_learn = self.learn_delays & self.axonal if p.delay_learning else C(0, 1)
        active = (self.rec_on & (self.hidden_count != 0)
                  & (self.learn_weights | delays_learn))

        source = Signal(range(p.max_hidden))
        post = Signal(range(p.max_hidden))
        # The tap sums live in a block RAM, read in the cycle a pair is issued and written
        # when it is added: the pairs of a source have distinct taps, and sources are cycles
        # apart, so a read never meets a pending write of its tap. A tap not yet added to in
        # this pass (its bit of ``touched`` low) reads as 0, so the RAM needs no clearing.
        sums_rd, sums_wr = block_ram(m, "tap_sums", signed(self.tap_sum_bits(p)), taps)
        touched = Signal(taps)
        weight_sum = Signal(signed(self.weight_sum_bits(p)))
        x_del = Signal(p.trace_bits)
        u_del = Signal(signed(p.u_bits))
        x_ok = Signal()
        u_ok = Signal()
        d_old = Signal(db)
        axon_sum = Signal(signed(self.weight_sum_bits(p) + p.u_bits))
        s1_valid = Signal()
        s1_first = Signal()
        s1_tap = Signal(range(taps))
        phase = Signal(range(2 * taps + 3))
        m.d.sync += s1_valid.eq(0)

        # The network kernel of K taps is centred in the core's: core tap c is its tap
        # c - pad, and only those taps learn (the others stay 0).
        pad = Signal(range(taps + 1))
        m.d.comb += pad.eq((taps - self.rec_kernel) >> 1)

        m.d.comb += self.axon_r_addr.eq(p.max_in + source)

        # -- hash keys: the source's axonal delay while it is walked, then the taps ----------
        # The hash pipeline is the update unit's, idle meanwhile (hash_key, hash_value).
        if p.stochastic_rounding:
            key_base = self.seed ^ Cat(C(0, 16), self.count[:16])
            random, stochastic = self.hash_value, self.stochastic
        else:
            random, stochastic = C(0, 32), C(0, 1)

        # -- two multipliers: F * x and F * (w >> weight_frac) in the walk; after it the first
        # multiplies the source's sum by u, in two halves, so that it stays one DSP wide.
        sum_bits = self.weight_sum_bits(p)
        low_bits = sum_bits // 2
        mul_a = Signal(signed(max(factor_bits, low_bits + 1, sum_bits - low_bits)))
        mul_b = Signal(signed(max(p.trace_bits + 1, p.u_bits)))
        product = Signal(signed(len(mul_a) + len(mul_b)))
        m.d.comb += product.eq(mul_a * mul_b)
        fw = Signal(signed(factor_bits + eff_bits))
        m.d.comb += fw.eq(factor_rd.data * (self.syn_r_data[:wb].as_signed() >> p.weight_frac))

        # -- one rounding shift ---------------------------------------------------------------
        round_in = Signal(signed(self.round_bits(p)))
        round_shift = Signal(5)
        m.d.comb += [
            self.shift_value.eq(_rounding_biased(m, round_in, round_shift, random, stochastic)),
            self.shift_amount.eq(round_shift),
        ]
        rounded = self.shift_result

        # -- stage 1 of the walk: accumulate the pair issued in the previous cycle ----------
        # The sum of the tap read in the previous cycle (``select``).
        select = Signal(range(taps))
        m.d.sync += select.eq(sums_rd.addr)
        selected = Mux(touched.bit_select(select, 1), sums_rd.data, 0)
        with m.If(s1_valid):
            m.d.comb += [mul_a.eq(factor_rd.data), mul_b.eq(x_del)]
            m.d.sync += weight_sum.eq(Mux(s1_first, 0, weight_sum) + fw)
            # |F * x| < 2**(factor_bits + trace_bits - 1): the sum of n_hidden terms fits.
            m.d.comb += [
                sums_wr.addr.eq(s1_tap),
                sums_wr.data.eq(selected + product),
                sums_wr.en.eq(1),
            ]
            m.d.sync += touched.eq(touched | (C(1, taps) << s1_tap)[:taps])

        last_post = (post == source + half) | (post == self.n_hidden - 1)
        now = self.time[:slot_bits]

        def issue(target, first):
            """Stage 0: read F of post ``target`` and the tap word it shares with the source."""
            tap = Signal(range(taps), name="issue_tap")
            m.d.comb += [
                tap.eq(source + half - target),
                factor_rd.addr.eq(target),
                self.syn_addr.eq(p.kernel_base + tap),
                sums_rd.addr.eq(tap),
            ]
            m.d.sync += [s1_valid.eq(1), s1_first.eq(first), s1_tap.eq(tap)]

        with m.FSM(name="kernel_update") as fsm:
            with m.State("IDLE"):
                with m.If(self.start & active):
                    m.d.sync += [source.eq(0), touched.eq(0)]
                    m.next = "AXON"

            with m.State("AXON"):
                # The axonal delay of the source is read (axon_r_addr).
                m.next = "TRACE"

            with m.State("TRACE"):
                d_stored = Mux(self.axonal, self.axon_r_data, 0)
                if p.delay_int_bits:
                    d_int = d_stored[p.delay_frac:p.delay_frac + p.delay_int_bits]
                else:
                    d_int = C(0, 1)
                # The recurrent projection reads one step further back (n = t - 1).
                back_x = Signal(8)
                back_u = Signal(8)
                m.d.comb += [
                    back_x.eq(d_int + 1),
                    back_u.eq(Mux(d_int > self.half_width, d_int, self.half_width) + 1),
                    self.x_addr.eq(Cat((now - back_x)[:slot_bits], p.max_in + source)),
                    self.u_addr.eq(Cat((now - back_u)[:slot_bits], p.max_in + source)),
                ]
                m.d.sync += [
                    d_old.eq(d_stored),
                    x_ok.eq(_reached(self.time, back_x, 8)),
                    u_ok.eq(_reached(self.time, back_u, 8)),
                    post.eq(Mux(source > half, source - half, 0)),
                ]
                m.next = "LATCH"

            with m.State("LATCH"):
                m.d.sync += [
                    x_del.eq(Mux(x_ok, self.x_data, 0)),
                    u_del.eq(Mux(u_ok, self.u_data, 0) if p.delay_learning else 0),
                ]
                issue(post, 1)
                m.d.sync += post.eq(post + 1)
                with m.If(last_post):
                    m.next = "END_WALK"
                with m.Else():
                    m.next = "WALK"

            with m.State("WALK"):
                issue(post, 0)
                m.d.sync += post.eq(post + 1)
                with m.If(last_post):
                    m.next = "END_WALK"

            with m.State("END_WALK"):
                # Stage 1 adds the band's last pair.
                m.next = "AXON_LOW"

            # The axonal delay sum u * sum F (w >> weight_frac): the low half of the sum
            # (unsigned), then the high half (signed) shifted into place.
            with m.State("AXON_LOW"):
                m.d.comb += [mul_a.eq(weight_sum[:low_bits]), mul_b.eq(u_del)]
                m.d.sync += axon_sum.eq(product)
                m.next = "AXON_HIGH"

            with m.State("AXON_HIGH"):
                m.d.comb += [mul_a.eq(weight_sum[low_bits:].as_signed()), mul_b.eq(u_del)]
                m.d.sync += axon_sum.eq(axon_sum + (product << low_bits))
                m.next = "AXON_WRITE"

            with m.State("AXON_WRITE"):
                m.d.comb += [round_in.eq(axon_sum), round_shift.eq(self.eta_delay)]
                # A step beyond +-2**db clamps the delay either way: narrow it first.
                moved = Signal(signed(db + 3))
                m.d.comb += moved.eq(d_old - _saturate(rounded, db + 2))
                m.d.comb += [
                    self.axon_w_addr.eq(p.max_in + source),
                    self.axon_w_data.eq(Mux(moved < 0, 0, Mux(moved > self.delay_top,
                                                               self.delay_top, moved))),
                    self.axon_w_en.eq(delays_learn),
                ]
                m.d.sync += source.eq(source + 1)
                with m.If(source == self.n_hidden - 1):
                    m.d.sync += phase.eq(0)
                    m.next = "TAPS"
                with m.Else():
                    m.next = "AXON"

            with m.State("TAPS"):
                # Tap j: its hash key enters in phases 2j and 2j + 1, its word is read in
                # phase 2j + 3 and written in phase 2j + 4 (with the hash of phase 2j).
                m.d.sync += phase.eq(phase + 1)
                read_tap = ((phase - 3) >> 1)[:ceil_log2(taps + 1)]
                write_tap = Signal(range(taps + 1))
                m.d.comb += write_tap.eq(((phase - 4) >> 1)[:len(write_tap)])
                with m.If(phase[0]):
                    m.d.comb += [
                        self.syn_addr.eq(p.kernel_base + read_tap),
                        sums_rd.addr.eq(read_tap),
                    ]
                with m.Elif(phase >= 4):
                    m.d.comb += [round_in.eq(selected), round_shift.eq(self.eta_rec)]
                    w_old = self.syn_r_data[:wb].as_signed()
                    # A step beyond +-2**wb saturates the weight either way: narrow it first.
                    w_next = Signal(signed(wb + 3))
                    m.d.comb += w_next.eq(w_old - _saturate(rounded, wb + 2))
                    # Only the taps of the network kernel: |c - K_c // 2| <= K // 2.
                    offset = Signal(signed(len(write_tap) + 1))
                    m.d.comb += offset.eq(write_tap - half)
                    distance = Mux(offset < 0, -offset, offset)
                    in_kernel = (self.rec_kernel != 0) & (distance <= (self.rec_kernel >> 1))
                    m.d.comb += [
                        self.syn_addr.eq(p.kernel_base + write_tap),
                        self.syn_w_data.eq(Cat(_saturate(w_next, wb),
                                               self.syn_r_data[wb:])),
                        self.syn_w_en.eq(self.learn_weights & in_kernel),
                    ]
                with m.If(phase == 2 * taps + 2):
                    m.next = "IDLE"

        if p.stochastic_rounding:
            with m.If(fsm.ongoing("TAPS")):
                key_tap = Signal(range(taps + 1))
                m.d.comb += key_tap.eq((phase >> 1)[:len(key_tap)])
                # Stream 3, group 0 (kernel taps): the address is the network's tap index.
                m.d.comb += self.hash_key.eq(key_base ^ (_STREAM_SHARED << 30)
                                             ^ (key_tap - pad)[:len(key_tap)])
            with m.Else():
                # The source's key holds through its walk: its hash is ready at its end.
                m.d.comb += self.hash_key.eq(key_base ^ (_STREAM_AXONAL_DELAY << 30)
                                             ^ (self.n_in + source))
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m


class LearningEngine(wiring.Component):
    """The learning engine of a core built with ``learning`` (see the module docstring).

    Parameters
    ----------
    params : CoreParams

    Members
    -------
    bus : In(ConfigBus())
        The core forwards accesses to the learning regions (``LEARN`` to ``TRACE_U``) while
        it is idle, only at offsets below the region's size; read data follows in the next
        cycle.
    n_in, n_hidden, n_out, flags, time, label, count, out_base : In
        Run-time sizes, ``FLAGS``, the step ``t``, ``LABEL``, ``LEARN_COUNT`` and the synapse
        address of the first readout synapse (``n_hidden * (n_in + n_rec)``).
    trace_inputs, trace_hidden : In(1)
        Start the trace pass of the inputs (with ``in_spikes``, sampled then) or of the
        hidden neurons (``hidden_spikes``, read during the pass, which must hold them from
        the next cycle on); ignored unless a rule is loaded (``MODE.ENABLE``).
    trace_busy : Out(1)
        A trace pass is running.
    hidden_en, hidden_index, vpre, theta : In
        The forward pass updates hidden neuron ``hidden_index`` (its ``vpre`` and ``theta``).
    learn_start : In(1)
        Start the learning pass of the step (after the forward pass and the traces).
    learn_busy : Out(1)
        The learning pass is running; the memories below are the engine's.
    enabled : Out(1)
        ``MODE.ENABLE``: a rule is loaded.
    syn_*, y_*, axon_* :
        Ports to the core's synapse memory, readout memory and axonal delay memory.

    With ``neuron_learning``, for the core's :class:`~rtl.neuron_learning.NeuronLearningUnit`:

    factor_en, factor_index, factor_value : Out
        The hidden post factors, as the signal pass makes them.
    learn_beta, learn_threshold, stochastic, seed, trace_shift, eta_beta, eta_coupling, \
eta_rho : Out
        ``MODE`` bits and ``LEARN`` registers.
    """

    def __init__(self, params: CoreParams):
        from .bus import ConfigBus

        p = params
        if not p.learning:
            raise ValueError("LearningEngine needs CoreParams(learning=True)")
        self._params = p
        super().__init__({
            "bus": In(ConfigBus()),
            "n_in": In(range(p.max_in + 1)),
            "n_hidden": In(range(p.max_hidden + 1)),
            "n_out": In(range(p.max_out + 1)),
            "flags": In(9),
            "time": In(32),
            "label": In(16),
            "count": In(32),
            "out_base": In(range(p.max_synapses + 1)),
            "trace_inputs": In(1),
            "in_spikes": In(p.max_in),
            "trace_hidden": In(1),
            "hidden_spikes": In(p.max_hidden),
            "trace_busy": Out(1),
            "hidden_en": In(1),
            "hidden_index": In(range(p.max_hidden)),
            "vpre": In(signed(p.state_bits)),
            "theta": In(unsigned(p.v_bits - 1)),
            "learn_start": In(1),
            "learn_busy": Out(1),
            "enabled": Out(1),
            "syn_addr": Out(range(p.max_synapses + 1)),
            "syn_r_data": In(p.syn_word_bits),
            "syn_w_data": Out(p.syn_word_bits),
            "syn_w_en": Out(1),
            "y_addr": Out(range(p.max_out)),
            "y_data": In(signed(p.y_bits)),
            "axon_r_addr": Out(range(p.axon_depth)),
            "axon_r_data": In(p.delay_bits),
            "axon_w_addr": Out(range(p.axon_depth)),
            "axon_w_data": Out(p.delay_bits),
            "axon_w_en": Out(1),
            **self._neuron_learning_members(p),
            **({"rec_kernel": In(range(p.rec_kernel_taps + 1))} if p.rec_kernel_taps else {}),
        })

    @staticmethod
    def _neuron_learning_members(p):
        if not p.neuron_learning:
            return {}
        from .neuron_learning import ETA_MAX

        return {
            "factor_en": Out(1),
            "factor_index": Out(range(p.max_hidden)),
            "factor_value": Out(signed(p.post_factor_bits)),
            "learn_beta": Out(1),
            "learn_threshold": Out(1),
            "stochastic": Out(1),
            "seed": Out(32),
            "trace_shift": Out(4),
            "eta_beta": Out(range(ETA_MAX + 1)),
            "eta_coupling": Out(range(ETA_MAX + 1)),
            "eta_rho": Out(range(ETA_MAX + 1)),
        }

    @property
    def params(self) -> CoreParams:
        return self._params

    def elaborate(self, platform):
        p = self._params
        m = Module()
        m.submodules.traces = traces = TraceUnit(p)
        m.submodules.signal = signal = SignalUnit(p)
        m.submodules.update = update = UpdateUnit(p)
        if p.rec_kernel_taps:
            m.submodules.kernel_update = kernel_unit = KernelUpdateUnit(p)

        # -- LEARN registers ------------------------------------------------------------------
        mode = Signal(8 if p.neuron_learning else 6)
        trace_decay = Signal(p.decay_bits)
        trace_shift = Signal(4)
        psi_shift = Signal(5)
        # Without the softmax nothing uses its shift: SOFTMAX_SHIFT reads 0, like MODE bits
        # of parts the core lacks.
        softmax_shift = Signal(5 if p.softmax else 0)
        l_shift = Signal(5)
        target_amp = Signal(p.y_bits - 1)
        eta_in, eta_rec, eta_out, eta_delay = (Signal(5, name=f"eta_{n}")
                                               for n in ("in", "rec", "out", "delay"))
        half_width = Signal(range(p.kernel_max_half_width + 1))
        kernel_shift = Signal(5)
        # Without stochastic rounding nothing uses the seed: SEED reads 0, like MODE bits of
        # parts the core lacks.
        seed = Signal(32 if p.stochastic_rounding else 0)
        delay_top = Signal(p.delay_bits)
        kernel = Signal(data.ArrayLayout(signed(8), p.kernel_taps))

        mode_mask = (mm.MODE_ENABLE | mm.MODE_LEARN_WEIGHTS
                     | (mm.MODE_STOCHASTIC if p.stochastic_rounding else 0)
                     | (mm.MODE_LEARN_DELAYS if p.delay_learning else 0)
                     | (mm.MODE_RANDOM_FEEDBACK if p.random_feedback else 0)
                     | (mm.MODE_SOFTMAX if p.softmax else 0))
        if p.neuron_learning:
            mode_mask |= ((mm.MODE_LEARN_BETA if p.synapse_current else 0)
                          | (mm.MODE_LEARN_THRESHOLD if p.adaptation else 0))
        enabled = mode[0]
        learn_weights = mode[1]
        learn_delays = mode[2]
        stochastic = mode[3]
        random_feedback = mode[4]
        softmax = mode[5]
        m.d.comb += self.enabled.eq(enabled)

        region = self.bus.addr[16:20]
        offset = self.bus.addr[:16]
        # The core forwards only offsets inside a region (below its size), so the LEARN
        # registers decode just the bits that tell its words apart.
        learn_words = mm.region_words(p)[mm.REGION_LEARN]
        learn_offset = offset[:ceil_log2(learn_words)]
        w_data = self.bus.w_data
        registers = {
            "MODE": mode, "TRACE_DECAY": trace_decay, "TRACE_SHIFT": trace_shift,
            "PSI_SHIFT": psi_shift, "SOFTMAX_SHIFT": softmax_shift, "L_SHIFT": l_shift,
            "TARGET_AMP": target_amp, "ETA_IN": eta_in, "ETA_REC": eta_rec,
            "ETA_OUT": eta_out, "ETA_DELAY": eta_delay, "KERNEL_HALF_WIDTH": half_width,
            "KERNEL_SHIFT": kernel_shift, "SEED": seed, "DELAY_TOP": delay_top,
        }
        # Learning rates of the neuron parameters, clamped to their range on write.
        clamped = {}
        if p.neuron_learning:
            from .neuron_learning import ETA_MAX

            for name in mm.LEARN_NEURON_REGISTERS:
                register = Signal(range(ETA_MAX + 1), name=name.lower())
                registers[name] = clamped[name] = register
                m.d.comb += getattr(self, name.lower()).eq(register)
            m.d.comb += [
                self.learn_beta.eq(mode[6]),
                self.learn_threshold.eq(mode[7]),
                self.stochastic.eq(mode[3]),
                self.seed.eq(seed),
                self.trace_shift.eq(trace_shift),
                self.factor_en.eq(signal.factor_en),
                self.factor_index.eq(signal.factor_index),
                self.factor_value.eq(signal.factor_value),
            ]
        offsets = {**mm.LEARN_REGISTERS, **mm.LEARN_NEURON_REGISTERS}
        with m.If(self.bus.w_en & (region == mm.REGION_LEARN)):
            with m.Switch(learn_offset):
                for name, register in registers.items():
                    with m.Case(offsets[name]):
                        if register is mode:
                            m.d.sync += mode.eq(w_data & mode_mask)
                        elif register is half_width:
                            top = p.kernel_max_half_width
                            m.d.sync += half_width.eq(Mux(_above(w_data, top), top, w_data))
                        elif name in clamped:
                            m.d.sync += register.eq(Mux(_above(w_data, ETA_MAX), ETA_MAX,
                                                        w_data))
                        else:
                            m.d.sync += register.eq(w_data)
                for n in range(p.kernel_taps):
                    with m.Case(mm.LEARN_KERNEL + n):
                        m.d.sync += kernel[n].eq(w_data)

        # -- units ----------------------------------------------------------------------------
        rec_on = self.flags[0]
        zero_skip = ~self.flags[8]
        m.d.comb += [
            traces.start.eq(enabled & (self.trace_inputs | self.trace_hidden)),
            traces.first_source.eq(Mux(self.trace_hidden, p.max_in, 0)),
            traces.count.eq(Mux(self.trace_hidden, self.n_hidden, self.n_in)),
            traces.hidden.eq(self.trace_hidden),
            traces.in_spikes.eq(self.in_spikes),
            traces.hidden_spikes.eq(self.hidden_spikes),
            traces.time.eq(self.time),
            traces.decay.eq(trace_decay),
            traces.spike_shift.eq(trace_shift),
            traces.half_width.eq(half_width),
            traces.kernel.eq(kernel),
            traces.kernel_shift.eq(kernel_shift),
            self.trace_busy.eq(traces.busy),
        ]

        # A kernel core's recurrent taps are not in the synapse rows (n_rec = 0 there).
        n_rec = 0 if p.rec_kernel_taps else Mux(rec_on, self.n_hidden, 0)
        m.d.comb += [
            signal.n_hidden.eq(self.n_hidden),
            signal.n_out.eq(self.n_out),
            signal.label.eq(self.label),
            signal.target_amp.eq(target_amp),
            signal.softmax.eq(softmax),
            signal.random_feedback.eq(random_feedback),
            signal.zero_skip.eq(zero_skip),
            signal.psi_shift.eq(psi_shift),
            signal.softmax_shift.eq(softmax_shift),
            signal.l_shift.eq(l_shift),
            signal.out_base.eq(self.out_base),
            signal.row.eq(self.n_in + n_rec),
            self.y_addr.eq(signal.y_addr),
            signal.y_data.eq(self.y_data),
            signal.syn_data.eq(self.syn_r_data),
            signal.hidden_en.eq(self.hidden_en),
            signal.hidden_index.eq(self.hidden_index),
            signal.vpre.eq(self.vpre),
            signal.theta.eq(self.theta),
            signal.cfg_addr.eq(offset),
            signal.cfg_data.eq(w_data),
            signal.psi_w_en.eq(self.bus.w_en & (region == mm.REGION_PSI)),
            signal.exp_w_en.eq(self.bus.w_en & (region == mm.REGION_EXP)),
            signal.fb_w_en.eq(self.bus.w_en & (region == mm.REGION_FEEDBACK)),
            signal.list_addr.eq(update.list_addr),
        ]

        # What both update units (the dense one, and the kernel one on a kernel core) read:
        # the rule, the step, the post-list size and the memories' read data.
        update_inputs = {
            "n_in": self.n_in, "n_hidden": self.n_hidden, "learn_weights": learn_weights,
            "learn_delays": learn_delays, "stochastic": stochastic, "eta_rec": eta_rec,
            "eta_delay": eta_delay, "seed": seed, "count": self.count, "time": self.time,
            "half_width": half_width, "delay_top": delay_top,
            "hidden_count": signal.hidden_count, "syn_r_data": self.syn_r_data,
            "axon_r_data": self.axon_r_data, "x_data": traces.x_data,
            "u_data": traces.u_data,
        }

        def drive_inputs(unit):
            return [getattr(unit, name).eq(value) for name, value in update_inputs.items()]

        def memory_outputs(unit, syn_addr):
            """The axonal-delay and synapse memory ports, driven by ``unit``."""
            return [*(getattr(self, name).eq(getattr(unit, name))
                      for name in ("axon_r_addr", "axon_w_addr", "axon_w_data", "axon_w_en",
                                   "syn_w_data", "syn_w_en")),
                    self.syn_addr.eq(syn_addr)]

        m.d.comb += [
            *drive_inputs(update),
            # On a kernel core the kernel unit updates the recurrent projection.
            update.rec_on.eq(0 if p.rec_kernel_taps else rec_on),
            update.kinds.eq(self.flags[2:8]),
            update.eta_in.eq(eta_in),
            update.eta_out.eq(eta_out),
            update.out_count.eq(signal.out_count),
            update.list_row.eq(signal.list_row),
            update.list_factor.eq(signal.list_factor),
        ]
        # The memory ports of the update pass (on a kernel core, unless the kernel unit runs).
        memory_ports = memory_outputs(update, Mux(update.busy, update.syn_addr,
                                                  signal.syn_addr))
        if not p.rec_kernel_taps:
            m.d.comb += memory_ports
        else:
            m.d.comb += [
                *drive_inputs(kernel_unit),
                kernel_unit.rec_kernel.eq(self.rec_kernel),
                kernel_unit.rec_on.eq(rec_on),
                kernel_unit.axonal.eq(self.flags[4:6] == mm.DELAY_AXONAL),
                kernel_unit.factor_en.eq(signal.factor_en),
                kernel_unit.factor_index.eq(signal.factor_index),
                kernel_unit.factor_value.eq(signal.factor_value),
                # Hash addresses of the in and out synapses: the dense layout's.
                signal.key_row.eq(self.n_in + Mux(rec_on, self.n_hidden, 0)),
                update.list_key.eq(signal.list_key),
                update.key_out_base.eq(signal.key_out_base),
            ]
            if p.stochastic_rounding:
                m.d.comb += [
                    update.kernel_key_en.eq(kernel_unit.busy),
                    update.kernel_key.eq(kernel_unit.hash_key),
                    kernel_unit.hash_value.eq(update.hash_value),
                ]
            # The two update units run one after the other: the busy one has the memories.
            with m.If(kernel_unit.busy):
                m.d.comb += memory_outputs(kernel_unit, kernel_unit.syn_addr)
            with m.Else():
                m.d.comb += memory_ports
        # -- one arithmetic right shifter for the three units ----------------------------------
        # The trace passes run during the forward pass, the signal and update passes after
        # it, one at a time: the busy unit drives the shifter.
        users = [update, signal] + ([traces] if p.delay_learning else [])
        if p.rec_kernel_taps:
            users.append(kernel_unit)
        width = max(len(unit.shift_value) for unit in users)
        shift_value = Signal(signed(width))
        shift_amount = Signal(5)
        with m.If(update.busy):
            m.d.comb += [shift_value.eq(update.shift_value),
                         shift_amount.eq(update.shift_amount)]
        if p.rec_kernel_taps:
            with m.Elif(kernel_unit.busy):
                m.d.comb += [shift_value.eq(kernel_unit.shift_value),
                             shift_amount.eq(kernel_unit.shift_amount)]
        if p.delay_learning:
            with m.Elif(signal.busy):
                m.d.comb += [shift_value.eq(signal.shift_value),
                             shift_amount.eq(signal.shift_amount)]
            with m.Else():
                m.d.comb += [shift_value.eq(traces.shift_value),
                             shift_amount.eq(traces.shift_amount)]
        else:
            with m.Else():
                m.d.comb += [shift_value.eq(signal.shift_value),
                             shift_amount.eq(signal.shift_amount)]
        shifted = Signal(signed(width))
        m.d.comb += shifted.eq(shift_value >> shift_amount)
        # |value >> amount| <= |value|: the result fits each unit's own width.
        m.d.comb += [unit.shift_result.eq(shifted) for unit in users]

        # The trace rings are read by the update pass, or by the bus while the core is idle.
        with m.If(update.busy):
            m.d.comb += [traces.x_addr.eq(update.x_addr), traces.u_addr.eq(update.u_addr)]
        if p.rec_kernel_taps:
            with m.Elif(kernel_unit.busy):
                m.d.comb += [traces.x_addr.eq(kernel_unit.x_addr), traces.u_addr.eq(kernel_unit.u_addr)]
        with m.Else():
            m.d.comb += [traces.x_addr.eq(offset), traces.u_addr.eq(offset)]

        # -- learning pass: signal, then update -----------------------------------------------
        with m.FSM(name="learning") as fsm:
            with m.State("IDLE"):
                with m.If(self.learn_start):
                    m.d.comb += signal.start.eq(1)
                    m.next = "SIGNAL"
            with m.State("SIGNAL"):
                with m.If(~signal.busy):
                    m.d.comb += update.start.eq(1)
                    m.next = "UPDATE"
            with m.State("UPDATE"):
                with m.If(~update.busy):
                    if p.rec_kernel_taps:
                        m.d.comb += kernel_unit.start.eq(1)
                        m.next = "KERNEL"
                    else:
                        m.next = "IDLE"
            if p.rec_kernel_taps:
                with m.State("KERNEL"):
                    with m.If(~kernel_unit.busy):
                        m.next = "IDLE"
        m.d.comb += self.learn_busy.eq(~fsm.ongoing("IDLE"))

        # -- bus reads ------------------------------------------------------------------------
        rd_region = Signal(4)
        rd_offset = Signal(len(learn_offset))
        m.d.sync += [rd_region.eq(region), rd_offset.eq(learn_offset)]
        with m.Switch(rd_region):
            with m.Case(mm.REGION_LEARN):
                with m.Switch(rd_offset):
                    for name, register in registers.items():
                        with m.Case(offsets[name]):
                            m.d.comb += self.bus.r_data.eq(register)
                    for n in range(p.kernel_taps):
                        with m.Case(mm.LEARN_KERNEL + n):
                            m.d.comb += self.bus.r_data.eq(kernel[n])
            with m.Case(mm.REGION_PSI):
                m.d.comb += self.bus.r_data.eq(signal.psi_r_data)
            with m.Case(mm.REGION_EXP):
                m.d.comb += self.bus.r_data.eq(signal.exp_r_data)
            with m.Case(mm.REGION_FEEDBACK):
                m.d.comb += self.bus.r_data.eq(signal.fb_r_data)
            with m.Case(mm.REGION_TRACE_X):
                m.d.comb += self.bus.r_data.eq(traces.x_data)
            with m.Case(mm.REGION_TRACE_U):
                m.d.comb += self.bus.r_data.eq(traces.u_data)
        return m
