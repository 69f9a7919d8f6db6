"""Run-wide settings: the quick-mode switch, the random seed and the project paths.

This module is the one place that reads the ``QUICK`` environment variable.
Every notebook and command asks :func:`quick_mode` (or :func:`by_mode`) instead
of reading the environment itself, so the switch behaves the same everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that turns quick mode on (``QUICK=1``) or off (``QUICK=0`` or unset).
QUICK_ENV = "QUICK"

#: Default seed for ``keras.utils.set_random_seed`` and for data splits.
SEED = 42

#: Root of the repository (the folder holding ``utils/`` and ``notebooks/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Default new images for prediction (notebook 05 and ``python -m utils predict``).
DATASET_DIR = REPO_ROOT / "DATASET"

#: Notebook 04's default backbone (a key of ``utils.transfer.BACKBONES``): strong, needs its weights downloaded.
DEFAULT_BACKBONE = "efficientnetv2b0"

#: The backbone whose ImageNet weights this project can use without internet (README, "Working offline").
OFFLINE_BACKBONE = "mobilenet_v1_025"

#: The project on GitHub (owner/name). Each notebook's "Open in Colab" badge and Colab setup cell name it;
#: a test checks that they agree with this value and with the notebook's own path. A fork changes it here
#: and in those two places.
GITHUB_REPOSITORY = "your-account/cnn-image-classification-notebooks"
GITHUB_BRANCH = "main"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def keras_cache_dir() -> Path:
    """The Keras cache folder (downloaded data sets and weights): ``$KERAS_HOME`` if set, else ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def quick_mode() -> bool:
    """Return True when quick mode is on (``QUICK=1``).

    Quick mode means small data subsets, few epochs and small images, so that a
    notebook runs in about a minute on two CPU cores (this is how the tests run).
    The variable is read on every call, so setting ``os.environ["QUICK"]`` in a
    notebook before the settings cell takes effect.
    """
    raw = os.environ.get(QUICK_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"{QUICK_ENV}={os.environ[QUICK_ENV]!r} is not understood: "
        f"set {QUICK_ENV}=1 for quick mode, or {QUICK_ENV}=0 (or leave it unset) for full mode."
    )


def by_mode(*, full, quick):
    """Pick a setting by mode: ``EPOCHS = by_mode(full=30, quick=2)``."""
    return quick if quick_mode() else full


def models_dir() -> Path:
    """Folder where notebooks save trained models (git-ignored).

    Quick-mode runs (such as the test suite) save under ``models/quick/`` so
    they never overwrite a model trained in full mode.
    """
    base = REPO_ROOT / "models"
    return base / "quick" if quick_mode() else base


def set_seed(seed: int = SEED) -> int:
    """Seed Python, NumPy and the Keras backend (``keras.utils.set_random_seed``)."""
    import keras

    keras.utils.set_random_seed(seed)
    return seed


def colab_url(notebook: str | Path) -> str:
    """Google Colab's address for a notebook of this repository, e.g. ``colab_url("notebooks/02_x.ipynb")``."""
    path = Path(notebook)
    relative = path.resolve().relative_to(REPO_ROOT) if path.is_absolute() else path
    return f"https://colab.research.google.com/github/{GITHUB_REPOSITORY}/blob/{GITHUB_BRANCH}/{relative.as_posix()}"
