"""Proof: the neuron unit saturates exactly and never wraps.

:class:`NeuronHarness` drives every input of :class:`rtl.neuron.NeuronUnit` with a free value
and compares its outputs with a reference computed in 64-bit arithmetic, where nothing can
overflow:

- ``vpre`` is ``sat(floor(decay * state / 2**A) + acc)``, saturated to ``v_bits`` (hidden)
  or ``y_bits`` (readout): the leak product, the sum and the narrowing to the state width
  never wrap;
- ``spike`` is ``vpre >= theta`` for a hidden neuron and 0 for a readout;
- ``next_state`` is ``vpre - theta`` (soft reset) or 0 (hard reset) after a spike, else
  ``vpre``, computed without wrapping, and always lies in the range of ``v_bits`` or
  ``y_bits``.

With the neuron options (``synapse_current``, ``adaptation``; ``docs/model.md`` sections 8
and 9) the reference also forms the synaptic current ``c = sat_v(floor(beta * c / 2**A) +
acc)``, which drives the membrane instead of ``acc`` for a hidden neuron with
``current_on``, the threshold ``thr = min(theta + a, 2**(v_bits-1) - 1)`` in place of
``theta`` and the adaptation ``min(floor(rho * a / 2**A) + (coupling if spike else 0),
2**(v_bits-1) - 1)``; ``next_current``, ``threshold`` and ``next_adaptation`` must equal them.

The unit is combinational, so a check of one time step covers every input: this is a
complete proof for the parameters given, not a bounded one.

Assumed (the contract of the unit, ``docs/model.md`` sections 2-4): ``state`` is a stored
``v`` (``v_bits``, sign-extended) or ``y`` (``y_bits``), and ``theta >= 1``. ``decay`` and
``acc`` are free over their whole width, and so are the options' inputs (a stored ``c`` is
any ``v_bits`` value, ``a`` and ``coupling`` any unsigned ``v_bits - 1`` one).
"""

from __future__ import annotations

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, C, Cat, Elaboratable, Module, Mux, Signal, signed

from rtl.neuron import NeuronUnit
from rtl.params import CoreParams

__all__ = ["NEURON_CONFIGS", "NeuronHarness"]

#: Reference arithmetic width: wider than any product and sum of the unit's inputs
#: (``decay_bits + state_bits + 2 <= 42``).
_WIDE = 64

#: Parameter sets the proof runs on: the defaults, the narrow formats of the lockstep
#: variant B, and the extremes of every width (the widest multiplier, the narrowest state,
#: a readout wider or narrower than the membrane).
NEURON_CONFIGS = {
    "default": CoreParams(),
    "variant_b": CoreParams(max_in=10, max_hidden=8, max_out=4, d_max=64, weight_bits=10,
                            weight_frac=2, delay_frac=2, decay_bits=12, v_bits=10, y_bits=12,
                            recurrent=True),
    "wide": CoreParams(max_in=64, max_hidden=64, max_out=8, weight_bits=16, decay_bits=16,
                       v_bits=24, y_bits=4, recurrent=True),
    "narrow": CoreParams(max_in=3, max_hidden=5, max_out=2, weight_bits=2, weight_frac=1,
                         decay_bits=1, v_bits=4, y_bits=24),
    # Both neuron options: the formats of the lockstep variant N, and a membrane narrower
    # than the readout with a wide synaptic sum (c saturates from far outside its range).
    "options": CoreParams(max_in=8, max_hidden=6, max_out=3, weight_bits=8, weight_frac=1,
                          decay_bits=10, v_bits=10, y_bits=12, recurrent=True,
                          synapse_current=True, adaptation=True),
    "options_narrow": CoreParams(max_in=7, max_hidden=5, max_out=2, weight_bits=6,
                                 decay_bits=3, v_bits=5, y_bits=8, recurrent=True,
                                 synapse_current=True, adaptation=True),
}


def _limits(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


class NeuronHarness(Elaboratable):
    """A :class:`~rtl.neuron.NeuronUnit` with free inputs and its exact reference.

    Parameters
    ----------
    params : CoreParams
        Number formats of the unit under proof.
    """

    def __init__(self, params: CoreParams):
        self.params = params

    def elaborate(self, platform):
        p = self.params
        m = Module()
        m.submodules.dut = dut = NeuronUnit(p)
        ports = [dut.readout, dut.hard_reset, dut.decay, dut.state, dut.acc, dut.theta]
        if p.synapse_current:
            ports += [dut.current_on, dut.beta, dut.current]
        if p.adaptation:
            ports += [dut.rho, dut.coupling, dut.adaptation]
        for port in ports:
            m.d.comb += port.eq(AnySeq(port.shape()))

        v_lo, v_hi = _limits(p.v_bits)
        y_lo, y_hi = _limits(p.y_bits)
        lo = Signal(signed(_WIDE))
        hi = Signal(signed(_WIDE))
        m.d.comb += [
            lo.eq(Mux(dut.readout, y_lo, v_lo)),
            hi.eq(Mux(dut.readout, y_hi, v_hi)),
        ]

        # The unit's input contract: a stored state of its population, a positive threshold.
        m.d.comb += [
            Assume((dut.state >= lo) & (dut.state <= hi)),
            Assume(dut.theta >= 1),
        ]

        # Reference, 64 bits wide: a non-negative decay times the state, floor-shifted.
        decay = Signal(signed(_WIDE))
        state = Signal(signed(_WIDE))
        acc = Signal(signed(_WIDE))
        product = Signal(signed(_WIDE))
        exact = Signal(signed(_WIDE))
        drive = Signal(signed(_WIDE))
        m.d.comb += [
            decay.eq(Cat(dut.decay, C(0, 1)).as_signed()),
            state.eq(dut.state),
            acc.eq(dut.acc),
            product.eq(decay * state),
            drive.eq(acc),
            exact.eq((product >> p.decay_bits) + drive),
        ]

        def unsigned_wide(value):
            return Cat(value, C(0, 1)).as_signed()

        if p.synapse_current:
            # c = sat_v(floor(beta * c / 2^A) + acc) drives a hidden neuron with current_on.
            filtered = Signal(signed(_WIDE))
            current = Signal(signed(_WIDE))
            m.d.comb += [
                filtered.eq(((unsigned_wide(dut.beta) * dut.current) >> p.decay_bits) + acc),
                current.eq(Mux(filtered > v_hi, v_hi, Mux(filtered < v_lo, v_lo, filtered))),
                drive.eq(Mux(dut.current_on & ~dut.readout, current, acc)),
                Assert(dut.next_current == current, "c is the saturated exact sum"),
            ]
        vpre = Signal(signed(_WIDE))
        m.d.comb += vpre.eq(Mux(exact > hi, hi, Mux(exact < lo, lo, exact)))
        theta = Signal(signed(_WIDE))
        spike = Signal()
        after_spike = Signal(signed(_WIDE))
        next_state = Signal(signed(_WIDE))
        m.d.comb += theta.eq(unsigned_wide(dut.theta))
        if p.adaptation:
            # thr = min(theta + a, v_hi) replaces theta; a = min(rho * a >> A + coupling z, v_hi).
            raised = unsigned_wide(dut.theta) + unsigned_wide(dut.adaptation)
            adapted = Signal(signed(_WIDE))
            m.d.comb += [
                theta.eq(Mux(raised > v_hi, v_hi, raised)),
                adapted.eq(((unsigned_wide(dut.rho) * unsigned_wide(dut.adaptation))
                            >> p.decay_bits) + Mux(spike, unsigned_wide(dut.coupling), 0)),
                Assert(dut.threshold == theta, "thr is theta + a, clamped"),
                Assert(dut.next_adaptation == Mux(adapted > v_hi, v_hi, adapted),
                       "a is the clamped exact sum"),
            ]
        m.d.comb += [
            spike.eq(~dut.readout & (vpre >= theta)),
            after_spike.eq(Mux(dut.hard_reset, 0, vpre - theta)),
            next_state.eq(Mux(spike, after_spike, vpre)),
        ]

        m.d.comb += [
            Assert(dut.vpre == vpre, "vpre is the saturated exact sum"),
            Assert(dut.spike == spike, "spike is vpre >= theta (thr), never for a readout"),
            Assert(dut.next_state == next_state, "next state without wrap-around"),
            Assert((dut.next_state >= lo) & (dut.next_state <= hi),
                   "next state in the range of its population"),
        ]
        return m
