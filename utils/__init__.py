"""The notebooks' library: what the notebooks import, the plumbing of the lesson (the lesson itself is in the
notebooks). ``docs/development.md`` has the map; in short:

* generated from the notebooks' ``#@save`` cells (edit the notebook, then ``python -m utils regenerate``):
  :mod:`utils.cnn` (notebook 02: the CNNs and every ingredient of the recipe), :mod:`utils.transfer`
  (notebook 04: transfer learning);
* :mod:`utils.settings` - quick mode, seeds, paths, data sources, the number format, :func:`setup`;
* :mod:`utils.cifar10` - CIFAR-10 from the Keras download or a local copy (``CIFAR10_DIR``);
* :mod:`utils.images` - any image file as the RGB array a model expects; the folder walker and thread pool;
* :mod:`utils.folders`, :mod:`utils.doctor` - checking a folder-per-class data set, pipelines from it;
* :mod:`utils.data` - the CIFAR-10 splits, ``tf.data`` pipelines from arrays, one loader for CIFAR-10 or a folder;
* :mod:`utils.backbones` - the ImageNet backbone table, loading, preprocessing layers;
* :mod:`utils.callbacks` - the time budget and its progress bar, run estimates, a deadline;
* :mod:`utils.evaluation`, :mod:`utils.calibration` - scores, confusion matrix, per-class report, the
  headline line; calibration and temperature scaling;
* :mod:`utils.plots`, :mod:`utils.explore` - the figures; data-set statistics (notebook 01);
* :mod:`utils.saving`, :mod:`utils.predict`, :mod:`utils.gradcam`, :mod:`utils.upload` - saved models,
  top-k prediction, heat maps, the upload button (notebook 05).

The command line (``python -m utils``) is the sub-package :mod:`utils.cli`, which nothing here imports.
"""

import logging as _logging
import os as _os
import re as _re
import sys as _sys
import tempfile as _tempfile

# TensorFlow's C++ start-up log (CPU flags, oneDNN, CUDA probing) is not for a learner. TF_CPP_MIN_LOG_LEVEL=3
# (the default here; set it to 0 to see everything) silences most of it, but the lines logged before absl's
# logging starts are written to the process's standard error regardless, which a notebook shows as a red box.
# So TensorFlow is imported here once, with file descriptor 2 caught, and only the lines that are not that
# start-up chatter are passed on.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_CHATTER = _re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} [\d:. ]+\d+ \S+:\d+\] "
                       r"|To enable the following instructions|.*rebuild TensorFlow with the appropriate compiler)")


def _import_tensorflow_quietly():
    if _os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3":
        import tensorflow  # noqa: F401 (the user asked to see TensorFlow's log)

        return
    _sys.stderr.flush()
    saved = _os.dup(2)
    with _tempfile.TemporaryFile() as log:
        _os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the devices are probed (and logged about) here, once
        finally:
            _os.dup2(saved, 2)
            _os.close(saved)
        log.seek(0)
        kept = [line for line in log.read().decode(errors="replace").splitlines()
                if line.strip() and not _CHATTER.match(line)]
    if kept:
        print("\n".join(kept), file=_sys.stderr)


_import_tensorflow_quietly()


def _not_retracing(record) -> bool:
    """TensorFlow warns "N out of the last M calls ... triggered tf.function retracing" when Keras builds its
    predict or train function again for a new model or input size (calibration, saving, Grad-CAM do): expected
    here, and nothing a learner can act on, so that one message is not shown."""
    return "triggered tf.function retracing" not in record.getMessage()


_logging.getLogger("tensorflow").addFilter(_not_retracing)

from utils import (  # noqa: E402 (after TensorFlow's quiet import)
    backbones,
    calibration,
    callbacks,
    data,
    evaluation,
    explore,
    folders,
    images,
    plots,
    saving,
    settings,
)
from utils.cifar10 import CLASS_NAMES, Cifar10FormatError, Cifar10NotAvailable, load_cifar10  # noqa: E402
from utils.evaluation import headline  # noqa: E402
from utils.folders import DatasetFolderError, check_dataset, image_folder_datasets  # noqa: E402
from utils.images import IMAGE_EXTENSIONS, ImageLoadError, load_image  # noqa: E402
from utils.plots import image_grid  # noqa: E402
from utils.settings import (  # noqa: E402
    CIFAR10_ENV,
    DATASET_DIR,
    QUICK_ENV,
    REPO_ROOT,
    SEED,
    by_mode,
    models_dir,
    quick_mode,
    set_seed,
    setup,
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
    "ImageLoadError",
    "backbones",
    "by_mode",
    "calibration",
    "callbacks",
    "check_dataset",
    "data",
    "evaluation",
    "explore",
    "folders",
    "headline",
    "image_folder_datasets",
    "image_grid",
    "images",
    "load_cifar10",
    "load_image",
    "models_dir",
    "plots",
    "quick_mode",
    "saving",
    "set_seed",
    "settings",
    "setup",
]
