"""utils.flops: the machine-independent ruler, counted by hand for small layers and against airbench's figures."""

import keras
import numpy as np
import pytest

from utils import cnn, flops


def test_convolution_depthwise_and_dense_layers_count_two_flops_per_multiply_add():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8 positions, 3*3*3 inputs, 4 filters
    x = keras.layers.DepthwiseConv2D(3, padding="valid")(x)  # 6*6 positions, 3*3 per channel, 4 channels
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5)(x)  # 4 inputs, 5 outputs
    model = keras.Model(inputs, outputs)
    assert flops.forward_flops(model) == 2 * (8 * 8 * 3 * 3 * 3 * 4 + 6 * 6 * 3 * 3 * 4 + 4 * 5)
    nested = keras.Model(inputs, model(inputs))
    assert flops.forward_flops(nested) == flops.forward_flops(model), "layers inside a nested model count"
    assert flops.training_flops(model, 10) == 30 * flops.forward_flops(model)


def test_the_recipe_has_airbench_widths_and_matches_their_published_cost():
    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3)).astype("uint8")
    assert cnn.RECIPE["widths"] == (64, 256, 256)
    recipe = cnn.recipe_cnn(images)
    # airbench94: 9.9 epochs of 50,000 images, about 0.36 PFLOP
    assert flops.training_flops(recipe, 9.9 * 50_000) == pytest.approx(0.36e15, rel=0.05)
    ladder = cnn.recipe_cnn(images, {**cnn.RECIPE, "widths": (32, 128, 128)})
    assert flops.training_flops(ladder, 1) == pytest.approx(0.2e9, rel=0.02), "notebook 02's ladder: 0.2 GFLOP"
