"""Filterbank, spike encoders (``golden.audio``) and the spoken-digit task (``golden.spoken``).

The filterbank and encoders are tested on synthetic signals. The tests that speak need the
``espeak-ng`` program: they carry the ``espeak`` marker and skip, saying how to install it,
when it is missing, unless ``DELAYCORE_REQUIRE_ESPEAK=1`` is set (as CI should), which turns
the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from golden.audio import (
    band_energies,
    encode,
    encode_delta,
    encode_rate,
    mel_filterbank,
    normalise,
    read_wav,
)
from golden.data import load_samples
from golden.spoken import EspeakError, encode_recording, find_espeak, main, make_spoken

REPO = Path(__file__).resolve().parent.parent
RATE = 16000


@pytest.fixture
def espeak():
    """Path of espeak-ng; skip (or fail, with DELAYCORE_REQUIRE_ESPEAK=1) when missing."""
    path = shutil.which("espeak-ng")
    if path is None:
        message = "espeak-ng is not installed (apt-get install espeak-ng)"
        if os.environ.get("DELAYCORE_REQUIRE_ESPEAK", "") not in ("", "0"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def chirp(seconds=1.0, f0=200.0, f1=4000.0):
    """A sine sweeping exponentially from ``f0`` to ``f1``."""
    t = np.arange(int(RATE * seconds)) / RATE
    frequency = f0 * (f1 / f0) ** (t / seconds)
    return 0.5 * np.sin(2 * np.pi * np.cumsum(frequency) / RATE)


# -- filterbank ---------------------------------------------------------------------------


def test_mel_filterbank_covers_bands_in_order():
    bank = mel_filterbank(24, 512, RATE, 100.0, 8000.0)
    assert bank.shape == (24, 257)
    assert np.all(bank.max(axis=1) > 0)  # no silent band
    peaks = np.argmax(bank, axis=1)
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] > peaks[0]
    # Mel spacing: low bands are narrower than high bands.
    widths = (bank > 0).sum(axis=1)
    assert widths[-1] > 3 * widths[0]


def test_band_energies_of_a_tone_peak_in_one_band():
    t = np.arange(RATE // 2) / RATE
    energy = normalise(band_energies(np.sin(2 * np.pi * 1000 * t), RATE, n_bands=20))
    assert energy.shape == (50, 20)
    loudest = np.argmax(energy[10:40], axis=1)
    assert len(set(loudest.tolist())) == 1  # a steady tone stays in its band
    centre = np.argmax(mel_filterbank(20, 512, RATE, 100.0, 8000.0)[:, 32])  # 1000 Hz bin
    assert abs(int(loudest[0]) - int(centre)) <= 1


@pytest.mark.parametrize("encoder", ["delta", "rate"])
def test_chirp_moves_spikes_across_channels(encoder):
    bands = 16
    energy = normalise(band_energies(chirp(), RATE, n_bands=bands, f_max=8000.0))
    spikes = encode(energy, encoder)
    assert spikes.shape == (100, bands) and spikes.dtype == np.uint8
    times, channels = np.nonzero(spikes)
    # The spike-weighted mean channel rises over time, and so does each band's first spike.
    assert np.corrcoef(times, channels)[0, 1] > 0.8
    active = [b for b in range(bands) if spikes[:, b].any()]
    first = [int(np.flatnonzero(spikes[:, b])[0]) for b in active]
    assert len(active) >= bands // 2
    assert np.corrcoef(active, first)[0, 1] > 0.9


def test_delta_encoder_steps():
    # One band: silence, a 20 dB rise, steady, a fall, a rise of one delta.
    level = np.array([-60, -60, -20, -20, -20, -50, -50, -44, -44], dtype=float)[:, None]
    on = encode_delta(level, delta_db=6.0, floor_db=-50.0)
    # The rise from the floor is several deltas but makes one spike; steady makes none;
    # the fall moves the reference down, so the later 6 dB rise spikes again.
    assert on[:, 0].tolist() == [0, 0, 1, 0, 0, 0, 0, 1, 0]
    both = encode_delta(level, delta_db=6.0, floor_db=-50.0, on_off=True)
    assert both.shape == (9, 2)
    assert both[:, 1].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0]


def test_rate_encoder_rates():
    level = np.array([[0.0, -45.0, -22.5, -80.0]] * 8)
    spikes = encode_rate(level, floor_db=-45.0)
    assert spikes.sum(axis=0).tolist() == [8, 0, 4, 0]


def test_read_wav_round_trip(tmp_path):
    samples = (np.sin(np.linspace(0, 20, 400)) * 20000).astype("<i2")
    with wave.open(str(tmp_path / "a.wav"), "wb") as file:
        file.setnchannels(2)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(np.repeat(samples, 2).tobytes())  # same signal on both channels
    signal, rate = read_wav(tmp_path / "a.wav")
    assert rate == RATE
    np.testing.assert_allclose(signal, samples / 32768.0)


def test_encode_recording_trims_and_pads():
    silence = np.zeros(RATE // 5)
    tone = 0.3 * np.sin(2 * np.pi * 500 * np.arange(RATE // 10) / RATE)
    raster = encode_recording(np.concatenate([silence, tone]), RATE, steps=40, n_bands=8)
    assert raster.shape == (40, 8)
    # The leading 200 ms of silence are cut: the onset is in the first steps.
    assert raster[:3].any() and not raster[20:].any()


# -- espeak-ng ----------------------------------------------------------------------------


def test_missing_espeak_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(EspeakError, match="apt-get install espeak-ng"):
        find_espeak()
    assert main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "apt-get install espeak-ng" in err


@pytest.mark.espeak
def test_make_spoken_small(espeak, tmp_path):
    samples = make_spoken(["en-us+m1", "en-gb+f2"], digits=(1, 7), speeds=(170,),
                          pitches=(50,), n_bands=16, max_time_ms=600, wav_dir=tmp_path,
                          progress=False)
    assert samples.spikes.shape == (4, 60, 16)
    assert samples.labels.tolist() == [0, 1, 0, 1]  # positions in digits=(1, 7)
    assert samples.meta["classes"] == ["one", "seven"]
    assert samples.meta["speaker"] == [0, 0, 1, 1]
    assert len(list(tmp_path.glob("*.wav"))) == 4
    # Every word makes spikes, and different words make different rasters.
    assert np.all(samples.spikes.sum(axis=(1, 2)) > 10)
    assert not np.array_equal(samples.spikes[0], samples.spikes[1])


@pytest.mark.espeak
def test_cli_splits_by_speaker(espeak, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, "-m", "golden.spoken", "--out", str(tmp_path), "--speakers",
         "en-us+m1,en-gb+f2,en-029+m3", "--test-speakers", "1", "--digits", "0,1,2",
         "--speeds", "170", "--pitches", "40", "--bands", "12", "--max-time-ms", "500",
         "--on-off"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["split"] for line in lines] == ["train", "test"]
    train = load_samples(tmp_path / "train.npz")
    test = load_samples(tmp_path / "test.npz")
    assert train.spikes.shape == (6, 50, 24) and test.spikes.shape == (3, 50, 24)
    assert train.meta["speakers"] == ["en-us+m1", "en-gb+f2"]
    assert test.meta["speakers"] == ["en-029+m3"]
    assert test.labels.tolist() == [0, 1, 2]


@pytest.mark.espeak
def test_bad_voice_is_one_line_error(espeak, tmp_path, capsys):
    status = main(["--out", str(tmp_path), "--speakers", "en-us+m1,xx-nonexistent",
                   "--test-speakers", "1", "--digits", "1", "--speeds", "170", "--pitches",
                   "50", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert "xx-nonexistent" in err


def test_flag_errors(tmp_path, capsys):
    for argv, fragment in ((["--test-speakers", "12"], "--test-speakers"),
                           (["--digits", "1,1"], "--digits"),
                           (["--pitches", "120"], "--pitches"),
                           (["--bands", "0"], "--bands")):
        assert main(["--out", str(tmp_path), *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and fragment in err


def test_digital_silence_makes_no_spikes():
    for encoder in ("delta", "rate"):
        raster = encode_recording(np.zeros(RATE // 2), RATE, steps=20, n_bands=8,
                                  encoder=encoder)
        assert raster.shape == (20, 8) and not raster.any()
