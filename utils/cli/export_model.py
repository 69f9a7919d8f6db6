"""``python -m utils export-model MODEL.keras``: the model as a SavedModel, a LiteRT file and an ONNX file (and
LiteRT's float16 and int8 variants), each run with its own runtime on held-out images and compared with the Keras
model in one table (:mod:`utils.export`).

Held-out images: the CIFAR-10 test set for a CIFAR-10 model; the test split (else the validation split) of the
folder a ``train --data`` model was trained on, as its JSON file names it; or ``--images DIR``. The int8 variant is
calibrated on training images of the same source. Exit status 0 done, 2 bad input (a path that is not a model, a
format a model cannot take): one line, and nothing half-written.
"""

from __future__ import annotations

import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from utils import export
from utils.cifar10 import CLASS_NAMES, load_cifar10
from utils.data import as_arrays, load_data, stratified_subset
from utils.images import ImageLoadError, load_image
from utils.predict import image_paths
from utils.saving import load_model
from utils.settings import SEED, by_mode

DEFAULT_FORMATS = ("savedmodel", "litert", "onnx")


def add_parser(commands) -> None:
    command = commands.add_parser(
        "export-model", help="export a .keras model to SavedModel, LiteRT and ONNX, each checked against Keras",
        description="Export a trained .keras model for use outside this project: a SavedModel folder (TF Serving), "
                    "a LiteRT .tflite file (phones, small devices; float16 and int8 quantised variants) and an ONNX "
                    "file (onnxruntime: C++, C#, Java, JavaScript). Each file is run with its own runtime on held-out "
                    "images and compared with the Keras model. Every file takes raw 0-255 RGB images, float32, "
                    "(N, height, width, 3), input 'image', as the .keras file does.")
    command.add_argument("model", metavar="MODEL", help="a .keras model saved by this project (or any Keras 3 model)")
    command.add_argument("--format", action="append", choices=list(export.FORMATS), metavar="FORMAT",
                         help=f"repeatable; one of {', '.join(export.FORMATS)} (default: {', '.join(DEFAULT_FORMATS)})")
    command.add_argument("--output", metavar="PATH", help="where to write (one format only; default: beside MODEL, "
                         "e.g. models/cifar10_cnn.tflite)")
    command.add_argument("--images", metavar="DIR", help="held-out images to verify on: a folder (one sub-folder per "
                         "class gives accuracy too); default: CIFAR-10's test set, or the test split of the folder "
                         "the model was trained on")
    command.add_argument("--limit", type=int, metavar="N", help="verify on at most N images (default: all; 500 in "
                         "quick mode)")
    command.add_argument("--labels", metavar="FILE", help="class names, one per line, for a model saved elsewhere")
    command.set_defaults(run=run)


def run(args) -> int:
    formats = args.format or list(DEFAULT_FORMATS)
    if args.output and len(formats) > 1:
        print("error: --output names one file: give one --format with it", file=sys.stderr)
        return 2
    try:
        model, class_names, info = _load(args.model, args.labels)
        size = tuple(int(side) for side in model.input_shape[1:3])
        images, labels, training, source = held_out_images(args, class_names, info, size)
    except (FileNotFoundError, ValueError, ImageLoadError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    float32 = export.float32_copy(model)
    mixed = export.mixed_precision(model)
    if mixed:
        print(f"{Path(args.model).name} computes in mixed precision: exported from a float32 copy (the same "
              "weights; LiteRT's and ONNX's CPU kernels have no bfloat16), and compared with that copy")
    written = {}
    for fmt in formats:
        path = Path(args.output) if args.output else export.default_path(args.model, fmt)
        start = time.perf_counter()
        try:
            export.export(model, path, fmt, representative=training, float32=float32)
        except export.ExportError as err:
            print(f"error: {args.model}: {err}", file=sys.stderr)
            return 2
        signature = export.runtime(path, fmt)[1]
        print(f"wrote {path} ({export.size_mb(path):.2f} MB, {time.perf_counter() - start:.0f} s); input {signature}")
        written[fmt] = path
    print(f"verified on {len(images)} {source}:")
    table = export.verify(model, written, images, labels, keras_file=args.model, float32=float32 if mixed else None)
    print(table.to_string(index=False, na_rep="-", formatters={
        "top-1 agreement": "{:.4f}".format, "max |p - p_keras|": "{:.2e}".format,
        "accuracy": lambda value: "-" if value is None or value != value else f"{value:.4f}"}))
    return 0


def _load(path, labels):
    path = Path(path).expanduser()
    if path.is_dir() or path.suffix != ".keras":
        raise ValueError(f"{path} is not a .keras model file: give the .keras file that train --save or a notebook "
                         "saved (e.g. models/cifar10_cnn.keras)")
    if not path.exists():
        raise FileNotFoundError(f"No model at {path}: give the .keras file that train --save or a notebook saved")
    unreadable = f"{path} could not be read as a Keras model"
    if not zipfile.is_zipfile(path):  # a .keras file is a zip archive; Keras would call a broken one "not found"
        raise ValueError(f"{unreadable} (not a complete .keras archive): save it again with Keras 3")
    try:
        return load_model(path, labels)
    except (FileNotFoundError, ValueError):
        raise
    except Exception as err:  # an archive made by another Keras, or with layers of code not imported here
        raise ValueError(f"{unreadable} ({type(err).__name__}: {' '.join(str(err).split())[:200]}): give a .keras "
                         "file saved by Keras 3") from None


def held_out_images(args, class_names, info, size):
    """``(images, labels or None, training images for int8, description)`` at the model's input ``size``."""
    limit = args.limit if args.limit is not None else by_mode(full=None, quick=500)
    rng = np.random.default_rng(SEED)
    if args.images:
        paths = image_paths([args.images])
        if not paths:
            raise FileNotFoundError(f"--images {args.images}: no image files there")
        paths = paths if limit is None else [paths[i] for i in sorted(rng.permutation(len(paths))[:limit])]
        images = np.stack([load_image(path, size=size) for path in paths])
        index = {name: i for i, name in enumerate(class_names)}
        labels = [index.get(path.parent.name) for path in paths]
        labels = None if None in labels else np.asarray(labels)
        return images, labels, images, f"images of {args.images}"
    if class_names == list(CLASS_NAMES) and size == (32, 32):
        (x_train, _), (x_test, y_test), _ = load_cifar10()
        x_test, y_test = stratified_subset(x_test, y_test, limit, SEED)
        representative = x_train[rng.permutation(len(x_train))[:export.REPRESENTATIVE_IMAGES]]
        return x_test, y_test.reshape(-1), representative, "CIFAR-10 test images"
    folder = info.get("data")
    if folder and Path(folder).is_dir():
        data = load_data(folder, image_size=size[0], validation_split=info.get("validation_split", 0.2),
                         test_split=info.get("test_split", 0.0), max_per_class=None)
        name, split = data.evaluation
        images, labels = as_arrays(split)
        if limit is not None and len(images) > limit:
            keep = np.sort(rng.permutation(len(images))[:limit])
            images, labels = images[keep], labels[keep]
        train = next(iter(data.train.unbatch().batch(export.REPRESENTATIVE_IMAGES)))[0].numpy()
        return images, labels, train, f"{name} images of {folder}"
    raise FileNotFoundError("no held-out images known for this model: give --images DIR (a folder of images, one "
                            "sub-folder per class for accuracy too)")
