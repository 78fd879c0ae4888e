"""CoreParams validation, derived widths and network checks; memory-map encodings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from golden.random import random_network
from rtl import memory_map as mm
from rtl.params import CoreParams

# -- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("max_in", 0, "max_in must be in [1, 16384], got 0"),
    ("max_hidden", 20000, "max_hidden must be in [1, 16384], got 20000"),
    ("max_out", -1, "max_out must be in [1, 16384], got -1"),
    ("max_synapses", 0, "max_synapses must be in [1, 65536], got 0"),
    ("max_synapses", 70000, "max_synapses must be in [1, 65536], got 70000"),
    ("d_max", 100, "d_max must be in [1, 64], got 100"),
    ("d_max", 0, "d_max must be in [1, 64], got 0"),
    ("weight_bits", 1, "weight_bits must be in [2, 16], got 1"),
    ("weight_bits", 17, "weight_bits must be in [2, 16], got 17"),
    ("weight_frac", 8, "weight_frac must be in [0, 7], got 8"),
    ("delay_frac", 9, "delay_frac must be in [0, 8], got 9"),
    ("decay_bits", 0, "decay_bits must be in [1, 16], got 0"),
    ("v_bits", 3, "v_bits must be in [4, 24], got 3"),
    ("y_bits", 25, "y_bits must be in [4, 24], got 25"),
])
def test_range_errors_name_parameter_and_range(field, value, message):
    with pytest.raises(ValueError) as info:
        CoreParams(**{field: value})
    assert str(info.value) == message


@pytest.mark.parametrize("field, value", [
    ("max_in", 4.0), ("d_max", "16"), ("weight_bits", True), ("max_synapses", 3.5),
    ("recurrent", 1), ("recurrent", "yes"),
])
def test_type_errors(field, value):
    with pytest.raises(TypeError, match=field):
        CoreParams(**{field: value})


def test_weight_frac_range_follows_weight_bits():
    CoreParams(weight_bits=4, weight_frac=3)
    with pytest.raises(ValueError, match=r"weight_frac must be in \[0, 3\], got 4"):
        CoreParams(weight_bits=4, weight_frac=4)


def test_dense_default_too_large_for_address_space():
    with pytest.raises(ValueError, match=r"max_synapses must be in \[1, 65536\], got 131328"):
        CoreParams(max_in=256, max_hidden=256, max_out=1, recurrent=True)
    # An explicit depth makes the same capacity buildable.
    params = CoreParams(max_in=256, max_hidden=256, max_out=1, recurrent=True,
                        max_synapses=32768)
    assert params.max_synapses == 32768


def test_frozen_hashable_replace():
    params = CoreParams(max_in=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.max_in = 4
    assert params == CoreParams(max_in=3)
    assert len({params, CoreParams(max_in=3)}) == 1
    with pytest.raises(ValueError, match="d_max"):
        dataclasses.replace(params, d_max=65)
    assert CoreParams(**params.as_dict()) == params


# -- derived quantities ------------------------------------------------------------------------

def test_dense_default_max_synapses():
    assert CoreParams(max_in=3, max_hidden=4, max_out=2).max_synapses == 4 * 3 + 2 * 4
    assert CoreParams(max_in=3, max_hidden=4, max_out=2,
                      recurrent=True).max_synapses == 4 * 7 + 2 * 4


@pytest.mark.parametrize("d_max, ring, int_bits", [
    (1, 2, 0), (2, 2, 1), (3, 4, 2), (16, 16, 4), (17, 32, 5), (33, 64, 6), (64, 64, 6),
])
def test_ring_and_delay_widths(d_max, ring, int_bits):
    params = CoreParams(d_max=d_max, delay_frac=3)
    assert params.ring == ring
    assert params.delay_int_bits == int_bits
    assert params.delay_bits == int_bits + 3
    assert params.syn_word_bits == params.weight_bits + int_bits + 3
    assert params.hist_words == (2 if ring == 64 else 1)
    assert CoreParams(d_max=d_max).delay_bits == max(1, int_bits)


def test_acc_bits_never_overflow():
    params = CoreParams(max_in=5, max_hidden=3, max_out=2, weight_bits=8, weight_frac=2,
                        recurrent=True)
    fan_in = params.max_fan_in
    assert fan_in == 8
    lo, hi = -(1 << 7) >> 2, ((1 << 7) - 1) >> 2
    acc_lo, acc_hi = -(1 << (params.acc_bits - 1)), (1 << (params.acc_bits - 1)) - 1
    assert acc_lo <= fan_in * lo and fan_in * hi <= acc_hi


def test_step_cycles():
    params = CoreParams(max_in=4, max_hidden=8, max_out=3, recurrent=True)
    assert params.step_cycles(4, 8, 3, True) == 4 + 8 * 12 + 2 + 8 + 3 * 8 + 2
    assert params.step_cycles(4, 8, 3, False) == 4 + 8 * 4 + 2 + 8 + 3 * 8 + 2
    assert params.clear_cycles == 12


# -- networks ----------------------------------------------------------------------------------

def small_net(**kwargs):
    args = dict(n_in=4, n_hidden=3, n_out=2, recurrent=True, delay_in="synaptic",
                delay_rec="axonal", d_max=8)
    args.update(kwargs)
    return random_network(np.random.default_rng(1), **args)


def test_for_network_matches_formats():
    net = small_net(weight_bits=6, weight_frac=1, v_bits=12)
    params = CoreParams.for_network(net)
    assert (params.max_in, params.max_hidden, params.max_out) == (4, 3, 2)
    assert (params.weight_bits, params.weight_frac, params.v_bits, params.d_max) == (6, 1, 12, 8)
    assert params.recurrent
    bigger = CoreParams.for_network(net, max_hidden=10, d_max=32)
    assert bigger.max_hidden == 10 and bigger.d_max == 32
    with pytest.raises(ValueError, match="max_hidden"):
        CoreParams.for_network(net, max_hidden=2)


@pytest.mark.parametrize("change, message", [
    (dict(max_in=3), "network n_in = 4 exceeds the core capacity max_in = 3"),
    (dict(max_out=1), "network n_out = 2 exceeds the core capacity max_out = 1"),
    (dict(weight_bits=9), "network weight_bits = 8 differs from the core's weight_bits = 9"),
    (dict(y_bits=12), "network y_bits = 16 differs from the core's y_bits = 12"),
    (dict(recurrent=False), "recurrent"),
    (dict(d_max=4), "network d_max = 8 exceeds the core's d_max = 4"),
    (dict(max_synapses=20), "network synapses = 27 exceed the core's max_synapses = 20"),
])
def test_check_network_names_field(change, message):
    net = small_net()
    params = CoreParams(**{**CoreParams.for_network(net).as_dict(), "max_synapses": None,
                           **change})
    with pytest.raises(ValueError) as info:
        params.check_network(net)
    assert message in str(info.value)


# -- memory map --------------------------------------------------------------------------------

def test_signed_encoding_round_trip():
    for bits in (2, 8, 16, 24):
        for value in (-(1 << (bits - 1)), -1, 0, 1, (1 << (bits - 1)) - 1):
            assert mm.decode_signed(mm.encode_signed(value, bits), bits) == value
    assert mm.decode_signed(0xFFFF_FFFD) == -3
    with pytest.raises(ValueError, match="does not fit"):
        mm.encode_signed(128, 8)


def test_flags_round_trip():
    flags = mm.encode_flags(recurrent=True, reset="hard", delay_in="axonal",
                            delay_rec="synaptic", delay_out="none")
    assert flags == 0b00_01_10_11
    assert mm.decode_flags(flags) == dict(recurrent=True, reset="hard", delay_in="axonal",
                                          delay_rec="synaptic", delay_out="none",
                                          synapse_current=False)
    assert mm.encode_flags(**mm.decode_flags(flags | mm.FLAG_SYNAPSE_CURRENT)) \
        == flags | mm.FLAG_SYNAPSE_CURRENT


def test_network_writes_layout():
    net = small_net()
    params = CoreParams.for_network(net, max_in=6, max_hidden=5, max_out=3, d_max=16)
    writes = dict(mm.network_writes(net, params))
    ctrl = [writes[mm.address(mm.REGION_CTRL, k)] for k in range(4)]
    assert ctrl[:3] == [4, 3, 2]
    assert mm.decode_flags(ctrl[3])["delay_rec"] == "axonal"
    # Hidden neuron 2: input synapse 1, recurrent synapse 0; readout 1, hidden source 2.
    word = writes[mm.address(mm.REGION_SYN, 2 * 7 + 1)]
    assert mm.unpack_synapse(word, params) == (net.w_in[2, 1], net.d_in[2, 1])
    word = writes[mm.address(mm.REGION_SYN, 2 * 7 + 4)]
    assert mm.unpack_synapse(word, params) == (net.w_rec[2, 0], 0)  # axonal: field unused
    word = writes[mm.address(mm.REGION_SYN, 3 * 7 + 1 * 3 + 2)]
    assert mm.unpack_synapse(word, params) == (net.w_out[1, 2], 0)
    assert mm.synapse_offset(net, "out", 1, 2) == 3 * 7 + 1 * 3 + 2
    # Axonal recurrent delays sit at max_in + i (capacity, not run-time size).
    assert writes[mm.address(mm.REGION_AXON, 6 + 1)] == net.d_rec[1]
    assert writes[mm.address(mm.REGION_THETA, 2)] == net.theta[2]
    assert len(writes) == 4 + net.n_synapses + 3 + 3 + 3 + 2


def test_network_writes_rejects_misfit():
    net = small_net()
    with pytest.raises(ValueError, match="n_hidden"):
        mm.network_writes(net, CoreParams(max_in=4, max_hidden=2, max_out=2, recurrent=True,
                                          d_max=8))


def test_hist_offsets():
    params = CoreParams(max_in=3, max_hidden=2, d_max=64)
    assert mm.hist_offset("input", 2, params, 1) == 5
    assert mm.hist_offset("hidden", 0, params, 0) == 6
    assert mm.region_words(params)[mm.REGION_HIST] == 10
