"""Spoken digits made locally: an SHD-like task that needs no download.

``python -m golden.spoken --out DIR`` speaks the English digits "zero" .. "nine" with the
``espeak-ng`` speech synthesiser (Debian package ``espeak-ng``) in several voices, speeds
and pitches, turns every recording into spikes with the filterbank and encoders of
:mod:`golden.audio`, and writes ``DIR/train.npz`` and ``DIR/test.npz`` in the sample format
of ``docs/model.md`` section 6 (label = digit).

A *speaker* is an espeak-ng voice with a voice variant (``en-us+m3``: American English,
male variant 3). Every speaker says every digit at every speed and pitch. The test set
holds whole speakers that the training set never hears (``--test-speakers``), as SHD
holds out speakers, so test accuracy measures generalisation to new voices rather than
recall of renditions already heard.

Each recording is trimmed to start at its first frame within ``--trim-db`` of its loudest,
then cut or padded with silence to ``--max-time-ms``, so all samples have the same number
of steps. Learning (``target_mask``) is on in every step.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .audio import ENCODERS, band_energies, encode, normalise, read_wav
from .data import SampleSet, save_samples

__all__ = [
    "DIGITS",
    "SPEAKERS",
    "EspeakError",
    "encode_recording",
    "find_espeak",
    "main",
    "make_spoken",
    "split_by_speaker",
    "synthesise",
]

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

#: Default speakers: espeak-ng voices that need no extra data (not the MBROLA ones) with
#: male, female and formant-synthesiser variants. The split takes the test speakers from
#: the end, so the last ones mix accents and genders.
SPEAKERS = (
    "en-us+m1", "en-gb+f2", "en-gb-scotland+m3", "en-029+f3", "en-us+m5",
    "en-gb-x-rp+f1", "en-us+klatt", "en-gb+m7", "en-gb-scotland+f4", "en-029+m2",
    "en-us+f5", "en-gb+m4",
)
DEFAULT_SPEEDS = (130, 170, 210)  # words per minute (espeak-ng default 175)
DEFAULT_PITCHES = (35, 65)  # 0..99 (espeak-ng default 50)

INSTALL_HINT = "apt-get install espeak-ng"
#: Band energy (dB of full scale) below which a recording counts as digital silence; 16-bit
#: quantisation noise alone is far above it.
_SILENCE_DB = -150.0


class EspeakError(RuntimeError):
    """espeak-ng is missing or failed; the message says what to do."""


def find_espeak() -> str:
    """Path of the ``espeak-ng`` program.

    Raises
    ------
    EspeakError
        It is not on ``PATH``; the message gives the install command.
    """
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakError(f"espeak-ng is not installed (Debian/Ubuntu: {INSTALL_HINT})")
    return path


def synthesise(word: str, wav: str | Path, *, voice: str = "en-us", speed: int = 175,
               pitch: int = 50, espeak: str | None = None) -> Path:
    """Speak ``word`` into the ``.wav`` file ``wav`` with ``espeak-ng -w``.

    Parameters
    ----------
    word : str
        Text to speak.
    wav : str or Path
        Output file.
    voice : str
        espeak-ng voice, optionally with a variant (``en-us+f2``).
    speed : int
        Words per minute.
    pitch : int
        Base pitch, 0..99.
    espeak : str, optional
        Path of the program (default: :func:`find_espeak`).
    """
    espeak = find_espeak() if espeak is None else espeak
    command = [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), word]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0 or not Path(wav).is_file() or Path(wav).stat().st_size <= 44:
        detail = (result.stderr.strip().splitlines() or ["no audio written"])[0]
        raise EspeakError(f"espeak-ng failed for voice {voice!r}: {detail}")
    return Path(wav)


def encode_recording(signal: np.ndarray, rate: int, *, steps: int, n_bands: int = 32,
                     dt_ms: float = 10.0, encoder: str = "delta", trim_db: float = 40.0,
                     **encoder_options) -> np.ndarray:
    """Spike raster ``uint8 [steps, inputs]`` of one recording.

    The recording starts at its first frame whose loudest band is within ``trim_db`` of
    the recording's loudest (synthesisers and microphones add silence of varying length
    before a word) and is cut or padded with silence to ``steps`` frames of ``dt_ms``.
    """
    energy = band_energies(signal, rate, n_bands=n_bands, hop_ms=dt_ms)
    if energy.max() < _SILENCE_DB:
        # Digital silence: normalising would lift it to 0 dB and make it spike everywhere.
        return np.zeros((steps, encode(energy[:1], encoder, **encoder_options).shape[1]),
                        dtype=np.uint8)
    energy = normalise(energy)
    start = int(np.argmax(energy.max(axis=1) >= -trim_db))
    spikes = encode(energy[start:start + steps], encoder, **encoder_options)
    out = np.zeros((steps, spikes.shape[1]), dtype=np.uint8)
    out[:len(spikes)] = spikes
    return out


def _render(job: tuple[int, str, int, int, int], folder: Path, espeak: str,
            options: dict[str, Any]) -> tuple[int, np.ndarray]:
    index, voice, digit, speed, pitch = job
    name = f"{voice.replace('+', '_')}-{DIGITS[digit]}-s{speed}-p{pitch}.wav"
    wav = synthesise(DIGITS[digit], folder / name, voice=voice, speed=speed, pitch=pitch,
                     espeak=espeak)
    signal, rate = read_wav(wav)
    return index, encode_recording(signal, rate, **options)


def make_spoken(speakers: Sequence[str], *, digits: Sequence[int] = tuple(range(10)),
                speeds: Sequence[int] = DEFAULT_SPEEDS, pitches: Sequence[int] = DEFAULT_PITCHES,
                n_bands: int = 32, dt_ms: float = 10.0, max_time_ms: float = 800.0,
                encoder: str = "delta", encoder_options: dict[str, Any] | None = None,
                wav_dir: str | Path | None = None, workers: int | None = None,
                progress: bool | None = None) -> SampleSet:
    """Speak, encode and collect every (speaker, digit, speed, pitch) combination.

    Parameters
    ----------
    speakers : sequence of str
        espeak-ng voices with variants, e.g. :data:`SPEAKERS`.
    digits : sequence of int
        Digits to speak; the label of a sample is the position of its digit in ``digits``
        (the digit itself when all ten are spoken in order).
    speeds, pitches : sequence of int
        espeak-ng ``-s`` (words per minute) and ``-p`` (0..99) values.
    n_bands, dt_ms, max_time_ms, encoder, encoder_options
        Spike encoding (:func:`encode_recording`); ``steps = ceil(max_time_ms / dt_ms)``.
    wav_dir : str or Path, optional
        Keep the recordings there (default: a temporary folder, deleted afterwards).
    workers : int, optional
        Parallel espeak-ng processes (default: number of CPUs).
    progress : bool or None
        Progress bar on stderr: always, never, or only on a terminal (None).

    Returns
    -------
    SampleSet
        Samples ordered by speaker, digit, speed, pitch; ``meta["speaker"]`` gives each
        sample's speaker index into ``meta["speakers"]``.

    Raises
    ------
    EspeakError
        espeak-ng is missing or fails.
    """
    espeak = find_espeak()
    steps = int(np.ceil(max_time_ms / dt_ms - 1e-9))
    options = {"steps": steps, "n_bands": n_bands, "dt_ms": dt_ms, "encoder": encoder,
               **(encoder_options or {})}
    speakers, digits = list(speakers), list(digits)
    combinations = itertools.product(speakers, digits, speeds, pitches)
    jobs = [(index, voice, digit, speed, pitch)
            for index, (voice, digit, speed, pitch) in enumerate(combinations)]
    speaker_of = np.array([speakers.index(job[1]) for job in jobs], dtype=np.int64)
    # Labels count the chosen digits from 0, so a subset of digits needs no unused readouts.
    labels = np.array([digits.index(job[2]) for job in jobs], dtype=np.int64)
    rasters: list[np.ndarray | None] = [None] * len(jobs)

    with tempfile.TemporaryDirectory(prefix="spoken-") as scratch:
        folder = Path(wav_dir) if wav_dir is not None else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        workers = workers or os.cpu_count() or 1
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            # Threads suffice: the time goes into the espeak-ng processes and NumPy FFTs.
            futures = [pool.submit(_render, job, folder, espeak, options) for job in jobs]
            bar = tqdm(concurrent.futures.as_completed(futures), total=len(futures),
                       desc="spoken digits", unit="wav",
                       disable=None if progress is None else not progress)
            try:
                for future in bar:
                    index, raster = future.result()
                    rasters[index] = raster
            except BaseException:
                # Fail fast: a bad voice fails every one of its recordings.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    meta = {
        "source": "spoken", "synthesiser": "espeak-ng", "classes": [DIGITS[d] for d in digits],
        "speakers": list(speakers), "speeds": list(speeds), "pitches": list(pitches),
        "bands": n_bands, "dt_ms": dt_ms, "steps": steps, "encoder": encoder,
        "encoder_options": encoder_options or {}, "speaker": speaker_of.tolist(),
    }
    return SampleSet(spikes=np.stack(rasters), labels=labels, meta=meta)


def split_by_speaker(samples: SampleSet, test_speakers: list[str]) -> tuple[SampleSet,
                                                                           SampleSet]:
    """Train and test sets: the samples of ``test_speakers`` go to the test set."""
    names = samples.meta["speakers"]
    test_ids = [names.index(name) for name in test_speakers]
    speaker = np.array(samples.meta["speaker"])
    is_test = np.isin(speaker, test_ids)
    parts = []
    for mask, split in ((~is_test, "train"), (is_test, "test")):
        meta = {**samples.meta, "split": split,
                "speakers": [n for i, n in enumerate(names) if (i in test_ids) == (split ==
                                                                                 "test")]}
        kept = speaker[mask]
        # Speaker indices refer to this split's own list.
        meta["speaker"] = [meta["speakers"].index(names[i]) for i in kept]
        parts.append(SampleSet(spikes=samples.spikes[mask], labels=samples.labels[mask],
                               meta=meta))
    return parts[0], parts[1]


# -- command line -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _int_list(flag: str, lo: int, hi: int):
    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be comma-separated integers, "
                                             f"got {text!r}") from None
        bad = [v for v in values if not lo <= v <= hi]
        if bad:
            raise argparse.ArgumentTypeError(f"{flag} values must be in [{lo}, {hi}], "
                                             f"got {bad[0]}")
        return values
    return parse


def _parser() -> _Parser:
    parser = _Parser(prog="python -m golden.spoken",
                     description="Speak the digits with espeak-ng and write an SHD-like "
                                 "spike task DIR/train.npz, DIR/test.npz (test = held-out "
                                 f"speakers). Needs espeak-ng ({INSTALL_HINT}).")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--speakers", default=",".join(SPEAKERS),
                        help="comma-separated espeak-ng voices with variants "
                             "(default: 12 built-in speakers)")
    parser.add_argument("--test-speakers", type=int, default=3,
                        help="the last N speakers form the test set (default %(default)s)")
    parser.add_argument("--digits", type=_int_list("--digits", 0, 9), default=tuple(range(10)),
                        help="digits to speak, e.g. 0,1,2 (default all ten)")
    parser.add_argument("--speeds", type=_int_list("--speeds", 80, 450), default=DEFAULT_SPEEDS,
                        help="espeak-ng speeds in words per minute (default 130,170,210)")
    parser.add_argument("--pitches", type=_int_list("--pitches", 0, 99),
                        default=DEFAULT_PITCHES, help="espeak-ng pitches 0..99 (default 35,65)")
    parser.add_argument("--bands", type=int, default=32,
                        help="filterbank bands = inputs per encoder polarity (default 32)")
    parser.add_argument("--dt-ms", type=float, default=10.0, help="time step (default 10 ms)")
    parser.add_argument("--max-time-ms", type=float, default=800.0,
                        help="sample length (default 800 ms)")
    parser.add_argument("--encoder", choices=ENCODERS, default="delta",
                        help="delta: send-on-delta onsets (default); rate: integrate-and-fire")
    parser.add_argument("--delta-db", type=float, default=6.0,
                        help="rise per spike of the delta encoder (default 6 dB)")
    parser.add_argument("--on-off", action="store_true",
                        help="delta encoder: add OFF inputs for falls (doubles the inputs)")
    parser.add_argument("--floor-db", type=float, default=-45.0,
                        help="energies below this (relative to the loudest) make no spikes "
                             "(default -45 dB)")
    parser.add_argument("--keep-wav", type=Path, default=None,
                        help="keep the recordings in this folder")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel espeak-ng processes (default: CPUs)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only on a terminal)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        speakers = [s.strip() for s in args.speakers.split(",") if s.strip()]
        if len(set(speakers)) != len(speakers):
            raise _UsageError("--speakers must not repeat a speaker")
        if len(set(args.digits)) != len(args.digits):
            raise _UsageError("--digits must not repeat a digit")
        if not 1 <= args.test_speakers < len(speakers):
            raise _UsageError(f"--test-speakers must be in [1, {len(speakers) - 1}] (some "
                              f"speakers must stay for training), got {args.test_speakers}")
        for flag, value in (("--bands", args.bands), ("--dt-ms", args.dt_ms),
                            ("--max-time-ms", args.max_time_ms), ("--delta-db", args.delta_db)):
            if not value > 0:
                raise _UsageError(f"{flag} must be > 0, got {value}")
        if args.max_time_ms < args.dt_ms:
            raise _UsageError("--max-time-ms must be at least --dt-ms")
        if args.workers is not None and args.workers < 1:
            raise _UsageError(f"--workers must be >= 1, got {args.workers}")
    except _UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    if args.encoder == "delta":
        encoder_options = {"delta_db": args.delta_db, "floor_db": args.floor_db,
                           "on_off": args.on_off}
    else:
        encoder_options = {"floor_db": args.floor_db}
    try:
        samples = make_spoken(speakers, digits=args.digits, speeds=args.speeds,
                              pitches=args.pitches, n_bands=args.bands, dt_ms=args.dt_ms,
                              max_time_ms=args.max_time_ms, encoder=args.encoder,
                              encoder_options=encoder_options, wav_dir=args.keep_wav,
                              workers=args.workers, progress=args.progress)
    except EspeakError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    train, test = split_by_speaker(samples, speakers[-args.test_speakers:])
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for split, part in (("train", train), ("test", test)):
            path = args.out / f"{split}.npz"
            save_samples(path, part)
            print(json.dumps({"split": split, "path": str(path), "samples": part.n_samples,
                              "steps": part.n_steps, "n_in": part.n_in,
                              "classes": len(args.digits), "speakers": part.meta["speakers"],
                              "spike_density": round(float(part.spikes.mean()), 5)}))
    except OSError as err:
        print(f"error: {args.out}: cannot write ({err.strerror or err})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
