"""Training images per second of notebook 02's recipe at several widths and batch sizes, and the GFLOP/s that is.

Each network is built and compiled by ``utils.cnn`` exactly as ``train`` does it (the precision ``train`` uses, the
recipe's optimizer), warmed up, then timed over a few ``train_on_batch`` steps on augmented random images, so the
input pipeline is left out. The last column says how many epochs of 45,000 images 10 minutes would hold at that
rate. Run from the repository root on a quiet machine: ``.venv/bin/python docs/step_rates.py`` (figures in
docs/results.md, "Speed").
"""

import time

import numpy as np

from utils import cnn, flops
from utils.settings import best_precision, precision

images = np.random.default_rng(0).integers(0, 256, (4096, 32, 32, 3)).astype("uint8")
labels = np.random.default_rng(1).integers(0, 10, (4096, 1))


def warmed_up(widths, batch_size=1024):
    """The recipe's network at ``widths``, compiled by ``cnn.train`` and warmed up, and three augmented batches."""
    settings = {**cnn.RECIPE, "widths": widths, "batch_size": batch_size}
    with precision(best_precision()):
        model = cnn.recipe_cnn(images, settings)
    cnn.train(model, images, labels, settings, epochs=1, verbose=0)  # compiles and warms up
    iterator = iter(cnn.augmented_batches(images, labels, batch_size, 10))
    batches = [next(iterator) for _ in range(3)]
    for batch in batches:
        model.train_on_batch(*batch)
    return model, batches


def measure(widths, batch_size=1024, steps=6):
    """(training images per second, training FLOPs per image) of the recipe at ``widths``."""
    model, batches = warmed_up(widths, batch_size)
    start = time.perf_counter()
    for step in range(steps):
        model.train_on_batch(*batches[step % 3])
    return steps * batch_size / (time.perf_counter() - start), flops.training_flops(model, 1)


def report(widths, batch_size=1024):
    per_second, work = measure(widths, batch_size)
    print(f"widths {widths}, batches of {batch_size}: {per_second:5.0f} images/s x {work / 1e9:.3f} GFLOP = "
          f"{per_second * work / 1e9:4.0f} GFLOP/s; 10 minutes = {600 * per_second / 45000:.1f} epochs", flush=True)


if __name__ == "__main__":
    print(f"precision {best_precision()}")
    for widths, batch_size in [((32, 128, 128), 1024), ((64, 256, 256), 1024), ((32, 128, 128), 512),
                               ((64, 256, 256), 512), ((64, 256, 256), 2048), ((48, 192, 192), 1024),
                               ((32, 256, 256), 1024)]:
        report(widths, batch_size)
