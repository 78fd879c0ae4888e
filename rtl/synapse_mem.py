"""Synapse memory: one ``{w, d}`` word per synapse.

The sequencer walks this memory linearly once per time step; the host loads it through the
configuration bus. Both only need one access per cycle, so the memory has a single-port
interface (one address, read *or* write), which is exactly what the iCE40 UP5K single-port
RAM (``SB_SPRAM256KA``) offers. :class:`SynapseMemory` is built from
:class:`amaranth.lib.memory.Memory` (block RAM on any FPGA);
:class:`~rtl.spram.SPRAMSynapseMemory` has the same signature and puts the words in the
SPRAM blocks. :func:`make_synapse_memory` picks one by ``CoreParams.synapse_memory``.
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["SynapseMemory", "make_synapse_memory"]


class SynapseMemory(wiring.Component):
    """Single-port synapse memory.

    Parameters
    ----------
    depth : int
        Number of synapse words.
    width : int
        Width of a synapse word (``weight_bits + delay_bits``).

    Members
    -------
    addr : In(ceil_log2(depth))
        Word address of the access in this cycle.
    r_data : Out(width)
        Word at the ``addr`` of the previous cycle (synchronous read, every cycle).
    w_data : In(width)
        Word to write.
    w_en : In(1)
        Write ``w_data`` to ``addr`` in this cycle. ``r_data`` of the next cycle is then
        unspecified (an SPRAM returns the old or the new word); the core never reads in a
        write cycle.
    """

    def __init__(self, depth: int, width: int):
        self._depth = depth
        self._width = width
        super().__init__({
            "addr": In(ceil_log2(depth)),
            "r_data": Out(width),
            "w_data": In(width),
            "w_en": In(1),
        })

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def width(self) -> int:
        return self._width

    def elaborate(self, platform):
        m = Module()
        m.submodules.array = array = Memory(shape=unsigned(self._width), depth=self._depth,
                                            init=[])
        read = array.read_port()
        write = array.write_port()
        m.d.comb += [
            read.addr.eq(self.addr),
            self.r_data.eq(read.data),
            write.addr.eq(self.addr),
            write.data.eq(self.w_data),
            write.en.eq(self.w_en),
        ]
        return m


def make_synapse_memory(params):
    """The synapse memory of a core built with ``params`` (a :class:`~rtl.params.CoreParams`).

    ``max_synapses`` words of ``syn_word_bits`` bits, in block RAM or in SPRAM as
    ``params.synapse_memory`` says.
    """
    if params.synapse_memory == "spram":
        from .spram import SPRAMSynapseMemory

        return SPRAMSynapseMemory(params.max_synapses, params.syn_word_bits)
    return SynapseMemory(params.max_synapses, params.syn_word_bits)
