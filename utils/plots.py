"""Small matplotlib helpers shared by the notebooks."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from utils.calibration import expected_calibration_error, reliability


def image_grid(images, titles=None, columns: int = 10, size: float = 1.4, title: str | None = None):
    """Show images (uint8 or 0-255 floats, HxWx3) in a grid with optional per-image titles.

    Returns the matplotlib figure so a notebook can save or further adjust it.
    """
    images = list(images)
    columns = max(1, min(columns, len(images)))
    rows = max(1, math.ceil(len(images) / columns))
    title_lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    figure, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * (size + 0.2 + 0.18 * title_lines)),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            axis.imshow(np.clip(np.asarray(images[index]), 0, 255).astype("uint8"))
            if titles is not None:
                axis.set_title(str(titles[index]), fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def class_counts(labels, class_names, title: str = "Images per class", ax=None):
    """Bar chart of how many examples each class has (seaborn)."""
    counts = np.bincount(np.asarray(labels).reshape(-1), minlength=len(class_names))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    sns.barplot(x=list(class_names), y=counts, ax=ax, color="tab:blue")
    ax.set(title=title, ylabel="images")
    ax.tick_params(axis="x", rotation=45)
    for container in ax.containers:
        ax.bar_label(container, fontsize=8)
    return ax


def samples_by_class(images, labels, class_names, per_class: int = 8, seed: int = 0):
    """A grid with one row per class and ``per_class`` random examples in each row."""
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    figure, axes = plt.subplots(len(class_names), per_class, figsize=(per_class * 1.0, len(class_names) * 1.05))
    for row, name in enumerate(class_names):
        members = np.flatnonzero(labels == row)
        picks = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for column in range(per_class):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            if column < len(picks):
                axis.imshow(images[picks[column]])
            if column == 0:
                axis.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    figure.subplots_adjust(wspace=0.05, hspace=0.05)
    return figure


def channel_histograms(images, bins: int = 64):
    """Histograms of the red, green and blue intensities (0-255) of a set of images."""
    pixels = np.asarray(images).reshape(-1, 3)
    figure, ax = plt.subplots(figsize=(8, 3))
    for channel, colour in enumerate(("red", "green", "blue")):
        ax.hist(pixels[:, channel], bins=bins, range=(0, 255), color=colour, alpha=0.4, label=colour, density=True)
    ax.set(title="Pixel intensities per channel", xlabel="intensity (0-255)", ylabel="density")
    ax.legend()
    return figure


def image_pairs(images_a, images_b, pairs, title_a: str, title_b: str):
    """Show pairs ``(index in a, index in b, distance)`` as two rows: a on top, b below."""
    figure, axes = plt.subplots(2, len(pairs), figsize=(1.5 * len(pairs), 3.4), squeeze=False)
    for column, (a, b, distance) in enumerate(pairs):
        for row, (image, name) in enumerate(((images_a[a], title_a), (images_b[b], title_b))):
            axis = axes[row, column]
            axis.imshow(image)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(f"{name}" if row else f"{name}\ndistance {distance:.1f}", fontsize=8)
    figure.tight_layout()
    return figure


def embedding_scatter(points, labels, class_names, title: str = "2-D map of images"):
    """Scatter plot of 2-D points coloured by class (seaborn)."""
    labels = np.asarray(labels).reshape(-1)
    figure, ax = plt.subplots(figsize=(7, 6))
    sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=np.asarray(class_names)[labels],
                    hue_order=list(class_names), palette="tab10", s=12, linewidth=0, ax=ax)
    ax.set(title=title, xticks=[], yticks=[])
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8)
    return figure


def training_curves(histories: dict, metrics=("loss", "accuracy"), marks: dict | None = None,
                    references: dict | None = None):
    """Train (solid) and validation (dashed) curves per epoch for one or more Keras histories.

    ``histories`` maps a name to ``History.history`` (a dict of lists); each gets its own colour.
    ``marks`` maps a label to the number of epochs after which it happened, drawn as a dotted
    vertical line (e.g. ``{"fine-tuning starts": 5}``). ``references`` maps a metric to ``{label: value}``
    yardsticks drawn as dotted horizontal lines (e.g. ``{"loss": {"chance": 2.30}}``).
    """
    figure, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 3.6), squeeze=False)
    for (name, history), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"],
                                       strict=False):
        for axis, metric in zip(axes[0], metrics, strict=True):
            epochs = np.arange(1, len(history[metric]) + 1)
            axis.plot(epochs, history[metric], color=colour, label=f"{name} train")
            if f"val_{metric}" in history:
                axis.plot(epochs, history[f"val_{metric}"], color=colour, linestyle="--", label=f"{name} validation")
            for label, after in (marks or {}).items():
                axis.axvline(after + 0.5, color="grey", linestyle=":")
                axis.annotate(label, (after + 0.5, 1), xycoords=("data", "axes fraction"), rotation=90,
                              va="top", ha="right", fontsize=8, color="grey")
            axis.set(xlabel="epoch", ylabel=metric, title=metric)
            axis.grid(alpha=0.3)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for label, value in (references or {}).get(metric, {}).items():
            axis.axhline(value, color="grey", linestyle=":", linewidth=1)
            axis.annotate(label, (0.99, value), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                          fontsize=8, color="grey")
    axes[0, -1].legend(fontsize=8)
    figure.tight_layout()
    return figure


def confusion_matrix(matrix, class_names, title: str = "Confusion matrix", normalize: bool | None = None,
                     annotate_up_to: int = 20):
    """Seaborn heat map of a confusion matrix (rows: true class, columns: predicted class).

    Readable from 2 to 100+ classes: the figure grows with the number of classes, the cells are annotated
    only up to ``annotate_up_to`` classes, and ``normalize`` (by default: above 10 classes) shows each row
    as the share of that class's images, so that rare and common classes read alike.
    """
    matrix = np.asarray(matrix)
    count = len(class_names)
    normalize = count > 10 if normalize is None else normalize
    shown = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1) if normalize else matrix
    side = min(30.0, max(6.5, 0.28 * count + 3))
    figure, ax = plt.subplots(figsize=(side * 1.2, side))
    annotate = count <= annotate_up_to
    labels = [str(name) for name in class_names]
    sns.heatmap(shown, annot=annotate, fmt=".2f" if normalize else "d", cmap="Blues", cbar=not annotate,
                vmin=0, vmax=1 if normalize else None, xticklabels=labels, yticklabels=labels, ax=ax,
                annot_kws={"fontsize": 8}, square=count > annotate_up_to)
    fontsize = 9 if count <= 20 else max(4, 9 - count // 25)
    ax.tick_params(labelsize=fontsize)
    ax.set(title=title + (" (share of each true class)" if normalize else ""), xlabel="predicted class",
           ylabel="true class")
    figure.tight_layout()
    return figure


def reliability_diagram(curves: dict, bins: int = 15, title: str = "Reliability diagram"):
    """For each ``name: (probabilities, labels)``, the accuracy in each confidence bin against the diagonal
    of perfect calibration (above it: under-confident; below: over-confident), with its ECE."""
    figure, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, (probabilities, labels) in curves.items():
        _, accuracy, confidence, counts = reliability(probabilities, labels, bins)
        used = counts > 0
        ece = expected_calibration_error(probabilities, labels, bins)
        ax.plot(confidence[used], accuracy[used], marker="o", markersize=4, label=f"{name}: ECE {ece:.3f}")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top-1 probability)", ylabel="accuracy", title=title)
    ax.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    return figure


def top_k_bars(images, labels, probabilities, titles=None, size: float = 2.4):
    """Each image beside a horizontal bar chart of its top-k labels and probabilities, one row per image."""
    figure, axes = plt.subplots(len(images), 2, figsize=(3.4 * size, size * len(images)), squeeze=False,
                                gridspec_kw={"width_ratios": [1, 1.8]})
    for row, (image, names, values) in enumerate(zip(images, labels, probabilities, strict=True)):
        picture, bars = axes[row]
        picture.imshow(np.clip(np.asarray(image), 0, 255).astype("uint8"))
        picture.axis("off")
        if titles is not None:
            picture.set_title(str(titles[row]), fontsize=8)
        positions = np.arange(len(names))[::-1]  # the most probable class on top
        bars.barh(positions, values, color=["tab:blue"] + ["tab:gray"] * (len(names) - 1))
        bars.set_yticks(positions, [str(name) for name in names], fontsize=8)
        bars.set_xlim(0, 1)
        bars.tick_params(axis="x", labelsize=7)
        for position, value in zip(positions, values, strict=True):
            bars.text(min(value, 0.82) + 0.01, position, f"{value:.1%}", va="center", fontsize=7)
    axes[-1, 1].set_xlabel("probability")
    figure.tight_layout()
    return figure


def gradcam_grid(images, heatmaps, titles=None, columns: int = 4, size: float = 2.2, alpha: float = 0.45):
    """Images with their Grad-CAM heat maps laid over them (red: strongest evidence for the class)."""
    rows = max(1, math.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * (size + 0.3)), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            axis.imshow(np.clip(np.asarray(images[index]), 0, 255).astype("uint8"))
            axis.imshow(heatmaps[index], cmap="jet", alpha=alpha, vmin=0, vmax=1)
            if titles is not None:
                axis.set_title(str(titles[index]), fontsize=8)
    figure.tight_layout()
    return figure


def feature_maps(maps, titles=None, columns: int = 8, size: float = 1.3, title: str | None = None, cmap: str = "gray"):
    """2-D arrays (feature maps, grey images) side by side, each scaled to its own range (bright: large values)."""
    maps = [np.asarray(m, dtype="float32") for m in maps]
    columns = max(1, min(columns, len(maps)))
    rows = math.ceil(len(maps) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size + (0.3 if title else 0)
                                                        + (0.25 if titles is not None else 0)), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(maps):
            axis.imshow(maps[index], cmap=cmap)
            if titles is not None:
                axis.set_title(str(titles[index]), fontsize=8)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def conv_filters(kernel, columns: int = 16, size: float = 0.7, title: str | None = None):
    """The filters of a convolution kernel ``(height, width, 3, filters)`` as small RGB pictures, all on one
    scale: mid-grey is a weight of 0, the strongest weight of the layer is full colour (or black)."""
    kernel = np.asarray(kernel, dtype="float64")
    scale = max(np.abs(kernel).max(), 1e-12)
    pictures = [np.kron(127.5 + 127.5 * kernel[..., index] / scale, np.ones((8, 8, 1)))
                for index in range(kernel.shape[-1])]
    return image_grid(pictures, columns=columns, size=size, title=title)


def curve(x, y, xlabel: str, ylabel: str, title: str | None = None, size=(6, 2.5)):
    """A line plot, e.g. a learning-rate schedule; ``y``: the values, or a dict of named values (one line each)."""
    figure, ax = plt.subplots(figsize=size)
    for name, values in (y.items() if isinstance(y, dict) else [(None, y)]):
        ax.plot(x, values, label=name)
    if isinstance(y, dict):
        ax.legend()
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def ladder(histories: dict, extra: dict | None = None, metric: str = "val_accuracy"):
    """Runs compared: ``metric`` after each epoch against training seconds, one line per run (``histories``:
    name -> ``History.history`` with ``seconds``), and the final value of each as a bar; ``extra``: name -> a
    final value without a run of its own (drawn as a bar only)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1.2, 1]})
    finals = {}
    for name, history in histories.items():
        left.plot(history["seconds"], history[metric], marker="o", markersize=3, label=name)
        finals[name] = history[metric][-1]
    finals.update(extra or {})
    left.set(xlabel="training seconds", ylabel=metric.replace("_", " "), title="during training")
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    names = list(finals)[::-1]
    right.barh(names, [finals[name] for name in names], color="tab:blue")
    for position, name in enumerate(names):
        right.text(finals[name] + 0.005, position, f"{finals[name]:.3f}", va="center", fontsize=8)
    low = min(finals.values())
    right.set(xlim=(max(0.0, low - 0.1), min(1.0, max(finals.values()) + 0.06)), title="at the end",
              xlabel=metric.replace("_", " "))
    right.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    return figure
