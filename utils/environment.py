"""What this machine has: library versions, GPU or CPU, quick mode and where data comes from; the fastest
safe precision for training here; and :func:`setup`, the first call of every notebook."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from utils.cifar10 import describe_source
from utils.settings import QUICK_ENV, keras_cache_dir, quick_mode

_PACKAGES = ["tensorflow", "keras", "numpy", "pillow", "matplotlib", "seaborn", "scikit-learn"]
#: What the notebooks import (module: pip name); in Colab, :func:`setup` installs any that is missing.
NOTEBOOK_PACKAGES = {"tensorflow": "tensorflow", "keras": "keras", "numpy": "numpy", "PIL": "pillow",
                     "matplotlib": "matplotlib", "seaborn": "seaborn", "sklearn": "scikit-learn"}
_IMAGENET_FILES = ["mobilenet_2_5_224_tf.h5", "mobilenet_2_5_224_tf_no_top.h5", "imagenet_class_index.json"]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _accelerators() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"none: training runs on the CPU ({os.cpu_count()} cores)"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return f"{len(gpus)} GPU(s): {', '.join(names)}"


def environment_report() -> dict[str, str]:
    """Versions, hardware, mode and data sources, as ``{label: value}`` strings."""
    report = {
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "running in": "Google Colab" if "google.colab" in sys.modules else "local Python / Jupyter",
    }
    report.update({package: _version(package) for package in _PACKAGES})
    report["accelerator"] = _accelerators()
    report["quick mode"] = (f"on ({QUICK_ENV}=1): small subsets, few epochs" if quick_mode()
                            else f"off: full data and epochs (set {QUICK_ENV}=1 for a fast trial run)")
    report["CIFAR-10 from"] = describe_source()
    cache = keras_cache_dir()
    present = [name for name in _IMAGENET_FILES if (cache / "models" / name).exists()]
    report["Keras cache"] = (f"{cache}" + (f" (offline weights: {', '.join(present)})" if present
                                           else " (no weights cached yet: downloaded on first use)"))
    return report


def print_environment() -> dict[str, str]:
    """Print :func:`environment_report` as an aligned table and return it."""
    report = environment_report()
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    return report


def setup() -> None:
    """The first call of every notebook. In Google Colab, install whatever the notebooks need and Colab
    lacks (usually nothing); everywhere, print :func:`environment_report`."""
    if "google.colab" in sys.modules:
        missing = [pip for module, pip in NOTEBOOK_PACKAGES.items() if importlib.util.find_spec(module) is None]
        if missing:
            print(f"installing {', '.join(missing)} ...", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)
    print_environment()


def best_precision() -> str:
    """The fastest safe Keras dtype policy for training on this machine.

    * NVIDIA GPU of compute capability 8.0 or newer, or a CPU with AVX512-BF16 or AMX:
      ``mixed_bfloat16`` (weights stay float32; notebook 02's recipe trains 1.3 times as fast so on a
      2-core AVX512-BF16 CPU, see ``python -m utils benchmark``);
    * an older NVIDIA GPU (Colab's T4, V100): ``mixed_float16``, which needs loss scaling (Keras adds
      it in ``compile`` when the model's own policy is ``mixed_float16``);
    * anything else: ``float32``.
    """
    import tensorflow as tf

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
    """Build Keras layers in the dtype policy ``policy`` (``"mixed_bfloat16"``, ...) inside a ``with`` block, then go
    back to the policy before it: ``with precision(best_precision()): model = build()``. A model built so also
    gets the policy, which is what makes ``compile`` add loss scaling under ``"mixed_float16"``."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)
