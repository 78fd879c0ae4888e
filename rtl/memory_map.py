"""Memory map of the core's configuration bus, and the writes that load a network.

Pure Python (no Amaranth import): the RTL, the simulator testbenches and the host driver all
take their addresses and encodings from here, so they cannot drift apart. The map itself is
specified in ``docs/architecture.md``:

- a word address is ``region << 16 | offset`` (20 bits: ``addr[16:20]`` region,
  ``addr[0:16]`` offset);
- signed fields (``V``, ``Y``) read back sign-extended to 32 bits; everything else reads
  back zero-extended; writes use the low bits of a field.

Typical use::

    from rtl.memory_map import network_writes, address, REGION_V, decode_signed

    for addr, data in network_writes(net, params):
        bus_write(addr, data)
    v0 = decode_signed(bus_read(address(REGION_V, 0)), 32)
"""

from __future__ import annotations

__all__ = [
    "CTRL_CYCLES",
    "CTRL_FLAGS",
    "CTRL_N_HIDDEN",
    "CTRL_N_IN",
    "CTRL_N_OUT",
    "CTRL_STEP",
    "DELAY_AXONAL",
    "DELAY_KIND_CODES",
    "DELAY_NONE",
    "DELAY_SYNAPTIC",
    "FLAG_DELAY_SHIFT",
    "FLAG_HARD_RESET",
    "FLAG_RECURRENT",
    "OFFSET_MASK",
    "REGIONS",
    "REGION_ALPHA",
    "REGION_AXON",
    "REGION_CTRL",
    "REGION_HIST",
    "REGION_KAPPA",
    "REGION_SHIFT",
    "REGION_SYN",
    "REGION_THETA",
    "REGION_V",
    "REGION_Y",
    "address",
    "axon_offset",
    "decode_flags",
    "decode_signed",
    "encode_flags",
    "encode_signed",
    "hist_offset",
    "network_writes",
    "pack_synapse",
    "region_words",
    "synapse_offset",
    "unpack_synapse",
]

#: Position of the region number in a word address.
REGION_SHIFT = 16
#: Mask of the offset part of a word address.
OFFSET_MASK = (1 << REGION_SHIFT) - 1

REGION_CTRL = 0   #: run-time configuration and counters (``CTRL_*`` offsets)
REGION_SYN = 1    #: synapse words, dense layout (:func:`synapse_offset`)
REGION_AXON = 2   #: axonal delays (:func:`axon_offset`)
REGION_ALPHA = 3  #: hidden leak factors, offset ``i``
REGION_THETA = 4  #: hidden thresholds, offset ``i``
REGION_V = 5      #: hidden membranes (read/write), offset ``i``
REGION_KAPPA = 6  #: readout leak factors, offset ``k``
REGION_Y = 7      #: readout values (read/write), offset ``k``
REGION_HIST = 8   #: raw spike rings, read/write (:func:`hist_offset`)

#: Region name -> number, in map order.
REGIONS = {
    "CTRL": REGION_CTRL, "SYN": REGION_SYN, "AXON": REGION_AXON, "ALPHA": REGION_ALPHA,
    "THETA": REGION_THETA, "V": REGION_V, "KAPPA": REGION_KAPPA, "Y": REGION_Y,
    "HIST": REGION_HIST,
}

CTRL_N_IN = 0      #: run-time input count; writes are clamped to ``[1, max_in]``
CTRL_N_HIDDEN = 1  #: run-time hidden count; writes are clamped to ``[1, max_hidden]``
CTRL_N_OUT = 2     #: run-time readout count; writes are clamped to ``[1, max_out]``
CTRL_FLAGS = 3     #: mode flags (:func:`encode_flags`)
CTRL_STEP = 4      #: steps since the last ``clear`` (read-only)
CTRL_CYCLES = 5    #: clock cycles ``busy`` was high in the last step (read-only)

FLAG_RECURRENT = 1 << 0   #: the recurrent projection is on (reads 0 on a non-recurrent core)
FLAG_HARD_RESET = 1 << 1  #: hidden reset sets ``v`` to 0 (else subtracts ``theta``)
#: Projection -> position of its 2-bit delay-kind code in ``FLAGS``.
FLAG_DELAY_SHIFT = {"in": 2, "rec": 4, "out": 6}

DELAY_NONE = 0      #: no delays (every delay is 0); code 3 behaves the same
DELAY_SYNAPTIC = 1  #: one delay per synapse, in the synapse word
DELAY_AXONAL = 2    #: one delay per source, in the ``AXON`` region
#: Delay kind name (as in ``golden.network``) -> code.
DELAY_KIND_CODES = {"none": DELAY_NONE, "synaptic": DELAY_SYNAPTIC, "axonal": DELAY_AXONAL}

_PROJECTIONS = ("in", "rec", "out")


def region_words(params) -> dict[int, int]:
    """Words in each region of a core built with ``params`` (region number -> size).

    Offsets at or beyond a region's size read as 0 and ignore writes; regions not listed
    (9 to 15) have no words.
    """
    return {
        REGION_CTRL: CTRL_CYCLES + 1,
        REGION_SYN: params.max_synapses,
        REGION_AXON: params.max_in + 2 * params.max_hidden,
        REGION_ALPHA: params.max_hidden,
        REGION_THETA: params.max_hidden,
        REGION_V: params.max_hidden,
        REGION_KAPPA: params.max_out,
        REGION_Y: params.max_out,
        REGION_HIST: (params.max_in + params.max_hidden) * params.hist_words,
    }


def address(region: int, offset: int = 0) -> int:
    """Word address of ``offset`` in ``region``."""
    if not 0 <= region < 16:
        raise ValueError(f"region must be in [0, 15], got {region}")
    if not 0 <= offset <= OFFSET_MASK:
        raise ValueError(f"offset must be in [0, {OFFSET_MASK}], got {offset}")
    return region << REGION_SHIFT | offset


def encode_signed(value: int, bits: int) -> int:
    """Two's complement bit pattern of ``value`` in ``bits`` bits.

    Raises
    ------
    ValueError
        ``value`` does not fit (nothing is wrapped silently).
    """
    value = int(value)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not lo <= value <= hi:
        raise ValueError(f"{value} does not fit a signed {bits}-bit field [{lo}, {hi}]")
    return value & ((1 << bits) - 1)


def decode_signed(value: int, bits: int = 32) -> int:
    """Value of the low ``bits`` bits of ``value`` read as two's complement.

    Bus reads of ``V`` and ``Y`` are sign-extended to 32 bits, so ``decode_signed(word)``
    (``bits=32``) gives their value; a narrower ``bits`` decodes a raw field.
    """
    value = int(value) & ((1 << bits) - 1)
    return value - (1 << bits) if value >> (bits - 1) else value


def _kind_code(kind) -> int:
    if isinstance(kind, str):
        try:
            return DELAY_KIND_CODES[kind]
        except KeyError:
            raise ValueError(f"delay kind must be one of {', '.join(DELAY_KIND_CODES)}, "
                             f"got {kind!r}") from None
    if kind not in (DELAY_NONE, DELAY_SYNAPTIC, DELAY_AXONAL):
        raise ValueError(f"delay kind code must be 0, 1 or 2, got {kind!r}")
    return int(kind)


def encode_flags(*, recurrent: bool, reset: str, delay_in="none", delay_rec="none",
                 delay_out="none") -> int:
    """The ``FLAGS`` word.

    Parameters
    ----------
    recurrent : bool
        Recurrent projection on.
    reset : {"soft", "hard"}
        Hidden reset mode.
    delay_in, delay_rec, delay_out : str or int
        Delay kind of each projection, by name (``"none"``, ``"synaptic"``, ``"axonal"``) or
        code.
    """
    if reset not in ("soft", "hard"):
        raise ValueError(f"reset must be 'soft' or 'hard', got {reset!r}")
    flags = (FLAG_RECURRENT if recurrent else 0) | (FLAG_HARD_RESET if reset == "hard" else 0)
    for proj, kind in zip(_PROJECTIONS, (delay_in, delay_rec, delay_out), strict=True):
        flags |= _kind_code(kind) << FLAG_DELAY_SHIFT[proj]
    return flags


def decode_flags(flags: int) -> dict:
    """Inverse of :func:`encode_flags`: a dict with its keyword arguments.

    An unused kind code (3) decodes as ``"none"``, which is how the core treats it.
    """
    names = {code: name for name, code in DELAY_KIND_CODES.items()}
    out = {"recurrent": bool(flags & FLAG_RECURRENT),
           "reset": "hard" if flags & FLAG_HARD_RESET else "soft"}
    for proj in _PROJECTIONS:
        out[f"delay_{proj}"] = names.get((flags >> FLAG_DELAY_SHIFT[proj]) & 3, "none")
    return out


def pack_synapse(w: int, d: int, params) -> int:
    """Synapse word: ``w`` (signed) in bits ``[0, weight_bits)``, ``d`` above it.

    Raises
    ------
    ValueError
        ``w`` or ``d`` does not fit its field.
    """
    d = int(d)
    if not 0 <= d < (1 << params.delay_bits):
        raise ValueError(f"delay {d} does not fit an unsigned {params.delay_bits}-bit field")
    return encode_signed(w, params.weight_bits) | d << params.weight_bits


def unpack_synapse(word: int, params) -> tuple[int, int]:
    """Inverse of :func:`pack_synapse`: ``(w, d)`` of a synapse word read from the bus."""
    w = decode_signed(word, params.weight_bits)
    d = (int(word) >> params.weight_bits) & ((1 << params.delay_bits) - 1)
    return w, d


def synapse_offset(net, proj: str, post: int, pre: int) -> int:
    """Offset in ``SYN`` of synapse ``pre -> post`` of projection ``proj`` of ``net``.

    The layout is dense in the run-time sizes: hidden neuron ``i`` owns
    ``i * (n_in + n_rec) ...`` (its ``n_in`` input synapses, then its ``n_rec`` recurrent
    ones, ``n_rec = n_hidden`` if recurrent else 0); readout ``k`` owns
    ``n_hidden * (n_in + n_rec) + k * n_hidden ...``.
    """
    n_in, n_hidden = int(net.n_in), int(net.n_hidden)
    n_rec = n_hidden if net.recurrent else 0
    if proj == "in":
        return post * (n_in + n_rec) + pre
    if proj == "rec":
        if not net.recurrent:
            raise ValueError("network has no recurrent projection")
        return post * (n_in + n_rec) + n_in + pre
    if proj == "out":
        return n_hidden * (n_in + n_rec) + post * n_hidden + pre
    raise ValueError(f"proj must be 'in', 'rec' or 'out', got {proj!r}")


def axon_offset(proj: str, pre: int, params) -> int:
    """Offset in ``AXON`` of the axonal delay of source ``pre`` in projection ``proj``.

    Inputs at ``j``, recurrent sources at ``max_in + i``, readout sources at
    ``max_in + max_hidden + i`` (capacity, not run-time sizes).
    """
    base = {"in": 0, "rec": params.max_in, "out": params.max_in + params.max_hidden}
    if proj not in base:
        raise ValueError(f"proj must be 'in', 'rec' or 'out', got {proj!r}")
    return base[proj] + pre


def hist_offset(source: str, index: int, params, word: int = 0) -> int:
    """Offset in ``HIST`` of the spike ring of input ``index`` or hidden neuron ``index``.

    Bit ``p`` of a ring is the source's spike of the last step ``t`` with
    ``t mod params.ring == p``. A ring takes ``params.hist_words`` bus words (2 when
    ``ring == 64``): word ``word`` holds slots ``[32 * word, 32 * word + 32)``.
    """
    if not 0 <= word < params.hist_words:
        raise ValueError(f"word must be in [0, {params.hist_words - 1}], got {word}")
    if source == "input":
        ring_index = index
    elif source == "hidden":
        ring_index = params.max_in + index
    else:
        raise ValueError(f"source must be 'input' or 'hidden', got {source!r}")
    return ring_index * params.hist_words + word


def network_writes(net, params) -> list[tuple[int, int]]:
    """Every bus write that loads ``net`` into a core built with ``params``.

    The writes are, in order: ``N_IN``, ``N_HIDDEN``, ``N_OUT``, ``FLAGS``; all synapse
    words in ``SYN`` order (the delay field holds the synaptic delay, or 0 for the other
    kinds); the axonal delays of every projection with ``"axonal"`` delays; ``ALPHA``,
    ``THETA`` and ``KAPPA``. State (``V``, ``Y``, ``HIST``) is not written: pulse ``clear``
    to start from zero state.

    Parameters
    ----------
    net : golden.network.Network
    params : rtl.params.CoreParams

    Returns
    -------
    list of (int, int)
        ``(address, data)`` pairs, data as unsigned 32-bit words.

    Raises
    ------
    ValueError
        The network does not fit the core (see :meth:`rtl.params.CoreParams.check_network`).
    """
    params.check_network(net)
    n_in, n_hidden, n_out = int(net.n_in), int(net.n_hidden), int(net.n_out)
    writes = [
        (address(REGION_CTRL, CTRL_N_IN), n_in),
        (address(REGION_CTRL, CTRL_N_HIDDEN), n_hidden),
        (address(REGION_CTRL, CTRL_N_OUT), n_out),
        (address(REGION_CTRL, CTRL_FLAGS),
         encode_flags(recurrent=net.recurrent, reset=net.reset, delay_in=net.delay_in,
                      delay_rec=net.delay_rec if net.recurrent else "none",
                      delay_out=net.delay_out)),
    ]

    projections = ("in", "rec", "out") if net.recurrent else ("in", "out")
    weights = {"in": net.w_in, "rec": net.w_rec, "out": net.w_out}
    delays = {"in": (net.delay_in, net.d_in), "rec": (net.delay_rec, net.d_rec),
              "out": (net.delay_out, net.d_out)}

    def synapse_words(proj, post):
        kind, d = delays[proj]
        row = weights[proj][post]
        for pre, w in enumerate(row):
            delay = int(d[post, pre]) if kind == "synaptic" else 0
            yield pack_synapse(int(w), delay, params)

    # Words in memory order, so the offsets simply count up.
    words = []
    for i in range(n_hidden):
        words.extend(synapse_words("in", i))
        if net.recurrent:
            words.extend(synapse_words("rec", i))
    for k in range(n_out):
        words.extend(synapse_words("out", k))
    writes.extend((address(REGION_SYN, n), word) for n, word in enumerate(words))

    for proj in projections:
        kind, d = delays[proj]
        if kind == "axonal":
            writes.extend((address(REGION_AXON, axon_offset(proj, pre, params)), int(value))
                          for pre, value in enumerate(d))

    writes.extend((address(REGION_ALPHA, i), int(a)) for i, a in enumerate(net.alpha))
    writes.extend((address(REGION_THETA, i), int(t)) for i, t in enumerate(net.theta))
    writes.extend((address(REGION_KAPPA, k), int(a)) for k, a in enumerate(net.kappa))
    return writes
