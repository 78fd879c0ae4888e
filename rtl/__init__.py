"""Amaranth generator of the delaycore core.

Modules, one concept each:

- :mod:`rtl.params`: :class:`CoreParams`, capacity and number formats of a core;
- :mod:`rtl.memory_map`: bus addresses and encodings, :func:`~rtl.memory_map.network_writes`;
- :mod:`rtl.bus`: the :class:`~rtl.bus.ConfigBus` signature;
- :mod:`rtl.synapse_mem`, :mod:`rtl.delay_line`, :mod:`rtl.neuron`: building blocks;
- :mod:`rtl.core`: the :class:`~rtl.core.Core` component;
- :mod:`rtl.export`: Verilog output (``python -m rtl.export``).

``rtl.params`` and ``rtl.memory_map`` do not import Amaranth, so host-side code can use them
without the HDL toolchain; ``Core`` and ``verilog`` are imported on first use.
"""

from .params import CoreParams

__all__ = ["Core", "CoreParams", "verilog"]


def __getattr__(name):
    # Lazy: importing the package must not pull in Amaranth for pure-Python users.
    if name == "Core":
        from .core import Core
        return Core
    if name == "verilog":
        from .export import verilog
        return verilog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
