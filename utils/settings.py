"""How a run is set up: the quick-mode switch, the seed, the project's paths, where CIFAR-10 and the ImageNet
weights come from, the number format to compute in, and :func:`setup`, the first call of every notebook.

This module is the one place that reads the ``QUICK`` environment variable: every notebook and command asks
:func:`quick_mode` (or :func:`by_mode`) instead of reading the environment itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import keras
import tensorflow as tf

#: Environment variable that turns quick mode on (``QUICK=1``) or off (``QUICK=0`` or unset).
QUICK_ENV = "QUICK"

#: Environment variable naming a local copy of CIFAR-10 (a folder or an archive), for machines without internet.
CIFAR10_ENV = "CIFAR10_DIR"

#: Where ``keras.datasets.cifar10.load_data()`` downloads from.
CIFAR10_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

#: Environment variable naming a local copy of the TensorFlow tutorials' flower photos (the extracted folder).
FLOWERS_ENV = "FLOWERS_DIR"

#: Where the TensorFlow tutorials download the flower photos from (3,670 Flickr photos, CC BY 2.0, 5 classes).
FLOWERS_ORIGIN = "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"

#: Default seed for ``keras.utils.set_random_seed`` and for data splits.
SEED = 42

#: Root of the repository (the folder holding ``utils/`` and ``notebooks/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Default new images for prediction (notebook 05 and ``python -m utils predict``).
DATASET_DIR = REPO_ROOT / "DATASET"

#: Notebook 04's default backbone (a key of ``utils.backbones.BACKBONES``): strong, needs its weights downloaded.
DEFAULT_BACKBONE = "efficientnetv2b0"

#: The strongest backbone whose ImageNet weights (with and without the classifier) this project can use
#: without internet (README, "Working offline"): MobileNet v1 at width 0.75, 68.4 % ImageNet top-1.
OFFLINE_BACKBONE = "mobilenet_v1_075"

#: The project on GitHub (owner/name). Each notebook's "Open in Colab" badge and Colab setup cell name it;
#: a test checks that they agree with this value and with the notebook's own path. A fork changes it here
#: and in those two places.
GITHUB_REPOSITORY = "your-account/cnn-image-classification-notebooks"
GITHUB_BRANCH = "main"

#: What the notebooks import (module: pip name); in Colab, :func:`setup` installs any that is missing.
NOTEBOOK_PACKAGES = {"tensorflow": "tensorflow", "keras": "keras", "numpy": "numpy", "PIL": "pillow",
                     "matplotlib": "matplotlib", "seaborn": "seaborn", "sklearn": "scikit-learn", "scipy": "scipy",
                     "pandas": "pandas"}
_REPORTED = ["tensorflow", "keras", "numpy", "pillow", "matplotlib", "seaborn", "scikit-learn", "scipy", "pandas"]
_IMAGENET_FILES = ["mobilenet_7_5_224_tf.h5", "mobilenet_7_5_224_tf_no_top.h5", "mobilenet_2_5_224_tf.h5",
                   "mobilenet_2_5_224_tf_no_top.h5", "imagenet_class_index.json"]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def quick_mode() -> bool:
    """True when quick mode is on (``QUICK=1``): small data subsets, few epochs and small images, so that a
    notebook runs in about a minute on two CPU cores (this is how the tests run). Read on every call, so setting
    ``os.environ["QUICK"]`` in a notebook before its settings cell takes effect."""
    raw = os.environ.get(QUICK_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{QUICK_ENV}={os.environ[QUICK_ENV]!r} is not understood: set {QUICK_ENV}=1 for quick mode, "
                     f"or {QUICK_ENV}=0 (or leave it unset) for full mode.")


def by_mode(*, full, quick):
    """Pick a setting by mode: ``EPOCHS = by_mode(full=30, quick=2)``."""
    return quick if quick_mode() else full


def set_seed(seed: int = SEED) -> int:
    """Seed Python, NumPy and the Keras backend (``keras.utils.set_random_seed``)."""
    keras.utils.set_random_seed(seed)
    return seed


def models_dir() -> Path:
    """Where notebooks save trained models (git-ignored); quick-mode runs (such as the test suite) save under
    ``models/quick/``, so they never overwrite a model trained in full mode."""
    base = REPO_ROOT / "models"
    return base / "quick" if quick_mode() else base


def cache_dir() -> Path:
    """Where decoded images too many for memory are kept between epochs and runs (``utils.folders.DecodeOnce``):
    ``$CNN_CACHE_DIR``, else ``~/.cache/cnn-image-classification``. Safe to delete at any time."""
    return Path(os.environ.get("CNN_CACHE_DIR") or Path.home() / ".cache" / "cnn-image-classification").expanduser()


def keras_cache_dir() -> Path:
    """The Keras cache folder (downloaded data sets and weights): ``$KERAS_HOME`` if set, else ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def cifar10_source() -> str:
    """One line saying where ``utils.load_cifar10()`` will take CIFAR-10 from, without loading it."""
    source = os.environ.get(CIFAR10_ENV)
    if source:
        path = Path(source).expanduser()
        if path.is_dir():
            return f"local folder {path} ({CIFAR10_ENV})"
        if path.is_file():
            return f"local archive {path} ({CIFAR10_ENV})"
        return f"{CIFAR10_ENV}={source} does not exist: loading will fail until it names a local copy of CIFAR-10"
    cached = keras_cache_dir() / "datasets" / "cifar-10-batches-py-target"
    if cached.exists():
        return f"Keras cache {cached}"
    return (f"Keras download from {CIFAR10_ORIGIN} on first use (about 163 MB, cached in "
            f"{keras_cache_dir() / 'datasets'}); offline, set {CIFAR10_ENV}")


def flowers_source() -> str:
    """One line saying where ``utils.data.flower_photos()`` will take the flower photos from, without loading them."""
    source = os.environ.get(FLOWERS_ENV)
    if source:
        path = Path(source).expanduser()
        return (f"local folder {path} ({FLOWERS_ENV})" if path.is_dir() else
                f"{FLOWERS_ENV}={source} is not a folder: loading will fail until it names the extracted flower_photos")
    cached = keras_cache_dir() / "datasets" / "flower_photos"
    if cached.exists():
        return f"Keras cache {cached}"
    return (f"Keras download from {FLOWERS_ORIGIN} on first use (about 220 MB, cached in "
            f"{keras_cache_dir() / 'datasets'}); offline, set {FLOWERS_ENV}")


def colab_url(notebook: str | Path) -> str:
    """Google Colab's address for a notebook of this repository, e.g. ``colab_url("notebooks/02_x.ipynb")``."""
    path = Path(notebook)
    relative = path.resolve().relative_to(REPO_ROOT) if path.is_absolute() else path
    return f"https://colab.research.google.com/github/{GITHUB_REPOSITORY}/blob/{GITHUB_BRANCH}/{relative.as_posix()}"


def best_precision() -> str:
    """The fastest safe Keras dtype policy for training on this machine.

    * NVIDIA GPU of compute capability 8.0 or newer, or a CPU with AVX512-BF16 or AMX: ``mixed_bfloat16``
      (weights stay float32; notebook 02's recipe trains 1.3 times as fast so on a 2-core AVX512-BF16 CPU,
      see ``python -m utils benchmark``);
    * an older NVIDIA GPU (Colab's T4, V100): ``mixed_float16``, which needs loss scaling (Keras adds it in
      ``compile`` when the model's own policy is ``mixed_float16``);
    * anything else: ``float32``.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        return "mixed_bfloat16" if capability >= (8, 0) else "mixed_float16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "float32"
    return "mixed_bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


@contextlib.contextmanager
def precision(policy: str):
    """Build Keras layers in the dtype policy ``policy`` inside a ``with`` block, then go back to the policy before
    it: ``with precision(best_precision()): model = build()``. A model built so also gets the policy, which is
    what makes ``compile`` add loss scaling under ``"mixed_float16"``."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)


def environment_report() -> dict[str, str]:
    """Versions, hardware, mode and data sources, as ``{label: value}`` strings."""
    report = {"python": f"{platform.python_version()} ({sys.executable})", "platform": platform.platform(),
              "running in": "Google Colab" if "google.colab" in sys.modules else "local Python / Jupyter"}
    report.update({package: _version(package) for package in _REPORTED})
    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus]
    report["accelerator"] = (f"{len(gpus)} GPU(s): {', '.join(names)}" if gpus
                             else f"none: training runs on the CPU ({os.cpu_count()} cores)")
    report["quick mode"] = (f"on ({QUICK_ENV}=1): small subsets, few epochs" if quick_mode()
                            else f"off: full data and epochs (set {QUICK_ENV}=1 for a fast trial run)")
    report["CIFAR-10 from"] = cifar10_source()
    report["flower photos from"] = flowers_source()
    cache = keras_cache_dir()
    present = [name for name in _IMAGENET_FILES if (cache / "models" / name).exists()]
    report["Keras cache"] = f"{cache}" + (f" (offline weights: {', '.join(present)})" if present
                                          else " (no weights cached yet: downloaded on first use)")
    return report


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_environment() -> dict[str, str]:
    """Print :func:`environment_report` as an aligned table and return it."""
    report = environment_report()
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    return report


def setup() -> None:
    """The first call of every notebook. In Google Colab, install whatever the notebooks need and Colab lacks
    (usually nothing); everywhere, print :func:`environment_report`."""
    if "google.colab" in sys.modules:
        missing = [pip for module, pip in NOTEBOOK_PACKAGES.items() if importlib.util.find_spec(module) is None]
        if missing:
            print(f"installing {', '.join(missing)} ...", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)
    print_environment()
