"""Grad-CAM: where in an image a CNN found the evidence for a class.

Grad-CAM (Selvaraju et al., 2017) takes the last convolutional feature maps of the network,
weights each map by how much the class score rises when that map rises (the average gradient),
adds them up and keeps the positive part. Bright regions of the resulting heat map are the ones
that pushed the prediction towards the class.

:func:`gradcam` works on the chain-shaped models of this project, including those whose
backbone is a nested model (notebook 04): the feature maps are then taken inside the backbone. A model
that is not a chain - one with test-time augmentation built in (notebook 02's ``tta_model``), which runs
one network on several views of the image - is explained through that network, on the image itself.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _last_feature_layer(model):
    """The last layer of ``model`` whose output is a 4-D feature map (batch, height, width, channels)."""
    candidates = [layer for layer in model.layers
                  if not isinstance(layer, keras.layers.InputLayer) and _is_feature_map(layer.output)]
    if not candidates:
        raise ValueError(f"{model.name} has no layer with 4-D (image-like) output: Grad-CAM needs a CNN.")
    return candidates[-1]


def _is_feature_map(tensor) -> bool:
    """4-D and spatial (a 1 x 1 map, such as a classifier written as a 1 x 1 convolution, is not)."""
    shape = tuple(tensor.shape)
    return len(shape) == 4 and shape[1:3] != (1, 1)


def _chain(model):
    """``model`` itself if its layers form a chain (each takes the output of the one before); otherwise the one
    network nested in it (the network a test-time augmentation model runs on each view)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0]
    for layer in layers:
        if layer.input is not previous:
            nested = [layer for layer in layers if isinstance(layer, keras.Model)]
            if len(nested) != 1:
                raise ValueError(f"{model.name} is not a chain of layers and holds {len(nested)} networks: "
                                 "Grad-CAM needs one network to explain")
            return _chain(nested[0])
        previous = layer.output
    return model


def gradcam(model, images, class_indices=None) -> np.ndarray:
    """Heat maps (values 0-1, one per image, at the model's input size) for ``class_indices``
    (default: each image's top-1 class). ``images`` are what the model takes: raw 0-255 RGB. For a model
    with test-time augmentation built in (notebook 02's ``tta_model``), the maps are those of the
    network on the image itself, for its class scores before the softmax."""
    model = _chain(model)  # a model with test-time augmentation: the network it runs on each view
    x = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)  # frozen (non-trainable) layers are recorded too
        features, h = None, x
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.Model):  # a nested backbone: take its feature maps from inside
                inner = keras.Model(layer.inputs, [_last_feature_layer(layer).output, layer.output])
                features, h = inner(h, training=False)
            else:
                h = layer(h, training=False)
                if _is_feature_map(h):
                    features = h
        probabilities = h
        if class_indices is None:
            class_indices = tf.argmax(probabilities, axis=1)
        scores = tf.gather(probabilities, tf.convert_to_tensor(class_indices), axis=1, batch_dims=1)
    if features is None:
        raise ValueError(f"{model.name} has no 4-D feature maps: Grad-CAM needs a CNN.")
    gradients = tape.gradient(scores, features)
    weights = tf.reduce_mean(tf.cast(gradients, tf.float32), axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * tf.cast(features, tf.float32), axis=-1, keepdims=True))
    cams = cams / (tf.reduce_max(cams, axis=(1, 2, 3), keepdims=True) + 1e-8)
    cams = tf.image.resize(cams, tuple(x.shape[1:3]), method="bilinear")
    return np.asarray(cams[..., 0])
