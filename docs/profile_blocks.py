"""Where a training step of notebook 02's fast network spends its time, and what other widths cost.

Run from the repository root: ``.venv/bin/python docs/profile_blocks.py``. Trains on random 32 x 32 images
(batches of 1024, the recipe's precision, SGD, ``utils.cli.benchmark.training_rate``), so only the computation
is timed: first the network cut after its stem and after each block (the difference between two rows is
that block's cost), then the whole network at other widths. Results in docs/results.md (Speed).
"""

import keras
import numpy as np
from keras import layers

from utils import cnn
from utils.cli.benchmark import training_rate
from utils.settings import best_precision

BATCH = 1024
rng = np.random.default_rng(0)
images, labels = rng.integers(0, 256, (BATCH, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, BATCH)


def milliseconds_per_step(model):
    return 1000 * BATCH / training_rate(model, images, labels, BATCH, steps=8)


def cut_after(blocks, batchnorm=True):
    """The fast network's layers up to ``blocks`` blocks (0: the stem only), then its pooling and classifier."""
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Activation("relu")(layers.Conv2D(24, 2)(x))
    for width in (32, 128, 128)[:blocks]:
        for pool in (True, False):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = layers.MaxPooling2D()(x) if pool else x
            x = layers.BatchNormalization(scale=False)(x) if batchnorm else x
            x = layers.Activation("relu")(x)
    x = layers.Dense(10)(layers.GlobalMaxPooling2D()(x))
    return keras.Model(inputs, layers.Activation("softmax", dtype="float32")(x))


keras.config.set_dtype_policy(best_precision())
print(f"precision {best_precision()}, batches of {BATCH}")
for blocks in range(4):
    print(f"stem + {blocks} block(s): {milliseconds_per_step(cut_after(blocks)):5.0f} ms per step")
print(f"stem + 3 blocks, no batch norm: {milliseconds_per_step(cut_after(3, batchnorm=False)):5.0f} ms per step")
for widths in [(32, 128, 128), (16, 128, 128), (24, 128, 128), (64, 128, 128), (32, 96, 96)]:
    step = milliseconds_per_step(cnn.recipe_cnn(images, {**cnn.RECIPE, "widths": widths}))
    print(f"recipe_cnn widths {widths}: {step:5.0f} ms per step, {1000 * BATCH / step:5.0f} images/s")
