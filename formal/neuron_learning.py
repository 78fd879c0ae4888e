"""Proof: the rounding of a neuron-parameter update is exact for every learning rate.

:class:`RoundingHarness` drives every input of :class:`rtl.neuron_learning.ParameterRounding`
with a free value (any gradient of the given width, any shift ``0..47``, any 32-bit hash,
either mode) and checks its result ``R`` against the definition of ``docs/model.md`` 7.6 by
bounds rather than by the same right shift, in arithmetic ``width + 50`` bits wide where
nothing overflows:

- stochastic: ``R`` is the floor of ``(g + r) / 2^s`` with ``r`` the hash bits below ``s``
  (all 32 when ``s >= 32``): ``R * 2^s <= g + r < (R + 1) * 2^s``;
- truncation: ``R`` is ``g / 2^s`` rounded toward zero: ``|R| * 2^s <= |g| <
  (|R| + 1) * 2^s`` and ``R`` has the sign of ``g`` (or is 0).

Shifts of 32 and more are where the update departs from the weight rounding of the engine
(whose shifts stay below 32), and what the lockstep tests reach least: their rates keep
the updates a few units large. The unit is combinational, so one time step is a complete
proof for each width.
"""

from __future__ import annotations

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, C, Cat, Elaboratable, Module, Mux, Signal, signed

from rtl.neuron_learning import ETA_MAX, ParameterRounding

__all__ = ["ROUNDING_WIDTHS", "RoundingHarness"]

#: Gradient widths the proof runs on: ``post_factor_bits + max(elig_bits, trace_bits + 1) +
#: 1`` of the lockstep variant LN (10 + 16 + 1), of the UP5K formats with the default
#: eligibilities (8 + 24 + 1), and the widest (24 + 32 + 1).
ROUNDING_WIDTHS = {"ln": 27, "default": 33, "widest": 57}

class RoundingHarness(Elaboratable):
    """A :class:`~rtl.neuron_learning.ParameterRounding` with free inputs and the bounds of
    its exact result.

    Parameters
    ----------
    width : int
        Signed width of the gradient.
    """

    def __init__(self, width: int):
        self.width = width

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = ParameterRounding(self.width)
        for port in (dut.value, dut.shift, dut.random, dut.stochastic):
            m.d.comb += port.eq(AnySeq(port.shape()))
        m.d.comb += Assume(dut.shift <= ETA_MAX)
        wide = signed(self.width + ETA_MAX + 3)

        def scaled(x):
            """``x * 2^shift``, exact in the wide width."""
            return (x.as_signed() << dut.shift)[:wide.width].as_signed()

        value = Signal(wide)
        result = Signal(wide)
        below = Signal(wide)     # the hash bits below the shift: random mod 2^shift
        m.d.comb += [
            value.eq(dut.value),
            result.eq(dut.result),
            below.eq(Cat(dut.random, C(0, wide.width - 32)).as_signed()
                     & (scaled(C(1, wide.width)) - 1)),
        ]
        total = Signal(wide)
        m.d.comb += total.eq(value + below)
        magnitude = Signal(wide)
        size = Signal(wide)
        m.d.comb += [
            magnitude.eq(Mux(value < 0, -value, value)),
            size.eq(Mux(result < 0, -result, result)),
        ]
        with m.If(dut.stochastic):
            m.d.comb += Assert((scaled(result) <= total) & (total < scaled(result + 1)),
                               "stochastic: R is the floor of (g + r) / 2^s")
        with m.Else():
            m.d.comb += [
                Assert((scaled(size) <= magnitude) & (magnitude < scaled(size + 1)),
                       "truncation: |R| is |g| / 2^s rounded down"),
                Assert((result == 0) | ((result < 0) == (value < 0)),
                       "truncation: R has the sign of g"),
            ]
        return m
