"""Top-k prediction on new images (notebooks 03 and 05; ``python -m utils predict`` streams the same).

A :class:`Predictor` is a model that takes raw 0-255 RGB images of one size, plus the names of its classes. It
is either an ImageNet classifier from ``keras.applications`` (a key of :data:`utils.backbones.BACKBONES`, its
preprocessing put inside the model) or a ``.keras`` model saved by notebook 03 or 04 with its class names.
:func:`predict_files` reads image files in batches, so a folder costs one model call per batch, not one per
image; a file that cannot be read is reported and the others are still predicted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import keras
import matplotlib
import numpy as np
import pandas as pd
import sklearn.datasets
from keras.applications.imagenet_utils import decode_predictions

from utils.backbones import BACKBONES, get_backbone, load_backbone, preprocessing_layer
from utils.images import ImageLoadError, in_threads, is_image_file, load_image, visible_files
from utils.saving import load_model
from utils.settings import DATASET_DIR


class ModelNotAvailable(RuntimeError):
    """A model named for prediction has not been trained or saved yet."""


@dataclass
class Predictor:
    """A model taking raw 0-255 RGB images of ``image_size``, and its class names."""

    model: object
    class_names: list[str]
    name: str
    info: dict = field(default_factory=dict)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(int(side) for side in self.model.input_shape[1:3])


def imagenet_class_names() -> list[str]:
    """The 1,000 ImageNet class names in output order: Keras' own ``decode_predictions`` (which downloads and
    caches the class index) asked for the top 1,000 of scores that fall with the class index."""
    ranked = decode_predictions(np.arange(1000, 0, -1, dtype="float32")[None], top=1000)[0]
    return [name for _, name, _ in ranked]


def imagenet_predictor(backbone: str) -> Predictor:
    """The ImageNet classifier of a backbone of notebook 04's table, taking raw 0-255 RGB at 224 x 224."""
    size = get_backbone(backbone).weights_size
    classifier = load_backbone(backbone, include_top=True)
    inputs = keras.Input((size, size, 3), name="image")
    model = keras.Model(inputs, classifier(preprocessing_layer(backbone)(inputs)), name=f"{backbone}_imagenet")
    return Predictor(model=model, class_names=imagenet_class_names(), name=f"{backbone} (ImageNet)",
                     info={"backbone": backbone})


def load_predictor(model, labels=None) -> Predictor:
    """A :class:`Predictor` from a backbone key (ImageNet classifier) or a ``.keras`` model path; ``labels``:
    a text file of class names (one per line) for a model saved without this project's JSON."""
    if str(model) in BACKBONES:
        if labels is not None:
            raise ValueError(f"--labels is for a saved .keras model; {model} predicts the ImageNet classes")
        return imagenet_predictor(str(model))
    path = Path(model).expanduser()
    if path.suffix != ".keras":
        raise ValueError(f"--model {model}: give a backbone key ({', '.join(BACKBONES)}) or a saved .keras model")
    if not path.exists():
        raise ModelNotAvailable(f"No model at {path}: train it first (notebook 03 saves cifar10_cnn.keras, "
                                f"notebook 04 transfer_cifar10.keras, in {path.parent}).")
    keras_model, class_names, info = load_model(path, labels)
    return Predictor(model=keras_model, class_names=class_names, name=path.name, info=info)


def image_paths(paths=None, root=None) -> list[Path]:
    """The image files named by ``paths`` (files as given; folders searched recursively for image files, hidden
    ones skipped), sorted within each folder. ``~`` is the home folder; a relative path is taken from ``root``
    (the notebooks give the project's folder; default: the current folder). Without paths:
    :func:`default_images`."""
    if not paths:
        return default_images()
    found = []
    for path in (Path(path).expanduser() for path in paths):
        path = path if root is None or path.is_absolute() else Path(root) / path
        if path.is_dir():
            found += [file for file in visible_files(path) if is_image_file(file)]
        else:
            found.append(path)  # a missing or unreadable file is reported when it is read
    return found


def default_images() -> list[Path]:
    """The images in ``DATASET/``, then the sample photos that come with installed packages: scikit-learn ships
    two (``china.jpg``, ``flower.jpg``) and matplotlib one (``grace_hopper.jpg``); they are read where they are
    installed, never copied."""
    images = image_paths([DATASET_DIR]) if DATASET_DIR.is_dir() else []
    images += sorted((Path(sklearn.datasets.__file__).parent / "images").glob("*.jpg"))
    images.append(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    return [path for path in images if path.exists()]


@dataclass
class Prediction:
    """The top-k classes of one image, most probable first."""

    path: Path
    labels: list[str]
    probabilities: list[float]
    image: np.ndarray | None = None  # the image as the model saw it (kept when asked)


def top_k(probabilities, class_names, k: int = 5):
    """``(labels, probabilities)`` of the ``k`` most probable classes for each row, most probable first."""
    probabilities = np.asarray(probabilities)
    k = min(k, probabilities.shape[1])
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[class_names[i] for i in row] for row in order], np.take_along_axis(probabilities, order, axis=1)


def read_image(path, size):
    """``(path, image, reason)``: the file read by :func:`utils.images.load_image` at ``size`` (``reason`` None),
    or None and why it could not be."""
    try:
        return path, load_image(path, size=size), None
    except ImageLoadError as err:
        return path, None, err.reason


def iter_predictions(predictor: Predictor, paths, k: int = 5, batch_size: int = 32, keep_images: bool = False,
                     workers: int | None = None):
    """Yield, in the order of ``paths``, a :class:`Prediction` for every readable file and ``(path, reason)`` for
    every file that cannot be read, ``batch_size`` images per model call.

    Files are read by :func:`utils.images.load_image` at the model's input size - exactly as a training folder is
    read, so a model predicts its validation files as it scored them - by a pool of threads that decodes the
    next batches while the model runs on the current one (:func:`utils.images.in_threads`). Only a few batches
    are held at a time, so memory stays flat whatever the number of files, and a caller that writes each result
    as it comes keeps what was done if the run is stopped.
    """
    reads = in_threads(lambda path: read_image(path, predictor.image_size), paths, workers, ahead=2 * batch_size)
    while results := list(islice(reads, batch_size)):
        loaded = [image for _, image, reason in results if reason is None]
        outputs = iter(())
        if loaded:
            labels, probabilities = top_k(predictor.model.predict_on_batch(np.stack(loaded).astype("float32")),
                                          predictor.class_names, k)
            outputs = iter(zip(labels, probabilities, strict=True))
        for path, image, reason in results:
            if reason is not None:
                yield path, reason
            else:
                names, values = next(outputs)
                yield Prediction(Path(path), list(names), [float(v) for v in values], image if keep_images else None)


def predict_files(predictor: Predictor, paths, k: int = 5, batch_size: int = 32, keep_images: bool = False,
                  progress: bool | None = None):
    """Predict the top-``k`` classes of image files, ``batch_size`` images per model call (:func:`iter_predictions`,
    collected): ``(predictions, failures)``, a :class:`Prediction` per readable file, in order, and ``(path,
    reason)`` for every file that could not be read. ``progress`` (default: more than 8 files) shows Keras'
    progress bar."""
    paths = list(paths)
    bar = keras.utils.Progbar(len(paths), unit_name="image") if (len(paths) > 8 if progress is None else progress) \
        else None
    predictions, failures = [], []
    for done, item in enumerate(iter_predictions(predictor, paths, k, batch_size, keep_images), start=1):
        (predictions if isinstance(item, Prediction) else failures).append(item)
        if bar is not None and (done % batch_size == 0 or done == len(paths)):
            bar.update(done)
    return predictions, failures


def predictions_table(predictions, k: int = 3) -> pd.DataFrame:
    """One row per image: its top ``k`` labels with their probabilities."""
    return pd.DataFrame([[p.path.name, *(f"{label} ({value:.0%})" for label, value in
                                         zip(p.labels[:k], p.probabilities[:k], strict=False))] for p in predictions],
                        columns=["image", *(f"top-{rank}" for rank in range(1, k + 1))])
