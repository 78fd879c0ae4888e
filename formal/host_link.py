"""Proof: the host link acts only on well-formed frames and always returns to idle.

:class:`HostLinkHarness` puts :class:`rtl.host_link.HostLink` on its byte-stream interface
(the UART is cut off: received bytes arrive on ``rx`` as a free stream, one per cycle at
most) beside a *reference parser*: an independent, deliberately plain model of
``docs/protocol.md`` section 3 that watches the same bytes. The reference tracks the frame
(sync, command, length, payload, CRC, inter-byte timeout), computes the CRC bit by bit (the
link uses a table-free XOR form), and decides the reply status with the checks in the order of
the protocol. The core behind the link is abstract: ``busy`` rises after ``start`` or
``clear`` and falls after a free number of cycles (``done`` pulses after a step), and the read
data, the hidden spikes and the transmitter's ``ready`` are free.

Asserted in every cycle, for every byte stream (within the depth):

1. **Nothing reaches the core from a bad frame.** A bus write happens only while an ``OK``
   ``WRITE`` executes, at the next address of its range, with the frame's data word; a bus
   read only for an ``OK`` ``READ``, inside its range; ``start`` only once per ``OK``
   ``STEP`` (with the frame's spike bits); ``clear`` only once per ``OK`` ``CLEAR``. A frame
   with a bad CRC, an unknown command, a wrong length, a bad argument, an address outside the
   memory map or a timeout causes none of these.
2. **Exactly one reply per frame, and the right one.** Reply bytes are sent only after a
   frame ended; they are the sync byte, the echoed command (0 when a frame timed out before
   its command byte), the reference status, the length (0 unless ``OK``), the payload
   (``PING`` words, the words read, the step's spikes, the ``STATUS`` counters) and the CRC.
   A ``WRITE`` has written all of its words and a ``STEP`` or ``CLEAR`` has finished before
   the reply starts.
3. **Idle exactly when the protocol says.** The link's parser is in ``IDLE`` (looking for a
   sync byte) exactly when the reference is, and in the same receiving state otherwise: a
   frame ends (by its CRC byte or by the timeout) at the same cycle in both, and the link
   is back in ``IDLE`` in the cycle after its reply's last byte.
4. **Bounded return to idle** (task ``live``): with a transmitter that takes a byte at least
   every other cycle and a core that finishes within ``core_latency`` cycles, the time from
   the end of a frame to the end of its reply is at most
   ``12 + 2 * max_write_words + core_latency + 2 * (6 + LEN) + LEN / 2`` cycles.

Properties 1-3 make ``HostLink`` a refinement of the reference parser; 4 bounds its latency.
The proof is a bounded model check: every byte stream of ``depth`` cycles from reset, which
covers every frame kind (the longest ``OK`` frame of the small core used, a ``WRITE`` of
two words, takes 17 bytes and its reply 6) and sequences of short frames.
"""

from __future__ import annotations

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, C, Cat, Elaboratable, Module, Mux, ResetSignal, Signal

from host.protocol import (
    MAX_READ_WORDS,
    SYNC_REPLY,
    SYNC_REQUEST,
    Command,
    PingInfo,
    Status,
    region_sizes,
    spike_bytes,
)
from rtl.host_link import HostLink
from rtl.params import CoreParams

from .introspect import find_signal, fsm_state

__all__ = ["HOST_LINK_CONFIGS", "HostLinkHarness", "crc8_bitwise"]

#: A core whose memory map has regions of odd sizes (so range checks meet non-powers of two)
#: and whose spike vectors take one byte each.
SMALL_CORE = CoreParams(max_in=3, max_hidden=2, max_out=1, d_max=2, weight_bits=2,
                        decay_bits=1, v_bits=4, y_bits=4, recurrent=True)

#: name -> (harness keyword arguments, quick depth, deep depth). The solver's time per cycle
#: grows with the depth (about 2 s per cycle at 12, 20 s at 16, a minute and more beyond 18),
#: so the test suite stops at the end of the short frames, and the deep run reaches into
#: ``READ`` and ``WRITE`` frames. ``--depth`` goes further at the price of hours.
HOST_LINK_CONFIGS = {
    # Any byte timing, transmitter and core timing: safety and refinement (properties 1-3).
    "safety": (dict(params=SMALL_CORE), 12, 18),
    # Fair transmitter, bounded core: the return to idle is bounded as well (property 4).
    "live": (dict(params=SMALL_CORE, live=True), 12, 18),
    # Back-to-back bytes: the deep depth covers a one-word WRITE (13 bytes) up to its bus
    # write and a READ (11 bytes) up to its first word on the line.
    "burst": (dict(params=SMALL_CORE, burst=True), 12, 20),
}

# Reference parser states.
_IDLE, _CMD, _LEN_LO, _LEN_HI, _PAYLOAD, _CRC, _EXEC = range(7)
# The link's FSM states that correspond one to one to the receiving reference states.
_RECEIVING = {_CMD: "CMD", _LEN_LO: "LEN_LO", _LEN_HI: "LEN_HI", _PAYLOAD: "PAYLOAD",
              _CRC: "CRC"}


def crc8_bitwise(m: Module, crc, byte):
    """CRC-8 (polynomial 0x07, MSB first) of one more byte, one bit at a time.

    The textbook shift-register form, as an independent check of the link's table-free
    :func:`rtl.host_link.crc8_update`. Every intermediate value is a signal of ``m``, so the
    expression does not grow with the number of bits. Returns the new CRC.
    """
    for bit in reversed(range(8)):
        feedback = crc[7] ^ byte[bit]
        shifted = Cat(C(0, 1), crc[:7])
        step = Signal(8)
        m.d.comb += step.eq(Mux(feedback, shifted ^ 0x07, shifted))
        crc = step
    return crc


class HostLinkHarness(Elaboratable):
    """:class:`~rtl.host_link.HostLink`, a free byte stream, an abstract core and the
    reference parser with the properties of the module docstring.

    Parameters
    ----------
    params : CoreParams
        Capacity of the core behind the link (memory map, spike vector sizes).
    timeout_cycles : int
        Inter-byte timeout of the link.
    max_write_words : int
        ``WRITE`` buffer of the link.
    live : bool
        Assume a fair transmitter (``ready`` at least every other cycle) and a core that
        finishes within ``core_latency`` cycles, and assert the bound on the reply time.
    core_latency : int
        Longest step or clear of the abstract core in the ``live`` task.
    burst : bool
        Assume that the bytes of a frame arrive back to back, that the transmitter is always
        ready and that the core finishes in one cycle: the same depth then covers longer
        frames (a whole two-word ``WRITE`` and its reply).
    """

    def __init__(self, params: CoreParams = SMALL_CORE, *, timeout_cycles: int = 3,
                 max_write_words: int = 2, live: bool = False, core_latency: int = 2,
                 burst: bool = False):
        self.params = params
        self.timeout_cycles = timeout_cycles
        self.max_write_words = max_write_words
        self.live = live
        self.core_latency = core_latency
        self.burst = burst

    def elaborate(self, platform):
        p = self.params
        m = Module()
        link = HostLink(p, timeout_cycles=self.timeout_cycles,
                        max_write_words=self.max_write_words)
        # Elaborated here (not added as a component) so the harness can read its FSM.
        link._MustUse__silence = True
        link_module = link.elaborate(platform)
        m.submodules.link = link_module

        def link_in(*states):
            return fsm_state(link_module, "link", *states)

        in_bytes = spike_bytes(p.max_in)
        out_bytes = spike_bytes(p.max_hidden)
        words = self.max_write_words

        # -- environment ---------------------------------------------------------------------

        # No reset after the initial state: the proof starts from the registers' init values.
        m.d.comb += Assume(~ResetSignal())

        got = Signal()
        byte = Signal(8)
        m.d.comb += [
            got.eq(AnySeq(1)),
            byte.eq(AnySeq(8)),
            link.rx.valid.eq(got),
            link.rx.payload.eq(byte),
        ]
        tx_ready = Signal()
        m.d.comb += [tx_ready.eq(AnySeq(1)), link.tx.ready.eq(tx_ready)]
        tx_take = Signal()
        m.d.comb += tx_take.eq(link.tx.valid & tx_ready)

        # The abstract core: busy from the cycle after start/clear until a free (or, in the
        # live task, bounded) number of cycles later; done in the first cycle after a step.
        core_busy = Signal()
        core_step = Signal()
        core_done = Signal()
        core_age = Signal(range(self.core_latency + 2))
        finish = Signal()
        m.d.comb += [
            finish.eq(AnySeq(1)),
            link.busy.eq(core_busy),
            link.done.eq(core_done),
            link.out_spikes.eq(AnySeq(p.max_hidden)),
            link.bus.r_data.eq(AnySeq(32)),
        ]
        m.d.sync += core_done.eq(0)
        with m.If(~core_busy), m.If(link.clear | link.start):
            m.d.sync += [core_busy.eq(1), core_step.eq(~link.clear), core_age.eq(0)]
        with m.Else():
            m.d.sync += core_age.eq(core_age + 1)
            with m.If(finish):
                m.d.sync += [core_busy.eq(0), core_done.eq(core_step)]
        if self.live:
            ready_before = Signal()
            m.d.sync += ready_before.eq(tx_ready)
            m.d.comb += [
                Assume(~(link.tx.valid & ~tx_ready & ~ready_before)),
                Assume(~(core_busy & (core_age == self.core_latency) & ~finish)),
            ]

        # -- reference parser ----------------------------------------------------------------

        state = Signal(range(7))
        cmd = Signal(8)
        length = Signal(16)
        index = Signal(16)
        rx_crc = Signal(8)
        gap = Signal(range(self.timeout_cycles))
        addr = Signal(32)
        count = Signal(16)
        spikes = Signal(8 * in_bytes)
        flags = Signal(8)
        data = [Signal(32, name=f"data{k}") for k in range(words)]
        receiving = Signal()
        m.d.comb += receiving.eq((state >= _CMD) & (state <= _CRC))

        if self.burst:
            # Back-to-back frames: a byte in every receiving cycle, a transmitter that is
            # always ready and a core that finishes in one cycle. Fewer free choices per
            # cycle, so the same time reaches deeper into long frames.
            m.d.comb += [
                Assume(~receiving | got),
                Assume(tx_ready),
                Assume(~core_busy | finish),
            ]

        # Verdict of the frame, taken when its CRC byte arrives.
        status = Signal(8)
        reply_len = Signal(16)
        ok = Signal()
        burst = Signal(16)          # WRITE: data words; READ: count
        known = Signal()
        len_ok = Signal()
        arg_ok = Signal()
        addr_ok = Signal()
        region_size = Signal(17)
        m.d.comb += [
            known.eq((cmd >= Command.PING) & (cmd <= Command.STATUS)),
            burst.eq(Mux(cmd == Command.READ, count, (length - 4) >> 2)),
        ]
        with m.Switch(cmd):
            with m.Case(Command.PING, Command.CLEAR, Command.STATUS):
                m.d.comb += [len_ok.eq(length == 0), arg_ok.eq(1)]
            with m.Case(Command.WRITE):
                m.d.comb += [
                    # (Slices instead of % and *: a divider or multiplier is slow for the solver.)
                    len_ok.eq((length >= 8) & (length <= 4 + 4 * words) & (length[:2] == 0)),
                    arg_ok.eq(1),
                ]
            with m.Case(Command.READ):
                m.d.comb += [
                    len_ok.eq(length == 6),
                    arg_ok.eq((count >= 1) & (count <= MAX_READ_WORDS)),
                ]
            with m.Case(Command.STEP):
                m.d.comb += [len_ok.eq(length == in_bytes + 1), arg_ok.eq(flags == 0)]
        for region, size in region_sizes(p).items():
            with m.If(addr[16:20] == region):
                m.d.comb += region_size.eq(size)
        with m.If((cmd == Command.WRITE) | (cmd == Command.READ)):
            m.d.comb += addr_ok.eq((addr[20:] == 0)
                                   & (addr[:16] + burst <= region_size))
        with m.Else():
            m.d.comb += addr_ok.eq(1)

        verdict = Signal(8)
        crc_ok = Signal()
        m.d.comb += crc_ok.eq(byte == rx_crc)
        with m.If(~crc_ok):
            m.d.comb += verdict.eq(Status.BAD_CRC)
        with m.Elif(~known):
            m.d.comb += verdict.eq(Status.BAD_CMD)
        with m.Elif(~len_ok):
            m.d.comb += verdict.eq(Status.BAD_LEN)
        with m.Elif(~arg_ok):
            m.d.comb += verdict.eq(Status.BAD_ARG)
        with m.Elif(~addr_ok):
            m.d.comb += verdict.eq(Status.BAD_ADDR)
        with m.Else():
            m.d.comb += verdict.eq(Status.OK)
        ok_len = Signal(16)
        with m.Switch(cmd):
            with m.Case(Command.PING):
                m.d.comb += ok_len.eq(len(PingInfo.from_params(p, words).to_payload()))
            with m.Case(Command.READ):
                m.d.comb += ok_len.eq(Cat(C(0, 2), count))
            with m.Case(Command.STEP):
                m.d.comb += ok_len.eq(out_bytes)
            with m.Case(Command.STATUS):
                m.d.comb += ok_len.eq(6)

        # Execution and reply bookkeeping.
        writes = Signal(16)         # bus writes of this frame
        reads = Signal(16)          # bus reads of this frame
        starts = Signal(2)
        clears = Signal(2)
        stepped = Signal()          # done seen after the start
        step_out = Signal(p.max_hidden)
        read_before = Signal()
        read_word = Signal(32)
        tx_index = Signal(17)
        tx_crc = Signal(8)
        exec_cycles = Signal(range(1 << 12))
        error_count = Signal(16)
        frame_count = Signal(16)
        last_error = Signal(8)

        def end_frame(frame_status, frame_len):
            m.d.sync += [
                state.eq(_EXEC), status.eq(frame_status), reply_len.eq(frame_len),
                ok.eq(frame_status == Status.OK), writes.eq(0), reads.eq(0), starts.eq(0),
                clears.eq(0), stepped.eq(0), tx_index.eq(0), tx_crc.eq(0), exec_cycles.eq(0),
            ]

        # Receiving: a byte restarts the gap count; ``timeout_cycles`` cycles without one end
        # the frame with TIMEOUT.
        with m.If(receiving):
            with m.If(got):
                m.d.sync += gap.eq(0)
            with m.Elif(gap == self.timeout_cycles - 1):
                end_frame(Status.TIMEOUT, 0)
            with m.Else():
                m.d.sync += gap.eq(gap + 1)

        rx_next_crc = crc8_bitwise(m, rx_crc, byte)
        tx_next_crc = crc8_bitwise(m, tx_crc, link.tx.payload)

        with m.Switch(state):
            with m.Case(_IDLE), m.If(got & (byte == SYNC_REQUEST)):
                m.d.sync += [state.eq(_CMD), cmd.eq(0), rx_crc.eq(0), gap.eq(0)]
            with m.Case(_CMD), m.If(got):
                m.d.sync += [state.eq(_LEN_LO), cmd.eq(byte),
                             rx_crc.eq(rx_next_crc)]
            with m.Case(_LEN_LO), m.If(got):
                m.d.sync += [state.eq(_LEN_HI), length[:8].eq(byte),
                             rx_crc.eq(rx_next_crc)]
            with m.Case(_LEN_HI), m.If(got):
                m.d.sync += [length[8:].eq(byte), index.eq(0),
                             rx_crc.eq(rx_next_crc),
                             state.eq(Mux(Cat(length[:8], byte) == 0, _CRC, _PAYLOAD))]
            with m.Case(_PAYLOAD), m.If(got):
                m.d.sync += [index.eq(index + 1), rx_crc.eq(rx_next_crc)]
                with m.If(index + 1 == length):
                    m.d.sync += state.eq(_CRC)
                # Payload fields by byte position (docs/protocol.md section 5).
                for i in range(4):
                    with m.If(index == i):
                        m.d.sync += addr[8 * i:8 * i + 8].eq(byte)
                for i in range(2):
                    with m.If(index == 4 + i):
                        m.d.sync += count[8 * i:8 * i + 8].eq(byte)
                for i in range(in_bytes):
                    with m.If(index == i):
                        m.d.sync += spikes[8 * i:8 * i + 8].eq(byte)
                with m.If(index == in_bytes):
                    m.d.sync += flags.eq(byte)
                for k in range(words):
                    for i in range(4):
                        with m.If(index == 4 + 4 * k + i):
                            m.d.sync += data[k][8 * i:8 * i + 8].eq(byte)
            with m.Case(_CRC), m.If(got):
                end_frame(verdict, Mux(verdict == Status.OK, ok_len, 0))
            with m.Case(_EXEC):
                m.d.sync += exec_cycles.eq(exec_cycles + 1)

        is_ok = Signal()
        m.d.comb += is_ok.eq((state == _EXEC) & ok)

        # -- property 1: the core is touched only by OK frames, exactly as they say ---------

        base = addr[:20]
        m.d.comb += Assert(~(core_busy & ((state == _IDLE) | receiving)),
                           "the core is idle whenever the link is idle or receiving")
        with m.If(link.bus.w_en):
            word = Signal(32)
            for k in range(words):
                with m.If(writes == k):
                    m.d.comb += word.eq(data[k])
            m.d.comb += [
                Assert(is_ok & (cmd == Command.WRITE), "bus write only for an OK WRITE"),
                Assert(writes < burst, "no more writes than the WRITE's words"),
                Assert(link.bus.addr == (base + writes)[:20], "write to the next address"),
                Assert(link.bus.w_data == word, "the frame's data word is written"),
                Assert(~link.bus.r_en, "no read in a write cycle"),
            ]
            m.d.sync += writes.eq(writes + 1)
        with m.If(link.bus.r_en):
            m.d.comb += [
                Assert(is_ok & (cmd == Command.READ), "bus read only for an OK READ"),
                Assert(reads < burst, "no more reads than the READ's count"),
                Assert(link.bus.addr == (base + reads)[:20], "read from the next address"),
            ]
            m.d.sync += reads.eq(reads + 1)
        m.d.sync += read_before.eq(link.bus.r_en)
        with m.If(read_before):
            m.d.sync += read_word.eq(link.bus.r_data)
        with m.If(link.start):
            m.d.comb += [
                Assert(is_ok & (cmd == Command.STEP), "start only for an OK STEP"),
                Assert(starts == 0, "one start per STEP"),
                Assert(link.in_spikes == spikes[:p.max_in], "the frame's input spikes"),
                Assert(~link.clear, "start and clear are never raised together"),
            ]
            m.d.sync += starts.eq(starts + 1)
        with m.If(link.clear):
            m.d.comb += [
                Assert(is_ok & (cmd == Command.CLEAR), "clear only for an OK CLEAR"),
                Assert(clears == 0, "one clear per CLEAR"),
            ]
            m.d.sync += clears.eq(clears + 1)
        with m.If(core_done & (starts != 0)):
            m.d.sync += [stepped.eq(1), step_out.eq(link.out_spikes)]

        # -- property 2: one reply per frame, byte for byte ---------------------------------

        m.d.comb += Assert(~link.tx.valid | (state == _EXEC), "reply bytes only after a frame")
        payload_index = Signal(17)
        expected_payload = Signal(8)
        m.d.comb += payload_index.eq(tx_index - 5)
        with m.Switch(cmd):
            with m.Case(Command.PING):
                ping = PingInfo.from_params(p, words).to_payload()
                with m.Switch(payload_index):
                    for i, value in enumerate(ping):
                        with m.Case(i):
                            m.d.comb += expected_payload.eq(value)
            with m.Case(Command.READ):
                m.d.comb += expected_payload.eq(
                    read_word.word_select(payload_index[:2], 8))
            with m.Case(Command.STEP):
                m.d.comb += expected_payload.eq(
                    Cat(step_out, C(0, 8 * out_bytes)).word_select(payload_index[:8], 8))
            with m.Case(Command.STATUS), m.Switch(payload_index):
                for i, value in enumerate([core_busy, last_error, error_count[:8],
                                           error_count[8:], frame_count[:8],
                                           frame_count[8:]]):
                    with m.Case(i):
                        m.d.comb += expected_payload.eq(value)
        expected = Signal(8)
        last = Signal()
        m.d.comb += last.eq(tx_index == 5 + reply_len)
        with m.Switch(tx_index):
            with m.Case(0):
                m.d.comb += expected.eq(SYNC_REPLY)
            with m.Case(1):
                m.d.comb += expected.eq(cmd)
            with m.Case(2):
                m.d.comb += expected.eq(status)
            with m.Case(3):
                m.d.comb += expected.eq(reply_len[:8])
            with m.Case(4):
                m.d.comb += expected.eq(reply_len[8:])
            with m.Default():
                m.d.comb += expected.eq(Mux(last, tx_crc, expected_payload))
        with m.If(tx_take):
            m.d.comb += Assert(link.tx.payload == expected, "reply byte as the protocol says")
            m.d.sync += tx_index.eq(tx_index + 1)
            with m.If(tx_index != 0):
                m.d.sync += tx_crc.eq(tx_next_crc)
            with m.If(tx_index == 0):
                # The command has run completely before its reply starts.
                m.d.comb += [
                    Assert(~ok | (cmd != Command.WRITE) | (writes == burst),
                           "a WRITE writes every word before replying"),
                    Assert(~ok | (cmd != Command.STEP) | ((starts == 1) & stepped),
                           "a STEP has run and finished before replying"),
                    Assert(~ok | (cmd != Command.CLEAR) | ((clears == 1) & ~core_busy),
                           "a CLEAR has run and finished before replying"),
                ]
            with m.If((cmd == Command.READ) & ok & (tx_index >= 5) & ~last):
                m.d.comb += Assert(payload_index[2:] + 1 == reads,
                                   "each READ word is read just before it is sent")
            with m.If(last):
                m.d.sync += state.eq(_IDLE)
                with m.If(status == Status.OK):
                    m.d.sync += frame_count.eq(frame_count + 1)
                with m.Else():
                    m.d.sync += [error_count.eq(error_count + 1), last_error.eq(status)]

        # -- property 3: the link's parser state is the reference's ---------------------------

        m.d.comb += Assert(link_in("IDLE") == (state == _IDLE), "idle exactly when expected")
        for ref_state, name in _RECEIVING.items():
            m.d.comb += Assert(link_in(name) == (state == ref_state),
                               "receiving state as expected")

        # Lemmas (a refinement mapping): the link's registers equal their counterparts in
        # the reference wherever both are defined. Each is proved one cycle at a time, and the
        # solver may rely on it in later cycles, so no check has to re-derive the history of
        # a register (two CRC implementations, say) over the whole depth.
        def dut(name):
            return find_signal(link_module, name)

        in_frame = receiving | (state == _EXEC)
        after_cmd = in_frame & (state != _CMD)
        lemmas = [
            (receiving & (state != _CMD), dut("rx_crc") == rx_crc, "request CRC"),
            ((state == _EXEC) & (tx_index != 0), dut("tx_crc") == tx_crc, "reply CRC"),
            (receiving, dut("silence") == gap, "inter-byte silence"),
            (after_cmd, dut("cmd") == cmd, "command"),
            (after_cmd & (state != _LEN_LO), dut("length")[:8] == length[:8], "length"),
            ((state >= _PAYLOAD) & in_frame & (state != _LEN_HI), dut("length") == length,
             "length"),
            (state == _PAYLOAD, dut("index") == index, "payload index"),
            (in_frame & (index >= 4), dut("arg_addr") == addr, "address argument"),
            (in_frame & (index >= 6), dut("arg_count") == count, "count argument"),
            (in_frame & (index >= in_bytes), dut("step_spikes") == spikes, "spike bytes"),
            (in_frame & (index > in_bytes), dut("step_flags") == flags, "flags argument"),
            ((state == _EXEC) & (tx_index != 0), dut("status") == status, "reply status"),
            ((state == _EXEC) & (tx_index != 0), dut("reply_len") == reply_len,
             "reply length"),
            (C(1), dut("error_count") == error_count, "error counter"),
            (C(1), dut("frame_count") == frame_count, "frame counter"),
            (C(1), dut("last_error") == last_error, "last error"),
        ]
        for condition, equal, what in lemmas:
            with m.If(condition):
                m.d.comb += Assert(equal, f"lemma: {what} register as the reference's")

        # -- property 4: bounded reply time ---------------------------------------------------

        if self.live:
            bound = Signal(16)
            m.d.comb += bound.eq(12 + 2 * words + self.core_latency + 12 + Cat(C(0, 1), reply_len)
                                 + (reply_len >> 1))
            m.d.comb += Assert(~(state == _EXEC) | (exec_cycles <= bound),
                               "the reply ends within the bound")
        return m
