"""Sound to spikes: a cochlea-like filterbank and spike encoders, in NumPy only.

The pipeline turns a mono signal into a spike raster with one input per frequency band:

1. :func:`band_energies`: short-time power spectrum (Hann window, real FFT) pooled by
   triangular filters spaced evenly on the mel scale (:func:`mel_filterbank`), as log
   energies in dB, one row per time step (``hop_ms``). The mel spacing is what a cochlea
   does to first order: narrow bands at low frequencies, wide bands at high ones.
2. :func:`normalise` the log energies to the loudest band and frame (0 dB), so the spikes
   do not depend on the recording level.
3. an encoder:

   - :func:`encode_delta` (send-on-delta): a band spikes when its energy has risen by
     ``delta_db`` since its reference level; the reference then moves up by whole steps
     of ``delta_db`` and follows falling energy down without spiking. Spikes mark onsets
     and rising formants, like the onset cells of the auditory nerve, and stay sparse.
     ``on_off=True`` adds a second bank of inputs that spike when the energy falls by
     ``delta_db`` (the reference then moves down in steps instead of following freely).
   - :func:`encode_rate`: an integrate-and-fire per band driven by the energy above a floor,
     so a band spikes at a rate that grows with its loudness (up to one spike per step).

Every function works on arrays, so tests can feed synthetic signals (a chirp must move its
spikes across the bands).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

__all__ = [
    "ENCODERS",
    "band_energies",
    "encode",
    "encode_delta",
    "encode_rate",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "normalise",
    "read_wav",
]

ENCODERS = ("delta", "rate")


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a PCM ``.wav`` file as float64 samples in ``[-1, 1]``.

    Multi-channel files are averaged to mono.

    Returns
    -------
    signal : array of float64, shape (samples,)
    rate : int
        Sample rate in Hz.
    """
    with wave.open(str(path), "rb") as file:
        width, channels, rate = file.getsampwidth(), file.getnchannels(), file.getframerate()
        raw = file.readframes(file.getnframes())
    if width == 1:  # 8-bit WAV is unsigned
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width in (2, 4):
        dtype = np.dtype(f"<i{width}")
        data = np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 1))
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported (8, 16 or 32-bit PCM)")
    return data.reshape(-1, channels).mean(axis=1), rate


def hz_to_mel(hz):
    """Frequency in Hz to mel (O'Shaughnessy's formula)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_bands: int, n_fft: int, rate: int, f_min: float = 100.0,
                   f_max: float | None = None) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale.

    Parameters
    ----------
    n_bands : int
        Number of filters.
    n_fft : int
        FFT length; the filters act on its ``n_fft // 2 + 1`` power bins.
    rate : int
        Sample rate in Hz.
    f_min, f_max : float
        Lowest and highest edge in Hz (``f_max`` defaults to the Nyquist frequency).

    Returns
    -------
    array of float64, shape (n_bands, n_fft // 2 + 1)
        Filter weights; every filter has a peak of 1 and at least one nonzero bin.
    """
    f_max = rate / 2.0 if f_max is None else f_max
    if not 0 <= f_min < f_max <= rate / 2.0:
        raise ValueError(f"need 0 <= f_min < f_max <= rate / 2, got f_min={f_min}, "
                         f"f_max={f_max}, rate={rate}")
    if n_bands < 1:
        raise ValueError(f"n_bands must be >= 1, got {n_bands}")
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_bands + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    # Narrow low bands can fall between two FFT bins: give each its nearest bin so that
    # no band is silent by construction.
    empty = weights.max(axis=1) == 0
    for band in np.flatnonzero(empty):
        weights[band, np.argmin(np.abs(bins - edges[band + 1]))] = 1.0
    return weights


def band_energies(signal: np.ndarray, rate: int, *, n_bands: int = 32, hop_ms: float = 10.0,
                  frame_ms: float = 25.0, f_min: float = 100.0,
                  f_max: float | None = 8000.0) -> np.ndarray:
    """Log energy of each mel band in frames of ``frame_ms`` every ``hop_ms``.

    Parameters
    ----------
    signal : array of float, shape (samples,)
        Mono signal.
    rate : int
        Sample rate in Hz.
    n_bands : int
        Number of mel bands.
    hop_ms, frame_ms : float
        Frame step (one time step of the spike raster) and frame length.
    f_min, f_max : float
        Band range in Hz; ``f_max`` is capped at the Nyquist frequency.

    Returns
    -------
    array of float64, shape (frames, n_bands)
        Energy in dB (``10 log10``); frame ``n`` covers samples from ``n * hop``.
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1:
        raise ValueError(f"signal must be 1-D (mono), got shape {signal.shape}")
    hop = max(1, round(rate * hop_ms / 1000.0))
    length = max(hop, round(rate * frame_ms / 1000.0))
    n_fft = 1 << int(np.ceil(np.log2(length)))
    frames = max(1, int(np.ceil(len(signal) / hop)))
    padded = np.zeros((frames - 1) * hop + length)
    padded[:len(signal)] = signal
    # Strided frames without a copy of the signal per frame.
    index = np.arange(length)[None, :] + hop * np.arange(frames)[:, None]
    windowed = padded[index] * np.hanning(length)[None, :]
    power = np.abs(np.fft.rfft(windowed, n=n_fft, axis=1)) ** 2
    f_max = rate / 2.0 if f_max is None else min(f_max, rate / 2.0)
    bank = mel_filterbank(n_bands, n_fft, rate, f_min, f_max)
    # The floor keeps log10 finite in digital silence (-200 dB: far below any floor used).
    return 10.0 * np.log10(power @ bank.T + 1e-20)


def normalise(energy_db: np.ndarray) -> np.ndarray:
    """Shift log energies so the loudest band and frame is 0 dB."""
    energy_db = np.asarray(energy_db, dtype=np.float64)
    return energy_db - energy_db.max()


def encode_delta(energy_db: np.ndarray, delta_db: float = 6.0, floor_db: float = -45.0,
                 on_off: bool = False) -> np.ndarray:
    """Send-on-delta spikes per band.

    Parameters
    ----------
    energy_db : array of float, shape (frames, bands)
        Log energies (normalised: 0 dB is the loudest).
    delta_db : float
        Rise (and with ``on_off``, fall) that makes a spike.
    floor_db : float
        Energies below it count as the floor: silence and noise below it make no spikes.
    on_off : bool
        Add ``bands`` OFF inputs (after the ON inputs) that spike on falls.

    Returns
    -------
    array of uint8, shape (frames, bands) or (frames, 2 * bands)
    """
    if delta_db <= 0:
        raise ValueError(f"delta_db must be > 0, got {delta_db}")
    level = np.maximum(np.asarray(energy_db, dtype=np.float64), floor_db)
    frames, bands = level.shape
    reference = np.full(bands, floor_db)
    on = np.zeros((frames, bands), dtype=np.uint8)
    off = np.zeros((frames, bands), dtype=np.uint8)
    for t in range(frames):
        # At most one spike per step and band (the sample format is one bit); a larger
        # jump moves the reference by all its whole steps at once.
        up = np.floor((level[t] - reference) / delta_db)
        rising = up >= 1
        on[t] = rising
        reference = np.where(rising, reference + up * delta_db, reference)
        if on_off:
            down = np.floor((reference - level[t]) / delta_db)
            falling = down >= 1
            off[t] = falling
            reference = np.where(falling, reference - down * delta_db, reference)
        else:
            reference = np.minimum(reference, level[t])
    return np.concatenate([on, off], axis=1) if on_off else on


def encode_rate(energy_db: np.ndarray, floor_db: float = -45.0,
                range_db: float | None = None) -> np.ndarray:
    """Integrate-and-fire spikes per band, at a rate that grows with the energy.

    Each band integrates ``clip((energy - floor_db) / range_db, 0, 1)`` per step and spikes
    (subtracting 1) when the sum reaches 1, so 0 dB spikes every step and ``floor_db`` never.

    Parameters
    ----------
    energy_db : array of float, shape (frames, bands)
        Normalised log energies.
    floor_db : float
        Energy of rate 0.
    range_db : float, optional
        Energy span from rate 0 to rate 1 (default ``-floor_db``).

    Returns
    -------
    array of uint8, shape (frames, bands)
    """
    range_db = -floor_db if range_db is None else range_db
    if range_db <= 0:
        raise ValueError(f"range_db must be > 0, got {range_db}")
    drive = np.clip((np.asarray(energy_db, dtype=np.float64) - floor_db) / range_db, 0, 1)
    spikes = np.zeros(drive.shape, dtype=np.uint8)
    charge = np.zeros(drive.shape[1])
    for t in range(drive.shape[0]):
        # 1 - 1e-9: a drive of exactly 1 spikes every step despite float rounding.
        charge += drive[t]
        fired = charge >= 1.0 - 1e-9
        spikes[t] = fired
        charge[fired] -= 1.0
    return spikes


def encode(energy_db: np.ndarray, encoder: str = "delta", **options) -> np.ndarray:
    """Spikes of normalised log energies with encoder ``"delta"`` or ``"rate"``."""
    if encoder == "delta":
        return encode_delta(energy_db, **options)
    if encoder == "rate":
        return encode_rate(energy_db, **options)
    raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
