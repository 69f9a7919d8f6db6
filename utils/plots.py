"""Small matplotlib helpers shared by the notebooks."""

from __future__ import annotations

import math

import numpy as np


def image_grid(images, titles=None, columns: int = 10, size: float = 1.4, title: str | None = None):
    """Show images (uint8 or 0-255 floats, HxWx3) in a grid with optional per-image titles.

    Returns the matplotlib figure so a notebook can save or further adjust it.
    """
    import matplotlib.pyplot as plt

    images = list(images)
    columns = max(1, min(columns, len(images)))
    rows = max(1, math.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * (size + 0.3)), squeeze=False)
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
