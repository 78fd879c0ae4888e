"""Configuration bus of the core.

A word-level memory-mapped bus: one 32-bit word per address, no byte lanes, no wait states.
It carries configuration (sizes, flags, weights, delays, decay factors, thresholds), state
(membranes, readouts, spike rings) and debug counters; see the memory map in
``docs/architecture.md`` and :mod:`rtl.memory_map`.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ADDR_WIDTH", "DATA_WIDTH", "ConfigBus"]

#: Width of a word address: ``addr[16:20]`` selects a region, ``addr[0:16]`` the offset.
ADDR_WIDTH = 20
#: Width of a data word.
DATA_WIDTH = 32


class ConfigBus(wiring.Signature):
    """Signature of the configuration bus, seen from the host (the initiator).

    A component that serves the bus uses ``In(ConfigBus())``.

    Members
    -------
    addr : Out(20)
        Word address.
    w_data : Out(32)
        Data of a write.
    w_en : Out(1)
        Write ``w_data`` to ``addr`` in this cycle.
    r_en : Out(1)
        Read ``addr`` in this cycle.
    r_data : In(32)
        Data of the read requested in the previous cycle.

    Notes
    -----
    A read takes effect in the cycle in which ``r_en`` is high and its data is on ``r_data``
    in the next cycle, so reads can follow each other back to back, one per cycle. Writes
    complete in the cycle in which ``w_en`` is high. ``w_en`` and ``r_en`` should not be high
    in the same cycle.
    """

    def __init__(self):
        super().__init__({
            "addr": Out(ADDR_WIDTH),
            "w_data": Out(DATA_WIDTH),
            "w_en": Out(1),
            "r_en": Out(1),
            "r_data": In(DATA_WIDTH),
        })

    def __eq__(self, other):
        return type(other) is ConfigBus

    def __hash__(self):
        return hash(ConfigBus)

    def __repr__(self):
        return "ConfigBus()"
