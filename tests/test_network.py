"""Network description: validation messages and file round trips."""

import json

import numpy as np
import pytest

from golden.network import Network, NetworkError, load_network, save_network
from golden.random import random_network


@pytest.fixture
def net():
    return random_network(np.random.default_rng(5), n_in=4, n_hidden=3, n_out=2, recurrent=True,
                          delay_in="synaptic", delay_rec="axonal", delay_out="synaptic",
                          d_max=8, delay_frac=2, weight_frac=1)


def test_json_round_trip(tmp_path, net):
    path = tmp_path / "net.json"
    save_network(net, path)
    again = load_network(path)
    assert again.to_dict() == net.to_dict()


def test_toml_is_read(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text("""
n_in = 2
n_hidden = 1
n_out = 1
w_in = [[3, -4]]
w_out = [[5]]
alpha = [200]
theta = [10]
kappa = [250]
delay_in = "axonal"
d_in = [0, 7]
d_max = 8
""")
    net = load_network(path)
    assert net.d_in.tolist() == [0, 7]
    assert net.integer_delays("in").tolist() == [[0, 7]]


BAD_FIELDS = [
    ({"d_max": 65}, r"d_max must be in \[1, 64\], got 65"),
    ({"weight_frac": 8}, r"weight_frac must be in \[0, 7\]"),
    ({"reset": "medium"}, r"reset must be one of soft, hard"),
    ({"delay_in": "dendritic"}, r"delay_in must be one of none, synaptic, axonal"),
    ({"theta": [0, 5, 5]}, r"theta\[0\] = 0 is outside \[1, 32767\]"),
    ({"alpha": [1, 256, 3]}, r"alpha\[1\] = 256 is outside \[0, 255\]"),
    ({"w_in": [[1, 2, 3, 4]] * 2 + [[1, 2, 3, 128]]}, r"w_in\[2, 3\] = 128 is outside \[-128, 127\]"),
    ({"w_in": [[1, 2, 3]] * 3}, r"w_in must have shape \(3, 4\), got \(3, 3\)"),
    ({"d_in": [[0, 0, 0, 32]] * 3}, r"d_in\[0, 3\] = 32 is outside \[0, 31\]"),
    ({"d_rec": [[0, 0, 0]] * 3}, r"d_rec must have shape \(3,\)"),
    ({"kappa": [0.5, 1]}, r"kappa\[0\] = 0.5 is not an integer"),
    ({"recurrent": "yes"}, r"recurrent must be true or false"),
    ({"n_in": 0}, r"n_in must be in \[1, 4096\], got 0"),
    ({"colour": 3}, r"unknown field 'colour'"),
]


@pytest.mark.parametrize("change,message", BAD_FIELDS, ids=[next(iter(c)) for c, _ in BAD_FIELDS])
def test_bad_field_gives_one_line_error(tmp_path, net, change, message):
    data = net.to_dict()
    data.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(NetworkError, match=message) as info:
        load_network(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_field_and_bad_syntax(tmp_path, net):
    data = net.to_dict()
    del data["theta"]
    path = tmp_path / "missing.json"
    path.write_text(json.dumps(data))
    with pytest.raises(NetworkError, match="missing required field 'theta'"):
        load_network(path)
    path.write_text("{ not json")
    with pytest.raises(NetworkError, match="invalid JSON at line 1"):
        load_network(path)
    with pytest.raises(NetworkError, match="cannot read network file"):
        load_network(tmp_path / "absent.json")


def test_recurrent_fields_must_agree(net):
    data = net.to_dict()
    data["recurrent"] = False
    with pytest.raises(NetworkError, match="w_rec is given but recurrent is false"):
        Network.from_dict(data)
    data = net.to_dict()
    del data["w_rec"]
    with pytest.raises(NetworkError, match="w_rec is required when recurrent is true"):
        Network.from_dict(data)
