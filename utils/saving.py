"""Saving a trained model with its class names, and loading it back.

:func:`save_model` writes the Keras 3 ``.keras`` file and, beside it, ``<name>.json`` with the class
names and how the model was made. The ``.keras`` file itself loads with plain
``keras.models.load_model`` (no project code needed); the JSON file gives the class names.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras


def model_info_path(model_path) -> Path:
    """The JSON file saved next to a ``.keras`` model: class names and how the model was made."""
    return Path(model_path).with_suffix(".json")


def save_model(model, path, class_names, **info) -> Path:
    """Save ``model`` as ``.keras`` and its class names (plus ``info``) in a JSON file beside it.

    The file holds the model for prediction: its layers and weights, not the optimizer it was compiled
    with (a prediction does not need it, and an optimizer of this project's own would stop plain Keras
    from loading the file).
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: save models with the .keras ending (Keras 3 format).")
    path.parent.mkdir(parents=True, exist_ok=True)
    if getattr(model, "optimizer", None) is not None:  # the same layers and weights, uncompiled
        model = keras.Model(model.input, model.output, name=model.name)
    model.save(path)
    model_info_path(path).write_text(json.dumps({"class_names": list(class_names), **info}, indent=2) + "\n")
    return path


def load_model(path, labels=None):
    """Load a ``.keras`` model; returns ``(model, class_names, info)``.

    The class names come from ``labels`` (a text file, one name per line, in output order) when given,
    else from the JSON file :func:`save_model` wrote beside the model. A model saved anywhere else has no
    such file: its classes are then called by their indices, and ``info["note"]`` says so.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No model at {path}. Train it first (notebook 03, or python -m utils train --save {path})."
        )
    info_path = model_info_path(path)
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    class_names = info.pop("class_names", None)
    if labels is not None:
        labels = Path(labels).expanduser()
        try:
            class_names = [line.strip() for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as err:
            raise FileNotFoundError(f"--labels {labels}: cannot read it ({getattr(err, 'strerror', None) or err}); "
                                    "give a text file with one class name per line") from err
    model = keras.models.load_model(path)
    outputs = int(model.output_shape[-1])
    if class_names is None:
        class_names = [f"class {i}" for i in range(outputs)]
        info["note"] = (f"{path.name} has no {info_path.name} with its class names: classes are shown by index. "
                        "Give --labels FILE (one class name per line, in the model's output order).")
    elif len(class_names) != outputs:
        source = labels if labels is not None else info_path
        raise ValueError(f"{source} names {len(class_names)} classes but {path.name} has {outputs} outputs: "
                         "give one class name per output, in order")
    return model, class_names, info
