"""The online learning demo's command line and its refusals, without a board or simulator."""

from __future__ import annotations

import pytest

from host.demo import demo_network, demo_samples, main, run_demo, summary
from host.device import Device, LearningUnsupportedError
from rtl.params import CoreParams

from test_protocol import LEARNING_PARAMS, PARAMS, FakeLink


def test_demo_refuses_a_device_without_learning():
    with pytest.raises(LearningUnsupportedError, match="the device has no learning engine"):
        run_demo(Device(FakeLink(PARAMS)))


def test_demo_checks_its_arguments():
    device = Device(FakeLink(LEARNING_PARAMS))
    with pytest.raises(ValueError, match=r"hidden must be in \[1, 5\], got 6"):
        run_demo(device, hidden=6)
    with pytest.raises(ValueError, match="task must be one of rates, timing"):
        run_demo(device, task="cue")
    with pytest.raises(ValueError, match=r"steps must be in \[10, 1000\]"):
        run_demo(device, steps=5)


def test_demo_network_fits_the_core():
    params = CoreParams(max_in=16, max_hidden=8, max_out=4, d_max=8, weight_bits=16,
                        weight_frac=8, delay_frac=6, learning=True, random_feedback=False)
    net = demo_network(params, 16, 8, 4, seed=1)
    params.check_network(net)
    assert net.learning.learn_delays and net.delay_in == "synaptic"
    samples = demo_samples("timing", 3, 0, n_in=16, n_classes=4, steps=20)
    assert samples.spikes.shape == (3, 20, 16)
    with pytest.raises(ValueError, match="no learning engine"):
        demo_network(PARAMS, 4, 4, 2, seed=0)


def test_demo_command_line_errors(capsys, tmp_path):
    port = str(tmp_path / "no-such-port")
    assert main(["--port", port]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and port in err and len(err.splitlines()) == 1
    assert main([]) == 2
    assert "one of the arguments --port --sim is required" in capsys.readouterr().err
    assert main(["--sim", "--train", "0"]) == 2
    assert "--train must be at least 1, got 0" in capsys.readouterr().err


def test_demo_summary_names_accuracies_and_chance():
    result = {"task": "rates", "n_in": 16, "n_hidden": 16, "n_out": 4, "steps": 20,
              "n_train": 40, "n_test": 32, "chance": 0.25, "accuracy_before": 0.28125,
              "accuracy_after": 0.625, "learning_steps": 640, "learn_count": 640,
              "seconds": 41.9, "steps_per_second": 49.7, "golden_match": True,
              "golden_accuracy_before": 0.28125, "golden_accuracy_after": 0.625,
              "port": "/dev/ttyUSB1"}
    text = summary(result)
    assert text.startswith("/dev/ttyUSB1: rates task")
    assert "28.1 % before, 62.5 % after (chance 25.0 %)" in text
    assert "golden model: bit-exact" in text


def test_demo_command_line_names_a_device_without_learning(monkeypatch, capsys):
    monkeypatch.setattr(Device, "open", classmethod(lambda cls, port, baud, timeout:
                                                    cls(FakeLink(PARAMS))))
    assert main(["--port", "/dev/ttyUSB7", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: /dev/ttyUSB7: the device has no learning engine"), err
