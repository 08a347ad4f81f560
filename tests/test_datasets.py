"""The closed loop's datasets: scikit-learn's digits and the espeak-ng keywords."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tinyflow import datasets
from tinyflow.datasets import digits, keywords, load
from tinyflow.errors import InputError, ToolNotFoundError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (scripts/setup)")

SMALL = dict(words=("yes", "no", "up"), samples_per_word=6)


def all_splits(data):
    return [array for pair in data.splits().values() for array in pair]


def assert_same(a, b):
    for x, y in zip(all_splits(a), all_splits(b)):
        np.testing.assert_array_equal(x, y)


# --- digits ------------------------------------------------------------------------
def test_digits_shapes_and_range():
    data = digits()
    assert data.input_shape == (8, 8, 1)
    assert data.class_names == tuple("0123456789")
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 1797
    for x, y in data.splits().values():
        assert x.dtype == np.float32 and x.shape[1:] == (8, 8, 1)
        assert x.min() == 0.0 and x.max() == 1.0
        assert np.issubdtype(y.dtype, np.integer) and set(y) == set(range(10))


def test_digits_split_is_stratified():
    data = digits(val_fraction=0.2, test_fraction=0.1)
    overall = np.bincount(np.concatenate([y for _, y in data.splits().values()])) / 1797
    for fraction, (_, y) in zip((0.7, 0.2, 0.1), data.splits().values()):
        assert len(y) == pytest.approx(1797 * fraction, abs=10)
        np.testing.assert_allclose(np.bincount(y) / len(y), overall, atol=0.01)


def test_digits_split_depends_only_on_the_seed():
    assert_same(digits(seed=3), digits(seed=3))
    assert not np.array_equal(digits(seed=3).y_train, digits(seed=4).y_train)


def test_subset_is_small_balanced_and_deterministic():
    data = digits()
    small = data.subset(train=50, val=20, test=10)
    assert [len(y) for _, y in small.splits().values()] == [50, 20, 10]
    assert np.bincount(small.y_train).tolist() == [5] * 10
    assert_same(small, data.subset(train=50, val=20, test=10))
    assert len(data.subset(train=50).y_test) == len(data.y_test)   # None keeps a split


def test_repr_and_html():
    data = digits()
    assert repr(data) == str(data) == (
        "Dataset('digits', input (8, 8, 1), 10 classes, train/val/test 1259/269/269)")
    assert "<table>" in data._repr_html_() and "1259" in data._repr_html_()


def test_load_by_name():
    assert load("digits", seed=1).name == "digits"
    with pytest.raises(InputError, match="known: digits, keywords"):
        load("mnist")


# --- keywords ----------------------------------------------------------------------
@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, empty tinyflow cache for one test."""
    monkeypatch.setenv("TINYFLOW_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def small_keywords(tmp_path_factory):
    """The small keyword set, generated once, and the progress lines it reported."""
    lines = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYFLOW_CACHE", str(tmp_path_factory.mktemp("cache")))
        data = keywords(**SMALL, progress=lines.append)
    return data, lines


@needs_espeak
def test_keywords_shapes_and_labels(small_keywords):
    data, lines = small_keywords
    assert data.input_shape == (49, 10, 1)
    assert data.class_names == ("yes", "no", "up", "silence")
    labels = np.concatenate([y for _, y in data.splits().values()])
    assert np.bincount(labels).tolist() == [6, 6, 6, 6]
    for x, y in data.splits().values():
        assert x.dtype == np.float32 and x.shape == (len(y), 49, 10, 1)
        assert np.isfinite(x).all()
    assert lines[-1] == "keywords: 24/24 clips"


@needs_espeak
def test_keywords_are_deterministic(small_keywords, cache):
    data, _ = small_keywords
    assert_same(data, keywords(**SMALL))   # generated again in the empty cache
    other = keywords(**SMALL, seed=1)
    assert not np.array_equal(data.x_train, other.x_train)


@needs_espeak
def test_keywords_are_cached(cache, monkeypatch):
    first = keywords(**SMALL)
    assert len(list(cache.glob("datasets/keywords-*.npz"))) == 1

    def no_synthesis(*args):
        raise AssertionError("espeak-ng ran although the clips are cached")

    monkeypatch.setattr(datasets, "_speak", no_synthesis)
    lines = []
    assert_same(first, keywords(**SMALL, progress=lines.append))
    assert lines == ["keywords: 24 clips from the cache"]


@needs_espeak
def test_keywords_noise(small_keywords, cache):
    def silence(data):
        x = np.concatenate([x for x, _ in data.splits().values()])
        y = np.concatenate([y for _, y in data.splits().values()])
        return x[y == data.class_names.index("silence")]

    noisy, _ = small_keywords
    clean = keywords(**SMALL, noise=False)
    # Without noise every silence clip is the same digital silence; with it none are.
    assert np.ptp(silence(clean), axis=0).max() == 0
    assert np.ptp(silence(noisy), axis=0).min() > 0
    assert not np.array_equal(noisy.x_train, clean.x_train)


def test_keywords_without_espeak(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolNotFoundError, match="apt-get install espeak-ng") as error:
        keywords(**SMALL)
    assert "\n" not in str(error.value)


def test_keywords_rejects_bad_words():
    for words in [(), ("yes", "yes"), ("yes", "silence"), ("yes", " ")]:
        with pytest.raises(InputError, match="words"):
            keywords(words=words)


@needs_espeak
def test_keyword_features_separate_the_words(cache):
    """A linear classifier on per-coefficient statistics over time (which do not
    depend on where the word sits in the clip) tells held-out clips apart."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = keywords(words=("yes", "no", "up"), samples_per_word=20, test_fraction=0.3)

    def statistics(x):
        x = x[..., 0]
        return np.concatenate([x.mean(1), x.std(1), x.min(1), x.max(1)], axis=1)

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    model.fit(statistics(data.x_train), data.y_train)
    accuracy = model.score(statistics(data.x_test), data.y_test)
    assert len(data.y_test) == 24
    assert accuracy >= 0.75, accuracy   # chance is 0.25; 0.96 with espeak-ng 1.51
