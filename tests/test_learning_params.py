"""Generator parameters and memory map of the learning engine (no simulation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from golden.learning import LearningRule
from golden.random import random_network
from rtl import memory_map as mm
from rtl.params import CoreParams


def small_net(**rule):
    net = random_network(np.random.default_rng(3), n_in=3, n_hidden=4, n_out=2, recurrent=True,
                         delay_in="synaptic", delay_rec="axonal", delay_out="none", d_max=8)
    return dataclasses.replace(net, learning=LearningRule(**rule))


def test_defaults_and_validation():
    params = CoreParams(learning=True)
    assert params.kernel_max_half_width == 3
    assert params.trace_ring == 32  # d_max 16 needs 17 slots
    assert CoreParams(learning=True, d_max=15).trace_ring == 16
    assert CoreParams(d_max=4).kernel_max_half_width == 1
    with pytest.raises(ValueError, match=r"kernel_max_half_width must be in \[0, 1\]"):
        CoreParams(learning=True, d_max=4, kernel_max_half_width=2)
    with pytest.raises(ValueError, match=r"trace_bits must be in \[2, 16\]"):
        CoreParams(learning=True, trace_bits=17)
    with pytest.raises(TypeError, match="softmax must be a bool"):
        CoreParams(learning=True, softmax=1)
    with pytest.raises(ValueError, match="TRACE_X region"):
        CoreParams(learning=True, max_in=600, max_hidden=600, d_max=64, max_synapses=100)
    # Without the engine the kernel width is not tied to d_max (copied parameters stay valid).
    CoreParams(d_max=4, kernel_max_half_width=3)


def test_for_network_builds_what_the_rule_uses():
    net = small_net(learn_delays=False, trace_bits=9, trace_shift=3, l_bits=12)
    params = CoreParams.for_network(net)
    assert params.learning and not params.delay_learning
    assert not params.softmax and not params.random_feedback
    assert (params.trace_bits, params.l_bits, params.kernel_max_half_width) == (9, 12, 3)
    assert not CoreParams.for_network(net, learning=False).learning


@pytest.mark.parametrize("change, message", [
    (dict(trace_bits=9), "network learning.trace_bits = 8 differs from the core's "
                         "trace_bits = 9"),
    (dict(u_bits=6), "learning.u_bits = 8 differs"),
    (dict(l_bits=12), "learning.l_bits = 16 differs"),
    (dict(kernel_max_half_width=2), "half width 3, more than the core's "
                                    "kernel_max_half_width = 2"),
    (dict(delay_learning=False), "learn_delays = True needs a core built with "
                                 "delay_learning=True"),
    (dict(softmax=False), "error = 'softmax' needs a core built with softmax=True"),
    (dict(random_feedback=False), "feedback = 'random' needs a core built with "
                                  "random_feedback=True"),
])
def test_check_network_refuses_what_the_core_lacks(change, message):
    net = small_net(learn_delays=True, error="softmax", feedback="random",
                    b_fb=np.ones((2, 4), dtype=int))
    params = CoreParams.for_network(net, softmax=True, random_feedback=True)
    params.check_network(net)
    with pytest.raises(ValueError) as info:
        dataclasses.replace(params, **change).check_network(net)
    assert message in str(info.value)


def test_axonal_sum_bound_in_the_rule():
    """An axonal delay sum that could leave int64 in the golden model is refused."""
    wide = random_network(np.random.default_rng(0), n_in=2, n_hidden=600, n_out=2, d_max=8,
                          weight_bits=16, y_bits=24)
    with pytest.raises(ValueError, match=r"learning\.u_bits = 16 .* exceed 2\^62"):
        dataclasses.replace(wide, learning=LearningRule(u_bits=16, l_bits=24))
    dataclasses.replace(wide, learning=LearningRule(u_bits=8, l_bits=24))  # 2^55 fits


def test_memory_map_of_a_learning_core():
    params = CoreParams(learning=True, max_in=3, max_hidden=4, max_out=2, d_max=8,
                        recurrent=True)
    words = mm.region_words(params)
    assert words[mm.REGION_CTRL] == 8
    assert words[mm.REGION_LEARN] == mm.LEARN_KERNEL + 7
    assert words[mm.REGION_PSI] == words[mm.REGION_EXP] == 256
    assert words[mm.REGION_FEEDBACK] == 8
    assert words[mm.REGION_TRACE_X] == words[mm.REGION_TRACE_U] == 7 * 16
    lean = CoreParams(learning=True, max_in=3, max_hidden=4, max_out=2, d_max=8,
                      delay_learning=False, softmax=False, random_feedback=False)
    assert {mm.REGION_EXP, mm.REGION_FEEDBACK, mm.REGION_TRACE_U}.isdisjoint(
        mm.region_words(lean))
    assert mm.REGION_LEARN not in mm.region_words(CoreParams())
    assert mm.region_words(CoreParams())[mm.REGION_CTRL] == 6
    assert mm.trace_offset("hidden", 1, 5, params) == (3 + 1) * 16 + 5
    assert mm.feedback_offset(1, 2, params) == 6


def test_network_writes_load_the_rule():
    kernel = np.array([-5, 0, 5])
    net = small_net(kernel=kernel, rounding="stochastic", seed=77, feedback="random",
                    b_fb=np.full((2, 4), -3))
    params = CoreParams.for_network(net)
    writes = dict(mm.network_writes(net, params))
    learn = {name: writes[mm.address(mm.REGION_LEARN, offset)]
             for name, offset in mm.LEARN_REGISTERS.items()}
    assert learn["MODE"] == (mm.MODE_ENABLE | mm.MODE_LEARN_WEIGHTS | mm.MODE_STOCHASTIC
                             | mm.MODE_RANDOM_FEEDBACK)
    assert learn["SEED"] == 77 and learn["KERNEL_HALF_WIDTH"] == 1
    assert learn["DELAY_TOP"] == (8 << net.delay_frac) - 1
    assert [writes[mm.address(mm.REGION_LEARN, mm.LEARN_KERNEL + n)] for n in range(3)] == \
        [mm.encode_signed(-5, 8), 0, 5]
    assert writes[mm.address(mm.REGION_PSI, 0)] == int(net.learning.psi_lut[0])
    assert writes[mm.address(mm.REGION_FEEDBACK, mm.feedback_offset(1, 3, params))] == \
        mm.encode_signed(-3, params.weight_bits)
    assert mm.address(mm.REGION_EXP, 0) not in writes  # squared error: no softmax LUT
    # MODE goes last among the registers, after everything it switches on.
    order = [a for a, _ in mm.network_writes(net, params)]
    mode = order.index(mm.address(mm.REGION_LEARN, 0))
    assert all(order.index(mm.address(mm.REGION_LEARN, o)) < mode
               for o in mm.LEARN_REGISTERS.values() if o)
    # Without a rule only MODE = 0; without the engine nothing of it.
    bare = dataclasses.replace(net, learning=None)
    assert dict(mm.network_writes(bare, params))[mm.address(mm.REGION_LEARN, 0)] == 0
    inference = CoreParams.for_network(bare)
    assert all(a >> 16 < mm.REGION_LEARN for a, _ in mm.network_writes(net, inference))
