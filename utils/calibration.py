"""Are the confidences honest? Calibration of a classifier's softmax outputs, and temperature scaling.

A model is *calibrated* when, of all the images it labels with 80 % confidence, about 80 % are right.
Label smoothing makes a network under-confident, long training over-confident, test-time averaging
changes both. :func:`expected_calibration_error` measures it (ECE, 15 equal-width confidence bins,
the gap between accuracy and confidence weighted by the bin's share of images). Temperature scaling
fixes it with one number fitted on held-out data: the logits are divided by ``T`` before the softmax
(``T > 1`` softens over-confident outputs, ``T < 1`` sharpens under-confident ones); the top class, and
so the accuracy, never changes. :func:`with_temperature` puts ``T`` inside the model as a ``Rescaling``
layer, so every user of the saved ``.keras`` file, plain Keras included, gets calibrated probabilities.
"""

from __future__ import annotations

import keras
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from utils.evaluation import predict_dataset


def expected_calibration_error(probabilities, labels, bins: int = 15) -> float:
    """ECE: sum over equal-width confidence bins of (share of images) x |accuracy - mean confidence|."""
    _, accuracy, confidence, counts = reliability(probabilities, labels, bins)
    return float((counts / max(counts.sum(), 1) * np.abs(accuracy - confidence)).sum())


def reliability(probabilities, labels, bins: int = 15):
    """Per confidence bin: ``(bin centres, accuracy, mean confidence, counts)``, for a reliability diagram."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    accuracy = np.bincount(which, weights=correct, minlength=bins) / np.maximum(counts, 1)
    mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / np.maximum(counts, 1)
    return (edges[:-1] + edges[1:]) / 2, accuracy, mean_confidence, counts


def fit_temperature(logits, labels) -> float:
    """The temperature ``T`` that minimises the cross-entropy of ``softmax(logits / T)`` on ``labels`` (held-out
    images: the validation split, never the test set), searched on log T between 0.05 and 20 (SciPy's bounded
    one-dimensional minimisation: the loss has one minimum there)."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)

    def loss(log_t):
        return -log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(labels)), labels].mean()

    found = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(found.x))


def logits_model(model):
    """A model giving ``model``'s logits: the input of its final softmax (an ``Activation`` layer, or the
    softmax of its last ``Dense`` layer, reproduced without it)."""
    last = model.layers[-1]
    softmax = last.get_config().get("activation") == "softmax"
    if isinstance(last, keras.layers.Activation) and softmax:
        return keras.Model(model.inputs[0], last.input, name=f"{model.name}_logits")
    if isinstance(last, keras.layers.Dense) and softmax:
        config = {**last.get_config(), "activation": "linear", "name": f"{last.name}_logits"}
        dense = keras.layers.Dense.from_config(config)
        outputs = dense(last.input)
        dense.set_weights(last.get_weights())
        return keras.Model(model.inputs[0], outputs, name=f"{model.name}_logits")
    raise ValueError(f"{model.name} does not end in a softmax layer, so its logits cannot be found")


def with_temperature(model, temperature: float):
    """``model`` with its logits divided by ``temperature`` before the softmax: standard Keras layers only
    (a ``Rescaling`` layer named ``temperature``), so the saved model still loads with plain Keras."""
    logits = logits_model(model)
    x = keras.layers.Rescaling(1 / temperature, dtype="float32", name="temperature")(logits.outputs[0])
    outputs = keras.layers.Activation("softmax", dtype="float32", name="calibrated_probabilities")(x)
    return keras.Model(model.inputs, outputs, name=f"{model.name}_calibrated")


def calibrate(model, images, labels=None, batch_size: int = 500):
    """Fit a temperature on held-out data and return ``(calibrated model, temperature)``.

    ``images`` and ``labels``: arrays (raw 0-255 images, the model's input); or ``images`` alone, a
    ``tf.data`` dataset of ``(images, labels)`` batches, such as ``ImageData.validation``.
    """
    calibrated, temperature, _, _ = calibrate_with_outputs(model, images, labels, batch_size)
    return calibrated, temperature


def calibrate_with_outputs(model, images, labels=None, batch_size: int = 500):
    """Like :func:`calibrate`, also returning the held-out images' calibrated probabilities and their labels,
    from the same single pass (to evaluate the calibrated model on them without predicting them again):
    ``(calibrated model, temperature, probabilities, labels)``."""
    logits = logits_model(model)
    if labels is None:
        values, labels = predict_dataset(logits, images)
    else:
        values = logits.predict(images, batch_size=batch_size, verbose=0)
    temperature = fit_temperature(values, labels)
    probabilities = softmax(np.asarray(values, np.float64) / temperature, axis=1)
    return with_temperature(model, temperature), temperature, probabilities, np.asarray(labels)


def without_temperature(model):
    """The model as it was before :func:`with_temperature`: the softmax of the logits, not divided by ``T``
    (to compare before and after). ``model`` must have the ``temperature`` layer."""
    try:
        layer = model.get_layer("temperature")
    except ValueError as err:
        raise ValueError(f"{model.name} has no temperature layer: it was not calibrated") from err
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(layer.input)
    return keras.Model(model.inputs, outputs, name=f"{model.name}_uncalibrated")
