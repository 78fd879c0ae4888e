"""Learning of the neuron parameters: ``beta``, ``coupling`` and ``rho`` (model.md section 11).

A core built with ``neuron_learning`` has one :class:`NeuronLearningUnit` beside its neuron
unit. It does two things:

Eligibilities, every step (section 11.1)
    When the forward pass updates hidden neuron ``i`` (stage 2 of the core's pipeline), the
    unit takes the values that update used (``c[t-1]``, ``a[t-1]``, ``beta``, ``alpha``,
    ``rho``, the spike) and, one cycle later (stage 3), computes and writes the neuron's
    eligibilities::

        ec[t] = sat_e((beta  * ec[t-1] >> A) + c[t-1])
        ev[t] = sat_e((alpha * ev[t-1] >> A) + ec[t])
        ea[t] = clamp((rho * ea[t-1] >> A) + (z << trace_shift), 0, 2^trace_bits - 1)
        er[t] = sat_e((rho * er[t-1] >> A) + a[t-1])

    with four multipliers of its own, so the forward pass keeps its cycle count. Each
    eligibility reads as 0 at step 0 (the step after ``clear``), the way the trace rings
    do, so ``clear`` does not have to touch these memories. The update of ``coupling`` and
    ``rho`` needs ``ea[t-1]`` and ``er[t-1]`` after the forward pass has made ``ea[t]`` and
    ``er[t]``: those two memories hold two banks, written in turn by the parity of the step.
    An eligibility whose parameter does not learn (``MODE.LEARN_BETA`` or
    ``MODE.LEARN_THRESHOLD`` low) keeps its value, as in the golden model.

Updates, in a learning step (section 11.2)
    The :class:`~rtl.learning.SignalUnit` hands over each hidden post factor ``F_i`` as it
    makes it (``factor_en``, at most one every 3 cycles: a hidden neuron takes
    ``n_out + 2`` cycles of the signal pass). For each learning parameter of the neuron
    (``beta``; ``coupling``, ``rho``) the unit issues one slot into a six-stage pipeline, one
    slot per cycle:

    0. read the eligibility (``ev[t]``, ``ea[t-1]`` or ``er[t-1]``); the hash key (stream 3,
       address ``group * 4096 + i``) enters the hash pipeline;
    1. ``g = F * e``, negated for the threshold parameters (``d z / d thr = -d z / d v``);
    2. and 3. wait for the hash;
    4. ``R(g, eta) = (g + bias) >> eta`` (:class:`ParameterRounding`; ``bias``: the hash
       bits below ``eta``, or ``2^eta - 1`` for a negative ``g`` when truncating); the
       parameter is read;
    5. ``clamp(p - R(g, eta), 0, hi)`` is written.

    Every slot reads and writes its own word, so the slots need no interlock. ``eta`` goes
    up to 47, past the 32 bits of the hash: above 32 the whole hash is the bias, as in
    ``golden.model``.
"""

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .block_ram import block_ram
from .learning import HASH_LATENCY, Mix32Pipeline, _saturate
from .params import CoreParams

__all__ = ["ETA_MAX", "PIPELINE_CYCLES", "NeuronLearningUnit", "ParameterRounding"]

#: Largest learning-rate shift of a neuron parameter (``golden.learning``).
ETA_MAX = 47
#: Cycles from the issue of a slot to the write of its parameter (stage 5).
PIPELINE_CYCLES = 5

# Stochastic-rounding stream and address groups of the neuron parameters (model.md 11.3).
_STREAM_SHARED = 3
_GROUP_SIZE = 4096
_GROUP = {"beta": 1, "coupling": 2, "rho": 3}


class NeuronLearningUnit(wiring.Component):
    """Eligibilities and updates of ``beta``, ``coupling`` and ``rho`` (see the module
    docstring).

    Parameters
    ----------
    params : CoreParams
        A core with ``neuron_learning``.

    Members
    -------
    time : In(32)
        The step counter ``t`` of the core.
    learn_beta, learn_threshold : In(1)
        ``MODE.LEARN_BETA`` and ``MODE.LEARN_THRESHOLD``: which eligibilities run and which
        parameters learn.
    trace_shift : In(4)
        ``LEARN.TRACE_SHIFT``: a spike adds ``1 << trace_shift`` to ``ea``.
    fwd_addr : In
        The hidden neuron in stage 1 of the forward pass: its eligibilities are read.
    fwd_en, fwd_index : In
        Stage 2 updates hidden neuron ``fwd_index`` with the values below.
    alpha, spike : In
        Its ``alpha`` and its spike ``z[t]``.
    beta, current : In
        With ``synapse_current``: ``beta`` (the read data of the ``BETA`` memory, in the
        forward pass and in the learning pass) and ``c[t-1]``.
    rho, coupling, adaptation : In
        With ``adaptation``: ``rho`` and ``coupling`` (read data of their memories) and
        ``a[t-1]``.
    factor_en, factor_index, factor : In
        Learning pass: the post factor ``F_i`` of hidden neuron ``factor_index``.
    eta_beta, eta_coupling, eta_rho : In(range(48))
        Learning-rate shifts.
    stochastic, seed, count : In
        ``MODE.STOCHASTIC``, ``LEARN.SEED`` and ``LEARN_COUNT``.
    busy : Out(1)
        Slots are in the pipeline; the parameter memories are the unit's.
    param_addr : Out
        Read address of the parameter memories while ``busy``.
    param_w_addr, param_w_data : Out
        Write port of the parameter memories, with one enable each:
    beta_w_en, coupling_w_en, rho_w_en : Out(1)
    """

    def __init__(self, params: CoreParams):
        if not isinstance(params, CoreParams):
            raise TypeError(f"params must be a CoreParams, got {type(params).__name__}")
        if not params.neuron_learning:
            raise ValueError("NeuronLearningUnit needs CoreParams(neuron_learning=True)")
        p = self._params = params
        hidden = range(p.max_hidden)
        members = {
            "time": In(32),
            "learn_beta": In(1),
            "learn_threshold": In(1),
            "trace_shift": In(4),
            "fwd_addr": In(hidden),
            "fwd_en": In(1),
            "fwd_index": In(hidden),
            "alpha": In(unsigned(p.decay_bits)),
            "spike": In(1),
            "factor_en": In(1),
            "factor_index": In(hidden),
            "factor": In(signed(p.post_factor_bits)),
            "eta_beta": In(range(ETA_MAX + 1)),
            "eta_coupling": In(range(ETA_MAX + 1)),
            "eta_rho": In(range(ETA_MAX + 1)),
            "stochastic": In(1),
            "seed": In(32),
            "count": In(32),
            "busy": Out(1),
            "param_addr": Out(hidden),
            "param_w_addr": Out(hidden),
            "param_w_data": Out(max(p.decay_bits, p.v_bits - 1)),
        }
        if p.synapse_current:
            members.update({
                "beta": In(unsigned(p.decay_bits)),
                "current": In(signed(p.v_bits)),
                "beta_w_en": Out(1),
            })
        if p.adaptation:
            members.update({
                "rho": In(unsigned(p.decay_bits)),
                "coupling": In(unsigned(p.v_bits - 1)),
                "adaptation": In(unsigned(p.v_bits - 1)),
                "coupling_w_en": Out(1),
                "rho_w_en": Out(1),
            })
        super().__init__(members)

    @property
    def params(self) -> CoreParams:
        return self._params

    @staticmethod
    def groups(p):
        """The parameters a core learns, in slot order."""
        return (["beta"] if p.synapse_current else []) + \
            (["coupling", "rho"] if p.adaptation else [])

    def elaborate(self, platform):
        p = self._params
        m = Module()
        eb, tb, a_bits = p.elig_bits, p.trace_bits, p.decay_bits
        stride_bits = ceil_log2(p.max_hidden)
        banked_depth = 2 << stride_bits
        first_step = self.time == 0
        bank = self.time[0]

        # -- eligibility memories ----------------------------------------------------------
        if p.synapse_current:
            ec_rd, ec_wr = block_ram(m, "elig_beta_c", signed(eb), p.max_hidden)
            ev_rd, ev_wr = block_ram(m, "elig_beta_v", signed(eb), p.max_hidden)
        if p.adaptation:
            # Bank ``t mod 2`` holds the values of step t: {bank, index}.
            ea_rd, ea_wr = block_ram(m, "elig_coupling", unsigned(tb), banked_depth)
            er_rd, er_wr = block_ram(m, "elig_rho", signed(eb), banked_depth)

        def banked(index, which):
            return Cat(index[:stride_bits] if stride_bits else C(0, 0), which)

        # -- stage 3 of the forward pass: the new eligibilities ----------------------------
        s3_valid = Signal()
        s3_index = Signal.like(self.fwd_index)
        s3_bank = Signal()
        s3_alpha = Signal.like(self.alpha)
        s3_spike = Signal()
        m.d.sync += [
            s3_valid.eq(self.fwd_en),
            s3_index.eq(self.fwd_index),
            s3_bank.eq(bank),
            s3_alpha.eq(self.alpha),
            s3_spike.eq(self.spike),
        ]

        def old(read_data):
            """The eligibility of step t - 1 (0 at step 0), registered at stage 2."""
            value = Signal.like(read_data)
            m.d.sync += value.eq(Mux(first_step, 0, read_data))
            return value

        if p.synapse_current:
            s3_beta = Signal.like(self.beta)
            s3_current = Signal.like(self.current)
            m.d.sync += [s3_beta.eq(self.beta), s3_current.eq(self.current)]
            ec_old, ev_old = old(ec_rd.data), old(ev_rd.data)
            ec_new = Signal(signed(eb))
            ev_new = Signal(signed(eb))
            m.d.comb += [
                ec_new.eq(_saturate(((s3_beta * ec_old) >> a_bits) + s3_current, eb)),
                ev_new.eq(_saturate(((s3_alpha * ev_old) >> a_bits) + ec_new, eb)),
                ec_wr.addr.eq(s3_index),
                ev_wr.addr.eq(s3_index),
                ec_wr.data.eq(Mux(self.learn_beta, ec_new, ec_old)),
                ev_wr.data.eq(Mux(self.learn_beta, ev_new, ev_old)),
                ec_wr.en.eq(s3_valid),
                ev_wr.en.eq(s3_valid),
            ]
        if p.adaptation:
            s3_rho = Signal.like(self.rho)
            s3_adaptation = Signal.like(self.adaptation)
            m.d.sync += [s3_rho.eq(self.rho), s3_adaptation.eq(self.adaptation)]
            ea_old, er_old = old(ea_rd.data), old(er_rd.data)
            # rho * ea >= 0: the shift floors towards 0 and only the top needs a clamp.
            ea_sum = ((s3_rho * ea_old) >> a_bits) + Mux(s3_spike, Const(1, 1) << self.trace_shift, 0)
            ea_top = (1 << tb) - 1
            ea_new = Mux(ea_sum > ea_top, ea_top, ea_sum)[:tb]
            er_new = Signal(signed(eb))
            m.d.comb += [
                er_new.eq(_saturate(((s3_rho * er_old) >> a_bits) + s3_adaptation, eb)),
                ea_wr.addr.eq(banked(s3_index, s3_bank)),
                er_wr.addr.eq(banked(s3_index, s3_bank)),
                ea_wr.data.eq(Mux(self.learn_threshold, ea_new, ea_old)),
                er_wr.data.eq(Mux(self.learn_threshold, er_new, er_old)),
                ea_wr.en.eq(s3_valid),
                er_wr.en.eq(s3_valid),
            ]

        # -- learning pass: slot issue -------------------------------------------------------
        groups = self.groups(p)
        n_slots = len(groups)
        slot = Signal(range(max(2, n_slots)))
        pending = Signal()
        pending_index = Signal.like(self.factor_index)
        pending_factor = Signal.like(self.factor)
        # A new factor issues its first slot at once; the others follow from the registers.
        issue_valid = Signal()
        issue_index = Signal.like(self.factor_index)
        issue_factor = Signal.like(self.factor)
        issue_slot = Signal.like(slot)
        m.d.comb += [
            issue_valid.eq(self.factor_en | pending),
            issue_index.eq(Mux(self.factor_en, self.factor_index, pending_index)),
            issue_factor.eq(Mux(self.factor_en, self.factor, pending_factor)),
            issue_slot.eq(Mux(self.factor_en, 0, slot)),
        ]
        if n_slots > 1:
            with m.If(self.factor_en):
                m.d.sync += [
                    pending.eq(1),
                    pending_index.eq(self.factor_index),
                    pending_factor.eq(self.factor),
                    slot.eq(1),
                ]
            with m.Elif(pending):
                m.d.sync += slot.eq(slot + 1)
                with m.If(slot == n_slots - 1):
                    m.d.sync += pending.eq(0)

        # Stage 0: eligibility reads (the forward pass reads at the stage-1 neuron).
        read_index = Mux(issue_valid, issue_index, self.fwd_addr)
        if p.synapse_current:
            m.d.comb += [ec_rd.addr.eq(self.fwd_addr), ev_rd.addr.eq(read_index)]
        if p.adaptation:
            # The forward pass reads step t - 1, and so does the update (ea[t-1], er[t-1]).
            m.d.comb += [ea_rd.addr.eq(banked(read_index, ~bank)),
                         er_rd.addr.eq(banked(read_index, ~bank))]

        # Hash key of stage 0: seed ^ (count << 16) ^ (3 << 30) ^ (group * 4096 + i).
        if p.stochastic_rounding:
            m.submodules.hash = hash_pipe = Mix32Pipeline()
            group_code = Signal(2)
            with m.Switch(issue_slot):
                for number, name in enumerate(groups):
                    with m.Case(number):
                        m.d.comb += group_code.eq(_GROUP[name])
            # A sum, not a concatenation: an index of 4096 or more carries into the group.
            address = ((group_code * _GROUP_SIZE) + issue_index)[:32]
            m.d.comb += hash_pipe.key.eq(
                self.seed ^ Cat(C(0, 16), self.count[:16])
                ^ Const(_STREAM_SHARED << 30, 32) ^ address)

        # Stage registers: valid, slot and neuron of each stage, 1 to 5.
        stages = []
        for n in range(1, PIPELINE_CYCLES + 1):
            stages.append((Signal(name=f"s{n}_valid"), Signal.like(slot, name=f"s{n}_slot"),
                           Signal.like(issue_index, name=f"s{n}_index")))
        m.d.sync += [stages[0][0].eq(issue_valid), stages[0][1].eq(issue_slot),
                     stages[0][2].eq(issue_index)]
        for (valid, slot_, index), (prev_valid, prev_slot, prev_index) in zip(stages[1:],
                                                                              stages[:-1]):
            m.d.sync += [valid.eq(prev_valid), slot_.eq(prev_slot), index.eq(prev_index)]
        s1_factor = Signal.like(issue_factor)
        m.d.sync += s1_factor.eq(issue_factor)
        _, s1_slot, _ = stages[0]

        def select(slot_signal, values):
            """The value of the group in ``slot_signal`` (``values``: group name -> value)."""
            result = values[groups[-1]]
            for number in reversed(range(n_slots - 1)):
                result = Mux(slot_signal == number, values[groups[number]], result)
            return result

        # Stage 1: the gradient g = +-F * e.
        elig_bits = max(eb, tb + 1)
        elig = Signal(signed(elig_bits))
        eligibilities = {}
        if p.synapse_current:
            eligibilities["beta"] = ev_rd.data
        if p.adaptation:
            eligibilities["coupling"] = Mux(first_step, 0, ea_rd.data)
            eligibilities["rho"] = Mux(first_step, 0, er_rd.data)
        m.d.comb += elig.eq(select(s1_slot, eligibilities))
        gradient_bits = len(s1_factor) + elig_bits + 1
        product = Signal(signed(gradient_bits))
        negate = {"beta": 0, "coupling": 1, "rho": 1}
        m.d.comb += product.eq(s1_factor * elig)
        gradient = Signal(signed(gradient_bits), name="gradient_s2")
        m.d.sync += gradient.eq(Mux(select(s1_slot, negate), -product, product))
        # Stages 2 and 3 carry it to the hash.
        delayed = gradient
        for n in (3, 4):
            nxt = Signal.like(gradient, name=f"gradient_s{n}")
            m.d.sync += nxt.eq(delayed)
            delayed = nxt

        # Stage 4: rounding, and the parameter read.
        _, s4_slot, s4_index = stages[3]
        etas = {"beta": self.eta_beta, "coupling": self.eta_coupling, "rho": self.eta_rho}
        eta = Signal(range(ETA_MAX + 1))
        m.d.comb += eta.eq(select(s4_slot, etas))
        m.submodules.rounding = rounding = ParameterRounding(gradient_bits)
        m.d.comb += [rounding.value.eq(delayed), rounding.shift.eq(eta)]
        if p.stochastic_rounding:
            # Stage 0's key has reached the end of the hash pipeline.
            assert HASH_LATENCY == 4
            m.d.comb += [rounding.random.eq(hash_pipe.value),
                         rounding.stochastic.eq(self.stochastic)]
        step = Signal.like(rounding.result)
        m.d.sync += step.eq(rounding.result)
        m.d.comb += self.param_addr.eq(s4_index)

        # Stage 5: clamp and write.
        s5_valid, s5_slot, s5_index = stages[4]
        values = {}
        tops = {}
        if p.synapse_current:
            values["beta"], tops["beta"] = self.beta, (1 << a_bits) - 1
        if p.adaptation:
            values["coupling"], tops["coupling"] = self.coupling, (1 << (p.v_bits - 1)) - 1
            values["rho"], tops["rho"] = self.rho, (1 << a_bits) - 1
        current_value = Signal(max(p.decay_bits, p.v_bits - 1))
        top = Signal.like(current_value)
        m.d.comb += [current_value.eq(select(s5_slot, values)), top.eq(select(s5_slot, tops))]
        updated = Signal(signed(len(step) + 2))
        m.d.comb += updated.eq(current_value - step)
        m.d.comb += [
            self.param_w_addr.eq(s5_index),
            self.param_w_data.eq(Mux(updated < 0, 0, Mux(updated > top, top, updated))),
        ]
        enables = {"beta": self.learn_beta, "coupling": self.learn_threshold,
                   "rho": self.learn_threshold}
        for number, name in enumerate(groups):
            m.d.comb += getattr(self, f"{name}_w_en").eq(
                s5_valid & (s5_slot == number) & enables[name])

        m.d.comb += self.busy.eq(pending | issue_valid
                                 | Cat(valid for valid, _, _ in stages).any())
        return m


class ParameterRounding(wiring.Component):
    """``R(value, shift)`` of ``docs/model.md`` 7.6 for shifts up to :data:`ETA_MAX`,
    combinational.

    ``R = (value + bias) >> shift`` (floor), with ``bias`` the bits of ``random`` below
    ``shift`` (``stochastic``; all 32 of them when ``shift >= 32``) or ``2^shift - 1`` for a
    negative ``value`` (truncation toward zero). The result fits ``width``: ``|R|`` is at
    most ``|value|``, or at most ``|value| / 2 + 1`` with a nonzero stochastic bias.
    ``formal/neuron_learning.py`` proves it against the floor-division bounds.

    Parameters
    ----------
    width : int
        Signed width of ``value`` and ``result``.

    Members
    -------
    value : In(signed(width))
    shift : In(range(ETA_MAX + 1))
    random : In(32)
    stochastic : In(1)
    result : Out(signed(width))
    """

    def __init__(self, width: int):
        if isinstance(width, bool) or not isinstance(width, int):
            raise TypeError(f"width must be an int, got {type(width).__name__} {width!r}")
        if not 2 <= width <= 64:
            raise ValueError(f"width must be in [2, 64], got {width}")
        self._width = width
        super().__init__({
            "value": In(signed(width)),
            "shift": In(range(ETA_MAX + 1)),
            "random": In(32),
            "stochastic": In(1),
            "result": Out(signed(width)),
        })

    def elaborate(self, platform):
        m = Module()
        mask = Signal(ETA_MAX)
        m.d.comb += mask.eq(~(Const((1 << ETA_MAX) - 1, ETA_MAX) << self.shift)[:ETA_MAX])
        bias = Mux(self.stochastic, self.random & mask, Mux(self.value < 0, mask, 0))
        biased = Signal(signed(max(self._width, ETA_MAX) + 1))
        m.d.comb += [biased.eq(self.value + bias), self.result.eq(biased >> self.shift)]
        return m
