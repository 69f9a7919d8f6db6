"""Evaluating a classifier: predicted probabilities (with test-time flips), accuracy, confusion matrix,
per-class report and the most confident mistakes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def predict_proba(model, images, flip_tta: bool = False, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities for a batch of images; with ``flip_tta``, averaged with those of the mirrored images."""
    images = np.asarray(images)
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    if flip_tta:
        probabilities = (probabilities + model.predict(images[:, :, ::-1], batch_size=batch_size, verbose=0)) / 2
    return probabilities


def predict_dataset(model, dataset):
    """``(probabilities, labels)`` for every batch of an ``(images, integer labels)`` dataset, in one pass."""
    probabilities, labels = [], []
    for images, batch_labels in dataset:
        probabilities.append(np.asarray(model(images, training=False)))
        labels.append(np.asarray(batch_labels))
    return np.concatenate(probabilities), np.concatenate(labels)


@dataclass
class Evaluation:
    """Everything :func:`evaluate` measures on one labelled set."""

    accuracy: float
    confusion: np.ndarray  # rows: true class, columns: predicted class
    report: str  # scikit-learn's classification_report (precision, recall, F1 per class)
    per_class: dict  # the same report as a dict
    predictions: np.ndarray
    confidences: np.ndarray


def evaluate(probabilities, labels, class_names) -> Evaluation:
    """Accuracy, confusion matrix and per-class precision/recall/F1 from predicted probabilities."""
    from sklearn.metrics import classification_report, confusion_matrix

    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels).reshape(-1)
    predictions = probabilities.argmax(axis=1)
    indices = list(range(len(class_names)))
    return Evaluation(
        accuracy=float(np.mean(predictions == labels)),
        confusion=confusion_matrix(labels, predictions, labels=indices),
        report=classification_report(labels, predictions, labels=indices, target_names=class_names,
                                     digits=3, zero_division=0),
        per_class=classification_report(labels, predictions, labels=indices, target_names=class_names,
                                        output_dict=True, zero_division=0),
        predictions=predictions,
        confidences=probabilities.max(axis=1),
    )


def most_confident_mistakes(evaluation: Evaluation, labels, count: int = 10) -> np.ndarray:
    """Indices of the wrong predictions made with the highest confidence, most confident first."""
    labels = np.asarray(labels).reshape(-1)
    wrong = np.flatnonzero(evaluation.predictions != labels)
    return wrong[np.argsort(-evaluation.confidences[wrong], kind="stable")][:count]


def prediction_titles(indices, evaluation: Evaluation, labels, class_names) -> list[str]:
    """Titles "true → predicted (confidence)" for an image grid."""
    labels = np.asarray(labels).reshape(-1)
    return [f"{class_names[labels[i]]} → {class_names[evaluation.predictions[i]]}\n"
            f"({evaluation.confidences[i]:.0%})" for i in indices]


def most_confused_pairs(matrix, class_names, count: int = 10) -> list[tuple[str, str, int, float]]:
    """The ``count`` largest off-diagonal cells: ``(true class, predicted class, images, share of the true
    class)``, most images first."""
    matrix = np.asarray(matrix)
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    totals = matrix.sum(axis=1).clip(min=1)
    order = np.argsort(off, axis=None)[::-1][:count]
    pairs = []
    for flat in order:
        true, predicted = np.unravel_index(flat, off.shape)
        if off[true, predicted] == 0:
            break
        pairs.append((class_names[true], class_names[predicted], int(off[true, predicted]),
                      float(off[true, predicted] / totals[true])))
    return pairs


def _fixed_linear_map(matrix, axis: int, name: str):
    """A frozen standard-Keras layer stack that applies ``matrix`` (n x n) along image ``axis`` (1 rows, 2 columns)
    of NHWC images: the axis is moved last, multiplied by a bias-free ``Dense`` and moved back."""
    import keras

    order = (1, 3, 2) if axis == 2 else (3, 2, 1)  # the axis to transform goes last
    dense = keras.layers.Dense(len(matrix), use_bias=False, trainable=False, dtype="float32", name=f"{name}_map")

    def apply(x):
        y = keras.layers.Permute(order, dtype="float32", name=f"{name}_in")(x)
        y = dense(y)
        return keras.layers.Permute(order, dtype="float32", name=f"{name}_out")(y)

    return apply, lambda: dense.set_weights([np.asarray(matrix, "float32")])


def _mirror_matrix(n):
    return np.eye(n)[::-1]


def _shift_matrix(n, step):
    """Move pixels by ``step`` (+1 or -1) along an axis, the vacated border mirrored: column j reads row i."""
    matrix = np.zeros((n, n))
    for j in range(n):
        i = j - step
        i = -i if i < 0 else (2 * (n - 1) - i if i > n - 1 else i)  # reflect, without repeating the edge
        matrix[i, j] = 1
    return matrix


def tta_model(model, shifts: bool = True, name: str | None = None):
    """``model`` with test-time augmentation built in, as a model of standard Keras layers.

    The returned model takes the same images, runs ``model`` on each image and its mirror image (and, with
    ``shifts``, on both again moved diagonally by one pixel either way, borders mirrored: six views),
    averages the **logits** - the scores before ``model``'s final softmax - with weights 1/4 for the
    image and its mirror and 1/8 for each shifted view, and returns the softmax of that average. The
    mirroring and shifting are fixed linear maps (``Permute`` and frozen ``Dense`` layers), so the saved
    file loads with plain ``keras.models.load_model`` and gives the same predictions anywhere.
    ``model`` must end with a softmax ``Activation`` layer.
    """
    import keras

    last = model.layers[-1]
    if not (isinstance(last, keras.layers.Activation) and last.get_config()["activation"] == "softmax"):
        raise ValueError(f"{model.name} must end with an Activation('softmax') layer to average its logits")
    logits = keras.Model(model.input, last.input, name="single_view")
    inputs = keras.Input(model.input_shape[1:], name="image")
    height, width = model.input_shape[1:3]
    finish = []

    def mirrored(x, tag):
        apply, set_weights = _fixed_linear_map(_mirror_matrix(width), 2, f"mirror_{tag}")
        finish.append(set_weights)
        return apply(x)

    def shifted(x, step, tag):
        rows, set_rows = _fixed_linear_map(_shift_matrix(height, step), 1, f"shift_{tag}_rows")
        cols, set_cols = _fixed_linear_map(_shift_matrix(width, step), 2, f"shift_{tag}_cols")
        finish.extend([set_rows, set_cols])
        return cols(rows(x))

    def both_ways(x, tag):
        return keras.layers.Average(name=f"average_{tag}")([logits(x), logits(mirrored(x, tag))])

    averaged = both_ways(inputs, "plain")
    if shifts:
        moved = keras.layers.Average(name="average_shifted")(
            [both_ways(shifted(inputs, 1, "down"), "down"), both_ways(shifted(inputs, -1, "up"), "up")])
        averaged = keras.layers.Average(name="average_views")([averaged, moved])
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(averaged)
    wrapped = keras.Model(inputs, outputs, name=name or f"{model.name}_tta")
    for set_weights in finish:
        set_weights()
    return wrapped


def single_view(model):
    """The single-view network inside a :func:`tta_model` (its logits), or ``model`` itself."""
    try:
        return model.get_layer("single_view")
    except ValueError:
        return model
