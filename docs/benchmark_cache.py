"""Decoding once: one pass over a folder's training images, epoch 1 against epoch 2, with and without the cache.

Run from the repository root: ``.venv/bin/python docs/benchmark_cache.py FOLDER [SIZE]`` (for the figures in
docs/results.md: the TensorFlow tutorials' flower photos at 224 px). Only the input pipeline is timed (the
batches ``train --data`` trains on, read and thrown away), so the difference is what each epoch of training
spends on decoding, on top of the model's own time.
"""

import sys
import time

from utils.folders import image_folder_datasets


def passes(folder, size, cache, memory_budget=None):
    options = {} if memory_budget is None else {"memory_budget": memory_budget}
    data = image_folder_datasets(folder, image_size=(size, size), validation_split=0.2, test_split=0.15,
                                 cache=cache, verbose=False, **options)
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        count = sum(len(labels) for _, labels in data.train)
        seconds.append(time.perf_counter() - start)
    return count, seconds


folder, size = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 224
for name, cache, budget in (("no cache (decoded every epoch)", False, None), ("cache in memory", True, None),
                            ("cache in a file (CNN_CACHE_DIR)", True, 0)):
    count, (first, second) = passes(folder, size, cache, budget)
    print(f"{name:<34} epoch 1: {first:5.1f} s ({count / first:5.0f} images/s)   "
          f"epoch 2: {second:5.1f} s ({count / second:5.0f} images/s)")
