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
    "CTRL_LABEL",
    "CTRL_LEARN_COUNT",
    "CTRL_N_HIDDEN",
    "CTRL_N_IN",
    "CTRL_N_OUT",
    "CTRL_REC_KERNEL",
    "CTRL_STEP",
    "DELAY_AXONAL",
    "DELAY_KIND_CODES",
    "DELAY_NONE",
    "DELAY_SYNAPTIC",
    "FLAG_DELAY_SHIFT",
    "FLAG_HARD_RESET",
    "FLAG_NO_ZERO_SKIP",
    "FLAG_RECURRENT",
    "FLAG_SYNAPSE_CURRENT",
    "LEARN_KERNEL",
    "LEARN_NEURON_REGISTERS",
    "LEARN_REGISTERS",
    "MODE_ENABLE",
    "MODE_LEARN_BETA",
    "MODE_LEARN_DELAYS",
    "MODE_LEARN_THRESHOLD",
    "MODE_LEARN_WEIGHTS",
    "MODE_RANDOM_FEEDBACK",
    "MODE_SOFTMAX",
    "MODE_STOCHASTIC",
    "NEURON_FIELDS",
    "OFFSET_MASK",
    "REGIONS",
    "REGION_ALPHA",
    "REGION_AXON",
    "REGION_CTRL",
    "REGION_EXP",
    "REGION_FEEDBACK",
    "REGION_HIST",
    "REGION_KAPPA",
    "REGION_LEARN",
    "REGION_NEURON",
    "REGION_PSI",
    "REGION_SHIFT",
    "REGION_SYN",
    "REGION_THETA",
    "REGION_TRACE_U",
    "REGION_TRACE_X",
    "REGION_V",
    "REGION_Y",
    "address",
    "axon_offset",
    "decode_flags",
    "decode_signed",
    "encode_flags",
    "encode_mode",
    "encode_signed",
    "feedback_offset",
    "hist_offset",
    "kernel_offset",
    "learning_rate_writes",
    "learning_writes",
    "network_writes",
    "neuron_offset",
    "pack_synapse",
    "region_words",
    "synapse_offset",
    "trace_offset",
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
# Regions of the learning engine (cores built with ``learning``; elsewhere they have no words).
REGION_LEARN = 9      #: learning-rule registers (``LEARN_*`` offsets) and kernel taps
REGION_PSI = 10       #: surrogate LUT ``psi_lut[n]``, offset ``n`` in ``[0, 256)``
REGION_EXP = 11       #: softmax LUT ``exp_lut[n]``, offset ``n`` (cores built with ``softmax``)
REGION_FEEDBACK = 12  #: fixed feedback weights ``b_fb[k, i]`` (:func:`feedback_offset`)
REGION_TRACE_X = 13   #: presynaptic trace rings, read-only debug (:func:`trace_offset`)
REGION_TRACE_U = 14   #: delay-derivative trace rings, read-only debug (:func:`trace_offset`)
#: Parameters and state of the neuron options (cores built with ``synapse_current`` or
#: ``adaptation``; :func:`neuron_offset`).
REGION_NEURON = 15

#: Region name -> number, in map order.
REGIONS = {
    "CTRL": REGION_CTRL, "SYN": REGION_SYN, "AXON": REGION_AXON, "ALPHA": REGION_ALPHA,
    "THETA": REGION_THETA, "V": REGION_V, "KAPPA": REGION_KAPPA, "Y": REGION_Y,
    "HIST": REGION_HIST, "LEARN": REGION_LEARN, "PSI": REGION_PSI, "EXP": REGION_EXP,
    "FEEDBACK": REGION_FEEDBACK, "TRACE_X": REGION_TRACE_X, "TRACE_U": REGION_TRACE_U,
    "NEURON": REGION_NEURON,
}

CTRL_N_IN = 0      #: run-time input count; writes are clamped to ``[1, max_in]``
CTRL_N_HIDDEN = 1  #: run-time hidden count; writes are clamped to ``[1, max_hidden]``
CTRL_N_OUT = 2     #: run-time readout count; writes are clamped to ``[1, max_out]``
CTRL_FLAGS = 3     #: mode flags (:func:`encode_flags`)
CTRL_STEP = 4      #: steps since the last ``clear`` (read-only)
CTRL_CYCLES = 5    #: clock cycles ``busy`` was high in the last step (read-only)
CTRL_LABEL = 6     #: class label of the current sample (learning cores; 16 bits)
CTRL_LEARN_COUNT = 7  #: learning steps so far, keys stochastic rounding (learning cores)
#: Taps ``K`` of the network's recurrent kernel (learning cores built with
#: ``rec_kernel_taps``; 0 for a network without one): the learning pass updates only the
#: core taps of the centred network kernel and keys their rounding by the network's tap index.
#: A write above ``rec_kernel_taps`` is clamped; it resets to ``rec_kernel_taps``.
CTRL_REC_KERNEL = 8

FLAG_RECURRENT = 1 << 0   #: the recurrent projection is on (reads 0 on a non-recurrent core)
FLAG_HARD_RESET = 1 << 1  #: hidden reset sets ``v`` to 0 (else subtracts ``theta``)
#: Learning cores: learning steps update every post neuron, also those with post factor 0
#: (the same results, more cycles: for measuring what the zero skip saves).
FLAG_NO_ZERO_SKIP = 1 << 8
#: Cores built with ``synapse_current``: hidden neurons integrate a synaptic current
#: (``synapse = "current"``, model.md section 8); off, the synaptic sum goes straight into
#: the membrane.
FLAG_SYNAPSE_CURRENT = 1 << 9
#: Projection -> position of its 2-bit delay-kind code in ``FLAGS``.
FLAG_DELAY_SHIFT = {"in": 2, "rec": 4, "out": 6}

DELAY_NONE = 0      #: no delays (every delay is 0); code 3 behaves the same
DELAY_SYNAPTIC = 1  #: one delay per synapse, in the synapse word
DELAY_AXONAL = 2    #: one delay per source, in the ``AXON`` region
#: Delay kind name (as in ``golden.network``) -> code.
DELAY_KIND_CODES = {"none": DELAY_NONE, "synaptic": DELAY_SYNAPTIC, "axonal": DELAY_AXONAL}

_PROJECTIONS = ("in", "rec", "out")

#: Fields of the ``NEURON`` region, name -> field number: the parameters ``beta`` (decay of
#: the synaptic current), ``rho`` (decay of the adaptation), ``coupling`` (adaptation
#: increment per spike), then the state ``c`` (synaptic current, signed, read/write) and ``a``
#: (adaptation, read/write). Field ``f`` of hidden neuron ``i`` is at offset
#: ``f * neuron_stride + i`` (:func:`neuron_offset`); the fields of an option the core was
#: built without read 0 and ignore writes.
NEURON_FIELDS = {"BETA": 0, "RHO": 1, "COUPLING": 2, "C": 3, "A": 4}

# -- learning engine (REGION_LEARN) -----------------------------------------------------------

#: ``LEARN`` offset of each learning-rule register: name -> offset. ``MODE`` holds the
#: ``MODE_*`` bits; the others hold the :class:`golden.learning.LearningRule` field of the
#: same name (``KERNEL_HALF_WIDTH`` is ``W``; ``DELAY_TOP`` is the largest stored delay of the
#: network, ``(d_max << delay_frac) - 1``, where delay updates clamp).
LEARN_REGISTERS = {
    "MODE": 0, "TRACE_DECAY": 1, "TRACE_SHIFT": 2, "PSI_SHIFT": 3, "SOFTMAX_SHIFT": 4,
    "L_SHIFT": 5, "TARGET_AMP": 6, "ETA_IN": 7, "ETA_REC": 8, "ETA_OUT": 9, "ETA_DELAY": 10,
    "KERNEL_HALF_WIDTH": 11, "KERNEL_SHIFT": 12, "SEED": 13, "DELAY_TOP": 14,
}
#: ``LEARN`` offset of kernel tap ``g[-W]``; tap ``g[m]`` is at ``LEARN_KERNEL + m + W``
#: (signed 8 bits, read back sign-extended).
LEARN_KERNEL = 16
#: ``LEARN`` offsets of the learning rates of the neuron parameters (``eta_beta``,
#: ``eta_coupling``, ``eta_rho``: right shifts in ``[0, 47]``), after the largest kernel;
#: only on a core built with ``neuron_learning``.
LEARN_NEURON_REGISTERS = {"ETA_BETA": 32, "ETA_COUPLING": 33, "ETA_RHO": 34}

MODE_ENABLE = 1 << 0           #: a rule is loaded: traces run, ``learn`` steps learn
MODE_LEARN_WEIGHTS = 1 << 1    #: ``learn_weights``
MODE_LEARN_DELAYS = 1 << 2     #: ``learn_delays`` (reads 0 without ``delay_learning``)
MODE_STOCHASTIC = 1 << 3       #: ``rounding = "stochastic"`` (else truncate)
MODE_RANDOM_FEEDBACK = 1 << 4  #: ``feedback = "random"`` (reads 0 without ``random_feedback``)
MODE_SOFTMAX = 1 << 5          #: ``error = "softmax"`` (reads 0 without ``softmax``)
#: ``learn_neurons`` with ``synapse = "current"``: ``beta`` learns (reads 0 without
#: ``neuron_learning`` and ``synapse_current``)
MODE_LEARN_BETA = 1 << 6
#: ``learn_neurons`` with ``adaptation = "threshold"``: ``coupling`` and ``rho`` learn (reads 0
#: without ``neuron_learning`` and ``adaptation``)
MODE_LEARN_THRESHOLD = 1 << 7


def region_words(params) -> dict[int, int]:
    """Words in each region of a core built with ``params`` (region number -> size).

    Offsets at or beyond a region's size read as 0 and ignore writes; regions not listed
    have no words (9 to 14 without ``learning``; the learning regions of the parts a core
    was built without; 15 without ``synapse_current`` and ``adaptation``).
    """
    learning = getattr(params, "learning", False)
    words = {
        REGION_CTRL: (CTRL_REC_KERNEL if learning and getattr(params, "rec_kernel_taps", 0)
                      else CTRL_LEARN_COUNT if learning else CTRL_CYCLES) + 1,
        REGION_SYN: params.max_synapses,
        REGION_AXON: params.max_in + 2 * params.max_hidden,
        REGION_ALPHA: params.max_hidden,
        REGION_THETA: params.max_hidden,
        REGION_V: params.max_hidden,
        REGION_KAPPA: params.max_out,
        REGION_Y: params.max_out,
        REGION_HIST: (params.max_in + params.max_hidden) * params.hist_words,
    }
    if learning:
        trace_words = params.n_sources * params.trace_ring
        words[REGION_LEARN] = LEARN_KERNEL + params.kernel_taps
        if getattr(params, "neuron_learning", False):
            words[REGION_LEARN] = max(LEARN_NEURON_REGISTERS.values()) + 1
        words[REGION_PSI] = 256
        if params.softmax:
            words[REGION_EXP] = 256
        if params.random_feedback:
            words[REGION_FEEDBACK] = params.max_out * params.max_hidden
        words[REGION_TRACE_X] = trace_words
        if params.delay_learning:
            words[REGION_TRACE_U] = trace_words
    if getattr(params, "synapse_current", False) or getattr(params, "adaptation", False):
        words[REGION_NEURON] = params.neuron_words
    return words


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
                 delay_out="none", synapse_current: bool = False) -> int:
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
    synapse_current : bool
        Current-based synapses on (cores built with ``synapse_current``).
    """
    if reset not in ("soft", "hard"):
        raise ValueError(f"reset must be 'soft' or 'hard', got {reset!r}")
    flags = (FLAG_RECURRENT if recurrent else 0) | (FLAG_HARD_RESET if reset == "hard" else 0)
    for proj, kind in zip(_PROJECTIONS, (delay_in, delay_rec, delay_out), strict=True):
        flags |= _kind_code(kind) << FLAG_DELAY_SHIFT[proj]
    if synapse_current:
        flags |= FLAG_SYNAPSE_CURRENT
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
    out["synapse_current"] = bool(flags & FLAG_SYNAPSE_CURRENT)
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
    ``n_hidden * (n_in + n_rec) + k * n_hidden ...``. A network with a recurrent kernel
    (``rec_kernel > 0``) has ``n_rec = 0`` here: its taps are at :func:`kernel_offset`.
    """
    n_in, n_hidden = int(net.n_in), int(net.n_hidden)
    kernel = int(getattr(net, "rec_kernel", 0))
    n_rec = n_hidden if net.recurrent and not kernel else 0
    if proj == "in":
        return post * (n_in + n_rec) + pre
    if proj == "rec":
        if not net.recurrent:
            raise ValueError("network has no recurrent projection")
        if kernel:
            raise ValueError("network has a recurrent kernel: its taps are at kernel_offset()")
        return post * (n_in + n_rec) + n_in + pre
    if proj == "out":
        return n_hidden * (n_in + n_rec) + post * n_hidden + pre
    raise ValueError(f"proj must be 'in', 'rec' or 'out', got {proj!r}")


def kernel_offset(net, tap: int, params) -> int:
    """Offset in ``SYN`` of tap ``tap`` of the recurrent kernel of ``net`` on a core built
    with ``rec_kernel_taps``.

    The core's ``rec_kernel_taps`` words sit at the top of the synapse memory
    (:attr:`~rtl.params.CoreParams.kernel_base`); a network kernel of ``K`` taps is centred
    in them, so its tap ``k`` is core tap ``k + (rec_kernel_taps - K) // 2``.
    """
    kernel = int(getattr(net, "rec_kernel", 0))
    taps = int(getattr(params, "rec_kernel_taps", 0))
    if not 1 <= kernel <= taps:
        raise ValueError(f"network rec_kernel = {kernel} must be in [1, {taps}] (the core's "
                         f"rec_kernel_taps)")
    if not 0 <= tap < kernel:
        raise ValueError(f"tap must be in [0, {kernel - 1}], got {tap}")
    return params.kernel_base + (taps - kernel) // 2 + tap


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


def feedback_offset(k: int, i: int, params) -> int:
    """Offset in ``FEEDBACK`` of ``b_fb[k, i]`` (readout ``k``, hidden neuron ``i``):
    ``k * max_hidden + i`` (capacity, not run-time sizes)."""
    return k * params.max_hidden + i


def trace_offset(source: str, index: int, slot: int, params) -> int:
    """Offset in ``TRACE_X`` / ``TRACE_U`` of slot ``slot`` of a source's trace ring.

    ``source`` is ``"input"`` (input ``index``) or ``"hidden"`` (hidden neuron ``index``).
    A ring has ``params.trace_ring`` slots; ``x`` of step ``t`` is in slot
    ``t mod trace_ring``, and ``u[tau]`` in slot ``tau mod trace_ring``
    (``tau = t - W``). Slots of steps before the last ``clear`` hold stale values.
    """
    if source == "input":
        ring_index = index
    elif source == "hidden":
        ring_index = params.max_in + index
    else:
        raise ValueError(f"source must be 'input' or 'hidden', got {source!r}")
    if not 0 <= slot < params.trace_ring:
        raise ValueError(f"slot must be in [0, {params.trace_ring - 1}], got {slot}")
    return ring_index * params.trace_ring + slot


def neuron_offset(field: str, index: int, params) -> int:
    """Offset in ``NEURON`` of field ``field`` (a key of :data:`NEURON_FIELDS`) of hidden
    neuron ``index``: ``NEURON_FIELDS[field] * params.neuron_stride + index``.

    ``neuron_stride`` is ``next_pow2(max_hidden)``, so the core decodes the field from the
    top bits of the offset; the words between ``max_hidden`` and the stride read 0.
    """
    if field not in NEURON_FIELDS:
        raise ValueError(f"field must be one of {', '.join(NEURON_FIELDS)}, got {field!r}")
    if not 0 <= index < params.max_hidden:
        raise ValueError(f"index must be in [0, {params.max_hidden - 1}], got {index}")
    return NEURON_FIELDS[field] * params.neuron_stride + index


def encode_mode(rule, params=None, net=None) -> int:
    """The ``LEARN.MODE`` word of a :class:`golden.learning.LearningRule` (``None``: 0).

    The neuron-parameter bits need the network (``net``): which parameters learn depends on
    its options.
    """
    if rule is None:
        return 0
    mode = MODE_ENABLE
    mode |= MODE_LEARN_WEIGHTS if rule.learn_weights else 0
    mode |= MODE_LEARN_DELAYS if rule.learn_delays else 0
    mode |= MODE_STOCHASTIC if rule.rounding == "stochastic" else 0
    mode |= MODE_RANDOM_FEEDBACK if rule.feedback == "random" else 0
    mode |= MODE_SOFTMAX if getattr(rule, "error", "mse") == "softmax" else 0
    if net is not None and getattr(rule, "learn_neurons", False):
        mode |= MODE_LEARN_BETA if getattr(net, "synapse", "delta") == "current" else 0
        mode |= MODE_LEARN_THRESHOLD if getattr(net, "adaptation", "none") == "threshold" else 0
    return mode


def learning_rate_writes(rule, params) -> list[tuple[int, int]]:
    """The writes of the learning rates of ``rule`` (``ETA_IN``, ``ETA_REC``, ``ETA_OUT``,
    ``ETA_DELAY``, and on a core built with ``neuron_learning`` ``ETA_BETA``,
    ``ETA_COUPLING``, ``ETA_RHO``): what a learning-rate schedule rewrites between epochs."""
    rates = [(LEARN_REGISTERS[name], getattr(rule, name.lower()))
             for name in ("ETA_IN", "ETA_REC", "ETA_OUT", "ETA_DELAY")]
    if getattr(params, "neuron_learning", False):
        rates += [(offset, getattr(rule, name.lower()))
                  for name, offset in LEARN_NEURON_REGISTERS.items()]
    return [(address(REGION_LEARN, offset), int(value)) for offset, value in rates]


def learning_writes(net, params) -> list[tuple[int, int]]:
    """The bus writes that load ``net.learning`` into a core built with ``learning``.

    In order: the ``LEARN`` registers (``MODE`` last), the kernel taps, ``PSI``, then ``EXP``
    if the rule uses the softmax error and ``FEEDBACK`` (``n_out x n_hidden``) if it uses
    random feedback. A network without a rule gets ``MODE = 0`` only: no traces, and
    ``learn`` steps are plain steps. ``LABEL`` and ``LEARN_COUNT`` are not written.
    """
    rule = net.learning
    if rule is None:
        return [(address(REGION_LEARN, LEARN_REGISTERS["MODE"]), 0)]
    registers = {
        "TRACE_DECAY": rule.trace_decay, "TRACE_SHIFT": rule.trace_shift,
        "PSI_SHIFT": rule.psi_shift, "SOFTMAX_SHIFT": getattr(rule, "softmax_shift", 0),
        "L_SHIFT": rule.l_shift, "TARGET_AMP": rule.target_amp,
        "KERNEL_HALF_WIDTH": (len(rule.kernel) - 1) // 2, "KERNEL_SHIFT": rule.kernel_shift,
        "SEED": rule.seed, "DELAY_TOP": (int(net.d_max) << int(net.delay_frac)) - 1,
    }
    writes = [(address(REGION_LEARN, LEARN_REGISTERS[name]), int(value))
              for name, value in registers.items()]
    writes.extend((address(REGION_LEARN, LEARN_KERNEL + n), encode_signed(int(g), 8))
                  for n, g in enumerate(rule.kernel))
    writes.extend(learning_rate_writes(rule, params))
    writes.append((address(REGION_LEARN, LEARN_REGISTERS["MODE"]),
                   encode_mode(rule, params, net)))
    writes.extend((address(REGION_PSI, n), int(v)) for n, v in enumerate(rule.psi_lut))
    if getattr(rule, "error", "mse") == "softmax":
        writes.extend((address(REGION_EXP, n), int(v)) for n, v in enumerate(rule.exp_lut))
    if rule.feedback == "random":
        writes.extend((address(REGION_FEEDBACK, feedback_offset(k, i, params)),
                       encode_signed(int(b), params.weight_bits))
                      for k, row in enumerate(rule.b_fb) for i, b in enumerate(row))
    return writes


def _neuron_parameter_writes(net, params) -> list[tuple[int, int]]:
    """``BETA``, ``RHO`` and ``COUPLING`` of the options the core was built with.

    A network without an option gets zeros: ``coupling = 0`` keeps ``a`` at 0 (the plain
    threshold), and ``beta`` is unused with ``FLAGS.SYNAPSE_CURRENT`` off. Either way no
    value of an earlier network is left behind.
    """
    n_hidden = int(net.n_hidden)
    fields = []
    if getattr(params, "synapse_current", False):
        fields.append(("BETA", getattr(net, "beta", None)))
    if getattr(params, "adaptation", False):
        fields += [("RHO", getattr(net, "rho", None)), ("COUPLING", getattr(net, "coupling", None))]
    writes = []
    for field, values in fields:
        values = [0] * n_hidden if values is None else [int(x) for x in values]
        writes.extend((address(REGION_NEURON, neuron_offset(field, i, params)), value)
                      for i, value in enumerate(values))
    return writes


def network_writes(net, params) -> list[tuple[int, int]]:
    """Every bus write that loads ``net`` into a core built with ``params``.

    The writes are, in order: ``N_IN``, ``N_HIDDEN``, ``N_OUT``, ``FLAGS``; all synapse
    words in ``SYN`` order (the delay field holds the synaptic delay, or 0 for the other
    kinds), and on a core built with ``rec_kernel_taps`` all its kernel taps at the top of
    ``SYN`` (:func:`kernel_offset`; zero outside the network's kernel) and, with
    ``learning``, ``REC_KERNEL`` (the network's taps, 0 without a kernel); the axonal delays
    of every projection with ``"axonal"`` delays; ``ALPHA``,
    ``THETA`` and ``KAPPA``; on a core built with ``synapse_current`` or ``adaptation``,
    ``BETA`` or ``RHO`` and ``COUPLING`` in ``NEURON`` (zeros for a network without the
    option); on a core built with ``learning``, the learning rule
    (:func:`learning_writes`). State (``V``, ``Y``, ``HIST``, ``C``, ``A``, the trace rings)
    is not written: pulse ``clear`` to start from zero state.

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
        The network does not fit the core (see :meth:`rtl.params.CoreParams.check_network`):
        among others, it uses a neuron option the core was built without (current synapses,
        adaptation), or a recurrent kernel the core has no taps for.
    """
    # Also refuses an option the core lacks: loaded anyway, it would run as plain LIF.
    params.check_network(net)
    synapse_current = getattr(net, "synapse", "delta") == "current"
    n_in, n_hidden, n_out = int(net.n_in), int(net.n_hidden), int(net.n_out)
    writes = [
        (address(REGION_CTRL, CTRL_N_IN), n_in),
        (address(REGION_CTRL, CTRL_N_HIDDEN), n_hidden),
        (address(REGION_CTRL, CTRL_N_OUT), n_out),
        (address(REGION_CTRL, CTRL_FLAGS),
         encode_flags(recurrent=net.recurrent, reset=net.reset, delay_in=net.delay_in,
                      delay_rec=net.delay_rec if net.recurrent else "none",
                      delay_out=net.delay_out, synapse_current=synapse_current)),
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
    kernel = int(getattr(net, "rec_kernel", 0))
    words = []
    for i in range(n_hidden):
        words.extend(synapse_words("in", i))
        if net.recurrent and not kernel:
            words.extend(synapse_words("rec", i))
    for k in range(n_out):
        words.extend(synapse_words("out", k))
    writes.extend((address(REGION_SYN, n), word) for n, word in enumerate(words))
    taps = int(getattr(params, "rec_kernel_taps", 0))
    if taps:
        # Every core tap: those around a shorter (or no) network kernel are zero, so that
        # they add nothing whatever an earlier network left there.
        pad = (taps - kernel) // 2
        tap_words = [0] * taps
        for k in range(kernel):
            tap_words[pad + k] = pack_synapse(int(net.w_rec[k]), 0, params)
        writes.extend((address(REGION_SYN, params.kernel_base + n), word)
                      for n, word in enumerate(tap_words))
        if getattr(params, "learning", False):
            writes.append((address(REGION_CTRL, CTRL_REC_KERNEL), kernel))

    for proj in projections:
        kind, d = delays[proj]
        if kind == "axonal":
            writes.extend((address(REGION_AXON, axon_offset(proj, pre, params)), int(value))
                          for pre, value in enumerate(d))

    writes.extend((address(REGION_ALPHA, i), int(a)) for i, a in enumerate(net.alpha))
    writes.extend((address(REGION_THETA, i), int(t)) for i, t in enumerate(net.theta))
    writes.extend((address(REGION_KAPPA, k), int(a)) for k, a in enumerate(net.kappa))
    writes.extend(_neuron_parameter_writes(net, params))
    if getattr(params, "learning", False):
        writes.extend(learning_writes(net, params))
    return writes
