"""Generator parameters of a delaycore core.

:class:`CoreParams` fixes what a generated core can hold (its capacity) and the number
formats it computes with. A network with the same formats and sizes up to the capacity can
be loaded into the core at run time (see :meth:`CoreParams.check_network`).

This module is pure Python (no Amaranth import), so host-side code can use it without the
HDL toolchain.
"""

from __future__ import annotations

import dataclasses

__all__ = ["ADDRESS_SPACE", "CoreParams", "synapse_count"]

#: Words per region of the memory map (``addr[0:16]``), which bounds every memory depth.
ADDRESS_SPACE = 1 << 16

# Number formats that a core and a network must agree on exactly.
_FORMAT_FIELDS = ("weight_bits", "weight_frac", "delay_frac", "decay_bits", "v_bits", "y_bits")

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
        if self.max_synapses is None:
            dense = self.dense_synapses
            if dense > ADDRESS_SPACE:
                raise ValueError(
                    f"max_synapses must be in [1, {ADDRESS_SPACE}], got {dense} (the dense "
                    f"maximum of this capacity); pass a smaller max_synapses")
            # Frozen dataclass: the computed default is stored once, at construction.
            object.__setattr__(self, "max_synapses", dense)
        else:
            _check_int("max_synapses", self.max_synapses, 1, ADDRESS_SPACE)

    def as_dict(self) -> dict:
        """The constructor arguments, as a new dictionary."""
        return dataclasses.asdict(self)

    # -- derived quantities -------------------------------------------------------------------

    @property
    def dense_synapses(self) -> int:
        """Synapses of the largest network this capacity holds (all projections dense)."""
        n_rec = self.max_hidden if self.recurrent else 0
        return self.max_hidden * (self.max_in + n_rec) + self.max_out * self.max_hidden

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
        hidden = self.max_in + (self.max_hidden if self.recurrent else 0)
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

    # -- timing -------------------------------------------------------------------------------

    def step_cycles(self, n_in: int, n_hidden: int, n_out: int, recurrent: bool) -> int:
        """Clock cycles a step keeps ``busy`` high for the given run-time sizes.

        ``n_in`` cycles write the input rings, each hidden neuron streams ``n_in + n_rec``
        synapses, 2 cycles drain the pipeline, ``n_hidden`` cycles write the hidden rings,
        each readout streams ``n_hidden`` synapses, and 2 more cycles drain and finish.
        ``done`` pulses in the first cycle after these (``busy`` low again).
        """
        n_rec = n_hidden if (recurrent and self.recurrent) else 0
        return n_in + n_hidden * (n_in + n_rec) + 2 + n_hidden + n_out * n_hidden + 2

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
            but the core is not, ``net.d_max`` exceeds ``d_max``, or the network has more
            synapses than ``max_synapses``. The message names the field.
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
        n_synapses = synapse_count(net)
        if n_synapses > self.max_synapses:
            raise ValueError(f"network synapses = {n_synapses} exceed the core's "
                             f"max_synapses = {self.max_synapses}")

    @classmethod
    def for_network(cls, net, **overrides) -> CoreParams:
        """The smallest core for ``net`` (capacity = its sizes, its formats and ``d_max``).

        Keyword arguments override single parameters, e.g. ``max_hidden=64``.
        """
        values = dict(max_in=int(net.n_in), max_hidden=int(net.n_hidden),
                      max_out=int(net.n_out), d_max=int(net.d_max),
                      recurrent=bool(net.recurrent))
        values.update({f: int(getattr(net, f)) for f in _FORMAT_FIELDS})
        values.update(overrides)
        params = cls(**values)
        params.check_network(net)
        return params


def synapse_count(net) -> int:
    """Synapse words a network occupies in the dense layout of the synapse memory."""
    n_rec = int(net.n_hidden) if net.recurrent else 0
    return int(net.n_hidden) * (int(net.n_in) + n_rec) + int(net.n_out) * int(net.n_hidden)
