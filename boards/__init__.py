"""FPGA boards that delaycore builds for, one module per board.

Each module defines a :class:`~boards.base.Board` (platform, pins, clock sources, default
capacity, programmers) and the top level that puts a :class:`~rtl.link_top.LinkedCore` on
the board's serial lines. ``python -m rtl.build --board NAME`` builds one
(``docs/boards.md``).
"""

from __future__ import annotations

import importlib

__all__ = ["BOARD_NAMES", "get_board"]

#: Board name -> module, in the order ``--list-boards`` shows them.
_MODULES = {
    "icebreaker": "boards.icebreaker",
    "upduino": "boards.upduino",
    "ulx3s": "boards.ulx3s",
}

BOARD_NAMES = tuple(_MODULES)


def get_board(name: str):
    """The :class:`~boards.base.Board` called ``name``.

    Raises
    ------
    ValueError
        No board has that name; the message lists the known ones.
    """
    try:
        module = _MODULES[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; known boards: "
                         f"{', '.join(BOARD_NAMES)}") from None
    return importlib.import_module(module).BOARD
