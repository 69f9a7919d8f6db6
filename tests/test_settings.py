"""utils.settings: the QUICK switch, mode-dependent settings, model folder and seeding."""

import numpy as np
import pytest

from utils.settings import QUICK_ENV, REPO_ROOT, by_mode, models_dir, quick_mode, set_seed


@pytest.mark.parametrize("value, expected", [
    (None, False), ("", False), ("0", False), ("false", False), ("off", False),
    ("1", True), ("true", True), ("YES", True), (" on ", True),
])
def test_quick_mode_reads_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(QUICK_ENV, raising=False)
    else:
        monkeypatch.setenv(QUICK_ENV, value)
    assert quick_mode() is expected
    assert by_mode(full="full", quick="quick") == ("quick" if expected else "full")


def test_unknown_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(QUICK_ENV, "maybe")
    with pytest.raises(ValueError, match="QUICK='maybe' is not understood: set QUICK=1"):
        quick_mode()


def test_quick_runs_never_overwrite_full_models(monkeypatch):
    monkeypatch.setenv(QUICK_ENV, "0")
    full = models_dir()
    monkeypatch.setenv(QUICK_ENV, "1")
    assert models_dir() != full and models_dir().parent == full == REPO_ROOT / "models"


def test_set_seed_makes_keras_and_numpy_repeatable():
    import keras

    draws = []
    for _ in range(2):
        set_seed(123)
        draws.append((np.random.rand(3), keras.random.uniform((3,)).numpy()))
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    np.testing.assert_array_equal(draws[0][1], draws[1][1])
