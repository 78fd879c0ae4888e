"""Lockstep cases added for coverage: behaviours the lockstep suite left unexercised.

``python -m bench.coverage --extra`` runs these after the cases of :func:`sim.cases.lockstep_cases`
(together with the bus checks of ``sim/test_bus_readback.py``). Coverage of variant A showed
that the membrane never reached its negative saturation limit: with 16-bit membranes, 8-bit
weights and the positive-leaning random weights, the sum never got down to ``-2**15``. The
cases below drive every population negative (all rows inverted, extreme weights, dense input,
slow leak) so that the lower clamp of the neuron unit runs, with soft and hard reset, with and
without the recurrent projection. The same cases run in ``tests/test_coverage_cases.py``.
"""

from __future__ import annotations

from sim.cases import LockstepCase

__all__ = ["coverage_cases"]


def coverage_cases(variant: str, capacity: tuple[int, int, int], recurrent: bool
                   ) -> list[LockstepCase]:
    """Extra cases for a variant with capacity ``(max_in, max_hidden, max_out)``."""
    mi, mh, mo = capacity
    base = {"A": 3000, "B": 4000}.get(variant, 5000)
    cases = [
        # Every weight inverted: the sums are strongly negative and saturate low.
        LockstepCase(name=f"{variant}C0_negative_saturation_ff", seed=base, n_in=mi,
                     n_hidden=mh, n_out=mo, delay_in="none", delay_out="none", reset="soft",
                     density=0.95, saturating=True, negate_rows=1.0, steps=300,
                     steps_after_clear=20, retune_at=None),
    ]
    if recurrent:
        cases.append(
            LockstepCase(name=f"{variant}C1_negative_saturation_rec", seed=base + 1, n_in=mi,
                         n_hidden=mh, n_out=mo, recurrent=True, delay_in="synaptic",
                         delay_rec="axonal", delay_out="synaptic", reset="hard", density=0.9,
                         saturating=True, negate_rows=1.0, steps=300, steps_after_clear=20,
                         retune_at=150))
    return cases
