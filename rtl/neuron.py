"""Neuron unit: the per-neuron update at the end of a neuron's synapse stream.

One combinational datapath serves both populations, so the core needs a single multiplier
(the leak product) for hidden and readout neurons:

- hidden (LIF): ``vpre = sat_v((alpha * v >> A) + I)``, ``z = vpre >= theta``, then
  ``v = vpre - theta`` (soft reset) or ``0`` (hard reset) if ``z``, else ``vpre``;
- readout: ``y = sat_y((kappa * y >> A) + J)``, never spikes.

``>>`` is an arithmetic shift (floor) and ``sat_n`` clamps to the signed range of ``n``
bits, as in ``docs/model.md`` section 3.
"""

from amaranth.hdl import Module, Mux, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import CoreParams

__all__ = ["NeuronUnit"]


class NeuronUnit(wiring.Component):
    """Combinational LIF / readout update.

    Parameters
    ----------
    params : CoreParams
        Number formats (``decay_bits``, ``v_bits``, ``y_bits``, ``acc_bits``).

    Members
    -------
    readout : In(1)
        Update a readout neuron (``y``) instead of a hidden one (``v``).
    hard_reset : In(1)
        Hidden reset mode: 1 sets ``v`` to 0 after a spike, 0 subtracts ``theta``.
    decay : In(unsigned(decay_bits))
        ``alpha`` (hidden) or ``kappa`` (readout).
    state : In(signed(state_bits))
        Previous ``v`` or ``y``, sign-extended to ``max(v_bits, y_bits)``.
    acc : In(signed(acc_bits))
        Synaptic input sum ``I`` or ``J`` of this step.
    theta : In(unsigned(v_bits - 1))
        Threshold of a hidden neuron (ignored for readouts).
    next_state : Out(signed(state_bits))
        New ``v`` or ``y``; within the range of ``v_bits`` or ``y_bits``.
    spike : Out(1)
        Hidden spike ``z`` (always 0 for readouts).
    vpre : Out(signed(state_bits))
        The saturated sum before the reset: ``vpre`` of a hidden neuron (the learning engine
        keeps ``|vpre - theta|`` for the surrogate derivative), the new ``y`` of a readout.
    """

    def __init__(self, params: CoreParams):
        self._params = params
        super().__init__({
            "readout": In(1),
            "hard_reset": In(1),
            "decay": In(unsigned(params.decay_bits)),
            "state": In(signed(params.state_bits)),
            "acc": In(signed(params.acc_bits)),
            "theta": In(unsigned(params.v_bits - 1)),
            "next_state": Out(signed(params.state_bits)),
            "spike": Out(1),
            "vpre": Out(signed(params.state_bits)),
        })

    @property
    def params(self) -> CoreParams:
        return self._params

    def elaborate(self, platform):
        p = self._params
        m = Module()

        # With decay < 2**A, |decay * state >> A| <= |state|, so the leak fits state_bits.
        leak = (self.decay * self.state) >> p.decay_bits
        total = leak + self.acc

        def limits(bits):
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1

        v_lo, v_hi = limits(p.v_bits)
        y_lo, y_hi = limits(p.y_bits)
        lo = Mux(self.readout, y_lo, v_lo)
        hi = Mux(self.readout, y_hi, v_hi)
        saturated = Mux(total > hi, hi, Mux(total < lo, lo, total))

        # ``saturated`` fits state_bits; narrowing first keeps the compare and the subtract
        # (on the path to the state memory) as narrow as the state itself.
        vpre = saturated.as_signed()[:p.state_bits].as_signed()
        spike = ~self.readout & (vpre >= self.theta)
        # Soft reset cannot underflow: vpre >= theta >= 0 (model.md section 3).
        after_spike = Mux(self.hard_reset, 0, vpre - self.theta)
        m.d.comb += [
            self.vpre.eq(vpre),
            self.spike.eq(spike),
            self.next_state.eq(Mux(spike, after_spike, vpre)),
        ]
        return m
