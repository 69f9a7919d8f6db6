"""Top-k prediction on new images (notebook 05 and ``python -m utils predict``).

A :class:`Predictor` is a model that takes raw 0-255 RGB images of one size, plus the names
of its classes. It is either an ImageNet classifier from ``keras.applications`` (a key of
:data:`utils.backbones.BACKBONES`, its preprocessing put inside the model) or a ``.keras`` model
saved by notebook 03 or 04 with its class names. :func:`predict_files` reads image files in
batches, so a folder costs one model call per batch, not one per image; a file that cannot be
read is reported and the others are still predicted.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.images import ImageLoadError, is_image_file, load_image
from utils.settings import DATASET_DIR

#: Where Keras downloads the ImageNet class index from (cached in ``$KERAS_HOME/models``).
IMAGENET_CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"


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
    """The 1,000 ImageNet class names in output order, from Keras' class index (cached after one download)."""
    import keras

    path = keras.utils.get_file("imagenet_class_index.json", IMAGENET_CLASS_INDEX_URL, cache_subdir="models",
                                file_hash="c2c37ea517e94d9795004a39431a14cb")
    index = json.loads(Path(path).read_text())
    return [index[str(i)][1] for i in range(len(index))]


def imagenet_predictor(backbone: str) -> Predictor:
    """The ImageNet classifier of a backbone of notebook 04's table, taking raw 0-255 RGB at 224 x 224."""
    import keras

    from utils.backbones import get_backbone, load_backbone, preprocessing_layer

    size = get_backbone(backbone).weights_size
    classifier = load_backbone(backbone, include_top=True)
    inputs = keras.Input((size, size, 3), name="image")
    model = keras.Model(inputs, classifier(preprocessing_layer(backbone)(inputs)), name=f"{backbone}_imagenet")
    return Predictor(model=model, class_names=imagenet_class_names(), name=f"{backbone} (ImageNet)",
                     info={"backbone": backbone})


def load_predictor(model, labels=None) -> Predictor:
    """A :class:`Predictor` from a backbone key (ImageNet classifier) or a ``.keras`` model path; ``labels``:
    a text file of class names (one per line) for a model saved without this project's JSON."""
    from utils.backbones import BACKBONES

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
    from utils.saving import load_model

    keras_model, class_names, info = load_model(path, labels)
    return Predictor(model=keras_model, class_names=class_names, name=path.name, info=info)


def image_paths(paths=None) -> list[Path]:
    """The image files named by ``paths`` (files as given; folders searched recursively for image
    files, hidden ones skipped), sorted within each folder. Without paths: :func:`default_images`."""
    if not paths:
        return default_images()
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found += [Path(dirpath, name) for name in sorted(filenames) if is_image_file(Path(dirpath, name))]
        else:
            found.append(path)  # a missing or unreadable file is reported when it is read
    return found


def default_images() -> list[Path]:
    """The images in ``DATASET/``, then the sample photos that come with installed packages.

    scikit-learn ships two photos (``china.jpg``, ``flower.jpg``) and matplotlib one
    (``grace_hopper.jpg``); they are read where they are installed, never copied.
    """
    images = image_paths([DATASET_DIR]) if DATASET_DIR.is_dir() else []
    import matplotlib
    import sklearn.datasets

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
    return ([[class_names[i] for i in row] for row in order],
            np.take_along_axis(probabilities, order, axis=1))


def read_ahead(paths, size, batch_size: int = 32, workers: int | None = None, ahead: int = 2):
    """Yield, batch after batch in the order of ``paths``, a list of ``(path, image, reason)``: the image
    read by :func:`utils.images.load_image` at ``size`` (``reason`` None), or None and why it could not be.

    A pool of ``workers`` threads (default: one per CPU core) decodes the next ``ahead`` batches while the
    caller works on the current one; only those batches are held, so memory stays flat.
    """
    from concurrent.futures import ThreadPoolExecutor

    paths = list(paths)

    def read(path):
        try:
            return path, load_image(path, size=size), None
        except ImageLoadError as err:
            return path, None, err.reason

    batches = [paths[start:start + batch_size] for start in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        pending = [[pool.submit(read, path) for path in batch] for batch in batches[:ahead]]
        for number in range(len(batches)):
            if number + ahead < len(batches):
                pending.append([pool.submit(read, path) for path in batches[number + ahead]])
            yield [future.result() for future in pending.pop(0)]


def iter_predictions(predictor: Predictor, paths, k: int = 5, batch_size: int = 32, keep_images: bool = False,
                     workers: int | None = None):
    """Yield, in the order of ``paths``, a :class:`Prediction` for every readable file and ``(path, reason)``
    for every file that cannot be read, ``batch_size`` images per model call.

    Files are read by :func:`utils.images.load_image` at the model's input size - exactly as a training
    folder is read, so a model predicts its validation files as it scored them - by :func:`read_ahead`'s
    threads, which decode the next batches while the model runs on the current one; JPEGs decode at a
    reduced scale when they are much larger than the model's input. Only a few batches are held at a
    time, so memory stays flat whatever the number of files, and a caller that writes each result as it
    comes keeps what was done if the run is stopped.
    """
    for results in read_ahead(paths, predictor.image_size, batch_size, workers):
        loaded = [(path, image) for path, image, reason in results if reason is None]
        outputs = iter(())
        if loaded:
            images = np.stack([image for _, image in loaded]).astype("float32")
            labels, probabilities = top_k(predictor.model.predict_on_batch(images), predictor.class_names, k)
            outputs = iter(zip(labels, probabilities, strict=True))
        for path, image, reason in results:
            if reason is not None:
                yield path, reason
                continue
            names, values = next(outputs)
            yield Prediction(Path(path), list(names), [float(v) for v in values], image if keep_images else None)


def predict_files(predictor: Predictor, paths, k: int = 5, batch_size: int = 32, keep_images: bool = False,
                  progress: bool | None = None):
    """Predict the top-``k`` classes of image files, ``batch_size`` images per model call
    (:func:`iter_predictions`, collected).

    Returns ``(predictions, failures)``: a :class:`Prediction` per readable file, in order, and
    ``(path, reason)`` for every file that could not be read. ``progress`` (default: more than 8 files)
    shows Keras' progress bar.
    """
    import keras

    paths = list(paths)
    progress = len(paths) > 8 if progress is None else progress
    bar = keras.utils.Progbar(len(paths), unit_name="image") if progress else None
    predictions, failures = [], []
    for done, item in enumerate(iter_predictions(predictor, paths, k, batch_size, keep_images), start=1):
        (predictions if isinstance(item, Prediction) else failures).append(item)
        if bar is not None and (done % batch_size == 0 or done == len(paths)):
            bar.update(done)
    return predictions, failures


def model_only_rate(predictor: Predictor, batch_size: int = 32, seconds: float = 5.0) -> float:
    """Images per second of the model alone (``predict_on_batch`` on random 0-255 input, after one warm-up
    call): the ceiling that reading files can at best approach."""
    height, width = predictor.image_size
    images = np.random.default_rng(0).uniform(0, 255, (batch_size, height, width, 3)).astype("float32")
    predictor.model.predict_on_batch(images)
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        predictor.model.predict_on_batch(images)
        calls += 1
    return calls * batch_size / (time.perf_counter() - start)


def reading_rate(paths, size, batch_size: int = 32, seconds: float = 5.0) -> float:
    """Files per second that :func:`read_ahead` decodes and resizes to ``size`` with no model running
    (the files in ``paths`` from the first, for about ``seconds``): the other ceiling of prediction."""
    done, start = 0, time.perf_counter()
    for results in read_ahead(paths, size, batch_size):
        done += len(results)
        if time.perf_counter() - start >= seconds:
            break
    return done / (time.perf_counter() - start)


def shared_ceiling(model_rate: float, reading_rate: float) -> float:
    """Images per second at best when reading and the model take turns on the same CPU cores, each as fast
    as alone: every image costs the time of both (on a GPU the model leaves the cores to reading, and the
    ceiling is the slower of the two)."""
    return 1 / (1 / model_rate + 1 / reading_rate)


def predict_one_by_one(predictor: Predictor, paths, k: int = 5):
    """The plain loop many tutorials show - one ``model.predict`` call per image - for comparison."""
    predictions, failures = [], []
    for path in paths:
        try:
            image = load_image(path, size=predictor.image_size).astype("float32")[None]
        except ImageLoadError as err:
            failures.append((path, err.reason))
            continue
        labels, probabilities = top_k(predictor.model.predict(image, verbose=0), predictor.class_names, k)
        predictions.append(Prediction(Path(path), labels[0], [float(v) for v in probabilities[0]]))
    return predictions, failures


def timed(function, *args, **kwargs):
    """``(result, seconds)`` of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def predictions_table(predictions, k: int = 3) -> str:
    """A plain-text table: one row per image, its top ``k`` labels with their probabilities."""
    from utils.report import format_table

    rows = [[p.path.name] + [f"{label} ({value:.0%})" for label, value in zip(p.labels[:k], p.probabilities[:k],
                                                                                  strict=False)]
            for p in predictions]
    return format_table(rows, ["image"] + [f"top-{rank}" for rank in range(1, k + 1)])
