"""CNN recipes for CIFAR-10 and the training loop shared by notebook 02 and ``python -m utils train``.

Two recipes:

* ``baseline`` - the from-scratch CNN most tutorials start with:
  Conv-Pool-Conv-Pool-Flatten-Dense-softmax, Adam, plain cross-entropy, no augmentation.
* ``fast`` - a small "fast training" CNN tuned for accuracy per CPU-second: a frozen
  patch-whitening first layer, batch normalisation, flip and shift augmentation as layers,
  label smoothing, SGD with
  Nesterov momentum and weight decay, a warm-up then linear-decay learning-rate schedule,
  bfloat16 compute where the processor supports it, and test-time flip averaging.

Every model takes raw 0-255 RGB images: scaling, normalisation and augmentation are layers
inside it, so a saved model works on images from any source.

``train(..., minutes=M)`` fits the whole learning-rate schedule into a time budget: the decay is
measured in seconds of the budget, so the learning rate reaches its end exactly when the time
does, however fast or slow each epoch turns out, instead of being cut off.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from utils.explore import channel_statistics
from utils.settings import SEED

layers, ops = keras.layers, keras.ops

# ----------------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="cnn_notebooks")
class RandomShift(keras.layers.Layer):
    """Shift each image by a random whole number of pixels (up to ``pixels``) in x and y.

    The border is filled by reflection. Vectorised: one gather per axis for the whole batch,
    no per-image loop and no interpolation blur. Active only in training, like Keras' own
    augmentation layers.
    """

    def __init__(self, pixels: int = 2, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.pixels = int(pixels)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training or self.pixels == 0:
            return images
        p = self.pixels
        batch, height, width, channels = (ops.shape(images)[i] for i in range(4))
        padded = ops.pad(images, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")
        dy = keras.random.randint((batch, 1), 0, 2 * p + 1, seed=self.seed_generator)
        dx = keras.random.randint((batch, 1), 0, 2 * p + 1, seed=self.seed_generator)
        rows = ops.broadcast_to((dy + ops.arange(height)[None, :])[:, :, None, None],
                                (batch, height, width + 2 * p, channels))
        shifted = ops.take_along_axis(padded, rows, axis=1)
        cols = ops.broadcast_to((dx + ops.arange(width)[None, :])[:, None, :, None], (batch, height, width, channels))
        return ops.take_along_axis(shifted, cols, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "pixels": self.pixels, "seed": self.seed}


# ----------------------------------------------------------------------------- models


def compute_precision() -> str:
    """The fastest safe Keras dtype policy here: bfloat16 compute where the hardware has it.

    * NVIDIA GPU of compute capability 8.0 or newer, or a CPU with AVX512-BF16 or AMX:
      ``mixed_bfloat16`` (weights stay float32; the fast recipe trains 1.3x faster so on a 2-core
      AVX512-BF16 CPU, see ``python -m utils benchmark``);
    * an older NVIDIA GPU: ``mixed_float16``;
    * anything else: ``float32``.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        return "mixed_bfloat16" if capability >= (8, 0) else "mixed_float16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "float32"
    return "mixed_bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


def build_baseline_cnn(input_shape=(32, 32, 3), num_classes: int = 10):
    """Conv-Pool-Conv-Pool-Flatten-Dense-softmax, scaling the 0-255 input inside the model."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1 / 255, name="scale_0_1")(inputs)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="baseline_cnn")


def patch_whitening_kernel(images, mean=0.0, std=1.0, size: int = 2, epsilon: float = 5e-4, samples: int = 10000,
                           seed: int = SEED):
    """A frozen first-layer kernel that *whitens* ``size`` x ``size`` pixel patches.

    The eigenvectors of the patches' covariance, scaled by one over the square root of their
    eigenvalues, decorrelate neighbouring pixels and colours and give every direction unit
    variance; each filter is used with both signs so that a ReLU after it loses nothing. This
    is a classic trick of fast CIFAR-10 training: the first layer starts out useful instead of
    random. ``mean`` and ``std`` (per channel) normalise the sampled images the way the model
    normalises its input.
    """
    rng = np.random.default_rng(seed)
    images = np.asarray(images)[rng.permutation(len(images))[:samples]]
    images = (images.astype(np.float64) - mean) / std
    height, width, channels = images.shape[1:]
    patches = np.stack([images[:, i:i + height - size + 1, j:j + width - size + 1, :]
                        for i in range(size) for j in range(size)], axis=3)  # (n, h', w', size*size, c)
    patches = patches.reshape(-1, size * size * channels)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))
    filters = eigenvectors.T / np.sqrt(eigenvalues + epsilon)[:, None]  # (size*size*c, size*size*c)
    filters = np.concatenate([filters, -filters])  # both signs
    return filters.reshape(-1, size, size, channels).transpose(1, 2, 3, 0).astype("float32")


def build_fast_cnn(train_images, input_shape=(32, 32, 3), num_classes: int = 10,
                   widths=(32, 128, 128), shift: int = 2, precision: str | None = None, seed: int = SEED):
    """The fast recipe's network: normalise, augment, a whitening stem, three conv blocks, softmax.

    Each block is Conv-MaxPool-BN-ReLU-Conv-BN-ReLU; the channels grow where the resolution
    halves, and global max pooling feeds the classifier. ``train_images`` (uint8, NHWC) give the
    per-channel mean and variance of the normalisation layer and the whitening stem's kernel.
    """
    policy = precision or compute_precision()
    stats = channel_statistics(train_images)
    whitening = patch_whitening_kernel(train_images, stats["mean"], stats["std"], seed=seed)

    def bn(name):
        return layers.BatchNormalization(momentum=0.9, dtype=policy, name=name)

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.RandomFlip("horizontal", seed=seed, name="augment_flip")(inputs)
    x = RandomShift(shift, seed=seed, name="augment_shift")(x)
    x = layers.Normalization(mean=stats["mean"], variance=stats["std"] ** 2, name="normalize")(x)
    stem = layers.Conv2D(whitening.shape[-1], 2, use_bias=False, trainable=False, dtype=policy, name="stem_whitening")
    x = stem(x)
    stem.set_weights([whitening])
    x = layers.ReLU(dtype=policy, name="stem_relu")(x)
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, dtype=policy, name=f"block{i}_conv1")(x)
        x = layers.MaxPooling2D(dtype=policy, name=f"block{i}_pool")(x)
        x = bn(f"block{i}_bn1")(x)
        x = layers.ReLU(dtype=policy, name=f"block{i}_relu1")(x)
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, dtype=policy, name=f"block{i}_conv2")(x)
        x = bn(f"block{i}_bn2")(x)
        x = layers.ReLU(dtype=policy, name=f"block{i}_relu2")(x)
    x = layers.GlobalMaxPooling2D(dtype=policy, name="pool")(x)
    x = layers.Dense(num_classes, use_bias=False, dtype=policy, name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="fast_cnn")


# ----------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class Recipe:
    """Everything that defines how a model is trained, in one readable place."""

    name: str
    description: str
    batch_size: int
    epochs: int  # used when no time budget is given
    optimizer: str  # "adam" or "sgd"
    learning_rate: float  # the peak learning rate
    schedule: str  # "constant" or "warmup_linear"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    flip_tta: bool = False
    model_options: dict = field(default_factory=dict)

    def build(self, train_images, num_classes: int = 10, **overrides):
        """The recipe's untrained model; ``overrides`` replace entries of ``model_options``."""
        options = {**self.model_options, **overrides}
        if self.name == "baseline":
            return build_baseline_cnn(train_images.shape[1:], num_classes, **options)
        return build_fast_cnn(train_images, train_images.shape[1:], num_classes, **options)

    def make_optimizer(self):
        if self.optimizer == "adam":
            return keras.optimizers.Adam(self.learning_rate)
        optimizer = keras.optimizers.SGD(self.learning_rate, momentum=0.9, nesterov=True,
                                         weight_decay=self.weight_decay or None)
        if self.weight_decay:
            optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        return optimizer

    def learning_rate_at(self, progress: float, epoch_progress: float) -> float:
        """Learning rate at ``progress`` (0-1 of all steps) and ``epoch_progress`` (epochs done, fractional)."""
        if self.schedule == "constant":
            return self.learning_rate
        if self.warmup_epochs and epoch_progress < self.warmup_epochs:
            return self.learning_rate * (0.1 + 0.9 * epoch_progress / self.warmup_epochs)
        return self.learning_rate * max(0.0, 1.0 - progress)


RECIPES = {
    "baseline": Recipe(
        name="baseline",
        description="Conv-Pool-Conv-Pool-Flatten-Dense-softmax, Adam 1e-3, cross-entropy, no augmentation",
        batch_size=64, epochs=10, optimizer="adam", learning_rate=1e-3, schedule="constant",
    ),
    "fast": Recipe(
        name="fast",
        description=("whitening stem + BN CNN (widths 32-128-128), flip + 2-pixel shift augmentation, "
                     "label smoothing 0.2, SGD Nesterov (batch 256, peak LR 0.4) + weight decay 5e-4, "
                     "warm-up then linear decay, bfloat16 where supported, test-time flip averaging"),
        batch_size=256, epochs=12, optimizer="sgd", learning_rate=0.4, schedule="warmup_linear",
        warmup_epochs=1.0, weight_decay=5e-4, label_smoothing=0.2, flip_tta=True,
    ),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}: choose one of {', '.join(RECIPES)}.")
    return RECIPES[name]


# ----------------------------------------------------------------------------- training


class BudgetProgbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, with the epochs the time budget is expected to hold (``?`` until known), and
    the steps actually done when the budget ends an epoch early."""

    planned: int | None = None

    def on_epoch_begin(self, epoch, logs=None):
        epochs, self.epochs = self.epochs, 1  # let Keras reset its bar without printing the header
        super().on_epoch_begin(epoch, logs)
        self.epochs = epochs
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.planned or '?'}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.progbar is not None and self.target and self.seen < self.target:  # the budget ended the epoch
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=True)  # show the steps done
        else:
            super().on_epoch_end(epoch, logs)


class Schedule(keras.callbacks.Callback):
    """Sets the learning rate every step and ends training when its limit is reached.

    Progress through the recipe's schedule is the larger of two fractions: of the time budget
    ``seconds`` used so far, and of the ``epochs`` x ``steps_per_epoch`` steps done. The learning
    rate follows the schedule on that progress, so its decay ends exactly when the first limit is
    reached, and training stops there (within an epoch if need be). Counting a budget in seconds
    keeps it robust on a machine whose speed changes mid-run: the decay stretches or compresses by
    itself and no part of the budget is left unused. After every epoch the number of epochs
    expected to fit is estimated from the latest epoch's time, for the progress display.
    """

    def __init__(self, recipe, steps_per_epoch, epochs=None, seconds=None, progbar=None, verbose=1):
        super().__init__()
        if epochs is None and seconds is None:
            raise ValueError("give the schedule a number of epochs, a time budget in seconds, or both")
        self.recipe, self.steps_per_epoch = recipe, steps_per_epoch
        self.max_epochs, self.seconds, self.progbar, self.verbose = epochs, seconds, progbar, verbose
        self.planned = epochs if seconds is None else None
        self.step = 0
        self.started = self.warm_time = self.last_batch_time = None
        self.epoch_seconds = []

    def progress(self) -> float:
        """How far through the schedule training is, from 0 to 1."""
        done = 0.0
        if self.seconds is not None:
            done = (time.perf_counter() - self.started) / self.seconds
        if self.max_epochs:
            done = max(done, self.step / (self.max_epochs * self.steps_per_epoch))
        return min(1.0, done)

    def _expect(self, epochs_done, epoch_seconds):
        """Estimate how many epochs the budget holds, for the progress display."""
        remaining = self.seconds - (time.perf_counter() - self.started)
        expected = epochs_done + max(0, math.ceil(remaining / epoch_seconds - 0.05))
        if self.max_epochs:
            expected = min(expected, self.max_epochs)
        self.planned = max(epochs_done, expected, 1)
        if self.progbar is not None:
            self.progbar.planned = self.planned

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        if self.progbar is not None:
            self.progbar.planned = self.planned

    def on_train_batch_begin(self, batch, logs=None):
        lr = self.recipe.learning_rate_at(self.progress(), self.step / self.steps_per_epoch)
        self.model.optimizer.learning_rate = lr

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.last_batch_time = time.perf_counter()
        if batch == min(4, self.steps_per_epoch - 1):
            self.warm_time, self.warm_batch = self.last_batch_time, batch
        if self.progress() >= 1.0:
            self.model.stop_training = True  # the schedule has reached its end

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.epoch_seconds.append(now - self.epoch_started)
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
        if self.seconds is not None and not self.model.stop_training:
            if epoch == 0 and self.warm_time is not None:  # a steady epoch from the warm steps, plus validation
                timed_steps = max(1, self.steps_per_epoch - 1 - self.warm_batch)
                per_step = (self.last_batch_time - self.warm_time) / timed_steps
                estimate = per_step * self.steps_per_epoch + (now - self.last_batch_time)
            else:
                estimate = self.epoch_seconds[-1]
            before = self.planned
            self._expect(epoch + 1, estimate)
            if self.verbose and self.planned != before:
                print(f"time budget: about {self.planned} epochs of {estimate:.0f} s fit in "
                      f"{self.seconds / 60:g} min", flush=True)
        if self.max_epochs and epoch + 1 >= self.max_epochs:
            self.model.stop_training = True


@dataclass
class TrainResult:
    """What :func:`train` returns: the model, its history and the measured cost."""

    model: object
    recipe: Recipe
    history: dict
    train_seconds: float
    epochs: int  # epochs started (the last one may end early when the time budget runs out)
    params: int
    steps: int = 0  # training steps done
    steps_per_epoch: int = 0

    @property
    def epochs_done(self) -> float:
        """Epochs of training done, a last partial epoch counted as a fraction."""
        return self.steps / self.steps_per_epoch if self.steps_per_epoch else float(self.epochs)


def make_dataset(images, labels, num_classes: int, batch_size: int, shuffle: bool, seed: int = SEED,
                 one_hot: bool = True):
    """A ``tf.data`` pipeline of (uint8 images, one-hot labels) batches with prefetching.

    With ``one_hot=False`` the labels stay integers (for ``sparse_categorical_crossentropy``).

    Only the image *indices* are shuffled (a small buffer), and each batch is gathered from the
    in-memory array in one vectorised step. Shuffling the images themselves would refill a
    50,000-image buffer at the start of every epoch, which was measured to stall some epochs
    for 40 seconds on a 2-core machine.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(np.asarray(images))
    labels = tf.convert_to_tensor(np.asarray(labels).reshape(-1))
    ds = tf.data.Dataset.range(int(labels.shape[0]))
    if shuffle:
        ds = ds.shuffle(int(labels.shape[0]), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=shuffle)

    @tf.autograph.experimental.do_not_convert  # plain tensor code: nothing for AutoGraph to convert
    def gather(index):
        batch_labels = tf.gather(labels, index)
        return tf.gather(images, index), tf.one_hot(batch_labels, num_classes) if one_hot else batch_labels

    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def train(recipe, x_train, y_train, validation_data=None, minutes: float | None = None,
          epochs: int | None = None, batch_size: int | None = None, num_classes: int = 10, verbose=1,
          seed: int = SEED) -> TrainResult:
    """Build and train ``recipe`` (a name or a :class:`Recipe`) on uint8 images and integer labels.

    ``minutes`` is a time budget for the whole fit (the schedule ends when it is spent, possibly
    within an epoch); ``epochs`` a fixed epoch count (with both, whichever limit comes first ends
    the schedule); with neither, the recipe's own epoch count.
    ``batch_size`` overrides the recipe's, scaling its learning rate in proportion (useful for
    small subsets). Keras prints its usual progress bar (``verbose=1``) or a line per epoch (``2``).
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if batch_size is not None and batch_size != recipe.batch_size:
        recipe = dataclasses.replace(recipe, batch_size=batch_size,
                                     learning_rate=recipe.learning_rate * batch_size / recipe.batch_size)
    if minutes is not None and minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    if epochs is None and minutes is None:
        epochs = recipe.epochs
    keras.utils.set_random_seed(seed)
    model = recipe.build(x_train, num_classes)
    model.compile(
        optimizer=recipe.make_optimizer(),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
    )
    batch_size = min(recipe.batch_size, len(x_train))
    train_ds = make_dataset(x_train, y_train, num_classes, batch_size, shuffle=True, seed=seed)
    val_ds = None
    if validation_data is not None:
        val_ds = make_dataset(*validation_data, num_classes, 1000, shuffle=False)
    steps = len(x_train) // batch_size
    progbar = BudgetProgbar() if verbose else None
    schedule = Schedule(recipe, steps, epochs=epochs, seconds=None if minutes is None else minutes * 60,
                        progbar=progbar, verbose=verbose)
    callbacks = [schedule] + ([progbar] if progbar else [])
    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs or 10_000, callbacks=callbacks,
                        verbose=verbose, shuffle=False)  # the dataset shuffles itself every epoch
    seconds = time.perf_counter() - start
    return TrainResult(model=model, recipe=recipe, history=history.history, train_seconds=seconds,
                       epochs=len(history.history["loss"]), params=model.count_params(), steps=schedule.step,
                       steps_per_epoch=steps)


def measure_throughput(recipe, precision: str | None = None, jit_compile: bool = False, steps: int = 20,
                       batch_size: int | None = None, seed: int = SEED) -> float:
    """Training images per second of ``recipe``'s model on random images (no data loading).

    Used to choose the recipe's settings (bfloat16 or float32, XLA on or off) for this machine:
    ``python -m utils benchmark``. Two untimed steps come first (graph tracing, warm-up).
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    batch_size = batch_size or recipe.batch_size
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (batch_size * 4, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, len(images))
    options = {"precision": precision} if recipe.name == "fast" and precision else {}
    model = recipe.build(images, 10, **options)
    model.compile(optimizer=recipe.make_optimizer(), loss="categorical_crossentropy", jit_compile=jit_compile)
    data = make_dataset(images, labels, 10, batch_size, shuffle=False).repeat()
    times = []
    clock = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()))
    model.fit(data, steps_per_epoch=steps + 2, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    return steps * batch_size / (times[-1] - times[1])


# ----------------------------------------------------------------------------- evaluation


def stratified_subset(images, labels, count: int | None, seed: int = SEED):
    """``count`` images with the classes in the same proportions (all of them when ``count`` is None)."""
    from sklearn.model_selection import train_test_split

    if count is None or count >= len(images):
        return images, labels
    subset, _, subset_labels, _ = train_test_split(images, labels, train_size=count, stratify=labels,
                                                   random_state=seed)
    return subset, subset_labels



def predict_proba(model, images, flip_tta: bool = False, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities for uint8 images; with ``flip_tta``, averaged with the mirrored images."""
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    if flip_tta:
        probabilities = (probabilities + model.predict(images[:, :, ::-1], batch_size=batch_size, verbose=0)) / 2
    return probabilities


def accuracy(probabilities, labels) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels).reshape(-1)))


# ----------------------------------------------------------------------------- saving


def model_info_path(model_path) -> Path:
    """The JSON file saved next to a ``.keras`` model: class names and how the model was made."""
    return Path(model_path).with_suffix(".json")


def save_model(model, path, class_names, **info) -> Path:
    """Save ``model`` as ``.keras`` and its class names (plus ``info``) in a JSON file beside it."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: save models with the .keras ending (Keras 3 format).")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    model_info_path(path).write_text(json.dumps({"class_names": list(class_names), **info}, indent=2) + "\n")
    return path


def load_model(path):
    """Load a model saved by :func:`save_model`; returns ``(model, class_names, info)``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No model at {path}. Train it first (notebook 02, or python -m utils train --save {path})."
        )
    info_path = model_info_path(path)
    if not info_path.exists():
        raise FileNotFoundError(
            f"{info_path} is missing: it holds the class names of {path}. Save models with utils.training.save_model."
        )
    info = json.loads(info_path.read_text())
    return keras.saving.load_model(path), info.pop("class_names"), info
