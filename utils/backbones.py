"""The ImageNet backbones of notebook 04 and notebook 05: one table, loading with a clear error offline,
and each backbone's input preprocessing as a Keras layer.

:data:`BACKBONES` records, for each key, the ``keras.applications`` constructor, the image size its
ImageNet weights were trained on and how it preprocesses its input. :func:`preprocessing_layer` puts
that preprocessing inside a model as a standard Keras layer, so every model of this project takes raw
0-255 RGB images and loads with plain Keras.

Weights come from the Keras cache (``$KERAS_HOME/models``, by default ``~/.keras/models``),
downloaded there on first use. Where they can be neither found nor downloaded,
:class:`BackboneWeightsUnavailable` says so in one line and names the offline alternative.
"""

from __future__ import annotations

import urllib.error
import warnings
from dataclasses import dataclass, field

import keras
import numpy as np

from utils.settings import OFFLINE_BACKBONE, by_mode, keras_cache_dir


@dataclass(frozen=True)
class Backbone:
    """One row of the backbone table."""

    key: str
    constructor: str  # the function in keras.applications
    weights_size: int  # side, in pixels, of the images its ImageNet weights were trained on
    preprocessing: str  # "built_in" (the backbone scales 0-255 itself), "minus_one_to_one" or "caffe"
    params_millions: float  # without the ImageNet classifier
    imagenet_top1: float  # ImageNet top-1 accuracy (%), as published with the weights
    weights_file: str  # the file of its ImageNet weights without the classifier, in the Keras cache
    options: dict = field(default_factory=dict)  # extra constructor arguments

    def cached(self) -> bool:
        """Whether its ImageNet weights (without the classifier) are in the Keras cache: usable offline."""
        return (keras_cache_dir() / "models" / self.weights_file).exists()

    def describe(self) -> str:
        extra = "".join(f", {name}={value}" for name, value in self.options.items())
        where = "cached: works offline" if self.cached() else "downloaded on first use"
        return (f"{self.key}: keras.applications.{self.constructor}({extra.lstrip(', ')}), "
                f"{self.params_millions:g} M parameters, ImageNet top-1 {self.imagenet_top1:.1f}%, "
                f"weights for {self.weights_size} px ({where}), preprocessing {self.preprocessing}")


BACKBONES = {
    spec.key: spec
    for spec in (
        Backbone("efficientnetv2b0", "EfficientNetV2B0", 224, "built_in", 5.9, 78.7, "efficientnetv2-b0_notop.h5"),
        Backbone("mobilenet_v2", "MobileNetV2", 224, "minus_one_to_one", 2.3, 71.3,
                 "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"),
        Backbone("resnet50v2", "ResNet50V2", 224, "minus_one_to_one", 23.6, 76.0,
                 "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        Backbone("convnext_tiny", "ConvNeXtTiny", 224, "built_in", 27.8, 81.3, "convnext_tiny_notop.h5"),
        Backbone("resnet50", "ResNet50", 224, "caffe", 23.6, 74.9,
                 "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        Backbone("vgg16", "VGG16", 224, "caffe", 14.7, 71.3, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        # MobileNet v1 and v2 at reduced widths: small, fast on a CPU (top-1 from the TF-slim / Keras tables)
        Backbone("mobilenet_v1_075", "MobileNet", 224, "minus_one_to_one", 1.83, 68.4,
                 "mobilenet_7_5_224_tf_no_top.h5", {"alpha": 0.75}),
        Backbone("mobilenet_v2_035", "MobileNetV2", 224, "minus_one_to_one", 0.41, 60.3,
                 "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5", {"alpha": 0.35}),
        Backbone("mobilenet_v1_025", "MobileNet", 224, "minus_one_to_one", 0.22, 49.8,
                 "mobilenet_2_5_224_tf_no_top.h5", {"alpha": 0.25}),
    )
}


class BackboneWeightsUnavailable(RuntimeError):
    """A backbone's ImageNet weights are neither in the Keras cache nor downloadable."""


def get_backbone(key: str) -> Backbone:
    if key not in BACKBONES:
        raise ValueError(f"Unknown backbone {key!r}: choose one of {', '.join(BACKBONES)}.")
    return BACKBONES[key]


def default_image_size(key: str, data_dir=None) -> int:
    """The side, in pixels, at which a backbone sees the images when none is chosen: for a folder of photos,
    the size its ImageNet weights were trained on (224); for CIFAR-10's 32-pixel images, 128, which loses
    little and is about three times as fast. Quick mode: 96 for both."""
    return by_mode(full=128 if data_dir is None else get_backbone(key).weights_size, quick=96)


def load_backbone(key: str, weights: str | None = "imagenet", include_top: bool = False):
    """The backbone without its classifier, global-average pooled, for images of any size.

    ``weights="imagenet"`` loads them from the Keras cache or downloads them there;
    ``weights=None`` gives random weights (for tests and for training from scratch).
    ``include_top=True`` gives the whole ImageNet classifier instead (1,000 softmax outputs),
    for images of the size its weights were trained on.
    """
    spec = get_backbone(key)
    constructor = getattr(keras.applications, spec.constructor)
    shape = dict(input_shape=(spec.weights_size, spec.weights_size, 3)) if include_top else dict(
        input_shape=(None, None, 3), pooling="avg")
    try:
        with warnings.catch_warnings():  # MobileNet notes that it loads its 224-px weights: that is intended
            warnings.filterwarnings("ignore", message=".*Weights for input shape.*")
            return constructor(include_top=include_top, weights=weights, **shape, **spec.options)
    except Exception as err:
        if weights != "imagenet" or not _is_download_failure(err):
            raise
        reason = str(err).split(" -- ")[-1].strip() or type(err).__name__
        offline = (f"use {OFFLINE_BACKBONE!r} instead (BACKBONE = {OFFLINE_BACKBONE!r} in the notebooks, "
                   f"--model {OFFLINE_BACKBONE} on the command line), whose weights can be used offline "
                   "(README, 'Working offline')") if key != OFFLINE_BACKBONE else (
                   "copy a Keras cache holding its weights and point KERAS_HOME at it (README, 'Working offline')")
        raise BackboneWeightsUnavailable(
            f"The ImageNet weights of backbone {key!r} are not in the Keras cache ({keras_cache_dir() / 'models'}) "
            f"and could not be downloaded ({reason}): connect to the internet once, or {offline}."
        ) from None


def _is_download_failure(err: Exception) -> bool:
    return isinstance(err, urllib.error.URLError | OSError) or "URL fetch failure" in str(err)


def preprocessing_layer(key: str, name: str = "preprocess"):
    """The backbone's own input scaling as a Keras layer that takes raw 0-255 RGB.

    ``minus_one_to_one``: ``Rescaling(1/127.5, offset=-1)``; ``built_in`` (the backbone scales its
    input itself): ``Identity``; ``caffe`` (VGG16, ResNet50, trained with the original Caffe models'
    inputs): RGB to BGR and the ImageNet mean pixel subtracted, as ``keras.applications.vgg16.preprocess_input``
    does, written as a frozen ``Dense`` layer (a channel permutation and a bias, in float32). The same layer
    serves training (notebook 04) and prediction (notebook 05, ``python -m utils predict``).
    """
    spec = get_backbone(key)
    if spec.preprocessing == "minus_one_to_one":
        return keras.layers.Rescaling(1 / 127.5, offset=-1, name=name)
    if spec.preprocessing == "caffe":
        layer = keras.layers.Dense(3, trainable=False, dtype="float32", name=name)
        layer.build((None, 3))
        layer.set_weights([np.eye(3, dtype="float32")[::-1],  # output channel j = input channel 2 - j: BGR
                           -np.array([103.939, 116.779, 123.68], dtype="float32")])  # mean of B, G, R
        return layer
    return keras.layers.Identity(name=name)
