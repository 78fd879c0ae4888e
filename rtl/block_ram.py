"""Block RAM with one read and one write port, added to a module under a name.

The core's per-neuron memories (``alpha``, ``theta``, ``v`` ...) and the learning engine's
(``psi_lut``, ``post_list``, the trace rings in block RAM ...) are all this shape: an
:class:`amaranth.lib.memory.Memory` with no initial contents, one synchronous read port and
one write port, which every FPGA flow maps to a simple dual-port block RAM.
"""

from amaranth.lib.memory import Memory

__all__ = ["block_ram"]


def block_ram(m, name: str, shape, depth: int):
    """Add ``Memory(shape, depth)`` to ``m`` as submodule ``name``; returns its read port and
    its write port (created in that order)."""
    mem = Memory(shape=shape, depth=depth, init=[])
    m.submodules[name] = mem
    return mem.read_port(), mem.write_port()
