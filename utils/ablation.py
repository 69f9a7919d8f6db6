"""Switching the fast recipe's ingredients off, one at a time, to measure what each is worth.

``python -m utils train --without lookahead`` trains notebook 02's fast recipe with that ingredient
removed; ``--set NAME=VALUE`` changes any argument of the notebook's ``fast_cnn`` or ``train_fast``
(``--set widths=(32,128,128) --set batch_size=512``). :data:`INGREDIENTS` says what removing each one
means, in terms of those arguments; notebook 02 shows the table of measured results.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ingredient:
    """One ingredient of the fast recipe and the arguments that remove it."""

    name: str
    what: str
    without: dict = field(default_factory=dict)  # argument overrides, for fast_cnn, train_fast or tta_model


INGREDIENTS = {
    item.name: item
    for item in (
        Ingredient("whitening-bias", "the whitening layer's bias learns for the first 3 epochs",
                   {"whitening_bias_epochs": 0}),
        Ingredient("identity-init", "convolutions start as identity maps (Dirac initialisation)", {"identity": False}),
        Ingredient("batchnorm-no-scale", "batch normalisation learns no scale, only its offset",
                   {"batchnorm_scale": True}),
        Ingredient("bias-lr", "batch normalisation's offsets learn 64 times faster", {"bias_scale": 1.0}),
        Ingredient("lookahead", "lookahead: the weights are averaged every 5 steps", {"lookahead": False}),
        Ingredient("alternating-flip", "images are mirrored alternately, not at random", {"flip": "random"}),
        Ingredient("tta-shifts", "test-time augmentation adds 1-pixel shifts to the mirror image",
                   {"shifts": False}),
        Ingredient("logit-scale", "logits scaled by 1/9 before the softmax", {"logit_scale": 1.0}),
        Ingredient("label-smoothing", "label smoothing 0.2", {"label_smoothing": 0.0}),
    )
}


def split_arguments(overrides: dict, *functions) -> list[dict]:
    """Distribute ``overrides`` (name: value) over the keyword arguments (with defaults) of ``functions``.

    Raises ``ValueError`` naming any override that none of them takes.
    """
    def options(function):  # the keyword arguments with defaults: the recipe's knobs
        return {name for name, parameter in inspect.signature(function).parameters.items()
                if parameter.default is not inspect.Parameter.empty and name != "verbose"}

    parts, left = [], dict(overrides)
    for function in functions:
        names = options(function)
        parts.append({name: left.pop(name) for name in list(left) if name in names})
    if left:
        known = sorted(set().union(*(options(function) for function in functions)))
        raise ValueError(f"--set {', '.join(sorted(left))}: not an argument of the recipe; choose from "
                         f"{', '.join(known)}")
    return parts


def overrides_for(without=(), settings: dict | None = None) -> dict:
    """The argument overrides for ingredients removed by name (``without``) and explicit ``settings``."""
    overrides = {}
    for name in without:
        if name not in INGREDIENTS:
            raise ValueError(f"--without {name}: no such ingredient; choose from {', '.join(INGREDIENTS)}")
        overrides.update(INGREDIENTS[name].without)
    overrides.update(settings or {})
    return overrides
