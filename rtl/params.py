"""Generator parameters of a delaycore core.

:class:`CoreParams` fixes what a generated core can hold (its capacity) and the number
formats it computes with. A network with the same formats and sizes up to the capacity can
be loaded into the core at run time (see :meth:`CoreParams.check_network`).

This module is pure Python (no Amaranth import), so host-side code can use it without the
HDL toolchain.
"""

from __future__ import annotations

import dataclasses

__all__ = ["ADDRESS_SPACE", "SPRAM_BLOCKS", "SPRAM_DEPTH", "SPRAM_WIDTH", "SYNAPSE_MEMORIES",
           "TRACE_MEMORIES", "CoreParams", "spram_blocks", "synapse_count"]

#: Words per region of the memory map (``addr[0:16]``), which bounds every memory depth.
ADDRESS_SPACE = 1 << 16

#: Implementations of the synapse memory: block RAM (``amaranth.lib.memory``, any FPGA) or
#: the single-port RAMs of the iCE40 UltraPlus (:mod:`rtl.spram`).
SYNAPSE_MEMORIES = ("bram", "spram")
#: Implementations of the learning engine's trace rings: block RAM, or one SPRAM block per
#: ring kind (``x``, and ``u`` with ``delay_learning``).
TRACE_MEMORIES = ("bram", "spram")
#: Words, word width and number of the ``SB_SPRAM256KA`` blocks of an iCE40 UP5K.
SPRAM_DEPTH = 16384
SPRAM_WIDTH = 16
SPRAM_BLOCKS = 4

# Number formats that a core and a network must agree on exactly.
_FORMAT_FIELDS = ("weight_bits", "weight_frac", "delay_frac", "decay_bits", "v_bits", "y_bits")

# Largest half width of the delay-learning kernel (golden.learning.KERNEL_MAX_HALF_WIDTH).
_KERNEL_MAX_HALF_WIDTH = 7

# Largest max_hidden of a core with the neuron options: 5 fields of next_pow2(max_hidden)
# words each must fit the 16-bit offset of the NEURON region.
_MAX_NEURON_OPTION_HIDDEN = 8192

# Capacity limit of each population. The AXON region holds ``max_in + 2 * max_hidden`` words,
# which must fit the 16-bit offset of a region.
_MAX_POPULATION = 16384


def _ceil_log2(n: int) -> int:
    """Smallest ``k`` with ``2**k >= n`` (0 for ``n <= 1``)."""
    return max(0, (n - 1).bit_length())


def _check_int(name: str, value, lo: int, hi: int) -> int:
    # ``bool`` is an ``int`` subclass; a flag passed where a width belongs is a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class CoreParams:
    """Capacity and number formats of a generated core.

    Parameters
    ----------
    max_in, max_hidden, max_out : int
        Capacity: largest number of inputs, hidden neurons and readout neurons, each in
        ``[1, 16384]``.
    max_synapses : int or None
        Depth of the synapse memory, in ``[1, 65536]``. ``None`` (the default) selects the
        dense maximum ``max_hidden * (max_in + max_hidden) + max_out * max_hidden`` with a
        recurrent projection, ``max_hidden * max_in + max_out * max_hidden`` without.
    d_max : int
        Largest integer delay + 1, in ``[1, 64]``.
    weight_bits : int
        Signed width of a stored weight, in ``[2, 16]``.
    weight_frac : int
        Fraction bits of a stored weight, in ``[0, weight_bits - 1]``.
    delay_frac : int
        Fraction bits of a stored delay, in ``[0, 8]``.
    decay_bits : int
        Width ``A`` of the unsigned decay factors ``alpha`` and ``kappa``, in ``[1, 16]``.
    v_bits, y_bits : int
        Signed width of the hidden membrane and of the readout, each in ``[4, 24]``.
    recurrent : bool
        Build the recurrent (hidden to hidden) projection.
    synapse_memory : {"bram", "spram"}
        Where the synapse words live: inferred block RAM (any FPGA), or the ``SB_SPRAM256KA``
        blocks of an iCE40 UltraPlus, which hold up to 65536 words of up to 16 bits or 32768
        words of up to 32 bits (:func:`spram_blocks`). Changes no result.
    learning : bool
        Build the learning engine (``rtl/learning.py``, ``docs/model.md`` section 7): traces,
        learning signal, weight and delay updates. The run-time constants of the learning rule
        are registers and memories of the configuration bus; the widths below are fixed here
        and must equal those of a network's ``learning`` table.
    trace_bits : int
        Unsigned width of the presynaptic traces ``x``, in ``[2, 16]``.
    u_bits : int
        Signed width of the delay-derivative traces ``u``, in ``[2, 16]``.
    l_bits : int
        Signed width of the learning signal ``L`` and the hidden post factor, in ``[4, 24]``.
    kernel_max_half_width : int or None
        Largest half width ``W`` of the delay kernel, in ``[0, 7]`` with ``2W + 1 <= d_max``;
        a network may use any ``W`` up to it. ``None`` (the default) selects
        ``min(3, (d_max - 1) // 2)``.
    delay_learning : bool
        Build what delay learning needs: the ``u`` rings, the kernel and the delay update.
    softmax : bool
        Build the softmax readout error (exponential LUT and a divider).
    random_feedback : bool
        Build the memory of fixed feedback weights ``b_fb`` (``feedback = "random"``).
    stochastic_rounding : bool
        Build the hash pipeline of stochastic rounding (``rounding = "stochastic"``); without
        it the core rounds by truncation only.
    trace_memory : {"bram", "spram"}
        Where the trace rings of the learning engine live: inferred block RAM (any FPGA), or
        one ``SB_SPRAM256KA`` block for the ``x`` rings and one for the ``u`` rings, which
        needs ``(max_in + max_hidden) * trace_ring <= 16384`` and two blocks beside the
        synapse memory's (:meth:`spram_blocks_used`). Changes no result; without
        ``delay_learning`` a trace pass then takes 2 cycles per source instead of 1, since
        the single port cannot read the next source in the cycle that writes this one.
    synapse_current : bool
        Build current-based synapses (``docs/model.md`` section 8): per hidden neuron a
        synaptic current ``c`` and its decay factor ``beta`` in the ``NEURON`` region, and the
        ``FLAGS`` bit ``SYNAPSE_CURRENT`` that turns them on at run time. With ``learning``
        the weights and delays learn, and ``beta`` too with ``neuron_learning``.
    adaptation : bool
        Build the adaptive threshold (``docs/model.md`` section 9): per hidden neuron an
        adaptation ``a`` with its decay ``rho`` and spike increment ``coupling`` in the
        ``NEURON`` region (``coupling = 0`` is the plain threshold). With ``learning`` the
        surrogate is centred on the adapted threshold; ``rho`` and ``coupling`` learn with
        ``neuron_learning``.

        Either option needs ``max_hidden <= 8192`` (the ``NEURON`` region).
    neuron_learning : bool
        Build the learning of the neuron parameters (``docs/model.md`` section 11,
        :mod:`rtl.neuron_learning`): ``beta`` with ``synapse_current``, ``rho`` and
        ``coupling`` with ``adaptation``, from per-neuron eligibilities. Needs ``learning``
        and at least one of the two options; a rule with ``learn_neurons`` needs it.
    elig_bits : int
        Signed width of the eligibilities of ``beta`` and ``rho``, in ``[8, 32]``; must
        equal ``learning.elig_bits`` of a rule with ``learn_neurons``. Unused without
        ``neuron_learning``.
    rec_kernel_taps : int
        0 (the default): the recurrent projection is a dense ``n_hidden x n_hidden`` matrix.
        ``K`` (odd, in ``[1, 2 * max_hidden - 1]``, needs ``recurrent``): it is one kernel of
        ``K`` tap weights shared along the neuron axis (``docs/model.md`` section 10), held in
        the top ``K`` words of the synapse memory, with axonal (or no) recurrent delays. Such
        a core runs recurrent networks with ``rec_kernel`` in ``[1, K]`` (a shorter kernel
        centred in the ``K`` taps, zero around it) and feedforward ones, not dense recurrent
        ones; a hidden neuron streams only the sources of its band. With ``learning`` the
        taps and the recurrent axonal delays learn (``docs/model.md`` section 11.2), in a
        pass of their own after the other updates.

    Raises
    ------
    TypeError
        A parameter has the wrong type.
    ValueError
        A parameter is outside its range; the message names it and the range.

    Notes
    -----
    Instances are immutable and hashable, so they can key caches of generated Verilog.
    ``dataclasses.replace(params, ...)`` makes a validated copy (it keeps ``max_synapses``
    unless that is given too).
    """

    max_in: int = 16
    max_hidden: int = 16
    max_out: int = 4
    max_synapses: int | None = None
    d_max: int = 16
    weight_bits: int = 8
    weight_frac: int = 0
    delay_frac: int = 0
    decay_bits: int = 8
    v_bits: int = 16
    y_bits: int = 16
    recurrent: bool = False
    synapse_memory: str = "bram"
    learning: bool = False
    trace_bits: int = 8
    u_bits: int = 8
    l_bits: int = 16
    kernel_max_half_width: int | None = None
    delay_learning: bool = True
    softmax: bool = True
    random_feedback: bool = True
    stochastic_rounding: bool = True
    trace_memory: str = "bram"
    synapse_current: bool = False
    adaptation: bool = False
    rec_kernel_taps: int = 0
    neuron_learning: bool = False
    elig_bits: int = 24

    def __post_init__(self):
        _check_int("max_in", self.max_in, 1, _MAX_POPULATION)
        _check_int("max_hidden", self.max_hidden, 1, _MAX_POPULATION)
        _check_int("max_out", self.max_out, 1, _MAX_POPULATION)
        _check_int("d_max", self.d_max, 1, 64)
        _check_int("weight_bits", self.weight_bits, 2, 16)
        _check_int("weight_frac", self.weight_frac, 0, self.weight_bits - 1)
        _check_int("delay_frac", self.delay_frac, 0, 8)
        _check_int("decay_bits", self.decay_bits, 1, 16)
        _check_int("v_bits", self.v_bits, 4, 24)
        _check_int("y_bits", self.y_bits, 4, 24)
        if not isinstance(self.recurrent, bool):
            raise TypeError(f"recurrent must be a bool, got {type(self.recurrent).__name__} "
                            f"{self.recurrent!r}")
        self._check_rec_kernel()
        if self.max_synapses is None:
            dense = self.dense_synapses
            if dense > ADDRESS_SPACE:
                raise ValueError(
                    f"max_synapses must be in [1, {ADDRESS_SPACE}], got {dense} (the dense "
                    f"maximum of this capacity); pass a smaller max_synapses")
            # Frozen dataclass: the computed default is stored once, at construction.
            object.__setattr__(self, "max_synapses", dense)
        else:
            # The kernel taps are the top words of the synapse memory.
            _check_int("max_synapses", self.max_synapses, max(1, self.rec_kernel_taps),
                       ADDRESS_SPACE)
        if self.synapse_memory not in SYNAPSE_MEMORIES:
            raise ValueError(f"synapse_memory must be one of {', '.join(SYNAPSE_MEMORIES)}, got "
                             f"{self.synapse_memory!r}")
        if self.synapse_memory == "spram":
            blocks = self.synapse_spram_blocks
            if blocks > SPRAM_BLOCKS:
                words = SPRAM_BLOCKS // -(-self.syn_word_bits // SPRAM_WIDTH) * SPRAM_DEPTH
                raise ValueError(
                    f"max_synapses must be in [1, {words}] for {self.syn_word_bits}-bit "
                    f"synapse words in SPRAM (synapse_memory spram), got {self.max_synapses}: "
                    f"it needs {blocks} SPRAM blocks, an iCE40 UP5K has {SPRAM_BLOCKS}")
        self._check_learning()
        self._check_neuron_options()

    def _check_rec_kernel(self) -> None:
        taps = _check_int("rec_kernel_taps", self.rec_kernel_taps, 0, 2 * self.max_hidden - 1)
        if taps and taps % 2 == 0:
            raise ValueError(f"rec_kernel_taps must be 0 (dense) or odd in "
                             f"[1, {2 * self.max_hidden - 1}], got {taps}")
        if taps and not self.recurrent:
            raise ValueError("rec_kernel_taps > 0 needs recurrent=True")

    def _check_neuron_options(self) -> None:
        for name in ("synapse_current", "adaptation"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
        if self.neuron_options and self.neuron_words > ADDRESS_SPACE:
            raise ValueError(
                f"max_hidden must be in [1, {_MAX_NEURON_OPTION_HIDDEN}] with synapse_current "
                f"or adaptation (the NEURON region), got {self.max_hidden}")
        if not isinstance(self.neuron_learning, bool):
            raise TypeError(f"neuron_learning must be a bool, got "
                            f"{type(self.neuron_learning).__name__} {self.neuron_learning!r}")
        _check_int("elig_bits", self.elig_bits, 8, 32)
        if self.neuron_learning and not (self.learning and self.neuron_options):
            raise ValueError("neuron_learning=True needs learning=True and synapse_current=True "
                             "or adaptation=True (the parameters it learns)")

    def _check_learning(self) -> None:
        for name in ("learning", "delay_learning", "softmax", "random_feedback",
                     "stochastic_rounding"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
        _check_int("trace_bits", self.trace_bits, 2, 16)
        _check_int("u_bits", self.u_bits, 2, 16)
        _check_int("l_bits", self.l_bits, 4, 24)
        if self.trace_memory not in TRACE_MEMORIES:
            raise ValueError(f"trace_memory must be one of {', '.join(TRACE_MEMORIES)}, got "
                             f"{self.trace_memory!r}")
        if self.kernel_max_half_width is None:
            object.__setattr__(self, "kernel_max_half_width", min(3, (self.d_max - 1) // 2))
        if not self.learning:
            # Unused without the engine; any copied value is fine.
            _check_int("kernel_max_half_width", self.kernel_max_half_width, 0,
                       _KERNEL_MAX_HALF_WIDTH)
            return
        # The kernel reads 2W + 1 trace slots of one ring, at most d_max of them.
        _check_int("kernel_max_half_width", self.kernel_max_half_width, 0,
                   min(_KERNEL_MAX_HALF_WIDTH, (self.d_max - 1) // 2))
        trace_words = self.n_sources * self.trace_ring
        if trace_words > ADDRESS_SPACE:
            raise ValueError(
                f"a learning core needs (max_in + max_hidden) * trace_ring <= {ADDRESS_SPACE} "
                f"(the TRACE_X region), got {self.n_sources} * {self.trace_ring} = "
                f"{trace_words}")
        if self.trace_memory == "spram":
            if trace_words > SPRAM_DEPTH:
                raise ValueError(
                    f"trace_memory spram needs (max_in + max_hidden) * trace_ring <= "
                    f"{SPRAM_DEPTH} (one SPRAM block per ring kind), got {self.n_sources} * "
                    f"{self.trace_ring} = {trace_words}; pass trace_memory='bram'")
            if self.spram_blocks_used > SPRAM_BLOCKS:
                raise ValueError(
                    f"trace_memory spram needs {self.trace_spram_blocks} SPRAM blocks beside "
                    f"the {self.synapse_spram_blocks} of the synapse memory, an iCE40 UP5K has "
                    f"{SPRAM_BLOCKS}; pass trace_memory='bram' or a smaller max_synapses")
        if self.random_feedback and self.max_out * self.max_hidden > ADDRESS_SPACE:
            raise ValueError(
                f"random_feedback needs max_out * max_hidden <= {ADDRESS_SPACE} (the FEEDBACK "
                f"region), got {self.max_out * self.max_hidden}; pass random_feedback=False")

    def as_dict(self) -> dict:
        """The constructor arguments, as a new dictionary."""
        return dataclasses.asdict(self)

    # -- derived quantities -------------------------------------------------------------------

    @property
    def dense_synapses(self) -> int:
        """Synapses of the largest network this capacity holds (all projections dense)."""
        if self.rec_kernel_taps:
            return (self.max_hidden * self.max_in + self.max_out * self.max_hidden
                    + self.rec_kernel_taps)
        n_rec = self.max_hidden if self.recurrent else 0
        return self.max_hidden * (self.max_in + n_rec) + self.max_out * self.max_hidden

    @property
    def kernel_base(self) -> int:
        """Synapse address of tap 0 of the recurrent kernel: the top ``rec_kernel_taps``
        words of the synapse memory, out of the way of the run-time layout below."""
        return self.max_synapses - self.rec_kernel_taps

    def rec_band(self, n_hidden: int) -> int:
        """Recurrent synapses a step streams for ``n_hidden`` hidden neurons: ``n_hidden**2``
        (dense), or with a kernel, each neuron's sources within ``rec_kernel_taps // 2``."""
        if not self.rec_kernel_taps:
            return n_hidden * n_hidden
        h = self.rec_kernel_taps // 2
        return sum(min(n_hidden - 1, i + h) - max(0, i - h) + 1 for i in range(n_hidden))

    @property
    def ring(self) -> int:
        """Slots ``R`` of a spike ring: ``next_pow2(d_max)``, but at least 2.

        The minimum of 2 keeps the ring pointer at least one bit wide; it changes no result,
        since a ring of ``R >= d_max`` slots serves every delay (model.md section 5).
        """
        return max(2, 1 << _ceil_log2(self.d_max))

    @property
    def ring_bits(self) -> int:
        """Width of the ring pointer, ``log2(ring)``."""
        return _ceil_log2(self.ring)

    @property
    def hist_words(self) -> int:
        """Bus words per spike ring in the ``HIST`` region: 1, or 2 when ``ring == 64``."""
        return (self.ring + 31) // 32

    @property
    def delay_int_bits(self) -> int:
        """Width of the integer part of a delay, ``ceil(log2(d_max))`` (0 when ``d_max == 1``)."""
        return _ceil_log2(self.d_max)

    @property
    def delay_bits(self) -> int:
        """Width of a stored delay: ``ceil(log2(d_max)) + delay_frac``, at least 1."""
        return max(1, self.delay_int_bits + self.delay_frac)

    @property
    def syn_word_bits(self) -> int:
        """Width of a synapse word: ``weight_bits + delay_bits`` (at most 30)."""
        return self.weight_bits + self.delay_bits

    @property
    def n_sources(self) -> int:
        """Spike rings: one per input and one per hidden neuron."""
        return self.max_in + self.max_hidden

    @property
    def axon_depth(self) -> int:
        """Words of the axonal delay memory: inputs, recurrent sources, readout sources."""
        return self.max_in + 2 * self.max_hidden

    @property
    def max_fan_in(self) -> int:
        """Largest number of synapses summed into one neuron."""
        n_rec = min(self.max_hidden, self.rec_kernel_taps or self.max_hidden)
        hidden = self.max_in + (n_rec if self.recurrent else 0)
        return max(hidden, self.max_hidden)

    @property
    def acc_bits(self) -> int:
        """Width of the synaptic accumulator; the sum of a step can never overflow it.

        ``weight_bits - weight_frac + ceil(log2(max_fan_in + 1)) + 1`` (model.md section 2).
        """
        return self.weight_bits - self.weight_frac + self.max_fan_in.bit_length() + 1

    @property
    def state_bits(self) -> int:
        """Width of the shared neuron datapath: the wider of ``v_bits`` and ``y_bits``."""
        return max(self.v_bits, self.y_bits)

    @property
    def synapse_spram_blocks(self) -> int:
        """``SB_SPRAM256KA`` blocks of the synapse memory (0 unless ``synapse_memory`` is
        ``"spram"``)."""
        if self.synapse_memory != "spram":
            return 0
        return spram_blocks(self.max_synapses, self.syn_word_bits)

    @property
    def trace_spram_blocks(self) -> int:
        """``SB_SPRAM256KA`` blocks of the trace rings: one for ``x``, one for ``u`` (0 unless
        a learning core has ``trace_memory = "spram"``)."""
        if not self.learning or self.trace_memory != "spram":
            return 0
        return 2 if self.delay_learning else 1

    @property
    def spram_blocks_used(self) -> int:
        """All ``SB_SPRAM256KA`` blocks of the core (synapses and trace rings)."""
        return self.synapse_spram_blocks + self.trace_spram_blocks

    # -- neuron options -----------------------------------------------------------------------

    @property
    def neuron_options(self) -> bool:
        """The core has the ``NEURON`` region: ``synapse_current`` or ``adaptation``."""
        return self.synapse_current or self.adaptation

    @property
    def neuron_stride(self) -> int:
        """Words per field of the ``NEURON`` region: ``next_pow2(max_hidden)``, so that the
        field is the top bits of the offset and the neuron index the bottom ones."""
        return 1 << _ceil_log2(self.max_hidden)

    @property
    def neuron_words(self) -> int:
        """Words of the ``NEURON`` region: four fields of :attr:`neuron_stride` words, then the
        last one of ``max_hidden`` (0 without the options)."""
        if not self.neuron_options:
            return 0
        return 4 * self.neuron_stride + self.max_hidden

    # -- learning engine ----------------------------------------------------------------------

    @property
    def trace_ring(self) -> int:
        """Slots ``S`` of a trace ring (``x`` and ``u``): ``next_pow2(d_max + 1)``, at least 2.

        One slot more than a spike ring needs: the learning pass of step ``t`` reads the
        recurrent trace ``x[t - 1 - (d_max - 1)] = x[t - d_max]`` after ``x[t]`` has been
        written, so ``d_max + 1`` consecutive steps must be held at once.
        """
        return max(2, 1 << _ceil_log2(self.d_max + 1))

    @property
    def trace_ring_bits(self) -> int:
        """Width of a trace-ring slot index, ``log2(trace_ring)``."""
        return _ceil_log2(self.trace_ring)

    @property
    def kernel_taps(self) -> int:
        """Kernel registers of the ``LEARN`` region: ``2 * kernel_max_half_width + 1``."""
        return 2 * self.kernel_max_half_width + 1

    @property
    def post_factor_bits(self) -> int:
        """Signed width of a post factor: hidden ``F_i`` (``l_bits``) or readout ``e_k``."""
        return max(self.l_bits, self.y_bits)

    @property
    def max_posts(self) -> int:
        """Most post neurons of one projection: the terms of one axonal delay sum."""
        return max(self.max_hidden, self.max_out)

    @property
    def delay_gradient_bits(self) -> int:
        """Signed width of one delay term ``F * (w >> weight_frac) * u``."""
        return self.post_factor_bits + (self.weight_bits - self.weight_frac) + self.u_bits

    @property
    def axon_sum_bits(self) -> int:
        """Signed width of an axonal delay sum over all posts; it can never overflow."""
        return self.delay_gradient_bits + _ceil_log2(self.max_posts)

    # -- timing -------------------------------------------------------------------------------

    def step_cycles(self, n_in: int, n_hidden: int, n_out: int, recurrent: bool, *,
                    traces: bool = False, half_width: int = 0) -> int:
        """Clock cycles a step keeps ``busy`` high for the given run-time sizes.

        ``n_in`` cycles write the input rings, each hidden neuron streams ``n_in + n_rec``
        synapses, 2 cycles drain the pipeline, ``n_hidden`` cycles write the hidden rings,
        each readout streams ``n_hidden`` synapses, and 2 more cycles drain and finish.
        ``done`` pulses in the first cycle after these (``busy`` low again).

        ``traces``: a learning core with a rule loaded (``MODE.ENABLE``) also updates the
        traces, with kernel half width ``half_width``; they run beside the forward pass and
        add cycles only when they take longer (:meth:`_trace_timing`). A learning step
        takes :meth:`learning_step_cycles`.
        """
        if not traces:
            n_rec = self.rec_band(n_hidden) if (recurrent and self.recurrent) else 0
            return n_in + n_hidden * n_in + n_rec + 2 + n_hidden + n_out * n_hidden + 2
        readouts_done, traces_done = self._trace_timing(n_in, n_hidden, n_out, recurrent,
                                                        half_width)
        return max(readouts_done, traces_done) + 1

    def _trace_timing(self, n_in, n_hidden, n_out, recurrent, half_width):
        """Cycle (from the first ``busy`` cycle) of the last readout update, and the first
        cycle after the hidden trace pass, on a learning core with traces running.

        A trace pass takes ``P = 2W + 2`` cycles per source (without ``delay_learning``: 1,
        or 2 with ``trace_memory = "spram"``)
        plus one cycle for the last ``u``. The input pass starts with the step; the hidden
        pass starts after ``HIDDEN_WRITE`` or, if the input pass is still running, one cycle
        after it ends (``HIDDEN_TRACE``).
        """
        # Recurrent synapses streamed: n_hidden**2, or the bands of a kernel core.
        n_rec = self.rec_band(n_hidden) if (recurrent and self.recurrent) else 0
        if self.delay_learning:
            per_source = 2 * half_width + 2
        else:
            # A single-port ring reads the next source's trace after writing this one's.
            per_source = 2 if self.trace_memory == "spram" else 1
        tail = 1 if self.delay_learning else 0
        hidden_written = n_in + n_hidden * n_in + n_rec + 2 + n_hidden   # first free cycle
        inputs_traced = n_in * per_source + tail
        if inputs_traced < hidden_written:
            output_start = hidden_written
        else:
            output_start = inputs_traced + 1
        readouts_done = output_start + n_out * n_hidden + 1
        traces_done = output_start + n_hidden * per_source + tail
        return readouts_done, traces_done

    def learning_step_cycles(self, n_in: int, n_hidden: int, n_out: int, recurrent: bool, *,
                             half_width: int, softmax: bool, hidden_posts: int,
                             out_posts: int, updates) -> int:
        """Clock cycles of a learning step (``learn`` high, a rule loaded).

        Parameters
        ----------
        half_width : int
            ``W`` of the rule's kernel.
        softmax : bool
            The rule uses the softmax error.
        hidden_posts, out_posts : int
            Hidden neurons and readouts in the post list: those with a nonzero post factor,
            or all of them with ``FLAGS.NO_ZERO_SKIP``.
        updates : iterable of str
            Projections (``"in"``, ``"rec"``, ``"out"``) that can change something: weights
            learn, or delays learn and the projection has synaptic or axonal delays.

        Notes
        -----
        After the forward pass and the traces (:meth:`step_cycles`), the learning pass takes

        - readout errors: ``n_out + 2`` cycles (squared error), or
          ``2 n_out + 5 + n_out (y_bits + 2)`` (softmax: maximum, exponentials, divisions);
        - learning signals: ``n_hidden (n_out + 2) + 4`` cycles;
        - updates: per projection 1 cycle, plus ``2 n_pre posts + 6`` if it updates
          (``n_pre = n_in`` for ``in``, ``n_hidden`` otherwise; ``posts`` of its list);
          on a core built with ``rec_kernel_taps`` the recurrent projection instead takes
          1 cycle more, plus :meth:`kernel_update_cycles` if it updates and ``hidden_posts``
          is not 0;
        - 4 cycles of hand-over between the phases and the core.

        With ``neuron_learning`` the parameter updates of the last hidden neuron (one slot
        per learned parameter: ``beta``; ``coupling``, ``rho``) end ``slots + 1`` cycles
        after the learning signals, which adds cycles only when the updates are shorter.
        """
        readouts_done, traces_done = self._trace_timing(n_in, n_hidden, n_out, recurrent,
                                                        half_width)
        start = max(readouts_done + 1, traces_done)
        if softmax:
            errors = 2 * n_out + 5 + n_out * (self.y_bits + 2)
        else:
            errors = n_out + 2
        signal = errors + 1 + n_hidden * (n_out + 2) + 3
        updates = set(updates)
        update = 0
        for proj, n_pre, posts in (("in", n_in, hidden_posts), ("rec", n_hidden, hidden_posts),
                                   ("out", n_hidden, out_posts)):
            update += 1
            if proj == "rec" and self.rec_kernel_taps:
                continue   # the kernel pass below
            if proj in updates and posts and (proj != "rec" or (recurrent and self.recurrent)):
                update += 2 * n_pre * posts + 6
        if self.rec_kernel_taps:
            update += 1
            if "rec" in updates and hidden_posts and recurrent and self.recurrent:
                update += self.kernel_update_cycles(n_hidden)
        if self.neuron_learning:
            slots = int(self.synapse_current) + 2 * int(self.adaptation)
            update = max(update, slots + 1)
        return start + 4 + signal + update

    def kernel_update_cycles(self, n_hidden: int) -> int:
        """Cycles of the kernel pass of a learning step on a core built with
        ``rec_kernel_taps`` (when it runs): ``b + 6`` per recurrent source with ``b``
        neurons in its band (:meth:`rec_band` in all), then ``2 K_c + 3`` for the taps."""
        return self.rec_band(n_hidden) + 6 * n_hidden + 2 * self.rec_kernel_taps + 3

    @property
    def clear_cycles(self) -> int:
        """Clock cycles ``clear`` keeps ``busy`` high: one per spike ring."""
        return self.n_sources

    # -- networks -----------------------------------------------------------------------------

    def check_network(self, net) -> None:
        """Check that a golden :class:`~golden.network.Network` fits this core.

        Raises
        ------
        ValueError
            A size exceeds the capacity, a number format differs, the network is recurrent
            but the core is not, ``net.d_max`` exceeds ``d_max``, the network has more
            synapses than ``max_synapses``, it uses a neuron option the core was built
            without (``synapse = "current"`` needs ``synapse_current``, ``adaptation =
            "threshold"`` needs ``adaptation``), its recurrent kernel does not match the
            core (``rec_kernel = K`` needs ``rec_kernel_taps >= K``; a dense recurrent
            matrix needs ``rec_kernel_taps = 0``), or (on a core built with ``learning``)
            its learning rule needs a width or a feature the core does not have
            (``learn_neurons`` needs ``neuron_learning``). The message names the field and its
            allowed values.

        Notes
        -----
        A core built without ``learning`` runs a network that has a learning rule for
        inference; the rule is not loaded.
        """
        for field, cap in (("n_in", self.max_in), ("n_hidden", self.max_hidden),
                           ("n_out", self.max_out)):
            value = int(getattr(net, field))
            if value > cap:
                raise ValueError(f"network {field} = {value} exceeds the core capacity "
                                 f"max_{field[2:]} = {cap}")
        for field in _FORMAT_FIELDS:
            value = int(getattr(net, field))
            if value != getattr(self, field):
                raise ValueError(f"network {field} = {value} differs from the core's "
                                 f"{field} = {getattr(self, field)}")
        if net.recurrent and not self.recurrent:
            raise ValueError("network recurrent = True needs a core built with recurrent=True")
        if int(net.d_max) > self.d_max:
            raise ValueError(f"network d_max = {net.d_max} exceeds the core's d_max = "
                             f"{self.d_max}")
        self._check_options(net)
        n_synapses = synapse_count(net)
        if self.rec_kernel_taps:
            # The kernel sits in the top words; the rest of the network below them.
            n_synapses += self.rec_kernel_taps - int(getattr(net, "rec_kernel", 0))
        if n_synapses > self.max_synapses:
            raise ValueError(f"network synapses = {n_synapses} exceed the core's "
                             f"max_synapses = {self.max_synapses}")
        rule = getattr(net, "learning", None)
        if rule is not None and self.learning:
            self._check_rule(rule)

    def _check_options(self, net) -> None:
        """Refuse a neuron or connectivity option (model.md sections 8-11) this core lacks."""
        # getattr: networks from before the options existed have the defaults.
        synapse = getattr(net, "synapse", "delta")
        adaptation = getattr(net, "adaptation", "none")
        rec_kernel = int(getattr(net, "rec_kernel", 0))
        for field, value, built, flag in (("synapse", synapse, self.synapse_current,
                                           "synapse_current"),
                                          ("adaptation", adaptation, self.adaptation,
                                           "adaptation")):
            if value == {"synapse": "delta", "adaptation": "none"}[field] or built:
                continue
            allowed = "'delta'" if field == "synapse" else "'none'"
            raise ValueError(f"network {field} = {value!r} is not supported by the RTL core "
                             f"built with {flag}=False (allowed: {allowed}); build it with "
                             f"{flag}=True")
        taps = self.rec_kernel_taps
        if rec_kernel > taps:
            raise ValueError(f"network rec_kernel = {rec_kernel} needs a core built with "
                             f"rec_kernel_taps >= {rec_kernel} (this core: {taps})")
        if taps and net.recurrent and not rec_kernel:
            raise ValueError(f"network rec_kernel = 0 (a dense recurrent matrix) needs a core "
                             f"built with rec_kernel_taps=0 (this core: {taps}, allowed: "
                             f"[1, {taps}])")
        rule = getattr(net, "learning", None)
        if (self.learning and not self.neuron_learning and rule is not None
                and getattr(rule, "learn_neurons", False)):
            raise ValueError("network learning.learn_neurons = True needs a core built with "
                             "neuron_learning=True (allowed on this core: False)")

    def _check_rule(self, rule) -> None:
        """Refuse a learning rule that needs a width or a part this core was built without."""
        for field in ("trace_bits", "u_bits", "l_bits"):
            value = int(getattr(rule, field))
            if value != getattr(self, field):
                raise ValueError(f"network learning.{field} = {value} differs from the core's "
                                 f"{field} = {getattr(self, field)}")
        half_width = (len(rule.kernel) - 1) // 2
        if half_width > self.kernel_max_half_width:
            raise ValueError(f"network learning.kernel has half width {half_width}, more than "
                             f"the core's kernel_max_half_width = {self.kernel_max_half_width}")
        if rule.learn_delays and not self.delay_learning:
            raise ValueError("network learning.learn_delays = True needs a core built with "
                             "delay_learning=True")
        if getattr(rule, "error", "mse") == "softmax" and not self.softmax:
            raise ValueError("network learning.error = 'softmax' needs a core built with "
                             "softmax=True")
        if rule.feedback == "random" and not self.random_feedback:
            raise ValueError("network learning.feedback = 'random' needs a core built with "
                             "random_feedback=True")
        if getattr(rule, "learn_neurons", False) and int(rule.elig_bits) != self.elig_bits:
            raise ValueError(f"network learning.elig_bits = {int(rule.elig_bits)} differs from "
                             f"the core's elig_bits = {self.elig_bits}")
        if rule.rounding == "stochastic" and not self.stochastic_rounding:
            raise ValueError("network learning.rounding = 'stochastic' needs a core built with "
                             "stochastic_rounding=True")

    @classmethod
    def for_network(cls, net, **overrides) -> CoreParams:
        """The smallest core for ``net`` (capacity = its sizes, its formats and ``d_max``).

        A network with a learning rule gets the learning engine with the rule's widths and
        only the parts it uses (``learning=False`` overrides that for an inference core).
        A network with current synapses or adaptation gets ``synapse_current`` or
        ``adaptation``.
        Keyword arguments override single parameters, e.g. ``max_hidden=64``.
        """
        values = dict(max_in=int(net.n_in), max_hidden=int(net.n_hidden),
                      max_out=int(net.n_out), d_max=int(net.d_max),
                      recurrent=bool(net.recurrent))
        values.update({f: int(getattr(net, f)) for f in _FORMAT_FIELDS})
        rule = getattr(net, "learning", None)
        if rule is not None:
            # Only the parts of the learning engine that the rule uses.
            values.update(learning=True, trace_bits=int(rule.trace_bits),
                          u_bits=int(rule.u_bits), l_bits=int(rule.l_bits),
                          kernel_max_half_width=(len(rule.kernel) - 1) // 2,
                          delay_learning=bool(rule.learn_delays),
                          softmax=getattr(rule, "error", "mse") == "softmax",
                          random_feedback=rule.feedback == "random",
                          stochastic_rounding=rule.rounding == "stochastic")
            if getattr(rule, "learn_neurons", False):
                values.update(neuron_learning=True, elig_bits=int(rule.elig_bits))
        values.update(synapse_current=getattr(net, "synapse", "delta") == "current",
                      adaptation=getattr(net, "adaptation", "none") == "threshold",
                      rec_kernel_taps=int(getattr(net, "rec_kernel", 0)))
        values.update(overrides)
        if not values.get("learning") and "neuron_learning" not in overrides:
            values["neuron_learning"] = False   # learning=False: an inference core
        params = cls(**values)
        params.check_network(net)
        return params


def spram_blocks(depth: int, width: int) -> int:
    """``SB_SPRAM256KA`` blocks for ``depth`` words of ``width`` bits.

    A block holds 16384 words of 16 bits: a wider word takes blocks side by side, a deeper
    memory one such group per 16384 words.
    """
    return -(-depth // SPRAM_DEPTH) * -(-width // SPRAM_WIDTH)


def synapse_count(net) -> int:
    """Synapse words a network occupies in the synapse memory: dense projections, and a
    recurrent kernel (``rec_kernel``) as its taps."""
    kernel = int(getattr(net, "rec_kernel", 0))
    n_rec = int(net.n_hidden) if net.recurrent and not kernel else 0
    return (int(net.n_hidden) * (int(net.n_in) + n_rec) + int(net.n_out) * int(net.n_hidden)
            + kernel)
