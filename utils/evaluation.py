"""Evaluating a classifier: predicted probabilities, accuracy, confusion matrix, per-class report, the most
confident mistakes, and the one headline line a notebook prints for ``python -m utils run-notebooks``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

#: The prefix of the headline line that ``run-notebooks`` looks for in a notebook's output.
HEADLINE_PREFIX = "Headline: "


def headline(label: str, value) -> None:
    """Print a notebook's headline metric: ``headline("test accuracy", 0.859)`` prints
    ``Headline: test accuracy = 0.8590`` (fractions to 4 places, larger numbers with thousands separators).
    Returns nothing, so that as a cell's last line it adds no ``Out[]`` echo."""
    if isinstance(value, float | np.floating):
        value = f"{value:.4f}" if abs(value) < 1 else f"{value:,.0f}"
    elif isinstance(value, int | np.integer):
        value = f"{value:,}"
    print(f"{HEADLINE_PREFIX}{label} = {value}")


def predict_proba(model, images, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities for an array of images, ``batch_size`` at a time."""
    return model.predict(np.asarray(images), batch_size=batch_size, verbose=0)


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
