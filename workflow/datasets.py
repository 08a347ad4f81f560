"""The datasets of tinyflow's closed loop (train -> compress -> measure on a device).

Nothing is downloaded: ``digits`` ships with scikit-learn, ``keywords`` is spoken by
espeak-ng on this machine and cached. Both return a ``Dataset`` with a stratified
train/val/test split that depends only on the seed.

>>> data = load("digits")
>>> data
Dataset('digits', input (8, 8, 1), 10 classes, train/val/test 1259/269/269)
>>> data.subset(train=100, val=20, test=20).x_train.shape
(100, 8, 8, 1)
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
import math
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from tinyflow.common import cache_dir, publish_file
from tinyflow.errors import InputError, TinyflowError
from tinyflow.firmware.process import require_tool


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Features (float32, batch first) and integer labels of three splits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]   # one sample, e.g. (8, 8, 1)
    name: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Split name -> (x, y), in the order train, val, test."""
        return {"train": (self.x_train, self.y_train), "val": (self.x_val, self.y_val),
                "test": (self.x_test, self.y_test)}

    def subset(self, train: int | None = None, val: int | None = None,
               test: int | None = None) -> Dataset:
        """A smaller copy for fast experiments and tests: the first ``train``/``val``/
        ``test`` samples of each split (None keeps a split whole), taken class by
        class in turn so the classes stay balanced. Always the same samples."""
        sizes = {"train": train, "val": val, "test": test}
        fields = {}
        for split, (x, y) in self.splits().items():
            keep = _balanced_head(y, sizes[split])
            fields[f"x_{split}"], fields[f"y_{split}"] = x[keep], y[keep]
        return dataclasses.replace(self, **fields)

    def resized(self, scale: float) -> Dataset:
        """The same samples at another input resolution: height and width scaled by
        ``scale`` (bilinear, ``tf.image.resize``), at least 1x1. A search knob: a
        lower resolution costs fewer MACs and less RAM, usually some accuracy."""
        if scale == 1:
            return self
        import tensorflow as tf

        height, width = self.input_shape[:2]
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        fields = {f"x_{split}": tf.image.resize(x, size).numpy().astype(np.float32)
                  for split, (x, _) in self.splits().items()}
        return dataclasses.replace(self, input_shape=(*size, *self.input_shape[2:]),
                                   name=f"{self.name}@{size[0]}x{size[1]}", **fields)

    def __repr__(self) -> str:
        sizes = "/".join(str(len(y)) for _, y in self.splits().values())
        return (f"Dataset({self.name!r}, input {self.input_shape}, {self.num_classes} classes, "
                f"train/val/test {sizes})")

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{split}</td><td>{len(y)}</td></tr>"
                       for split, (_, y) in self.splits().items())
        classes = html.escape(", ".join(self.class_names))
        return (f"<table><caption>{html.escape(self.name)}: input {self.input_shape}</caption>"
                f"<tr><th>split</th><th>samples</th></tr>{rows}"
                f"<tr><td>classes</td><td>{classes}</td></tr></table>")


def _balanced_head(y: np.ndarray, n: int | None) -> np.ndarray:
    """Indices of ``n`` samples: the first of each class, then the second, ...;
    returned in their original order."""
    if n is None:
        return np.arange(len(y))
    rank = np.empty(len(y), dtype=np.int64)   # how many of its class come before it
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        rank[members] = np.arange(len(members))
    return np.sort(np.argsort(rank, kind="stable")[:n])


def _split(x: np.ndarray, y: np.ndarray, *, name: str, class_names, seed: int,
           val_fraction: float, test_fraction: float) -> Dataset:
    """A stratified split: each class gives its share to val and test (rounded),
    the rest to train; each split is shuffled. Depends only on the seed."""
    if not (val_fraction >= 0 and test_fraction >= 0 and val_fraction + test_fraction < 1):
        raise InputError(f"{name}: val_fraction {val_fraction} and test_fraction "
                         f"{test_fraction} must be >= 0 and leave samples for training")
    rng = np.random.default_rng(seed)
    parts = {"train": [], "val": [], "test": []}
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = round(len(members) * test_fraction)
        n_val = round(len(members) * val_fraction)
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    fields = {}
    for split, pieces in parts.items():
        order = rng.permutation(np.concatenate(pieces))
        fields[f"x_{split}"], fields[f"y_{split}"] = x[order], y[order]
    return Dataset(**fields, class_names=tuple(class_names), input_shape=tuple(x.shape[1:]),
                   name=name)


# --- digits ------------------------------------------------------------------------
def digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1797 images, shipped with it) as
    (8, 8, 1) float32 images in [0, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[..., np.newaxis]   # pixels are 0..16
    y = data.target.astype(np.int32)
    return _split(x, y, name="digits", class_names=[str(d) for d in range(10)], seed=seed,
                  val_fraction=val_fraction, test_fraction=test_fraction)


# --- keywords ----------------------------------------------------------------------
# Bump when the clips or features change, so cached files of older versions are not used.
KEYWORDS_VERSION = 1

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE          # 1 s clips, as in Speech Commands
SILENCE = "silence"

# English voices and voice variants of espeak-ng's standard data (`espeak-ng --voices=en`,
# `espeak-ng --voices=variant`); each clip takes one of each at random.
VOICES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-029")
VARIANTS = ("m1", "m2", "m3", "m5", "m7", "f1", "f2", "f3", "f4", "klatt")

ESPEAK_INSTALL = "apt-get install espeak-ng (or run scripts/setup)"


@dataclasses.dataclass(frozen=True)
class _Clip:
    """How to make one clip; drawn up front from the seeded RNG so that the
    (threaded) synthesis cannot change the result."""

    word: str | None        # None: a silence clip, noise only
    voice: str              # espeak-ng -v
    pitch: int              # espeak-ng -p, 0..99
    speed: int              # espeak-ng -s, words per minute
    amplitude: int          # espeak-ng -a, 0..200
    position: float         # where the word starts in the free part of the clip, 0..1
    snr_db: float           # speech clips: speech to noise ratio
    noise_level_db: float   # silence clips: noise level in dBFS
    noise_colour: float     # 0 white .. 2 brown
    noise_seed: int


def keywords(words=("yes", "no", "up", "down", "left", "right"), samples_per_word: int = 100,
             seed: int = 0, noise: bool = True, include_silence: bool = True,
             progress: Callable[[str], None] | None = None, *,
             val_fraction: float = 0.15, test_fraction: float = 0.15) -> Dataset:
    """A keyword-spotting set tinyflow makes itself, shaped like MLPerf Tiny KWS:
    (49, 10, 1) MFCCs of 1 s clips at 16 kHz.

    Each word is spoken ``samples_per_word`` times by espeak-ng in a random voice,
    pitch, speed and loudness, placed at a random offset in the clip and, with
    ``noise``, mixed with coloured noise at 5..30 dB SNR. ``include_silence`` adds a
    "silence" class (background noise only; all zeros without ``noise``).
    The same arguments give the same arrays; they are generated once and cached
    under the tinyflow cache. ``progress`` receives lines like "keywords: 120/480 clips".
    """
    words = tuple(words)
    if not words or len(set(words)) != len(words) or SILENCE in words or not all(
            isinstance(w, str) and w.strip() for w in words):
        raise InputError(f"keywords: words must be distinct, non-empty and not "
                         f"'{SILENCE}', got {words!r}")
    if samples_per_word < 1:
        raise InputError(f"keywords: samples_per_word must be >= 1, got {samples_per_word}")
    report = progress or (lambda line: None)
    class_names = words + ((SILENCE,) if include_silence else ())

    settings = {"version": KEYWORDS_VERSION, "words": words, "samples_per_word": samples_per_word,
                "seed": seed, "noise": noise, "include_silence": include_silence}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir("datasets") / f"keywords-{key}.npz"
    if path.exists():
        with np.load(path) as cached:
            x, y = cached["x"], cached["y"]
        report(f"keywords: {len(y)} clips from the cache")
    else:
        x, y = _make_keywords(class_names, samples_per_word, seed, noise, report)
        publish_file(path, write=lambda staged: np.savez(staged, x=x, y=y))
    return _split(x, y, name="keywords", class_names=class_names, seed=seed,
                  val_fraction=val_fraction, test_fraction=test_fraction)


def _make_keywords(class_names, samples_per_word, seed, noise, report):
    """Features (N, 49, 10, 1) and labels of freshly synthesized clips."""
    espeak = require_tool("espeak-ng", ESPEAK_INSTALL)
    rng = np.random.default_rng(seed)
    plans, labels = [], []
    for label, name in enumerate(class_names):
        for _ in range(samples_per_word):
            plans.append(_plan_clip(rng, None if name == SILENCE else name))
            labels.append(label)

    def render(plan: _Clip) -> np.ndarray:
        speech = None if plan.word is None else _speak(espeak, plan)
        return _mix(plan, speech, noise)

    total = len(plans)
    every = max(1, total // 20)
    audio = np.empty((total, CLIP_SAMPLES), dtype=np.float32)
    # espeak-ng runs as a subprocess per clip; a few at a time hide its start-up cost.
    with ThreadPoolExecutor(max_workers=4) as pool:
        for done, clip in enumerate(pool.map(render, plans), start=1):
            audio[done - 1] = clip
            if done % every == 0 or done == total:
                report(f"keywords: {done}/{total} clips")
    return mfcc(audio)[..., np.newaxis], np.asarray(labels, dtype=np.int32)


def _plan_clip(rng: np.random.Generator, word: str | None) -> _Clip:
    # Every clip draws the same numbers in the same order, silence or not, so that
    # one clip's plan never depends on the kind of the clips before it.
    voice = f"{rng.choice(VOICES)}+{rng.choice(VARIANTS)}"
    pitch, speed, amplitude = (int(rng.integers(25, 76)), int(rng.integers(120, 201)),
                               int(rng.integers(60, 161)))
    position, snr_db, noise_level_db = rng.uniform(), rng.uniform(5, 30), rng.uniform(-50, -25)
    noise_colour, noise_seed = rng.uniform(0, 2), int(rng.integers(2**31))
    return _Clip(word, voice, pitch, speed, amplitude, position, snr_db, noise_level_db,
                 noise_colour, noise_seed)


def _speak(espeak: str, plan: _Clip) -> np.ndarray:
    """The word as float samples at 16 kHz, leading and trailing silence cut."""
    from scipy.signal import resample_poly

    argv = [espeak, "-v", plan.voice, "-p", str(plan.pitch), "-s", str(plan.speed),
            "-a", str(plan.amplitude), "--stdout"]
    # The word goes in on stdin so that no word can be taken for an option.
    result = subprocess.run(argv, input=plan.word.encode(), capture_output=True)
    if result.returncode != 0:
        raise TinyflowError(f"espeak-ng failed on {plan.word!r} ({plan.voice}): "
                            f"{result.stderr.decode(errors='replace').strip()}")
    with wave.open(io.BytesIO(result.stdout)) as wav:
        rate = wav.getframerate()
        # On a pipe espeak-ng cannot fill in the length: read all there is.
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    samples = pcm.astype(np.float32) / 32768.0
    common = math.gcd(SAMPLE_RATE, rate)
    samples = resample_poly(samples, SAMPLE_RATE // common, rate // common).astype(np.float32)
    if not samples.any():
        raise TinyflowError(f"espeak-ng said nothing for {plan.word!r}: is it a word?")
    loud = np.flatnonzero(np.abs(samples) > 0.02 * np.abs(samples).max())
    return samples[loud[0]:loud[-1] + 1][:CLIP_SAMPLES]


def _mix(plan: _Clip, speech: np.ndarray | None, noise: bool) -> np.ndarray:
    """One 1 s clip: the speech at its offset plus noise."""
    clip = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    if speech is not None:
        start = int(plan.position * (CLIP_SAMPLES - len(speech)))
        clip[start:start + len(speech)] = speech
    if noise:
        if speech is None:
            level = 10 ** (plan.noise_level_db / 20)
        else:
            level = np.sqrt(np.mean(speech ** 2)) * 10 ** (-plan.snr_db / 20)
        clip += level * _coloured_noise(plan.noise_seed, plan.noise_colour)
    return np.clip(clip, -1.0, 1.0)


def _coloured_noise(seed: int, colour: float) -> np.ndarray:
    """Unit-RMS noise with power falling as 1/f**colour (0 white, 1 pink, 2 brown):
    white noise shaped in the frequency domain."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(CLIP_SAMPLES))
    frequencies = np.arange(len(spectrum), dtype=np.float64)
    frequencies[0] = 1.0    # keep the DC bin finite
    shaped = np.fft.irfft(spectrum / frequencies ** (colour / 2), n=CLIP_SAMPLES)
    return (shaped / np.sqrt(np.mean(shaped ** 2))).astype(np.float32)


def mfcc(audio: np.ndarray, batch: int = 512) -> np.ndarray:
    """MFCCs of 1 s clips at 16 kHz, (N, 16000) -> (N, 49, 10), as MLPerf Tiny KWS:
    40 ms frames every 20 ms, 40 log-mel bins over 20..4000 Hz, the first 10 MFCCs."""
    import tensorflow as tf

    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=40, num_spectrogram_bins=513, sample_rate=SAMPLE_RATE,
        lower_edge_hertz=20.0, upper_edge_hertz=4000.0)
    features = []
    for start in range(0, len(audio), batch):
        stft = tf.signal.stft(audio[start:start + batch], frame_length=640, frame_step=320,
                              fft_length=1024)
        mel = tf.tensordot(tf.abs(stft), mel_matrix, 1)
        log_mel = tf.math.log(mel + 1e-6)
        features.append(tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :10].numpy())
    return np.concatenate(features).astype(np.float32)


# --- by name -----------------------------------------------------------------------
DATASETS = {"digits": digits, "keywords": keywords}


def load(name: str, **kwargs) -> Dataset:
    """A dataset by name ("digits", "keywords"); ``kwargs`` go to its function."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name](**kwargs)


__all__ = ["DATASETS", "Dataset", "digits", "keywords", "load", "mfcc"]
