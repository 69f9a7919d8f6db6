"""Shared helpers for the CNN image-classification notebooks: the plumbing, not the lesson.

What a reader learns from - every model, ``compile``, ``fit``, freezing and unfreezing - is written in the
notebooks; cells marked ``#@save`` are also saved to :mod:`utils.cnn` (notebook 02) and
:mod:`utils.transfer` (notebook 04) for the command line (:mod:`utils.export`). The rest lives here:

* :mod:`utils.settings` - quick mode (``QUICK``), seeds, paths, the Keras cache folder;
* :mod:`utils.environment` - what this machine has, :func:`setup` (every notebook's first call), the best
  training precision;
* :mod:`utils.cifar10` - CIFAR-10 from the Keras cache or a local copy (``CIFAR10_DIR``);
* :mod:`utils.data` - the CIFAR-10 splits, ``tf.data`` pipelines, one loader for CIFAR-10 or a folder;
* :mod:`utils.folders` - checking a folder-per-class data set, ``tf.data`` pipelines from it;
* :mod:`utils.images` - any image file as the RGB array a model expects;
* :mod:`utils.backbones` - the ImageNet backbone table, loading, preprocessing layers;
* :mod:`utils.callbacks` - the time budget (learning rate by progress, and its progress bar), run estimates;
* :mod:`utils.evaluation` - predictions, accuracy, confusion matrix, per-class report, mistakes;
* :mod:`utils.saving` - ``.keras`` models with their class names;
* :mod:`utils.plots` - the figures the notebooks show (matplotlib and seaborn);
* :mod:`utils.explore` - data-set statistics, closest pairs, 2-D maps (notebook 01);
* :mod:`utils.report` - tables and the headline line a notebook prints;
* :mod:`utils.predict`, :mod:`utils.gradcam` - top-k predictions and heat maps (notebook 05);
* :mod:`utils.runner` - ``python -m utils run-notebooks`` (papermill, in order, with a summary).

Modules that need TensorFlow at import time (``backbones``, ``callbacks``, ``cnn``, ``transfer``) are
imported on demand, so ``import utils`` stays fast.
"""

import os as _os

# Keep TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) out of notebook
# output (set TF_CPP_MIN_LOG_LEVEL=0 to see it); real errors still reach Python as
# exceptions. This only works before TensorFlow is imported.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from utils import calibration, data, environment, evaluation, explore, folders, plots, report, saving, settings
from utils.cifar10 import (
    CIFAR10_ENV,
    CLASS_NAMES,
    Cifar10FormatError,
    Cifar10NotAvailable,
    load_cifar10,
)
from utils.environment import environment_report, print_environment, setup
from utils.folders import (
    DatasetFolderError,
    FolderScan,
    check_dataset,
    image_folder_datasets,
    scan_image_folder,
)
from utils.images import IMAGE_EXTENSIONS, ImageLoadError, load_image
from utils.plots import image_grid
from utils.report import headline
from utils.settings import (
    DATASET_DIR,
    QUICK_ENV,
    REPO_ROOT,
    SEED,
    by_mode,
    models_dir,
    quick_mode,
    set_seed,
)

__all__ = [
    "CIFAR10_ENV",
    "CLASS_NAMES",
    "DATASET_DIR",
    "IMAGE_EXTENSIONS",
    "QUICK_ENV",
    "REPO_ROOT",
    "SEED",
    "Cifar10FormatError",
    "Cifar10NotAvailable",
    "DatasetFolderError",
    "FolderScan",
    "ImageLoadError",
    "by_mode",
    "calibration",
    "check_dataset",
    "data",
    "environment",
    "environment_report",
    "evaluation",
    "explore",
    "folders",
    "headline",
    "image_folder_datasets",
    "image_grid",
    "load_cifar10",
    "load_image",
    "models_dir",
    "plots",
    "print_environment",
    "quick_mode",
    "report",
    "saving",
    "scan_image_folder",
    "set_seed",
    "settings",
    "setup",
]
