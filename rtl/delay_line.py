"""Delay-line memory: the spike history of every source.

Each source (input channel or hidden neuron) owns one word of ``ring`` bits; bit ``p`` holds
the source's spike of the last step ``t`` with ``t mod ring == p`` (model.md section 5). A
delayed spike is therefore one bit select on a word read, and delays cost ``ring`` bits per
source instead of a buffer per synapse.

Writes are bit-granular so that the sequencer can set one slot of one source per cycle
without a read-modify-write; clearing and bus writes use all-ones masks to write whole words.
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["DelayLineMemory"]


class DelayLineMemory(wiring.Component):
    """Spike rings of all sources, with a read port and a bit-granular write port.

    Parameters
    ----------
    sources : int
        Number of rings (``max_in + max_hidden``).
    ring : int
        Slots per ring, a power of two.

    Members
    -------
    r_addr : In(ceil_log2(sources))
        Source whose ring is read in this cycle.
    r_data : Out(ring)
        Ring of the ``r_addr`` of the previous cycle. A write in the same cycle as the read
        is not visible (the old word is returned).
    w_addr : In(ceil_log2(sources))
        Source whose ring is written in this cycle.
    w_data : In(ring)
        New slot values.
    w_mask : In(ring)
        Slots to write: a one-hot mask sets one slot, all ones replaces the word.
    """

    def __init__(self, sources: int, ring: int):
        if ring < 1 or ring & (ring - 1):
            raise ValueError(f"ring must be a power of two, got {ring}")
        self._sources = sources
        self._ring = ring
        addr_width = ceil_log2(sources)
        super().__init__({
            "r_addr": In(addr_width),
            "r_data": Out(ring),
            "w_addr": In(addr_width),
            "w_data": In(ring),
            "w_mask": In(ring),
        })

    @property
    def sources(self) -> int:
        return self._sources

    @property
    def ring(self) -> int:
        return self._ring

    def elaborate(self, platform):
        m = Module()
        m.submodules.rings = rings = Memory(shape=unsigned(self._ring), depth=self._sources,
                                            init=[])
        read = rings.read_port()
        write = rings.write_port(granularity=1)
        m.d.comb += [
            read.addr.eq(self.r_addr),
            self.r_data.eq(read.data),
            write.addr.eq(self.w_addr),
            write.data.eq(self.w_data),
            write.en.eq(self.w_mask),
        ]
        return m
