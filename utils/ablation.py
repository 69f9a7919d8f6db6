"""Changing the fast recipe from the command line: ``python -m utils train --without NAME --set NAME=VALUE``.

The recipe's settings are one dict, notebook 02's ``RECIPE`` (in the generated :mod:`utils.cnn`).
``--set NAME=VALUE`` changes one entry (``--set widths=(64,256,256) --set batch_size=512``); ``--without NAME``
removes one ingredient, as :data:`INGREDIENTS` says in terms of those entries. Notebook 02's ladder adds the
ingredients one at a time; ``docs/results.md`` has the table of what removing each one costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ingredient:
    """One ingredient of the fast recipe and the settings that remove it."""

    name: str
    what: str
    without: dict = field(default_factory=dict)  # entries of RECIPE that remove it


INGREDIENTS = {
    item.name: item
    for item in (
        Ingredient("whitening", "the first layer's filters are computed from the data and frozen (learnt without)",
                   {"whitening": False}),
        Ingredient("whitening-bias", "the whitening layer's bias learns for the first 3 epochs",
                   {"whitening_bias_epochs": 0}),
        Ingredient("identity-init", "convolutions start as identity maps (Dirac initialisation)", {"identity": False}),
        Ingredient("batchnorm-no-scale", "batch normalisation learns no scale, only its offset",
                   {"batchnorm_scale": True}),
        Ingredient("bias-lr", "batch normalisation's offsets learn 64 times faster", {"bias_scale": 1.0}),
        Ingredient("weight-decay", "weight decay 0.009", {"weight_decay": 0.0}),
        Ingredient("lookahead", "lookahead: the weights are averaged every 5 steps", {"lookahead": False}),
        Ingredient("alternating-flip", "images are mirrored alternately, not at random", {"flip": "random"}),
        Ingredient("tta-shifts", "test-time augmentation adds 1-pixel shifts to the mirror image", {"test_views": 2}),
        Ingredient("logit-scale", "logits scaled by 1/9 before the softmax", {"logit_scale": 1.0}),
        Ingredient("label-smoothing", "label smoothing 0.2", {"label_smoothing": 0.0}),
    )
}


def recipe_settings(base: dict, without=(), changes: dict | None = None) -> dict:
    """``base`` (notebook 02's ``RECIPE`` or ``BASELINE``) with the ingredients named in ``without`` removed and
    ``changes`` applied. Raises ``ValueError`` naming an unknown ingredient or setting, and the known ones."""
    settings = dict(base)
    for name in without:
        if name not in INGREDIENTS:
            raise ValueError(f"--without {name}: no such ingredient; choose from {', '.join(INGREDIENTS)}")
        settings.update(INGREDIENTS[name].without)
    unknown = sorted(set(changes or {}) - set(base))
    if unknown:
        raise ValueError(f"--set {', '.join(unknown)}: not a setting of the recipe; choose from {', '.join(base)}")
    settings.update(changes or {})
    return settings
