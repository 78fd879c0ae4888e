"""Driver for a delaycore board (or simulation) behind the serial host link.

:class:`Device` speaks the protocol of ``docs/protocol.md`` over any byte transport with
``write(data)`` and ``read(n)`` methods (``read`` returning fewer bytes on a timeout), such as
a :class:`serial.Serial` or a simulation transport. Every method sends one or more request
frames and waits for their replies; an error reply raises :class:`~host.protocol.DeviceError`
and a malformed or missing reply raises :class:`~host.protocol.ProtocolError`.

Typical use::

    from host.device import Device

    with Device.open("/dev/ttyUSB1", baud=115200) as dev:
        print(dev.ping())
        dev.load_network(net)
        for spikes in sample:
            z = dev.step(spikes)

On a core built with the learning engine, a sample is learned online with
:meth:`Device.run_sample` (``CTRL.LABEL``, then ``STEP`` frames with the learn flag where the
sample's target mask is set), and :meth:`Device.export_network` reads the learned weights and
delays back as a :class:`golden.network.Network`.
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence

import numpy as np

from . import protocol as proto
from .protocol import (MAX_READ_WORDS, Command, DeviceError, PingInfo, ProtocolError, Reply,
                       StatusInfo, StepFlag)

__all__ = ["Transport", "Device", "DEFAULT_BAUD", "LearningUnsupportedError"]

#: Baud rate of the board builds unless they say otherwise.
DEFAULT_BAUD = 115200


class LearningUnsupportedError(ValueError):
    """A learning operation was asked of a device whose core has no learning engine."""


class Transport(Protocol):
    """What :class:`Device` needs from a byte channel (a subset of :class:`serial.Serial`)."""

    def write(self, data: bytes) -> object:
        """Send all of ``data``."""

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer (possibly none) if the read timeout expires first."""


class Device:
    """A delaycore core behind the serial host link.

    Parameters
    ----------
    transport : Transport
        Byte channel to the link. Its read timeout must be longer than the longest command
        (a ``STEP`` of a large network, or a long ``READ`` at a low baud rate).

    Notes
    -----
    The device's capacity and number formats are asked for with ``PING`` the first time they
    are needed (:attr:`info`), so constructing a ``Device`` sends nothing.
    """

    def __init__(self, transport: Transport):
        for method in ("write", "read"):
            if not callable(getattr(transport, method, None)):
                raise TypeError(f"transport must have a {method}() method, got "
                                f"{type(transport).__name__}")
        self._transport = transport
        self._info: PingInfo | None = None
        self._sizes: dict[int, int] | None = None
        self._n_hidden: int | None = None
        self._net = None

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def open(cls, port: str, baud: int = DEFAULT_BAUD, *, timeout: float = 1.0) -> "Device":
        """Open serial port ``port`` (e.g. ``"/dev/ttyUSB1"``) with pyserial.

        Parameters
        ----------
        port : str
            Serial device name.
        baud : int
            Baud rate of the board's UART.
        timeout : float
            Read timeout in seconds; also the silence that :meth:`resync` waits for.
        """
        try:
            import serial
        except ImportError:
            raise ImportError("opening a serial port needs pyserial: pip install pyserial") \
                from None
        try:
            return cls(serial.Serial(port, baudrate=baud, timeout=timeout))
        except (serial.SerialException, OSError) as err:
            raise OSError(f"cannot open serial port {port!r} at {baud} baud: {err}") from None

    def close(self) -> None:
        """Close the transport, if it can be closed."""
        close = getattr(self._transport, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def transport(self) -> Transport:
        return self._transport

    # -- frames ---------------------------------------------------------------------------

    def request(self, command: int, payload: bytes = b"") -> Reply:
        """Send one request frame and return its reply, whatever its status.

        A ``TIMEOUT`` reply with command byte 0 (the device saw a sync byte, then nothing
        before its timeout) is taken as the answer to this request, whose bytes were lost.

        Raises
        ------
        ProtocolError
            No reply, a malformed reply, or a reply to another command.
        """
        self._transport.write(proto.encode_request(command, payload))
        reply = proto.read_reply(self._transport.read)
        if reply.command == 0 and reply.status == proto.Status.TIMEOUT:
            # The device saw a sync byte but no command byte before its timeout: most likely
            # this request's, whose next bytes were lost.
            return Reply(command, reply.status)
        if reply.command != command:
            raise ProtocolError(f"reply answers command {_name(reply.command)}, but "
                                f"{_name(command)} was sent (a stale reply: call resync())")
        return reply

    def _call(self, command: Command, payload: bytes = b"", *,
              reply_len: int | None = None) -> bytes:
        reply = self.request(command, payload)
        if reply.status != proto.Status.OK:
            raise DeviceError(command, reply.status)
        if reply_len is not None and len(reply.payload) != reply_len:
            raise ProtocolError(f"{command.name} reply must have {reply_len} payload bytes, "
                                f"got {len(reply.payload)}")
        return reply.payload

    def resync(self) -> int:
        """Bring the link back to a known state after an error or an interrupted exchange.

        Reads and discards bytes until a read returns none. With a read timeout longer than
        the link's inter-byte timeout, any half-received frame has been abandoned by then and
        its ``TIMEOUT`` reply discarded, so the next request is parsed from its sync byte.

        Returns
        -------
        int
            Number of bytes discarded.
        """
        discarded = 0
        while True:
            chunk = self._transport.read(256)
            if not chunk:
                return discarded
            discarded += len(chunk)

    # -- commands -------------------------------------------------------------------------

    def ping(self) -> PingInfo:
        """Identify the device and learn its capacity (cached for later calls).

        Raises
        ------
        ProtocolError
            The reply is not from a delaycore link, or from one with another protocol version.
        """
        info = PingInfo.from_payload(self._call(Command.PING))
        if info.version not in proto.SUPPORTED_VERSIONS:
            raise ProtocolError(f"device speaks protocol version {info.version}, this driver "
                                f"versions {', '.join(map(str, proto.SUPPORTED_VERSIONS))}")
        self._info = info
        self._sizes = proto.region_sizes(info.core_params())
        return info

    @property
    def info(self) -> PingInfo:
        """Capacity and formats of the device (from ``PING``, sent on first use)."""
        if self._info is None:
            self.ping()
        return self._info

    @property
    def params(self):
        """:class:`rtl.params.CoreParams` of the core on the device."""
        return self.info.core_params()

    @property
    def learning(self) -> bool:
        """Whether the device's core has the learning engine (from ``PING``)."""
        return bool(self.info.learning)

    def write(self, addr: int, words: Sequence[int]) -> None:
        """Write ``words`` to consecutive bus addresses from ``addr``.

        Bursts longer than the device's write buffer are split into several frames.
        Negative words are written as 32-bit two's complement.

        Raises
        ------
        TypeError, ValueError
            ``addr`` or a word is not an int or out of range, or the range runs past the end
            of its region of the memory map; the message names the argument.
        DeviceError
            The device refused a frame (nothing of that frame was written).
        """
        words = list(words)
        if not words:
            raise ValueError("words must hold at least one word")
        proto.pack_words(words)  # validates every word before anything is sent
        self._check_range(addr, len(words))
        burst = self.info.max_write_words
        for start in range(0, len(words), burst):
            self._call(Command.WRITE, proto.write_payload(addr + start, words[start:start + burst]),
                       reply_len=0)

    def read(self, addr: int, count: int = 1) -> list[int]:
        """Read ``count`` words from consecutive bus addresses from ``addr``.

        Returns the words as unsigned 32-bit integers (see
        :func:`rtl.memory_map.decode_signed` for signed fields).

        Raises
        ------
        TypeError, ValueError
            ``addr`` or ``count`` is out of range, or the range runs past the end of its
            region; the message names the argument.
        DeviceError
            The device refused a frame.
        """
        self._check_range(addr, count)
        words: list[int] = []
        for start in range(0, count, MAX_READ_WORDS):
            n = min(MAX_READ_WORDS, count - start)
            payload = self._call(Command.READ, proto.read_payload(addr + start, n),
                                 reply_len=4 * n)
            words.extend(proto.unpack_words(payload))
        return words

    def step(self, spikes: Sequence[int], *, learn: bool = False, flags: int = 0) -> np.ndarray:
        """Run one time step with input spikes ``spikes`` and return the hidden spikes.

        Parameters
        ----------
        spikes : sequence of 0/1
            Input spikes ``s[t]``, at most ``max_in`` of them (missing ones are 0).
        learn : bool
            Make it a learning step (``StepFlag.LEARN``) with the label in ``CTRL.LABEL``
            (:meth:`set_label`). Needs a core built with learning and a loaded rule.
        flags : int
            Raw ``STEP`` flags byte, OR-ed with the learn flag (for tests of the link).

        Returns
        -------
        numpy.ndarray
            Hidden spikes ``z[t]``, bool, of the loaded network's ``n_hidden`` neurons (all
            ``max_hidden`` if no network was loaded through this object).

        Raises
        ------
        LearningUnsupportedError
            ``learn`` on a device whose core has no learning engine (nothing is sent).
        """
        info = self.info
        if learn:
            self._require_learning("a learning step")
            flags |= StepFlag.LEARN
        payload = self._call(Command.STEP, proto.step_payload(spikes, info.max_in, int(flags)),
                             reply_len=proto.spike_bytes(info.max_hidden))
        n = self._n_hidden if self._n_hidden is not None else info.max_hidden
        return np.array(proto.unpack_bits(payload, n), dtype=bool)

    def clear(self) -> None:
        """Zero the core state: membranes, readouts, spike rings and the step counter."""
        self._call(Command.CLEAR, reply_len=0)

    def status(self) -> StatusInfo:
        """Link and core status: busy flag, last error, error and frame counters."""
        return StatusInfo.from_payload(self._call(Command.STATUS, reply_len=6))

    # -- networks and state ---------------------------------------------------------------

    def load_network(self, net, *, clear: bool = True) -> int:
        """Load a :class:`golden.network.Network` into the core.

        Writes every word of :func:`rtl.memory_map.network_writes` (consecutive addresses in
        bursts; on a learning core also the learning rule, and ``CTRL.LEARN_COUNT = 0``),
        then clears the state unless ``clear`` is false.

        Returns
        -------
        int
            Number of words written.

        Raises
        ------
        ValueError
            The network does not fit the device's core (the message names the field).
        """
        from rtl.memory_map import network_writes

        from rtl import memory_map as mm

        writes = network_writes(net, self.params)
        if self.learning:
            # A fresh learning count, so that the stochastic rounding of the coming learning
            # steps is that of a new golden.model.GoldenCore of the network.
            writes.append((mm.address(mm.REGION_CTRL, mm.CTRL_LEARN_COUNT), 0))
        for addr, words in _bursts(writes):
            self.write(addr, words)
        self._n_hidden = int(net.n_hidden)
        self._net = net.copy()
        if clear:
            self.clear()
        return len(writes)

    def read_state(self) -> dict:
        """Read the run-time sizes, counters and neuron state of the core.

        Returns
        -------
        dict
            ``n_in``, ``n_hidden``, ``n_out``, ``flags``, ``step`` (steps since the last
            clear), ``cycles`` (clock cycles of the last step), ``v`` (int64 array of the
            hidden membranes) and ``y`` (int64 array of the readouts).
        """
        from rtl import memory_map as mm

        ctrl = self.read(mm.address(mm.REGION_CTRL, 0), mm.CTRL_CYCLES + 1)
        n_hidden, n_out = ctrl[mm.CTRL_N_HIDDEN], ctrl[mm.CTRL_N_OUT]
        v = self.read(mm.address(mm.REGION_V, 0), n_hidden)
        y = self.read(mm.address(mm.REGION_Y, 0), n_out)
        return {
            "n_in": ctrl[mm.CTRL_N_IN],
            "n_hidden": n_hidden,
            "n_out": n_out,
            "flags": ctrl[mm.CTRL_FLAGS],
            "step": ctrl[mm.CTRL_STEP],
            "cycles": ctrl[mm.CTRL_CYCLES],
            "v": np.array([mm.decode_signed(word) for word in v], dtype=np.int64),
            "y": np.array([mm.decode_signed(word) for word in y], dtype=np.int64),
        }

    # -- learning ---------------------------------------------------------------------------

    def set_label(self, label: int) -> None:
        """Write the class label of the current sample to ``CTRL.LABEL``.

        Learning steps (``step(..., learn=True)``) use it until it is written again.

        Raises
        ------
        LearningUnsupportedError
            The device's core has no learning engine.
        TypeError, ValueError
            ``label`` is not an int in ``[0, n_out - 1]`` of the loaded network (``[0,
            max_out - 1]`` if none was loaded through this object).
        """
        from rtl import memory_map as mm

        self._require_learning("a label")
        n_out = int(self._net.n_out) if self._net is not None else self.info.max_out
        label = proto._check_int("label", label, 0, n_out - 1)
        self.write(mm.address(mm.REGION_CTRL, mm.CTRL_LABEL), [label])

    def read_readouts(self) -> np.ndarray:
        """The readouts ``y`` of the loaded network (int64, ``n_out`` values)."""
        from rtl import memory_map as mm

        n_out = int(self._net.n_out) if self._net is not None else self.info.max_out
        return np.array([mm.decode_signed(word)
                         for word in self.read(mm.address(mm.REGION_Y), n_out)], dtype=np.int64)

    def learn_count(self) -> int:
        """``CTRL.LEARN_COUNT``: learning steps the core has run (it keys stochastic rounding)."""
        from rtl import memory_map as mm

        self._require_learning("LEARN_COUNT")
        return self.read(mm.address(mm.REGION_CTRL, mm.CTRL_LEARN_COUNT))[0]

    def run_sample(self, spikes, *, label: int | None = None, learn=None,
                   score=None) -> np.ndarray | None:
        """Run one sample from zero state: ``CLEAR``, then one ``STEP`` per time step.

        Parameters
        ----------
        spikes : array of 0/1, shape (T, n_in)
            Input spikes of the sample.
        label : int, optional
            Class of the sample, written to ``CTRL.LABEL`` first; required with ``learn``.
        learn : array of bool, shape (T,), optional
            Learning steps (the sample's ``target_mask``); none if omitted.
        score : array of bool, shape (T,), optional
            Steps whose readouts are read and summed (the sample's ``target_mask``); the
            prediction is the largest sum (``golden.run.predict``).

        Returns
        -------
        numpy.ndarray or None
            The summed readouts (int64, ``n_out``), or ``None`` without ``score``.

        Raises
        ------
        LearningUnsupportedError
            ``learn`` has a learning step but the core has no learning engine.
        ValueError
            The masks do not have one entry per step, or ``learn`` comes without ``label``.
        """
        spikes = np.asarray(spikes)
        if spikes.ndim != 2:
            raise ValueError(f"spikes must have shape (T, n_in), got {spikes.shape}")
        steps = spikes.shape[0]
        masks = {}
        for name, mask in (("learn", learn), ("score", score)):
            mask = np.zeros(steps, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
            if mask.shape != (steps,):
                raise ValueError(f"{name} must have one entry per step ({steps}), got shape "
                                 f"{mask.shape}")
            masks[name] = mask
        learning = bool(masks["learn"].any())
        if learning and label is None:
            raise ValueError("label is required when the sample has learning steps")
        if learning:
            self._require_learning("a learning step")
        self.clear()
        if label is not None and (learning or self.learning):
            self.set_label(label)
        total = None if score is None else np.zeros(
            int(self._net.n_out) if self._net is not None else self.info.max_out, np.int64)
        for t in range(steps):
            self.step(spikes[t], learn=bool(masks["learn"][t]))
            if total is not None and masks["score"][t]:
                total += self.read_readouts()
        return total

    def export_network(self):
        """The loaded network with the weights, delays and neuron parameters the core holds
        now.

        Reads every synapse word and every axonal delay of the network loaded through this
        object (:meth:`load_network`), and the ``beta``, ``coupling`` and ``rho`` of its
        neuron options (which learn on a core built with ``neuron_learning``), and returns a :class:`golden.network.Network` with the
        same structure, formats and learning rule: after online learning it is the learned
        network, comparable with :meth:`golden.model.GoldenCore.export_network`.

        Raises
        ------
        RuntimeError
            No network was loaded through this object.
        """
        from golden.network import Network
        from rtl import memory_map as mm

        net = self._net
        if net is None:
            raise RuntimeError("export_network needs a network loaded with load_network() "
                               "first (it gives the layout of the synapse memory)")
        params = self.params
        n_synapses = net.n_synapses
        words = self.read(mm.address(mm.REGION_SYN), n_synapses)
        data = net.to_dict()
        for proj in net.projections():
            post_count, pre_count = net.projection_shape(proj)
            kind = net.delay_kind(proj)
            if proj == "rec" and getattr(net, "rec_kernel", 0):
                # A recurrent kernel: its taps at the top of SYN, its delays axonal or none.
                first = mm.kernel_offset(net, 0, params)
                taps = self.read(mm.address(mm.REGION_SYN, first), net.rec_kernel)
                data["w_rec"] = [mm.unpack_synapse(word, params)[0] for word in taps]
                if kind == "axonal":
                    data["d_rec"] = self.read(
                        mm.address(mm.REGION_AXON, mm.axon_offset("rec", 0, params)), pre_count)
                continue
            w = np.zeros((post_count, pre_count), dtype=np.int64)
            d = np.zeros((post_count, pre_count), dtype=np.int64)
            for post in range(post_count):
                for pre in range(pre_count):
                    offset = mm.synapse_offset(net, proj, post, pre)
                    w[post, pre], d[post, pre] = mm.unpack_synapse(words[offset], params)
            data[f"w_{proj}"] = w.tolist()
            if kind == "synaptic":
                data[f"d_{proj}"] = d.tolist()
            elif kind == "axonal":
                first = mm.axon_offset(proj, 0, params)
                data[f"d_{proj}"] = self.read(mm.address(mm.REGION_AXON, first), pre_count)
        for name in net.neuron_parameters():
            first = mm.neuron_offset(name.upper(), 0, params)
            data[name] = self.read(mm.address(mm.REGION_NEURON, first), net.n_hidden)
        return Network.from_dict(data)

    # -- helpers --------------------------------------------------------------------------

    def _require_learning(self, what: str) -> None:
        if not self.learning:
            raise LearningUnsupportedError(
                f"{what} needs a core built with learning, but the device's core has no "
                f"learning engine (PING reports learning = 0, protocol version "
                f"{self.info.version})")

    def _check_range(self, addr: int, count: int) -> None:
        proto.check_range(addr, count)  # argument types and the address space first
        if self._sizes is None:
            self.ping()
        proto.check_range(addr, count, self._sizes)


def _bursts(writes: Iterable[tuple[int, int]]) -> list[tuple[int, list[int]]]:
    """Group ``(addr, data)`` writes into runs of consecutive addresses."""
    runs: list[tuple[int, list[int]]] = []
    for addr, data in writes:
        if runs and runs[-1][0] + len(runs[-1][1]) == addr:
            runs[-1][1].append(data)
        else:
            runs.append((addr, [data]))
    return runs


def _name(command: int) -> str:
    try:
        return Command(command).name
    except ValueError:
        return f"0x{command:02X}"
