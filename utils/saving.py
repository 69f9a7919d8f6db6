"""Saving a trained model with its class names, and loading it back.

:func:`save_model` writes the Keras 3 ``.keras`` file and, beside it, ``<name>.json`` with the class
names and how the model was made. The ``.keras`` file itself loads with plain
``keras.models.load_model`` (no project code needed); the JSON file gives the class names.
"""

from __future__ import annotations

import json
from pathlib import Path


def model_info_path(model_path) -> Path:
    """The JSON file saved next to a ``.keras`` model: class names and how the model was made."""
    return Path(model_path).with_suffix(".json")


def save_model(model, path, class_names, **info) -> Path:
    """Save ``model`` as ``.keras`` and its class names (plus ``info``) in a JSON file beside it.

    The file holds the model for prediction: its layers and weights, not the optimizer it was compiled
    with (a prediction does not need it, and an optimizer of this project's own would stop plain Keras
    from loading the file).
    """
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: save models with the .keras ending (Keras 3 format).")
    path.parent.mkdir(parents=True, exist_ok=True)
    if getattr(model, "optimizer", None) is not None:  # the same layers and weights, uncompiled
        model = keras.Model(model.input, model.output, name=model.name)
    model.save(path)
    model_info_path(path).write_text(json.dumps({"class_names": list(class_names), **info}, indent=2) + "\n")
    return path


def load_model(path):
    """Load a model saved by :func:`save_model`; returns ``(model, class_names, info)``."""
    import keras

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No model at {path}. Train it first (notebook 02, or python -m utils train --save {path})."
        )
    info_path = model_info_path(path)
    if not info_path.exists():
        raise FileNotFoundError(
            f"{info_path} is missing: it holds the class names of {path}. Save models with utils.saving.save_model."
        )
    info = json.loads(info_path.read_text())
    return keras.models.load_model(path), info.pop("class_names"), info
