"""cocotb testbench for the delaycore ``Core``: bus driver, step driver, monitor, scoreboard.

The pieces follow the usual driver / monitor / scoreboard split:

- :class:`ConfigBusDriver` performs word writes and (pipelined) word reads on the
  configuration bus;
- :class:`CoreTB` owns the clock and reset, loads a network, clears the state and runs time
  steps; after each step it *monitors* the core (hidden spikes from ``out_spikes``, ``v`` and
  ``y`` read through the bus) and returns a :class:`StepObservation`;
- :class:`LockstepScoreboard` advances a :class:`golden.model.GoldenCore` in step with the
  core and raises :class:`LockstepMismatch`, with a one-line message naming the step, the
  neuron and the field, at the first difference.

Timing discipline: every coroutine that drives signals starts and ends just after a falling
clock edge. Inputs are therefore set half a period before the rising edge that samples them,
and outputs are read half a period after the rising edge that produced them, which avoids
every race between cocotb writes and the design's registers in both simulators. While the core
works on a step, Python waits on the ``done`` pulse alone (with a timeout), so the simulator
runs the step without waking Python on every clock.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, SimTimeoutError, with_timeout

from rtl import memory_map as mm

__all__ = [
    "ConfigBusDriver",
    "CoreTB",
    "LearningScoreboard",
    "LockstepMismatch",
    "LockstepScoreboard",
    "StepObservation",
    "run_learning_sample",
    "run_lockstep",
    "spikes_to_int",
]

from sim.build import CLOCK_PERIOD_NS, HDL_CLOCK_MARKER


def spikes_to_int(spikes: Iterable[int]) -> int:
    """Pack a spike vector into an integer, element ``j`` at bit ``j``."""
    value = 0
    for j, bit in enumerate(spikes):
        if bit:
            value |= 1 << j
    return value


@dataclasses.dataclass
class StepObservation:
    """What the monitor saw after one step of the core.

    Attributes
    ----------
    step : int
        Index of the step since the last clear (0 for the first step).
    v : numpy.ndarray
        Hidden membranes, int64 ``[n_hidden]`` (read through the bus).
    z : numpy.ndarray
        Hidden spikes, bool ``[n_hidden]`` (from ``out_spikes``).
    y : numpy.ndarray
        Readout values, int64 ``[n_out]`` (read through the bus).
    c, a : numpy.ndarray or None
        Synaptic currents and adaptations, int64 ``[n_hidden]`` (read through the bus), on
        a core built with ``synapse_current`` or ``adaptation``; else None.
    """

    step: int
    v: np.ndarray
    z: np.ndarray
    y: np.ndarray
    c: np.ndarray | None = None
    a: np.ndarray | None = None

    def __iter__(self):
        """Unpacks as ``v, z, y = observation``."""
        return iter((self.v, self.z, self.y))


class LockstepMismatch(AssertionError):
    """The core and the golden model differ; ``str()`` is a one-line description."""

    def __init__(self, message: str, *, step: int, field: str, index):
        super().__init__(message)
        self.step = step
        self.field = field
        self.index = index


class ConfigBusDriver:
    """Word reads and writes on the core's configuration bus.

    Parameters
    ----------
    dut : cocotb handle
        The core's top level; the bus signals are ``bus__addr``, ``bus__w_data``,
        ``bus__w_en``, ``bus__r_en`` and ``bus__r_data`` (Amaranth's flattened names).
    """

    def __init__(self, dut):
        self.clk = dut.clk
        self.addr = dut.bus__addr
        self.w_data = dut.bus__w_data
        self.w_en = dut.bus__w_en
        self.r_en = dut.bus__r_en
        self.r_data = dut.bus__r_data

    def idle(self) -> None:
        self.w_en.value = 0
        self.r_en.value = 0
        self.addr.value = 0
        self.w_data.value = 0

    async def write_many(self, writes: Iterable[tuple[int, int]]) -> None:
        """One write per clock; ``data`` is truncated to 32 bits (the bus width)."""
        for addr, data in writes:
            self.addr.value = int(addr)
            self.w_data.value = int(data) & 0xFFFF_FFFF
            self.w_en.value = 1
            await FallingEdge(self.clk)
        self.w_en.value = 0

    async def write(self, addr: int, data: int) -> None:
        await self.write_many([(addr, data)])

    async def read_many(self, addresses: Sequence[int]) -> list[int]:
        """Raw 32-bit words at ``addresses``, one read per clock, pipelined.

        ``r_data`` is valid the cycle after ``r_en``: an address presented before a rising
        edge is sampled there, and its word is on ``r_data`` at the next falling edge, where
        the next address is presented.
        """
        words: list[int] = []
        for addr in addresses:
            self.addr.value = int(addr)
            self.r_en.value = 1
            await FallingEdge(self.clk)
            words.append(int(self.r_data.value))
        self.r_en.value = 0
        return words

    async def read(self, addr: int) -> int:
        return (await self.read_many([addr]))[0]


class CoreTB:
    """Drives one delaycore ``Core`` instance through cocotb.

    Parameters
    ----------
    dut : cocotb handle
        Top level of the generated core.
    params : rtl.params.CoreParams
        The parameters the core was generated with (capacity, formats).
    log : logging.Logger, optional
    """

    def __init__(self, dut, params, log: logging.Logger | None = None):
        self.dut = dut
        self.params = params
        self.log = log or logging.getLogger("cocotb.delaycore")
        self.bus = ConfigBusDriver(dut)
        self.max_in = int(params.max_in)
        self.max_hidden = int(params.max_hidden)
        # Generous bound on the clocks of one step (every synapse, neuron and ring slot a few
        # times over); only used to turn a hung core into an error instead of a hang.
        dense = (self.max_hidden * (self.max_in + self.max_hidden)
                 + int(params.max_out) * self.max_hidden)
        self.step_timeout_cycles = 8 * dense + 64 * (
            self.max_in + self.max_hidden + int(params.max_out)) + 4096
        #: The core has the learning engine (and the ``learn`` input).
        self.learning = bool(getattr(params, "learning", False))
        #: State of the neuron options observed after every step: (field, NEURON field).
        self.neuron_state = ([("c", "C")] if getattr(params, "synapse_current", False) else []) \
            + ([("a", "A")] if getattr(params, "adaptation", False) else [])
        if self.learning:
            # Traces (2W + 2 cycles per source), the learning signal (a division per readout)
            # and two cycles per synapse of the update.
            self.step_timeout_cycles += 4 * dense + 16 * (self.max_in + self.max_hidden) + (
                int(params.max_out) * (int(params.y_bits) + 8) * 2
                + self.max_hidden * (int(params.max_out) + 4))
        self.step_timeout_ns = CLOCK_PERIOD_NS * self.step_timeout_cycles
        self.net = None
        self._clock: Clock | None = None

    # -- clock, reset, load, clear ----------------------------------------------------------

    async def start(self) -> None:
        """Start the clock unless the HDL runs it, then reset the core.

        A top level built with ``hdl_clock=True`` (see :func:`sim.build.clock_wrapper`)
        generates its own clock; otherwise a cocotb clock implemented in C drives ``clk``,
        which does not wake Python either.
        """
        self.dut.start.value = 0
        self.dut.clear.value = 0
        self.dut.in_spikes.value = 0
        self.bus.idle()
        if getattr(self.dut, HDL_CLOCK_MARKER, None) is None:
            self._clock = Clock(self.dut.clk, CLOCK_PERIOD_NS, unit="ns", impl="gpi")
            self._clock.start(start_high=False)
            self.log.debug("clock driven by cocotb")
        else:
            self.log.debug("clock generated in the HDL")
        await FallingEdge(self.dut.clk)
        await self.reset()

    async def reset(self) -> None:
        """Hold the synchronous reset for a few clocks and wait until the core is idle."""
        self.dut.rst.value = 1
        for _ in range(3):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await FallingEdge(self.dut.clk)
        await self._wait_idle()

    async def _wait_idle(self) -> None:
        if int(self.dut.busy.value):
            try:
                await with_timeout(FallingEdge(self.dut.busy), self.step_timeout_ns, "ns")
            except SimTimeoutError:
                raise TimeoutError(f"busy stayed high for {self.step_timeout_cycles} clocks") \
                    from None
            await FallingEdge(self.dut.clk)

    async def load(self, net) -> int:
        """Write every configuration word of ``net`` (from ``rtl.memory_map``); returns count."""
        writes = mm.network_writes(net, self.params)
        await self._wait_idle()
        await self.bus.write_many(writes)
        self.net = net
        return len(writes)

    async def clear(self) -> None:
        """Pulse ``clear`` and wait until the core has zeroed its state."""
        await self._wait_idle()
        self.dut.clear.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.clear.value = 0
        await self._wait_idle()

    # -- one time step ----------------------------------------------------------------------

    async def run_step(self, in_spikes_mask: int, learn: bool = False) -> int:
        """Run one time step; returns ``out_spikes`` (bit ``i`` = hidden spike ``z[i]``).

        ``start`` is held for one clock with the spike inputs (and ``learn`` on a learning
        core); right after that clock the inputs are inverted (within ``max_in`` bits) and
        ``learn`` too, so a core that samples them later than the ``start`` cycle shows up as
        a mismatch. Python then sleeps until ``done``.
        """
        if learn and not self.learning:
            raise ValueError("a learning step needs a core built with learning=True")
        await self._wait_idle()
        self.dut.in_spikes.value = in_spikes_mask
        if self.learning:
            self.dut.learn.value = int(bool(learn))
        self.dut.start.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.start.value = 0
        self.dut.in_spikes.value = ~in_spikes_mask & ((1 << self.max_in) - 1)
        if self.learning:
            self.dut.learn.value = int(not learn)
        if not int(self.dut.done.value):
            try:
                await with_timeout(RisingEdge(self.dut.done), self.step_timeout_ns, "ns")
            except SimTimeoutError:
                raise TimeoutError(f"no done pulse within {self.step_timeout_cycles} clocks "
                                   f"of start") from None
            await FallingEdge(self.dut.clk)
        self.dut.in_spikes.value = 0
        if self.learning:
            self.dut.learn.value = 0
        return int(self.dut.out_spikes.value)

    async def step(self, in_spikes: Sequence[int], step: int = -1,
                   unused_inputs: int = 0, learn: bool = False) -> StepObservation:
        """Run one time step with ``in_spikes`` (length ``n_in``) and observe the result:
        ``z`` from ``out_spikes``, then ``v``, ``y`` (and ``c``, ``a`` on a core with the
        neuron options) read through the bus.

        ``unused_inputs`` is driven on the ``in_spikes`` bits from ``n_in`` up to ``max_in``,
        which the loaded network does not have and the core must ignore. ``learn`` makes it
        a learning step (the label is ``CTRL.LABEL``, see :meth:`write_ctrl`).
        """
        if self.net is None:
            raise RuntimeError("load a network before running steps")
        n_in, n_hidden, n_out = self.net.n_in, self.net.n_hidden, self.net.n_out
        mask = spikes_to_int(in_spikes) | ((unused_inputs << n_in) & ((1 << self.max_in) - 1))
        try:
            out_spikes = await self.run_step(mask, learn=learn)
        except TimeoutError as err:
            raise TimeoutError(f"step {step}: {err}") from None
        await self._wait_idle()
        v, y = await self.read_state(n_hidden, n_out)
        z = np.array([(out_spikes >> i) & 1 for i in range(n_hidden)], dtype=bool)
        return StepObservation(step=step, v=v, z=z, y=y,
                               **await self.read_neuron_state(n_hidden))

    async def read_neuron_state(self, n_hidden: int) -> dict[str, np.ndarray]:
        """``c`` and ``a`` of the first ``n_hidden`` neurons through the bus, for the options
        the core was built with (an empty dict without them)."""
        if not self.neuron_state:
            return {}
        addresses = [mm.address(mm.REGION_NEURON, mm.neuron_offset(field, i, self.params))
                     for _, field in self.neuron_state for i in range(n_hidden)]
        # C reads back sign-extended, A is never negative: both decode as 32-bit signed.
        words = [mm.decode_signed(w, 32) for w in await self.bus.read_many(addresses)]
        return {name: np.array(words[n * n_hidden:(n + 1) * n_hidden], dtype=np.int64)
                for n, (name, _) in enumerate(self.neuron_state)}

    async def read_state(self, n_hidden: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        """Membranes ``v[0:n_hidden]`` and readouts ``y[0:n_out]`` through the bus."""
        addresses = ([mm.address(mm.REGION_V, i) for i in range(n_hidden)]
                     + [mm.address(mm.REGION_Y, k) for k in range(n_out)])
        # V and Y read back sign-extended to 32 bits (docs/architecture.md).
        words = [mm.decode_signed(w, 32) for w in await self.bus.read_many(addresses)]
        return (np.array(words[:n_hidden], dtype=np.int64),
                np.array(words[n_hidden:], dtype=np.int64))

    async def read_ctrl(self, name: str) -> int:
        """A word of the ``CTRL`` region by name: ``"STEP"``, ``"CYCLES"``, ``"FLAGS"``, ..."""
        return await self.bus.read(mm.address(mm.REGION_CTRL, getattr(mm, f"CTRL_{name}")))

    async def write_ctrl(self, name: str, value: int) -> None:
        """Write a word of the ``CTRL`` region by name: ``"LABEL"``, ``"LEARN_COUNT"``, ..."""
        await self._wait_idle()
        await self.bus.write(mm.address(mm.REGION_CTRL, getattr(mm, f"CTRL_{name}")), value)

    async def read_words(self, addresses: Sequence[int]) -> list[int]:
        """Raw words at ``addresses`` (one bus read per clock, after the core is idle)."""
        await self._wait_idle()
        return await self.bus.read_many(addresses)


class LockstepScoreboard:
    """Compares core observations with :class:`golden.model.GoldenCore`, step by step.

    Parameters
    ----------
    net : golden.network.Network
    label : str
        Identifies the network in messages (case name, seed, variant, simulator), so that a
        failure can be reproduced from the message alone.
    """

    FIELDS = ("z", "v", "y")
    #: Fields in the order a mismatch is reported when the neuron options are observed:
    #: causes first (``c`` feeds ``v``; ``z`` decides ``a``).
    OPTION_ORDER = ("c", "z", "v", "a", "y")

    def __init__(self, net, label: str):
        from golden.model import GoldenCore

        self.golden = GoldenCore(net)
        self.label = label
        self.steps_checked = 0

    def reset(self) -> None:
        """Start over from zero state, as the core does after ``clear``."""
        self.golden.reset()

    def retune(self, net) -> None:
        """Go on with the parameters of ``net`` but keep the state, spike history included.

        ``net`` must have the sizes, delay kinds and formats of the current network. This is
        what the core does when new weights and delays are written between two steps:
        spikes in flight arrive with the weight and delay read at arrival (model.md
        section 5).
        """
        self.golden.load_parameters(net)

    def expect(self, in_spikes) -> object:
        """Advance the golden model one step; returns its :class:`golden.model.StepResult`."""
        return self.golden.step(np.asarray(in_spikes))

    def check(self, observed: StepObservation, expected, segment: str = "") -> None:
        """Raise :class:`LockstepMismatch` if ``observed`` differs from ``expected``.

        The message names the first differing field in the order ``z, v, y`` (spikes first:
        a wrong spike explains the membrane after it), its lowest neuron index, both values,
        and lists the other differing fields of the same step. An observation with the
        state of the neuron options (``c``, ``a``) has it compared with the golden model's
        too, in the order ``c, z, v, a, y``.
        """
        self.steps_checked += 1
        diffs = []
        options = [f for f in ("c", "a") if getattr(observed, f, None) is not None]
        fields = [f for f in self.OPTION_ORDER if f in self.FIELDS or f in options] \
            if options else self.FIELDS
        for field in fields:
            got = np.asarray(getattr(observed, field)).astype(np.int64)
            if field in options:
                # The golden model keeps the option state after its last step (batch 0).
                want = np.asarray(getattr(self.golden, field)[0]).astype(np.int64)
            else:
                want = np.asarray(getattr(expected, field)).astype(np.int64)
            for index in np.flatnonzero(got != want):
                diffs.append((field, int(index), int(got[index]), int(want[index])))
        if not diffs:
            return
        field, index, got, want = diffs[0]
        others = ", ".join(f"{f}[{i}]" for f, i, _, _ in diffs[1:9])
        more = f" (also differ: {others}{', ...' if len(diffs) > 9 else ''})" if others else ""
        where = f" {segment}" if segment else ""
        raise LockstepMismatch(
            f"{self.label}: first mismatch at step {observed.step}{where}: "
            f"{field}[{index}] rtl={got} golden={want}{more}",
            step=observed.step, field=field, index=index)


class LearningScoreboard(LockstepScoreboard):
    """A :class:`LockstepScoreboard` for learning steps, which also compares what the core
    learned and its traces.

    Parameters
    ----------
    net : golden.network.Network
        The network with its learning rule.
    params : rtl.params.CoreParams
        The core.
    label : str
        Identifies the network in messages.
    trace_depth : int or None
        Trace slots compared per source after each step (see
        :class:`sim.learning_check.LearningProbe`); :meth:`check_traces` can compare all.
    """

    def __init__(self, net, params, label: str, trace_depth: int | None = 1):
        super().__init__(net, label)
        from sim.learning_check import LearningProbe

        self.params = params
        self.probe = LearningProbe(net, params, trace_depth)
        self.full_probe = LearningProbe(net, params, None)

    def expect(self, in_spikes, label: int | None = None, learn: bool = False):
        """Advance the golden model one step, learning if ``learn``."""
        return self.golden.step(np.asarray(in_spikes), labels=label, learn=learn)

    def _raise(self, problem, step: int, segment: str, what: str):
        where = f" {segment}" if segment else ""
        raise LockstepMismatch(
            f"{self.label}: first mismatch at step {step}{where} ({what}): {problem}",
            step=step, field=problem.field, index=problem.index)

    async def check_parameters(self, tb: CoreTB, step: int, segment: str = "") -> None:
        """Read every synapse word and axonal delay and compare them with the golden model."""
        words = await tb.read_words(self.probe.parameter_addresses())
        problem = self.probe.check_parameters(self.golden, words)
        if problem is not None:
            self._raise(problem, step, segment, "learned parameters")
        count = await tb.read_ctrl("LEARN_COUNT")
        want = int(self.golden.learn_count[0])
        if count != want:
            raise LockstepMismatch(
                f"{self.label}: at step {step} {segment} LEARN_COUNT reads {count}, golden "
                f"{want}", step=step, field="LEARN_COUNT", index=0)

    async def check_learning(self, tb: CoreTB, step: int, segment: str = "") -> None:
        """After a learning step: every synapse word, axonal delay, ``LEARN_COUNT`` and the
        newest trace slots (:meth:`check_parameters`, then :meth:`check_traces`)."""
        await self.check_parameters(tb, step, segment)
        await self.check_traces(tb, step, segment)

    async def check_traces(self, tb: CoreTB, step: int, segment: str = "",
                           full: bool = False) -> None:
        """Compare trace-ring slots (the newest, or every live slot with ``full``)."""
        probe = self.full_probe if full else self.probe
        words = await tb.read_words(probe.trace_addresses(self.golden))
        problem = probe.check_traces(self.golden, words)
        if problem is not None:
            self._raise(problem, step, segment, "traces")


async def run_learning_sample(tb: CoreTB, scoreboard: LearningScoreboard, spikes: np.ndarray,
                              label: int, learn: np.ndarray, segment: str = "",
                              first_step: int = 0) -> dict:
    """Run one sample (``spikes`` ``[T, n_in]``, its label and learning mask) on the core
    and the golden model from the current state; check after every step.

    After every step: spikes, membranes, readouts and the newest trace slots; after every
    learning step also every synapse word, every axonal delay and ``LEARN_COUNT``; after the
    last step every live trace slot. Returns ``{"steps", "learning_steps", "cycles"}`` with
    ``CTRL.CYCLES`` of every step.
    """
    await tb.write_ctrl("LABEL", int(label))
    cycles = []
    for t, in_spikes in enumerate(np.asarray(spikes)):
        step = first_step + t
        learning = bool(learn[t])
        expected = scoreboard.expect(in_spikes, label=int(label), learn=learning)
        observed = await tb.step(in_spikes, step=step, learn=learning)
        scoreboard.check(observed, expected, segment=segment)
        cycles.append(await tb.read_ctrl("CYCLES"))
        if learning:
            await scoreboard.check_parameters(tb, step, segment)
        await scoreboard.check_traces(tb, step, segment, full=t == len(spikes) - 1)
    return {"steps": len(spikes), "learning_steps": int(np.sum(learn)), "cycles": cycles}


async def run_lockstep(tb: CoreTB, scoreboard: LockstepScoreboard, spikes: np.ndarray,
                       segment: str = "", unused_inputs: Sequence[int] | None = None,
                       first_step: int = 0) -> int:
    """Step the core and the golden model through ``spikes`` ``[T, n_in]``, checking each step.

    ``unused_inputs[t]``, if given, is driven on the spike inputs above ``n_in`` in step
    ``t`` (see :meth:`CoreTB.step`). Steps are numbered from ``first_step`` in messages.
    Returns the number of steps run; raises :class:`LockstepMismatch` at the first
    difference.
    """
    for t, in_spikes in enumerate(np.asarray(spikes)):
        expected = scoreboard.expect(in_spikes)
        noise = 0 if unused_inputs is None else int(unused_inputs[t])
        observed = await tb.step(in_spikes, step=first_step + t, unused_inputs=noise)
        scoreboard.check(observed, expected, segment=segment)
    return len(spikes)


def sim_name() -> str:
    """Lower-case simulator name of the running cocotb process (``"icarus"``, ``"verilator"``)."""
    name = (getattr(cocotb, "SIM_NAME", "") or "").lower()
    if "icarus" in name:
        return "icarus"
    if "verilator" in name:
        return "verilator"
    return name or "unknown"
