"""The ruler that does not depend on the machine: how many floating-point operations a model costs.

Seconds depend on the processor; epochs and FLOPs do not, so runs on different machines (or on a GPU) compare
by accuracy after a number of epochs and by the training FLOPs spent, as airbench reports its records.
:func:`forward_flops` counts the multiply-adds of the convolutions and dense layers of one image's forward pass
(two FLOPs each; batch norm, activations and pooling add a few per cent and are left out); a training step costs
about three times the forward pass (the forward pass, and gradients for the inputs and for the weights).
"""

from __future__ import annotations

import math

import keras


def forward_flops(model) -> int:
    """FLOPs of one image's forward pass through ``model``'s convolutions and dense layers (nested models too)."""
    total = 0
    for layer in _layers(model):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            height, width = layer.output.shape[1:3]
            kh, kw, channels, multiplier = layer.kernel.shape
            total += 2 * height * width * kh * kw * channels * multiplier
        elif isinstance(layer, keras.layers.Conv2D):
            height, width = layer.output.shape[1:3]
            total += 2 * height * width * math.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.Dense):
            positions = math.prod(layer.output.shape[1:-1]) if len(layer.output.shape) > 2 else 1
            total += 2 * positions * math.prod(layer.kernel.shape)
    return int(total)


def training_flops(model, images: float) -> float:
    """FLOPs of training ``model`` on ``images`` images (seen, counting every epoch): three forward passes each."""
    return 3.0 * forward_flops(model) * images


def _layers(layer):
    for inner in getattr(layer, "layers", []):
        yield inner
        yield from _layers(inner)
