"""Transfer learning from ImageNet backbones (notebook 03).

:data:`BACKBONES` is the one table of backbones: for each key, the ``keras.applications``
constructor, the image size its ImageNet weights were trained on and how it preprocesses
its input. :func:`build_model` puts the preprocessing (and any resizing and augmentation)
inside the model, so every model built here takes raw 0-255 RGB images.

The two stages of transfer learning:

1. *feature extraction* - the backbone is frozen and called with ``training=False``; only a
   new classification head is trained (:func:`fit_stage`);
2. *fine-tuning* - the top layers of the backbone are unfrozen (:func:`unfreeze_top`), its
   batch-normalisation layers stay frozen, and training goes on with a low learning rate.

Weights come from the Keras cache (``$KERAS_HOME/models``, by default ``~/.keras/models``),
downloaded there on first use. Where they can be neither found nor downloaded,
:class:`BackboneWeightsUnavailable` says so in one line and names the offline alternative.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import keras
import numpy as np

from utils.cifar10 import keras_cache_dir
from utils.settings import DEFAULT_BACKBONE, OFFLINE_BACKBONE, SEED  # noqa: F401 (DEFAULT_BACKBONE: re-exported)

layers = keras.layers


@dataclass(frozen=True)
class Backbone:
    """One row of the backbone table."""

    key: str
    constructor: str  # the function in keras.applications
    weights_size: int  # side, in pixels, of the images its ImageNet weights were trained on
    preprocessing: str  # "built_in" (the backbone scales 0-255 itself) or "minus_one_to_one"
    params_millions: float  # without the ImageNet classifier
    imagenet_top1: float | None  # as published in the Keras Applications table (None: not listed there)
    options: dict = field(default_factory=dict)  # extra constructor arguments

    def describe(self) -> str:
        top1 = f", ImageNet top-1 {self.imagenet_top1:.1f}%" if self.imagenet_top1 else ""
        extra = "".join(f", {name}={value}" for name, value in self.options.items())
        return (f"{self.key}: keras.applications.{self.constructor}({extra.lstrip(', ')}), "
                f"{self.params_millions:g} M parameters{top1}, weights for {self.weights_size} px, "
                f"preprocessing {self.preprocessing}")


BACKBONES = {
    spec.key: spec
    for spec in (
        Backbone("efficientnetv2b0", "EfficientNetV2B0", 224, "built_in", 5.9, 78.7),
        Backbone("mobilenet_v2", "MobileNetV2", 224, "minus_one_to_one", 2.3, 71.3),
        Backbone("resnet50v2", "ResNet50V2", 224, "minus_one_to_one", 23.6, 76.0),
        Backbone("convnext_tiny", "ConvNeXtTiny", 224, "built_in", 27.8, 81.3),
        Backbone(OFFLINE_BACKBONE, "MobileNet", 224, "minus_one_to_one", 0.22, None, {"alpha": 0.25}),
    )
}


class BackboneWeightsUnavailable(RuntimeError):
    """A backbone's ImageNet weights are neither in the Keras cache nor downloadable."""


def get_backbone(key: str) -> Backbone:
    if key not in BACKBONES:
        raise ValueError(f"Unknown backbone {key!r}: choose one of {', '.join(BACKBONES)}.")
    return BACKBONES[key]


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
    import urllib.error

    return isinstance(err, urllib.error.URLError | OSError) or "URL fetch failure" in str(err)


def build_model(backbone: str, num_classes: int, input_shape=(224, 224, 3), image_size: int | None = None,
                augment: bool = True, dropout: float = 0.2, weights: str | None = "imagenet", seed: int = SEED):
    """A classifier on a frozen ImageNet backbone; returns ``(model, backbone_model)``.

    Inside the model, in order: augmentation (horizontal flip and a shift of up to a tenth of
    the image, active only in training), resizing to ``image_size`` (default: the size the
    weights were trained on; skipped when the input already has it), the backbone's own
    preprocessing, the backbone (``training=False``: its batch-norm layers stay in inference
    mode even when fine-tuned), dropout and a softmax layer. The model takes raw 0-255 RGB.
    """
    spec = get_backbone(backbone)
    size = int(image_size or spec.weights_size)
    base = load_backbone(backbone, weights)
    base.trainable = False
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    if augment:
        x = layers.RandomFlip("horizontal", seed=seed, name="augment_flip")(x)
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed, name="augment_shift")(x)
    if tuple(input_shape[:2]) != (size, size):
        x = layers.Resizing(size, size, name="resize")(x)
    if spec.preprocessing == "minus_one_to_one":
        x = layers.Rescaling(1 / 127.5, offset=-1, name="preprocess")(x)
    x = base(x, training=False)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    # Zero initial weights: every class starts equally likely (loss ln(num_classes)), and the first
    # steps are not spent undoing random guesses on features that are far from unit scale.
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer="zeros", dtype="float32",
                           name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"{backbone}_classifier"), base


def unfreeze_top(base, fraction: float) -> list[str]:
    """Make the top ``fraction`` of ``base``'s layers trainable, keeping every batch-norm layer frozen.

    Returns the names of the layers that now train. Frozen batch-norm layers keep the ImageNet
    statistics: updating them from small batches of new images would undo what the backbone learnt.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be above 0 and at most 1, got {fraction}")
    base.trainable = True
    first = len(base.layers) - max(1, round(fraction * len(base.layers)))
    for index, layer in enumerate(base.layers):
        layer.trainable = index >= first and not isinstance(layer, layers.BatchNormalization)
    return [layer.name for layer in base.layers if layer.trainable and layer.weights]


def batchnorm_layers(base) -> list:
    return [layer for layer in base.layers if isinstance(layer, layers.BatchNormalization)]


@dataclass
class Stage:
    """One call of :func:`fit_stage`: the Keras history, the epochs it covered and its seconds."""

    name: str
    history: dict
    first_epoch: int
    epochs: int
    seconds: float


def fit_stage(model, train, validation, epochs: int, learning_rate: float, name: str, initial_epoch: int = 0,
              verbose=1) -> Stage:
    """Compile ``model`` (Adam at ``learning_rate``, cross-entropy on integer labels) and train it.

    Recompiling is what makes a change of ``trainable`` take effect. ``initial_epoch``
    continues the epoch count of an earlier stage, so the curves of both stages line up.
    """
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    with warnings.catch_warnings():
        # A folder pipeline that skips unreadable files has no known length: Keras learns it in the first
        # epoch and then warns that the data "ran out", which is expected here.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history = model.fit(train, validation_data=validation, epochs=initial_epoch + epochs,
                            initial_epoch=initial_epoch, verbose=verbose, shuffle=False)  # the datasets shuffle
    return Stage(name=name, history=history.history, first_epoch=initial_epoch, epochs=len(history.epoch),
                 seconds=time.perf_counter() - start)


def joined_history(*stages: Stage) -> dict:
    """The histories of consecutive stages as one, for one set of curves."""
    joined = {}
    for stage in stages:
        for metric, values in stage.history.items():
            joined.setdefault(metric, []).extend(values)
    return joined


def predict_dataset(model, dataset):
    """``(probabilities, labels)`` for every batch of a ``(images, integer labels)`` dataset, in one pass."""
    probabilities, labels = [], []
    for images, batch_labels in dataset:
        probabilities.append(np.asarray(model(images, training=False)))
        labels.append(np.asarray(batch_labels))
    return np.concatenate(probabilities), np.concatenate(labels)


@dataclass
class TransferData:
    """The batches notebook 03 trains on, the same whatever the source.

    ``train``, ``validation`` and ``test`` yield ``(images, integer labels)``, images as raw
    0-255 RGB of ``input_shape``; ``test`` is None for a folder without a ``test/`` split, in
    which case :attr:`evaluation` is the validation split.
    """

    source: str
    train: object
    validation: object
    test: object | None
    class_names: list[str]
    input_shape: tuple
    counts: dict  # images per split
    check: object | None = None  # the DatasetCheck of a folder

    @property
    def evaluation(self):
        """``(name, dataset)`` of the split to report accuracy on: test if there is one, else validation."""
        return ("test", self.test) if self.test is not None else ("validation", self.validation)


def load_data(data_dir=None, image_size: int = 224, batch_size: int = 32, validation_split: float = 0.1,
              cifar10_sizes: dict | None = None, seed: int = SEED) -> TransferData:
    """CIFAR-10 (``data_dir=None``) or a folder-per-class data set, as :class:`TransferData`.

    * CIFAR-10: the 32 x 32 images as they are (the model resizes them, so no upsampled copy
      is ever held in memory); ``validation_split`` of the training images is held out,
      stratified; ``cifar10_sizes`` (e.g. ``{"train": 2000, "validation": 500, "test": 1000}``)
      takes stratified subsets of the splits, for quick runs.
    * a folder: :func:`utils.folders.image_folder_datasets` checks it first (problems stop
      here with the list, unreadable files are named in a warning and skipped), reads the
      images at ``image_size`` and holds out ``validation_split`` reproducibly (with ``seed``)
      unless the folder has its own ``val/``.
    """
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split is a fraction between 0 and 1, got {validation_split}")
    if data_dir is None:
        return _cifar10_data(batch_size, validation_split, cifar10_sizes or {}, seed)
    from utils.folders import image_folder_datasets

    folder = image_folder_datasets(data_dir, image_size=(image_size, image_size), batch_size=batch_size,
                                   validation_split=validation_split, seed=seed)
    counts = {"train": len(folder.train.file_paths), "validation": len(folder.val.file_paths) if folder.val else 0,
              "test": len(folder.test.file_paths) if folder.test else 0}
    return TransferData(source=str(folder.check.root), train=folder.train, validation=folder.val, test=folder.test,
                        class_names=folder.class_names, input_shape=(image_size, image_size, 3), counts=counts,
                        check=folder.check)


def _cifar10_data(batch_size, validation_split, sizes, seed) -> TransferData:
    from sklearn.model_selection import train_test_split

    from utils.cifar10 import load_cifar10
    from utils.training import make_dataset, stratified_subset

    (x_all, y_all), (x_test, y_test), class_names = load_cifar10()
    x_train, x_val, y_train, y_val = train_test_split(x_all, y_all, test_size=validation_split, stratify=y_all,
                                                      random_state=seed)
    x_train, y_train = stratified_subset(x_train, y_train, sizes.get("train"), seed)
    x_val, y_val = stratified_subset(x_val, y_val, sizes.get("validation"), seed)
    x_test, y_test = stratified_subset(x_test, y_test, sizes.get("test"), seed)

    def batches(images, labels, shuffle):
        return make_dataset(images, labels, len(class_names), batch_size, shuffle=shuffle, seed=seed, one_hot=False)

    return TransferData(
        source="CIFAR-10", train=batches(x_train, y_train, True), validation=batches(x_val, y_val, False),
        test=batches(x_test, y_test, False), class_names=list(class_names), input_shape=x_train.shape[1:],
        counts={"train": len(x_train), "validation": len(x_val), "test": len(x_test)},
    )
