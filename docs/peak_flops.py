"""What fraction of this machine's practical peak a training step of the recipe reaches.

The practical peak: a large matrix product (4,096 x 4,096, bfloat16 and float32); where oneDNN uses AMX, its
forward convolutions run faster still (docs/profile_onednn.py). The step (docs/step_rates.py):
training images per second of notebook 02's recipe (``utils.cnn``, the precision ``train`` uses, random images,
after a warm-up), times the FLOPs of one training image (``utils.flops``). Run from the repository root on a quiet
machine: ``.venv/bin/python docs/peak_flops.py`` (figures in docs/results.md, "Speed").
"""

import time

import keras
import tensorflow as tf
from step_rates import measure  # docs/step_rates.py

from utils import cnn
from utils.settings import best_precision


def matmul_peak(dtype, size=4096, seconds=5.0):
    a = tf.random.normal((size, size), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    product = tf.function(lambda: tf.matmul(a, b))
    product().numpy()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        product().numpy()
        calls += 1
    return 2 * size**3 * calls / (time.perf_counter() - start)


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    peaks = {name: matmul_peak(dtype) for name, dtype in (("bfloat16", tf.bfloat16), ("float32", tf.float32))}
    for name, peak in peaks.items():
        print(f"practical peak, {name} matmul 4096 x 4096: {peak / 1e9:.0f} GFLOP/s")
    rate, per_image = measure(cnn.RECIPE["widths"])
    print(f"recipe training step ({best_precision()}): {rate:.0f} images/s x {per_image / 1e9:.3f} GFLOP = "
          f"{rate * per_image / 1e9:.0f} GFLOP/s, {rate * per_image / peaks['bfloat16']:.0%} of the bfloat16 peak, "
          f"{rate * per_image / peaks['float32']:.0%} of the float32 peak")
