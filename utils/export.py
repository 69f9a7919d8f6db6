"""Taking a model elsewhere: a trained Keras model exported for other runtimes, and each file checked by running it.

* ``savedmodel`` - a TensorFlow SavedModel folder: TF Serving, and TensorFlow from C++, Java or Go
  (``tf.saved_model.load(path).signatures["serving_default"](image=images)``);
* ``litert`` - a LiteRT (TensorFlow Lite) ``.tflite`` file: Android, iOS, a Raspberry Pi, microcontroller-class
  devices (``ai_edge_litert.interpreter.Interpreter``); ``litert-float16`` stores the weights in half precision
  (half the size), ``litert-int8`` quantises weights and activations to 8-bit integers, calibrated on a
  representative set of training images (about a quarter of the size, integer arithmetic);
* ``onnx`` - an ONNX file: onnxruntime from Python, C++, C#, Java or JavaScript, and most other inference engines.

Every exported file takes what the ``.keras`` file takes: a batch of raw 0-255 RGB images, ``float32``, shape
``(N, height, width, 3)``, input named ``image``, and gives class probabilities. Resizing, the backbone's
preprocessing, test-time augmentation and the calibration temperature are layers inside the model, so they are
inside every file too. What is exported is a copy (:func:`float32_copy`) computing in float32, since
LiteRT's built-in operations and ONNX's CPU kernels have no bfloat16, and without the training-only augmentation layers.

:func:`export` writes one file (into a temporary name first: a failed export leaves nothing behind),
:func:`runtime` loads a file with its own runtime, :func:`verify` compares each with the Keras model on held-out
images: top-1 agreement, the largest difference of a probability, accuracy, file size and speed on this machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd

#: The formats, each with the ending its file gets beside the ``.keras`` model.
FORMATS = {"savedmodel": "_savedmodel", "litert": ".tflite", "litert-float16": "_float16.tflite",
           "litert-int8": "_int8.tflite", "onnx": ".onnx"}

#: Training images the int8 quantiser runs through the model to choose each activation's range.
REPRESENTATIVE_IMAGES = 200

#: The ONNX operator set written (onnxruntime 1.17 and later read it).
ONNX_OPSET = 17


class ExportError(ValueError):
    """A model that a format cannot take, or an export that failed: the message names the format and the fix."""


#: Layers that only act while training (random augmentation) and pass images through unchanged otherwise. Keras
#: still traces their random operations into an exported graph, which LiteRT's and ONNX's runtimes lack, so the
#: exported copy has an ``Identity`` layer in their place. (``RandomCrop`` is not here: outside training it crops.)
TRAINING_ONLY = {"RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom", "RandomContrast",
                 "RandomBrightness", "RandomHue", "RandomSaturation", "RandomGrayscale", "RandomSharpness",
                 "RandomShear", "RandomColorJitter", "RandomPerspective", "RandomErasing", "RandomGaussianBlur",
                 "RandomInvert", "RandomPosterization", "RandomElasticTransform", "GaussianNoise",
                 "GaussianDropout"}


def float32_copy(model) -> keras.Model:
    """What is exported: the same layers and weights, every layer computing in float32 (a model trained in mixed
    precision computes in bfloat16 or float16 with float32 weights; LiteRT's built-in kernels and ONNX's CPU
    kernels have no bfloat16), and training-only augmentation layers (:data:`TRAINING_ONLY`) replaced by
    ``Identity``: the copy gives the same answers as ``model`` at prediction time, up to rounding."""
    def rewrite(node):
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy" and isinstance(node.get("config"), dict):
                node["config"]["name"] = "float32"
            if node.get("class_name") in TRAINING_ONLY and node.get("module") == "keras.layers":
                node.update(class_name="Identity", registered_name=None,
                            config={"name": node["config"]["name"], "trainable": False, "dtype": "float32"})
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    config = keras.saving.serialize_keras_object(model)
    rewrite(config)
    copy = keras.saving.deserialize_keras_object(config)
    for layer in copy.layers:  # weights layer by layer: the augmentation layers' random-seed state is gone
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return copy


@contextlib.contextmanager
def quiet():
    """Keep the converters' and runtimes' progress notes off the screen: TensorFlow's and tf2onnx's Python logs
    below ERROR, and what their C++ code writes to the process's stderr ("Assets written to ...",
    "fully_quantize: ...", "Created TensorFlow Lite XNNPACK delegate"). Errors still arrive, as exceptions."""
    import tensorflow as tf

    loggers = [logging.getLogger("tf2onnx"), tf.get_logger()]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # NumPy 2 on tf2onnx's np.object, patched by Keras
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def default_path(model_path, fmt: str) -> Path:
    """Where ``python -m utils export-model`` writes ``fmt`` for ``model_path``: beside it, e.g.
    ``models/cifar10_cnn.keras`` -> ``models/cifar10_cnn_int8.tflite``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + FORMATS[fmt])


def export(model, path, fmt: str, representative=None, float32=None) -> Path:
    """Export :func:`float32_copy` of ``model`` to ``path`` as ``fmt``; ``representative``: images (raw 0-255) for
    ``litert-int8``; ``float32``: that copy, if already made (exporting several formats). Writes under a temporary
    name and renames at the end; raises :class:`ExportError` naming the format, with nothing left behind, if the
    format cannot take the model."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        model = float32_copy(model) if float32 is None else float32
        written = staging / path.name
        with quiet():
            if fmt == "savedmodel":
                model.export(str(written), format="tf_saved_model", verbose=False)
            elif fmt == "onnx":
                _onnx(model, written, staging)
            else:
                model.export(str(written), format="litert", verbose=False, **_litert_options(fmt, representative))
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        written.rename(path)
    except ExportError:
        raise
    except Exception as err:  # a converter's own error: one line, the format and what to do
        reason = " ".join(str(err).split())[:300] or type(err).__name__
        raise ExportError(f"{fmt} export failed ({type(err).__name__}: {reason}). The model may use a layer this "
                          f"format cannot convert: try another format, or one without that layer") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _litert_options(fmt, representative):
    import tensorflow as tf

    if fmt == "litert":
        return {}
    if fmt == "litert-float16":
        return {"optimizations": [tf.lite.Optimize.DEFAULT], "target_spec": {"supported_types": [tf.float16]}}
    if representative is None or not len(representative):
        raise ExportError("litert-int8 needs representative images (training images) to choose the 8-bit ranges")

    def batches():
        for image in representative[:REPRESENTATIVE_IMAGES]:
            yield [np.asarray(image, "float32")[np.newaxis]]

    return {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": batches}


def _onnx(model, written, staging):
    """ONNX by way of a SavedModel, which tf2onnx reads with the model's constants frozen in (converting the Keras
    call directly leaves some of them, the normalisation's mean and variance, as extra inputs)."""
    from keras.src.export.tf2onnx_lib import patch_tf2onnx
    from tf2onnx import convert, tf_loader

    patch_tf2onnx()  # Keras' own fix of tf2onnx for NumPy 2
    saved = staging / "savedmodel"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    graph, inputs, outputs, renames = tf_loader.from_saved_model(str(saved), None, None,
                                                                 signatures=["serving_default"],
                                                                 return_tensors_to_rename=True)
    renames = {**renames, inputs[0]: "image", outputs[0]: "probabilities"}
    convert.from_graph_def(graph, input_names=inputs, output_names=outputs, opset=ONNX_OPSET,
                           tensors_to_rename=renames, output_path=str(written))


def runtime(path, fmt: str):
    """``(predict, signature)``: ``predict(images)`` runs the exported file with its own runtime (float32 images
    in, probabilities out, as NumPy arrays); ``signature`` says its input's name, shape and type."""
    path = Path(path)
    if fmt == "savedmodel":
        import tensorflow as tf

        with quiet():
            serving = tf.saved_model.load(str(path)).signatures["serving_default"]  # what TF Serving calls
        name, tensor = next(iter(serving.structured_input_signature[1].items()))

        def predict(images):
            return next(iter(serving(**{name: tf.constant(images)}).values())).numpy()

        return predict, f"{name}: {tuple(tensor.shape)} {tensor.dtype.name}"
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        entry = session.get_inputs()[0]
        shape = tuple(None if isinstance(side, str) else side for side in entry.shape)
        return (lambda images: session.run(None, {entry.name: images})[0]), f"{entry.name}: {shape} {entry.type}"
    from ai_edge_litert.interpreter import Interpreter

    with quiet():  # the note that it uses XNNPACK, once a process
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
    entry, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    state = {"batch": None}

    def predict(images):
        if state["batch"] != len(images):  # the file's batch size is set at run time
            interpreter.resize_tensor_input(entry["index"], [len(images), *entry["shape"][1:]])
            interpreter.allocate_tensors()
            state["batch"] = len(images)
        interpreter.set_tensor(entry["index"], images)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"]).copy()

    shape = tuple(None if side < 0 else int(side) for side in entry["shape_signature"])
    return predict, f"{entry['name']}: {shape} {np.dtype(entry['dtype']).name}"


def in_batches(predict, images, batch_size: int = 250) -> np.ndarray:
    """``predict`` over ``images`` in batches (the last one smaller)."""
    return np.concatenate([predict(np.asarray(images[i:i + batch_size], "float32"))
                           for i in range(0, len(images), batch_size)])


def speed(predict, images, repeats: int = 20) -> tuple[float, float]:
    """``(milliseconds per image at batch 1, images per second at batch 32)``: the median of ``repeats`` single
    images, and 3 batches of 32, each after a first call that is not timed."""
    one, batch = np.asarray(images[:1], "float32"), np.asarray(images[:32], "float32")
    predict(one)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(one)
        times.append(time.perf_counter() - start)
    predict(batch)
    start = time.perf_counter()
    for _ in range(3):
        predict(batch)
    return 1000 * float(np.median(times)), 3 * len(batch) / (time.perf_counter() - start)


def size_mb(path) -> float:
    """The size of a file, or of a folder with everything in it, in MB."""
    path = Path(path)
    files = [path] if path.is_file() else [item for item in path.rglob("*") if item.is_file()]
    return sum(item.stat().st_size for item in files) / 1e6


def verify(model, exported: dict, images, labels=None, keras_file=None, float32=None) -> pd.DataFrame:
    """Run every exported file (``{format: path}``) with its own runtime on ``images`` and compare with the Keras
    model: one row per format, the Keras model first, with file size, top-1 agreement with Keras, the largest
    difference of a probability, accuracy (when ``labels`` are given) and speed on this machine.

    ``float32``: the float32 copy the files were exported from, when ``model`` computes in mixed precision; the
    files are then compared with it (the bfloat16 model's own rounding is not the exports'), and the row of the
    model as saved shows how far mixed precision itself is from it."""
    images = np.asarray(images, "float32")
    keras_models = {"keras": model} if float32 is None else {f"keras ({_policy(model)}, as saved)": model,
                                                             "keras (float32 copy)": float32}
    runners = {name: (lambda batch, m=m: m.predict_on_batch(batch), keras_file if m is model else None)
               for name, m in keras_models.items()}
    for fmt, path in exported.items():
        runners[fmt] = (runtime(path, fmt)[0], path)
    truth = None if labels is None else np.asarray(labels).reshape(-1)
    outputs = {name: in_batches(lambda batch, m=m: m.predict(batch, verbose=0), images)
               for name, m in keras_models.items()}
    reference = outputs[list(keras_models)[-1]]
    rows = []
    for fmt, (predict, path) in runners.items():
        probabilities = outputs[fmt] if fmt in outputs else in_batches(predict, images)
        milliseconds, per_second = speed(lambda batch, predict=predict: np.asarray(predict(batch)), images)
        rows.append({"format": fmt, "file MB": round(size_mb(path), 2) if path else None,
                     "top-1 agreement": float((probabilities.argmax(1) == reference.argmax(1)).mean()),
                     "max |p - p_keras|": float(np.abs(probabilities - reference).max()),
                     "accuracy": None if truth is None else float((probabilities.argmax(1) == truth).mean()),
                     "ms/image (batch 1)": round(milliseconds, 2), "images/s (batch 32)": round(per_second)})
    return pd.DataFrame(rows)


def mixed_precision(model) -> bool:
    """Whether any layer of ``model`` computes in another type than float32 (mixed precision)."""
    return _policy(model) != "float32"


def _policy(model) -> str:
    def layers(layer):  # nested models included (a test-time augmentation model wraps the network)
        yield layer
        for inner in getattr(layer, "layers", []):
            yield from layers(inner)

    policies = sorted({layer.dtype_policy.name for layer in layers(model)} - {"float32"})
    return ", ".join(policies) or "float32"
