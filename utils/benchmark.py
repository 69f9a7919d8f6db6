"""How fast notebook 02's models train on this machine: ``python -m utils benchmark``.

Used to choose the recipe's settings for a machine (bfloat16 or float32, XLA on or off). The model is
built by :mod:`utils.cnn` (the notebook's own code) and trained on random images, so only the
computation is measured, not data loading.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from utils.data import make_dataset
from utils.settings import SEED


def measure_throughput(recipe: str = "fast", precision: str = "float32", jit_compile: bool = False, steps: int = 20,
                       batch_size: int = 256, seed: int = SEED) -> float:
    """Training images per second of ``recipe``'s model (``"fast"`` or ``"baseline"``) on random images.

    One SGD step per batch with the recipe's loss; two untimed steps come first (graph tracing, warm-up).
    """
    from utils import cnn
    from utils.environment import precision as dtype_policy

    images, labels = random_batch(batch_size * 4, seed)
    with dtype_policy(precision):
        model = cnn.recipe_cnn(images) if recipe == "fast" else cnn.baseline_cnn()
    return training_rate(model, images, labels, batch_size, steps, jit_compile)


def random_batch(count: int, seed: int = SEED):
    """``count`` random uint8 32 x 32 RGB images and integer labels of 10 classes."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, count)


def training_rate(model, images, labels, batch_size: int = 256, steps: int = 20, jit_compile: bool = False) -> float:
    """Training images per second of ``model`` on ``images`` (integer ``labels``): SGD steps of ``batch_size``
    with cross-entropy, timed over ``steps`` after two untimed ones (graph tracing, warm-up)."""
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    data = make_dataset(images, labels, batch_size).repeat()
    times = []
    clock = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()))
    model.fit(data, steps_per_epoch=steps + 2, epochs=1, verbose=0, callbacks=[clock])
    return steps * batch_size / (times[-1] - times[1])
