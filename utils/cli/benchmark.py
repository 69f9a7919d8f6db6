"""``python -m utils benchmark``: how fast notebook 02's networks train on this machine, with each precision and
with or without XLA, on random images (only the computation is measured, not data loading)."""

from __future__ import annotations

import time

import keras
import numpy as np

from utils import cnn
from utils.data import make_dataset
from utils.settings import SEED, precision


def add_parser(commands) -> None:
    bench = commands.add_parser("benchmark", help="training images per second for each precision / XLA setting")
    bench.add_argument("--recipe", choices=["baseline", "fast"], default="fast")
    bench.add_argument("--precision", action="append", choices=["float32", "mixed_bfloat16", "mixed_float16"],
                       help="repeat to compare several (default: float32 and mixed_bfloat16)")
    bench.add_argument("--xla", action="store_true", help="also measure with XLA compilation (jit_compile=True)")
    bench.add_argument("--steps", type=int, default=20, help="timed training steps (default 20)")
    bench.set_defaults(run=run)


def run(args) -> int:
    for policy in args.precision or ["float32", "mixed_bfloat16"]:
        for jit in ([False, True] if args.xla else [False]):
            rate = measure_throughput(args.recipe, policy, jit_compile=jit, steps=args.steps)
            print(f"recipe={args.recipe} precision={policy} xla={'on' if jit else 'off'} "
                  f"images_per_second={rate:.0f}", flush=True)
    return 0


def measure_throughput(recipe: str = "fast", policy: str = "float32", jit_compile: bool = False, steps: int = 20,
                       batch_size: int = 256, seed: int = SEED) -> float:
    """Training images per second of ``recipe``'s network (``"fast"`` or ``"baseline"``) on random images."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (batch_size * 4, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, batch_size * 4)
    with precision(policy):
        model = cnn.recipe_cnn(images) if recipe == "fast" else cnn.baseline_cnn()
    return training_rate(model, images, labels, batch_size, steps, jit_compile)


def training_rate(model, images, labels, batch_size: int = 256, steps: int = 20, jit_compile: bool = False) -> float:
    """Training images per second of ``model`` on ``images`` (integer ``labels``): SGD steps of ``batch_size``
    with cross-entropy, timed over ``steps`` after two untimed ones (graph tracing, warm-up)."""
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    data = make_dataset(images, labels, batch_size).repeat()
    times = []
    clock = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()))
    model.fit(data, steps_per_epoch=steps + 2, epochs=1, verbose=0, callbacks=[clock], shuffle=False)
    return steps * batch_size / (times[-1] - times[1])
