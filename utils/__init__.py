"""Shared helpers for the CNN image-classification notebooks.

The notebooks hold the story and the settings; the logic they call lives here:

* :mod:`utils.settings` - quick mode (``QUICK``), seeds and paths;
* :mod:`utils.cifar10` - CIFAR-10 from the Keras cache or a local copy (``CIFAR10_DIR``);
* :mod:`utils.folders` - ``tf.data`` pipelines from a folder-per-class data set;
* :mod:`utils.images` - any image file as the RGB array a model expects;
* :mod:`utils.environment` - what this machine has (versions, GPU, data sources);
* :mod:`utils.plots` - the figures the notebooks show (matplotlib and seaborn);
* :mod:`utils.explore` - data-set statistics, closest pairs, 2-D maps (notebook 01);
* :mod:`utils.evaluation` - accuracy, confusion matrix, per-class report, mistakes;
* :mod:`utils.training` - the CNN recipes and the time-budgeted training loop (imported on demand:
  ``from utils import training``; it loads TensorFlow);
* :mod:`utils.runner` - ``headline()`` and running the notebooks headless (``python -m utils run-notebooks``);
* :mod:`utils.transfer` - ImageNet backbones and the two stages of transfer learning (notebook 03;
  imported on demand: ``from utils import transfer``).

TensorFlow is imported only by the functions that need it, so ``import utils``
stays fast.
"""

import os as _os

# Keep TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) out of notebook
# output (set TF_CPP_MIN_LOG_LEVEL=0 to see it); real errors still reach Python as
# exceptions. This only works before TensorFlow is imported.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from utils import evaluation, explore, plots
from utils.cifar10 import (
    CIFAR10_ENV,
    CLASS_NAMES,
    Cifar10FormatError,
    Cifar10NotAvailable,
    load_cifar10,
)
from utils.environment import environment_report, print_environment
from utils.folders import (
    DatasetFolderError,
    FolderScan,
    check_dataset,
    image_folder_datasets,
    scan_image_folder,
)
from utils.images import IMAGE_EXTENSIONS, ImageLoadError, load_image
from utils.plots import image_grid
from utils.runner import headline
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
    "check_dataset",
    "environment_report",
    "evaluation",
    "explore",
    "headline",
    "image_folder_datasets",
    "image_grid",
    "load_cifar10",
    "load_image",
    "models_dir",
    "plots",
    "print_environment",
    "quick_mode",
    "scan_image_folder",
    "set_seed",
]
