"""Neuron unit: the per-neuron update at the end of a neuron's synapse stream.

One combinational datapath serves both populations, so the core needs a single multiplier
(the leak product) for hidden and readout neurons:

- hidden (LIF): ``vpre = sat_v((alpha * v >> A) + I)``, ``z = vpre >= theta``, then
  ``v = vpre - theta`` (soft reset) or ``0`` (hard reset) if ``z``, else ``vpre``;
- readout: ``y = sat_y((kappa * y >> A) + J)``, never spikes.

``>>`` is an arithmetic shift (floor) and ``sat_n`` clamps to the signed range of ``n``
bits, as in ``docs/model.md`` section 3.

The neuron options add to the hidden update (each with its own multiplier, so that a neuron
is still updated in one cycle):

- current synapses (``synapse_current``, model.md section 8): with ``current_on``,
  ``c = sat_v((beta * c >> A) + I)`` and the membrane integrates ``c`` instead of ``I``;
- adaptive threshold (``adaptation``, section 9): the threshold is
  ``thr = min(theta + a, 2^(v_bits-1) - 1)``, a soft reset subtracts ``thr``, and
  ``a = min((rho * a >> A) + (coupling if z else 0), 2^(v_bits-1) - 1)``.
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

    With ``params.synapse_current``:

    current_on : In(1)
        Current-based synapses on (``FLAGS.SYNAPSE_CURRENT``); off, ``I`` drives ``v``.
    beta : In(unsigned(decay_bits))
        Decay factor of the synaptic current.
    current : In(signed(v_bits))
        Previous synaptic current ``c``.
    next_current : Out(signed(v_bits))
        New ``c`` (meaningful for a hidden neuron with ``current_on``).

    With ``params.adaptation``:

    rho : In(unsigned(decay_bits))
        Decay factor of the adaptation.
    coupling : In(unsigned(v_bits - 1))
        Adaptation increment per spike.
    adaptation : In(unsigned(v_bits - 1))
        Previous adaptation ``a``.
    next_adaptation : Out(unsigned(v_bits - 1))
        New ``a`` (meaningful for a hidden neuron).
    threshold : Out(unsigned(v_bits - 1))
        The adapted threshold ``thr`` of this step.
    """

    def __init__(self, params: CoreParams):
        if not isinstance(params, CoreParams):
            raise TypeError(f"params must be a CoreParams, got {type(params).__name__}")
        self._params = params
        members = {
            "readout": In(1),
            "hard_reset": In(1),
            "decay": In(unsigned(params.decay_bits)),
            "state": In(signed(params.state_bits)),
            "acc": In(signed(params.acc_bits)),
            "theta": In(unsigned(params.v_bits - 1)),
            "next_state": Out(signed(params.state_bits)),
            "spike": Out(1),
            "vpre": Out(signed(params.state_bits)),
        }
        if params.synapse_current:
            members.update({
                "current_on": In(1),
                "beta": In(unsigned(params.decay_bits)),
                "current": In(signed(params.v_bits)),
                "next_current": Out(signed(params.v_bits)),
            })
        if params.adaptation:
            members.update({
                "rho": In(unsigned(params.decay_bits)),
                "coupling": In(unsigned(params.v_bits - 1)),
                "adaptation": In(unsigned(params.v_bits - 1)),
                "next_adaptation": Out(unsigned(params.v_bits - 1)),
                "threshold": Out(unsigned(params.v_bits - 1)),
            })
        super().__init__(members)

    @property
    def params(self) -> CoreParams:
        return self._params

    def elaborate(self, platform):
        p = self._params
        m = Module()

        def limits(bits):
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1

        v_lo, v_hi = limits(p.v_bits)

        def clamp(value, lo, hi):
            return Mux(value > hi, hi, Mux(value < lo, lo, value))

        # With decay < 2**A, |decay * state >> A| <= |state|, so the leak fits state_bits.
        leak = (self.decay * self.state) >> p.decay_bits
        y_lo, y_hi = limits(p.y_bits)
        lo = Mux(self.readout, y_lo, v_lo)
        hi = Mux(self.readout, y_hi, v_hi)
        if not p.synapse_current:
            total = leak + self.acc
            saturated = Mux(total > hi, hi, Mux(total < lo, lo, total))
        else:
            # c = sat_v((beta * c >> A) + I), with its own multiplier beside the leak's, and
            # vpre = sat_v(leak + c). Saturating c before the second sum would put two
            # saturations in series on the path to the state memories; instead the three
            # possible results (c saturated high, low, or not) are formed side by side and c's
            # own compares pick one.
            use_current = self.current_on & ~self.readout
            decayed_current = (self.beta * self.current) >> p.decay_bits
            filtered = decayed_current + self.acc
            m.d.comb += self.next_current.eq(clamp(filtered, v_lo, v_hi))
            # Readouts, and hidden neurons with the option off, take the sum itself.
            total = leak + Mux(use_current, decayed_current, 0) + self.acc
            saturated = Mux(use_current & (filtered > v_hi), clamp(leak + v_hi, v_lo, v_hi),
                            Mux(use_current & (filtered < v_lo), clamp(leak + v_lo, v_lo, v_hi),
                                clamp(total, lo, hi)))

        # ``saturated`` fits state_bits; narrowing first keeps the compare and the subtract
        # (on the path to the state memory) as narrow as the state itself.
        vpre = saturated.as_signed()[:p.state_bits].as_signed()
        threshold = self.theta
        if p.adaptation:
            # thr = min(theta + a, v_hi): both are below 2**(v_bits - 1), the sum fits v_bits.
            raised = self.theta + self.adaptation
            threshold = Mux(raised > v_hi, v_hi, raised)[:p.v_bits - 1]
            m.d.comb += self.threshold.eq(threshold)
        spike = ~self.readout & (vpre >= threshold)
        # Soft reset cannot underflow: vpre >= thr >= theta >= 0 (model.md sections 3, 9).
        after_spike = Mux(self.hard_reset, 0, vpre - threshold)
        if p.adaptation:
            # a >= 0 throughout, so the shift floors towards 0 and only the top needs a clamp;
            # both results are formed before the spike is known, which only selects one.
            decayed = (self.rho * self.adaptation) >> p.decay_bits
            bumped = decayed + self.coupling
            m.d.comb += self.next_adaptation.eq(
                Mux(spike, Mux(bumped > v_hi, v_hi, bumped), decayed))
        m.d.comb += [
            self.vpre.eq(vpre),
            self.spike.eq(spike),
            self.next_state.eq(Mux(spike, after_spike, vpre)),
        ]
        return m
