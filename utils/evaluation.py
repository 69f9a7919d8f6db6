"""Evaluating a classifier: accuracy, confusion matrix, per-class report, mistakes, tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def format_table(rows, headers) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[format_value(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], (int, float, np.number)) for row in rows) for i in range(len(headers))]

    def line(row):
        return "  ".join(value.rjust(w) if num else value.ljust(w) for value, w, num in zip(row, widths, numeric,
                                                                                            strict=True))

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(row) for row in cells[1:]])


def format_value(value) -> str:
    """How tables and headlines show a value: ``-`` for None, 0.8645 for fractions, 1,234 for counts."""
    if value is None:
        return "-"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:,.0f}"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    return str(value)
