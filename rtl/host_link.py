"""Host link: the framed serial protocol of ``docs/protocol.md`` in gateware.

:class:`HostLink` sits between a UART (byte streams) and a :class:`~rtl.core.Core`. It parses
request frames, checks their CRC, length, arguments and address range, and only then
touches the core: it masters the core's configuration bus (``WRITE``, ``READ``), runs a time
step (``STEP``; a learning step when the frame has the ``LEARN`` flag and the core was built
with learning), clears the state (``CLEAR``), and answers every frame with one reply frame.

A frame is received completely before anything is checked, and nothing reaches the core
before every check has passed. The data words of a ``WRITE`` wait in a small buffer memory
until the CRC byte has been seen, so a corrupted or out-of-range ``WRITE`` writes no word
at all. ``READ`` data goes straight from the bus to the transmitter, one word at a time, so
reads need no buffer.

Command and status codes, the ``PING`` reply and the address ranges come from
:mod:`host.protocol`, which the host driver uses too.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from host.protocol import (MAX_READ_WORDS, SYNC_REPLY, SYNC_REQUEST, Command, PingInfo,
                           Status, StepFlag, crc8, region_sizes, spike_bytes)

from .bus import ADDR_WIDTH, ConfigBus
from .params import CoreParams

__all__ = ["HostLink", "DEFAULT_MAX_WRITE_WORDS", "region_sizes", "crc8_update"]

#: Default capacity of the ``WRITE`` buffer in words: 256 bytes, half an iCE40 block RAM.
DEFAULT_MAX_WRITE_WORDS = 64
# A WRITE payload (address word + data words) must fit the 16-bit length field.
_MAX_WRITE_WORDS_LIMIT = (0xFFFF - 4) // 4
_STATUS_PAYLOAD_BYTES = 6


def crc8_update(crc, byte):
    """Gateware for one byte of :func:`host.protocol.crc8`: the next CRC value.

    CRC-8 is linear over GF(2): the table entry of ``crc ^ byte`` is the XOR of the entries
    of its single bits, so every output bit is an XOR of a few input bits (no table, no
    8-step shift chain).
    """
    x = crc ^ byte
    bits = []
    for out_bit in range(8):
        taps = [x[k] for k in range(8) if crc8([1 << k]) >> out_bit & 1]
        value = taps[0]
        for tap in taps[1:]:
            value = value ^ tap
        bits.append(value)
    return Cat(*bits)


class HostLink(wiring.Component):
    """Frame parser, command executor and reply generator of the host link.

    Parameters
    ----------
    params : CoreParams
        Parameters of the core on the other side (spike vector sizes, memory map, and the
        capacity reported by ``PING``).
    timeout_cycles : int
        Inter-byte timeout in clock cycles: a frame whose next byte does not arrive within
        this many cycles is abandoned with a ``TIMEOUT`` reply, and the parser goes back to
        looking for a sync byte. Must be at least 2.
    max_write_words : int
        Most data words one ``WRITE`` frame may carry (the depth of the write buffer), in
        ``[1, 16382]``; reported by ``PING``.

    Attributes
    ----------
    rx : In(stream.Signature(8))
        Received bytes. Always ready: bytes that arrive while the link executes a command or
        sends a reply are dropped (the host sends one frame and waits for its reply).
    tx : Out(stream.Signature(8))
        Bytes to transmit.
    bus : Out(ConfigBus())
        Configuration bus of the core; the link is its only initiator.
    start, clear : Out(1)
        One-cycle pulses to the core's ``start`` and ``clear`` inputs.
    in_spikes : Out(max_in)
        Input spike vector of the ``STEP`` being run.
    learn : Out(1)
        Only on a core built with ``learning``: the ``STEP`` being started has the learn
        flag (valid with ``start``, for the core's ``learn`` input).
    busy, done : In(1)
        The core's ``busy`` and ``done`` outputs.
    out_spikes : In(max_hidden)
        The core's hidden spike vector, taken when ``done`` pulses.

    Raises
    ------
    TypeError
        A parameter has the wrong type.
    ValueError
        ``timeout_cycles`` or ``max_write_words`` is out of range.
    """

    def __init__(self, params: CoreParams, *, timeout_cycles: int,
                 max_write_words: int = DEFAULT_MAX_WRITE_WORDS):
        if not isinstance(params, CoreParams):
            raise TypeError(f"params must be a CoreParams, got {type(params).__name__}")
        for name, value, lo, hi in (
                ("timeout_cycles", timeout_cycles, 2, None),
                ("max_write_words", max_write_words, 1, _MAX_WRITE_WORDS_LIMIT)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
            if value < lo or (hi is not None and value > hi):
                allowed = f"[{lo}, {hi}]" if hi is not None else f"at least {lo}"
                raise ValueError(f"{name} must be {'in ' if hi else ''}{allowed}, got {value}")
        self._params = params
        self._timeout_cycles = timeout_cycles
        self._max_write_words = max_write_words
        members = {
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "bus": Out(ConfigBus()),
            "start": Out(1),
            "clear": Out(1),
            "in_spikes": Out(params.max_in),
            "busy": In(1),
            "done": In(1),
            "out_spikes": In(params.max_hidden),
        }
        if params.learning:
            members["learn"] = Out(1)
        super().__init__(members)

    @property
    def params(self) -> CoreParams:
        return self._params

    @property
    def timeout_cycles(self) -> int:
        return self._timeout_cycles

    @property
    def max_write_words(self) -> int:
        return self._max_write_words

    @property
    def ping_info(self) -> PingInfo:
        """What this link answers to ``PING``."""
        return PingInfo.from_params(self._params, self._max_write_words)

    def elaborate(self, platform):
        m = Module()
        p = self._params
        in_bytes = spike_bytes(p.max_in)
        out_bytes = spike_bytes(p.max_hidden)
        max_write_len = 4 + 4 * self._max_write_words

        # -- received frame ------------------------------------------------------------------

        cmd = Signal(8)
        length = Signal(16)
        index = Signal(16)          # payload byte being received
        rx_crc = Signal(8)
        crc_ok = Signal()
        silence = Signal(range(self._timeout_cycles))

        # Arguments are collected as the payload streams in, whatever the command; only the
        # ones of the frame's command are used.
        arg_addr = Signal(32)       # payload bytes 0-3 (WRITE, READ)
        arg_count = Signal(16)      # payload bytes 4-5 (READ)
        word = Signal(32)           # the last four payload bytes
        step_spikes = Signal(8 * in_bytes)  # payload bytes 0 .. in_bytes - 1 (STEP)
        step_flags = Signal(8)      # payload byte in_bytes (STEP)

        m.submodules.write_buffer = write_buffer = Memory(
            shape=32, depth=self._max_write_words, init=[])
        buffer_w = write_buffer.write_port()
        buffer_r = write_buffer.read_port()

        rx_byte = self.rx.payload
        got = Signal()
        m.d.comb += [
            self.rx.ready.eq(1),
            got.eq(self.rx.valid),
            self.in_spikes.eq(step_spikes[:p.max_in]),
        ]

        # -- execution and reply state -------------------------------------------------------

        status = Signal(8)
        reply_len = Signal(16)
        last_word = Signal(16)      # index of the last word of the WRITE burst
        word_index = Signal(16)
        # A burst never leaves its region, so only the offset counts; the region stays put.
        bus_offset = Signal(16)
        pay_index = Signal(16)      # reply payload byte being sent
        tx_crc = Signal(8)
        # READ words and STEP spikes leave through this register, low byte first.
        out_shift = Signal(max(32, 8 * out_bytes))

        last_error = Signal(8)
        error_count = Signal(16)
        frame_count = Signal(16)

        # -- checks (evaluated in the CHECK state, from the registers of the whole frame) ----

        allowed_flags = int(StepFlag.LEARN) if p.learning else 0
        known_cmd = Signal()
        len_ok = Signal()
        arg_ok = Signal()
        addr_ok = Signal()
        uses_core = Signal()
        burst_words = Signal(16)
        ok_reply_len = Signal(16)
        m.d.comb += [
            arg_ok.eq(1),
            known_cmd.eq(Cat(cmd == command for command in Command).any()),
        ]
        with m.Switch(cmd):
            with m.Case(Command.PING, Command.CLEAR, Command.STATUS):
                m.d.comb += len_ok.eq(length == 0)
            with m.Case(Command.WRITE):
                m.d.comb += [
                    len_ok.eq((length >= 8) & (length[:2] == 0) & (length <= max_write_len)),
                    burst_words.eq((length - 4)[2:]),
                ]
            with m.Case(Command.READ):
                m.d.comb += [
                    len_ok.eq(length == 6),
                    arg_ok.eq((arg_count != 0) & (arg_count <= MAX_READ_WORDS)),
                    burst_words.eq(arg_count),
                ]
            with m.Case(Command.STEP):
                m.d.comb += [
                    len_ok.eq(length == in_bytes + 1),
                    # Reserved bits, and the learn flag on a core without the learning
                    # engine, are refused rather than ignored: the host would otherwise
                    # believe that the core learned.
                    arg_ok.eq((step_flags & ~allowed_flags) == 0),
                ]
        with m.Switch(cmd):
            with m.Case(Command.PING):
                m.d.comb += ok_reply_len.eq(len(self.ping_info.to_payload()))
            with m.Case(Command.READ):
                m.d.comb += ok_reply_len.eq(arg_count << 2)
            with m.Case(Command.STEP):
                m.d.comb += ok_reply_len.eq(out_bytes)
            with m.Case(Command.STATUS):
                m.d.comb += ok_reply_len.eq(_STATUS_PAYLOAD_BYTES)
        m.d.comb += uses_core.eq((cmd == Command.WRITE) | (cmd == Command.READ)
                                 | (cmd == Command.STEP) | (cmd == Command.CLEAR))

        # A burst must lie inside one region: start and end are checked before any access.
        burst_end = Signal(17)
        region_words = Signal(17)
        m.d.comb += burst_end.eq(arg_addr[:16] + burst_words)
        with m.Switch(arg_addr[16:20]):
            for region, words in region_sizes(p).items():
                with m.Case(region):
                    m.d.comb += region_words.eq(words)
        with m.If((cmd == Command.WRITE) | (cmd == Command.READ)):
            m.d.comb += addr_ok.eq((arg_addr[ADDR_WIDTH:] == 0) & (burst_end <= region_words))
        with m.Else():
            m.d.comb += addr_ok.eq(1)

        # The first failing check, in the order of docs/protocol.md, gives the status.
        verdict = Signal(8)
        with m.If(~crc_ok):
            m.d.comb += verdict.eq(Status.BAD_CRC)
        with m.Elif(~known_cmd):
            m.d.comb += verdict.eq(Status.BAD_CMD)
        with m.Elif(~len_ok):
            m.d.comb += verdict.eq(Status.BAD_LEN)
        with m.Elif(~arg_ok):
            m.d.comb += verdict.eq(Status.BAD_ARG)
        with m.Elif(~addr_ok):
            m.d.comb += verdict.eq(Status.BAD_ADDR)
        with m.Elif(uses_core & self.busy):
            m.d.comb += verdict.eq(Status.BUSY)
        with m.Else():
            m.d.comb += verdict.eq(Status.OK)

        # -- reply bytes ---------------------------------------------------------------------

        payload_byte = Signal(8)
        with m.Switch(cmd):
            with m.Case(Command.READ, Command.STEP):
                m.d.comb += payload_byte.eq(out_shift[:8])
            with m.Case(Command.PING):
                with m.Switch(pay_index):
                    for number, value in enumerate(self.ping_info.to_payload()):
                        with m.Case(number):
                            m.d.comb += payload_byte.eq(value)
            with m.Case(Command.STATUS):
                status_bytes = [self.busy, last_error, error_count[:8], error_count[8:],
                                frame_count[:8], frame_count[8:]]
                assert len(status_bytes) == _STATUS_PAYLOAD_BYTES
                with m.Switch(pay_index):
                    for number, value in enumerate(status_bytes):
                        with m.Case(number):
                            m.d.comb += payload_byte.eq(value)

        def send(byte, next_state):
            """Offer ``byte`` to the transmitter; go to ``next_state`` once it is taken."""
            m.d.comb += self.tx.payload.eq(byte)
            with m.If(self.tx.ready):
                m.next = next_state

        # -- frame reception -----------------------------------------------------------------

        def receive():
            """Count silence between the bytes of a frame; abandon the frame on a timeout.

            Returns the condition under which the state handles a received byte.
            """
            with m.If(got):
                m.d.sync += silence.eq(0)
            with m.Elif(silence == self._timeout_cycles - 1):
                m.d.sync += [status.eq(Status.TIMEOUT), reply_len.eq(0)]
                m.next = "REPLY_SYNC"
            with m.Else():
                m.d.sync += silence.eq(silence + 1)
            return got

        m.d.comb += buffer_r.addr.eq(word_index)

        with m.FSM(name="link") as fsm:
            with m.State("IDLE"):
                with m.If(got & (rx_byte == SYNC_REQUEST)):
                    # cmd is cleared so that a frame that times out before its command byte
                    # is answered with command 0, not the previous frame's command.
                    m.d.sync += [rx_crc.eq(0), cmd.eq(0), silence.eq(0)]
                    m.next = "CMD"

            with m.State("CMD"):
                with m.If(receive()):
                    m.d.sync += [cmd.eq(rx_byte), rx_crc.eq(crc8_update(rx_crc, rx_byte))]
                    m.next = "LEN_LO"

            with m.State("LEN_LO"):
                with m.If(receive()):
                    m.d.sync += [length[:8].eq(rx_byte),
                                 rx_crc.eq(crc8_update(rx_crc, rx_byte))]
                    m.next = "LEN_HI"

            with m.State("LEN_HI"):
                with m.If(receive()):
                    m.d.sync += [length[8:].eq(rx_byte), index.eq(0),
                                 rx_crc.eq(crc8_update(rx_crc, rx_byte))]
                    with m.If(Cat(length[:8], rx_byte) == 0):
                        m.next = "CRC"
                    with m.Else():
                        m.next = "PAYLOAD"

            with m.State("PAYLOAD"):
                with m.If(receive()):
                    next_word = Cat(word[8:], rx_byte)
                    m.d.sync += [
                        rx_crc.eq(crc8_update(rx_crc, rx_byte)),
                        index.eq(index + 1),
                        word.eq(next_word),
                    ]
                    with m.If(index < 4):
                        m.d.sync += arg_addr.eq(Cat(arg_addr[8:], rx_byte))
                    with m.If((index >= 4) & (index < 6)):
                        m.d.sync += arg_count.eq(Cat(arg_count[8:], rx_byte))
                    with m.If(index < in_bytes):
                        m.d.sync += step_spikes.eq(Cat(step_spikes[8:], rx_byte))
                    with m.If(index == in_bytes):
                        m.d.sync += step_flags.eq(rx_byte)
                    # Data word n of a WRITE is payload bytes 4n + 4 .. 4n + 7. Bytes past
                    # the buffer are dropped; such a frame fails its length check anyway.
                    m.d.comb += [
                        buffer_w.addr.eq((index >> 2) - 1),
                        buffer_w.data.eq(next_word),
                        buffer_w.en.eq((index[:2] == 3) & (index >= 4)
                                       & (index < max_write_len)),
                    ]
                    with m.If(index + 1 == length):
                        m.next = "CRC"

            with m.State("CRC"):
                with m.If(receive()):
                    m.d.sync += crc_ok.eq(rx_byte == rx_crc)
                    m.next = "CHECK"

            # -- execution -------------------------------------------------------------------

            with m.State("CHECK"):
                m.d.sync += [
                    status.eq(verdict),
                    reply_len.eq(Mux(verdict == Status.OK, ok_reply_len, 0)),
                    last_word.eq(burst_words - 1),
                    word_index.eq(0),
                    bus_offset.eq(arg_addr[:16]),
                ]
                with m.If(verdict != Status.OK):
                    m.next = "REPLY_SYNC"
                with m.Elif(cmd == Command.WRITE):
                    m.next = "WRITE_FETCH"
                with m.Elif(cmd == Command.STEP):
                    m.next = "STEP_START"
                with m.Elif(cmd == Command.CLEAR):
                    m.next = "CLEAR_START"
                with m.Else():
                    m.next = "REPLY_SYNC"

            with m.State("WRITE_FETCH"):
                # The buffer's read port delivers word ``word_index`` in the next cycle.
                m.next = "WRITE_BUS"

            with m.State("WRITE_BUS"):
                m.d.sync += [bus_offset.eq(bus_offset + 1), word_index.eq(word_index + 1)]
                with m.If(word_index == last_word):
                    m.next = "REPLY_SYNC"
                with m.Else():
                    m.next = "WRITE_FETCH"

            with m.State("STEP_START"):
                # ``start`` is high in this state (see the strobes after the FSM).
                m.next = "STEP_WAIT"

            with m.State("STEP_WAIT"):
                with m.If(self.done):
                    m.d.sync += out_shift.eq(self.out_spikes)
                    m.next = "REPLY_SYNC"

            with m.State("CLEAR_START"):
                # ``clear`` is high in this state.
                m.next = "CLEAR_WAIT"

            with m.State("CLEAR_WAIT"):
                # The core raised busy in the cycle after the clear pulse.
                with m.If(~self.busy):
                    m.next = "REPLY_SYNC"

            # -- reply -----------------------------------------------------------------------

            with m.State("REPLY_SYNC"):
                m.d.sync += pay_index.eq(0)
                send(SYNC_REPLY, "REPLY_CMD")

            with m.State("REPLY_CMD"):
                send(cmd, "REPLY_STATUS")

            with m.State("REPLY_STATUS"):
                send(status, "REPLY_LEN_LO")

            with m.State("REPLY_LEN_LO"):
                send(reply_len[:8], "REPLY_LEN_HI")

            with m.State("REPLY_LEN_HI"):
                send(reply_len[8:], "REPLY_PAYLOAD")
                with m.If(self.tx.ready):
                    with m.If(reply_len == 0):
                        m.next = "REPLY_CRC"
                    with m.Elif(cmd == Command.READ):
                        m.next = "READ_ISSUE"

            with m.State("READ_ISSUE"):
                # ``r_en`` is high in this state; the word is on ``r_data`` in the next.
                m.d.sync += bus_offset.eq(bus_offset + 1)
                m.next = "READ_TAKE"

            with m.State("READ_TAKE"):
                m.d.sync += out_shift.eq(self.bus.r_data)
                m.next = "REPLY_PAYLOAD"

            with m.State("REPLY_PAYLOAD"):
                send(payload_byte, "REPLY_PAYLOAD")
                with m.If(self.tx.ready):
                    m.d.sync += [pay_index.eq(pay_index + 1), out_shift.eq(out_shift >> 8)]
                    with m.If(pay_index + 1 == reply_len):
                        m.next = "REPLY_CRC"
                    with m.Elif((cmd == Command.READ) & (pay_index[:2] == 3)):
                        m.next = "READ_ISSUE"

            with m.State("REPLY_CRC"):
                send(tx_crc, "IDLE")
                with m.If(self.tx.ready):
                    with m.If(status == Status.OK):
                        m.d.sync += frame_count.eq(frame_count + 1)
                    with m.Else():
                        m.d.sync += [error_count.eq(error_count + 1), last_error.eq(status)]

        # One CRC update on the byte the transmitter takes, whichever state offered it.
        with m.If(fsm.ongoing("REPLY_SYNC")):
            m.d.sync += tx_crc.eq(0)
        with m.Elif(self.tx.valid & self.tx.ready & ~fsm.ongoing("REPLY_CRC")):
            m.d.sync += tx_crc.eq(crc8_update(tx_crc, self.tx.payload))

        # Strobes, the bus and ``tx.valid`` are single unconditional assignments (continuous
        # assignments in Verilog) rather than assignments inside the states: an event-driven
        # simulator may never evaluate a combinational process whose inputs have not changed
        # since time 0, which would leave them undefined until the first frame.
        m.d.comb += [
            self.tx.valid.eq(Cat(fsm.ongoing(state) for state in (
                "REPLY_SYNC", "REPLY_CMD", "REPLY_STATUS", "REPLY_LEN_LO", "REPLY_LEN_HI",
                "REPLY_PAYLOAD", "REPLY_CRC")).any()),
            self.bus.addr.eq(Cat(bus_offset, arg_addr[16:ADDR_WIDTH])),
            self.bus.w_data.eq(buffer_r.data),
            self.bus.w_en.eq(fsm.ongoing("WRITE_BUS")),
            self.bus.r_en.eq(fsm.ongoing("READ_ISSUE")),
            self.start.eq(fsm.ongoing("STEP_START")),
            self.clear.eq(fsm.ongoing("CLEAR_START")),
        ]
        if p.learning:
            m.d.comb += self.learn.eq(fsm.ongoing("STEP_START")
                                      & (step_flags & StepFlag.LEARN).any())
        return m
