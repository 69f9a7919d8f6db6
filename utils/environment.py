"""What this machine has: library versions, GPU or CPU, quick mode and where data comes from."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from utils.cifar10 import describe_source, keras_cache_dir
from utils.settings import QUICK_ENV, quick_mode

_PACKAGES = ["tensorflow", "keras", "numpy", "pillow", "matplotlib", "seaborn", "scikit-learn"]
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
