"""Data for training: the CIFAR-10 splits, ``tf.data`` pipelines from in-memory arrays, and one loader
that gives notebook 04 (and ``python -m utils train --data``) the same batches whatever the source.

* :func:`cifar10_splits` - the one train / validation / test split of CIFAR-10 used by notebooks 02
  and 03 and by the command line: the validation images are held out of the training images
  (stratified, fixed seed), the test set stays for the final number only;
* :func:`stratified_subset` - fewer images with the classes in the same proportions (quick runs,
  samples for plots);
* :func:`make_dataset` - batches gathered from arrays in memory, shuffled by index;
* :func:`load_data` - CIFAR-10 or a folder-per-class data set as :class:`ImageData`;
* :func:`flower_photos` - the TensorFlow tutorials' flower photos, a real folder-per-class set of photos;
* :func:`as_arrays` - a batched data set read into two arrays, for code that trains on arrays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.model_selection import train_test_split

from utils.cifar10 import load_cifar10
from utils.folders import image_folder_datasets
from utils.settings import FLOWERS_ENV, FLOWERS_ORIGIN, SEED

#: Images of the CIFAR-10 training set held out for validation by default (a tenth).
CIFAR10_VALIDATION_SIZE = 5000


def stratified_subset(images, labels, count: int | None, seed: int = SEED):
    """``count`` images and their labels, with the classes in the same proportions (all when ``count`` is None)."""
    if count is None or count >= len(images):
        return images, labels
    subset, _, subset_labels, _ = train_test_split(images, labels, train_size=count, stratify=labels,
                                                   random_state=seed)
    return subset, subset_labels


def hold_out(images, labels, count: int | float, seed: int = SEED):
    """``(images, labels, held-out images, held-out labels)``: ``count`` of the images (or that fraction) set
    aside, stratified by class with ``seed`` (the same ones every run), never in both parts; ``count=0`` sets
    none aside."""
    if not count:
        return images, labels, images[:0], labels[:0]
    kept, held, kept_labels, held_labels = train_test_split(images, labels, test_size=count, stratify=labels,
                                                            random_state=seed)
    return kept, kept_labels, held, held_labels


@dataclass
class Cifar10Splits:
    """CIFAR-10 as ``uint8`` images ``(N, 32, 32, 3)`` and labels ``(N, 1)``, in three parts."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


def cifar10_splits(validation_size: int | float = CIFAR10_VALIDATION_SIZE, train_size: int | None = None,
                   test_size: int | None = None, seed: int = SEED) -> Cifar10Splits:
    """CIFAR-10 split into training, validation and test images.

    ``validation_size`` images (or that fraction) of the 50,000 training images are held out,
    stratified by class with ``seed``: the same images every time, never in both parts. Choices
    (widths, learning rates, which ingredient stays) are made on them; the 10,000 test images
    give the final number only. ``train_size`` and ``test_size`` take stratified subsets of the
    rest (quick runs); None keeps all.
    """
    (x_all, y_all), (x_test, y_test), class_names = load_cifar10()
    x_train, y_train, x_val, y_val = hold_out(x_all, y_all, validation_size, seed)
    x_train, y_train = stratified_subset(x_train, y_train, train_size, seed)
    x_test, y_test = stratified_subset(x_test, y_test, test_size, seed)
    return Cifar10Splits(x_train, y_train, x_val, y_val, x_test, y_test, list(class_names))


def make_dataset(images, labels, batch_size: int, shuffle: bool = False, num_classes: int | None = None,
                 seed: int = SEED):
    """A ``tf.data`` pipeline of ``(uint8 images, labels)`` batches from arrays in memory.

    Labels are one-hot vectors over ``num_classes`` when it is given (for a loss with label
    smoothing), integers otherwise. With ``shuffle`` the order changes every epoch and the last,
    incomplete batch is dropped.

    Only the image *indices* are shuffled, and each batch is gathered from the in-memory array
    in one step. Shuffling the images themselves would refill a 50,000-image buffer at the start
    of every epoch, which was measured to stall some epochs for 40 seconds on a 2-core machine.
    """
    images = tf.convert_to_tensor(np.asarray(images))
    labels = tf.convert_to_tensor(np.asarray(labels).reshape(-1))
    ds = tf.data.Dataset.range(int(labels.shape[0]))
    if shuffle:
        ds = ds.shuffle(int(labels.shape[0]), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=shuffle)

    @tf.autograph.experimental.do_not_convert  # plain tensor code: nothing for AutoGraph to convert
    def gather(index):
        batch_labels = tf.gather(labels, index)
        return tf.gather(images, index), batch_labels if num_classes is None else tf.one_hot(batch_labels,
                                                                                              num_classes)

    return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


@dataclass
class ImageData:
    """The batches notebook 04 trains on, the same whatever the source.

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
              cifar10_sizes: dict | None = None, seed: int = SEED, test_split: float = 0.0, strict: bool = False,
              cache: bool = True, max_per_class: int | None = None) -> ImageData:
    """CIFAR-10 (``data_dir=None``) or a folder-per-class data set, as :class:`ImageData`.

    * CIFAR-10: :func:`cifar10_splits` with ``validation_split`` held out; the 32 x 32 images stay
      as they are (the model resizes them, so no upsampled copy is ever held in memory);
      ``cifar10_sizes`` (e.g. ``{"train": 2000, "validation": 500, "test": 1000}``) takes
      stratified subsets, for quick runs.
    * a folder: :func:`utils.folders.image_folder_datasets` checks it first (problems stop
      here with the list, unreadable files are named in a warning and skipped), reads the
      images at ``image_size`` and holds out ``validation_split`` reproducibly (with ``seed``)
      unless the folder has its own ``val/``, and ``test_split`` unless it has its own ``test/``;
      ``strict``, ``cache`` and ``max_per_class`` (a quick run on a subset) as there.
    """
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split is a fraction between 0 and 1, got {validation_split}")
    if data_dir is None:
        sizes = cifar10_sizes or {}
        split = cifar10_splits(validation_split, sizes.get("train"), sizes.get("test"), seed)
        x_val, y_val = stratified_subset(split.x_val, split.y_val, sizes.get("validation"), seed)

        def batches(images, labels, shuffle):
            return make_dataset(images, labels, batch_size, shuffle=shuffle, seed=seed)

        return ImageData(source="CIFAR-10", train=batches(split.x_train, split.y_train, True),
                         validation=batches(x_val, y_val, False), test=batches(split.x_test, split.y_test, False),
                         class_names=split.class_names, input_shape=split.x_train.shape[1:],
                         counts={"train": len(split.x_train), "validation": len(x_val), "test": len(split.x_test)})
    folder = image_folder_datasets(data_dir, image_size=(image_size, image_size), batch_size=batch_size,
                                   validation_split=validation_split, seed=seed, test_split=test_split,
                                   strict=strict, cache=cache, max_per_class=max_per_class)
    counts = {"train": len(folder.train.file_paths), "validation": len(folder.val.file_paths) if folder.val else 0,
              "test": len(folder.test.file_paths) if folder.test else 0}
    return ImageData(source=str(folder.check.root), train=folder.train, validation=folder.val, test=folder.test,
                     class_names=folder.class_names, input_shape=(image_size, image_size, 3), counts=counts,
                     check=folder.check)


def flower_photos() -> Path:
    """The folder of the TensorFlow tutorials' flower photos (``daisy/``, ``dandelion/``, ``roses/``,
    ``sunflowers/``, ``tulips/``; 3,670 Flickr photos, CC BY 2.0, every photographer credited in its
    ``LICENSE.txt``): ``$FLOWERS_DIR`` where set (a local copy, for machines without internet), else
    downloaded once by Keras into its cache (about 220 MB) as the TensorFlow tutorials do."""
    source = os.environ.get(FLOWERS_ENV)
    if source:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"{FLOWERS_ENV}={source} is not a folder: point it at the extracted "
                                    f"flower_photos folder (the one holding daisy/, roses/, ...), or unset it to "
                                    f"download the photos from {FLOWERS_ORIGIN}")
    else:
        try:
            folder = Path(keras.utils.get_file("flower_photos", origin=FLOWERS_ORIGIN, extract=True))
        except Exception as error:  # offline: urllib's errors, wrapped by Keras
            raise FileNotFoundError(f"The flower photos could not be downloaded from {FLOWERS_ORIGIN} ({error}). "
                                    f"Offline, set {FLOWERS_ENV} to a local copy of the extracted folder.") from None
    inner = folder / "flower_photos"  # the archive holds one folder of that name
    return inner if inner.is_dir() else folder


def as_arrays(dataset):
    """``(images, labels)`` as two NumPy arrays, from a data set of ``(images, labels)`` batches."""
    images, labels = zip(*((np.asarray(x), np.asarray(y)) for x, y in dataset), strict=True)
    return np.concatenate(images), np.concatenate(labels)
