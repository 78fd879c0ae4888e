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

The unit is combinational, so a check of one time step covers every input: this is a
complete proof for the parameters given, not a bounded one.

Assumed (the contract of the unit, ``docs/model.md`` sections 2-4): ``state`` is a stored
``v`` (``v_bits``, sign-extended) or ``y`` (``y_bits``), and ``theta >= 1``. ``decay`` and
``acc`` are free over their whole width.
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
        for port in (dut.readout, dut.hard_reset, dut.decay, dut.state, dut.acc, dut.theta):
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
        m.d.comb += [
            decay.eq(Cat(dut.decay, C(0, 1)).as_signed()),
            state.eq(dut.state),
            acc.eq(dut.acc),
            product.eq(decay * state),
            exact.eq((product >> p.decay_bits) + acc),
        ]
        vpre = Signal(signed(_WIDE))
        m.d.comb += vpre.eq(Mux(exact > hi, hi, Mux(exact < lo, lo, exact)))
        theta = Signal(signed(_WIDE))
        spike = Signal()
        after_spike = Signal(signed(_WIDE))
        next_state = Signal(signed(_WIDE))
        m.d.comb += [
            theta.eq(Cat(dut.theta, C(0, 1)).as_signed()),
            spike.eq(~dut.readout & (vpre >= theta)),
            after_spike.eq(Mux(dut.hard_reset, 0, vpre - theta)),
            next_state.eq(Mux(spike, after_spike, vpre)),
        ]

        m.d.comb += [
            Assert(dut.vpre == vpre, "vpre is the saturated exact sum"),
            Assert(dut.spike == spike, "spike is vpre >= theta, never for a readout"),
            Assert(dut.next_state == next_state, "next state without wrap-around"),
            Assert((dut.next_state >= lo) & (dut.next_state <= hi),
                   "next state in the range of its population"),
        ]
        return m
