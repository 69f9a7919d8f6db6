"""utils.data: one CIFAR-10 split for every notebook and command, stratified subsets, batches from arrays."""

import numpy as np
import pytest

from utils import data


def test_stratified_subset_keeps_proportions():
    labels = np.repeat(np.arange(10), 100).reshape(-1, 1)
    images = np.zeros((1000, 2, 2, 3), np.uint8)
    subset, subset_labels = data.stratified_subset(images, labels, 200)
    assert len(subset) == 200 and np.bincount(subset_labels[:, 0]).tolist() == [20] * 10
    assert data.stratified_subset(images, labels, None)[0] is images


def test_make_dataset_gathers_batches_with_integer_or_one_hot_labels():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(3, axis=3)
    labels = np.arange(10) % 3
    batches = list(data.make_dataset(images, labels, 4))
    assert [len(b[1]) for b in batches] == [4, 4, 2], "in order, the last batch kept"
    assert batches[0][0].dtype.name == "uint8" and batches[0][1].numpy().tolist() == [0, 1, 2, 0]
    shuffled = list(data.make_dataset(images, labels, 4, shuffle=True, num_classes=3))
    assert [len(b[1]) for b in shuffled] == [4, 4], "shuffled: only full batches"
    for batch_images, one_hot in shuffled:
        assert one_hot.shape == (4, 3)
        assert (one_hot.numpy().argmax(axis=1) == batch_images.numpy()[:, 0, 0, 0] % 3).all(), "labels follow images"


@pytest.mark.needs_cifar10
def test_cifar10_splits_hold_out_a_stratified_validation_set():
    split = data.cifar10_splits(5000, train_size=2000, test_size=1000)
    assert (len(split.x_train), len(split.x_val), len(split.x_test)) == (2000, 5000, 1000)
    assert np.bincount(split.y_val[:, 0]).tolist() == [500] * 10
    assert np.bincount(split.y_test[:, 0]).tolist() == [100] * 10
    train = set(map(bytes, split.x_train))
    assert not any(bytes(image) in train for image in split.x_val[:500]), "validation never overlaps training"
    again = data.cifar10_splits(5000, train_size=2000, test_size=1000)
    assert np.array_equal(again.x_val, split.x_val), "the same validation images every time"


def test_as_arrays_reads_every_batch_in_order():
    images = np.arange(7 * 2 * 2 * 3, dtype="uint8").reshape(7, 2, 2, 3)
    labels = np.arange(7)
    batches = data.make_dataset(images, labels, batch_size=3)
    x, y = data.as_arrays(batches)
    assert x.dtype == np.uint8 and (x == images).all() and (y == labels).all()


def test_flower_photos_come_from_flowers_dir_or_say_what_to_set(tmp_path, monkeypatch):
    (tmp_path / "flower_photos" / "daisy").mkdir(parents=True)
    monkeypatch.setenv("FLOWERS_DIR", str(tmp_path))  # the folder holding the archive's one folder
    assert data.flower_photos() == tmp_path / "flower_photos"
    monkeypatch.setenv("FLOWERS_DIR", str(tmp_path / "flower_photos"))  # or that folder itself
    assert data.flower_photos() == tmp_path / "flower_photos"
    monkeypatch.setenv("FLOWERS_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=r"FLOWERS_DIR=.*missing is not a folder"):
        data.flower_photos()


def test_flower_photos_offline_without_flowers_dir_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWERS_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty cache: Keras must download

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no internet")

    monkeypatch.setattr(data.keras.utils, "get_file", offline)
    with pytest.raises(FileNotFoundError, match=r"could not be downloaded.*set FLOWERS_DIR"):
        data.flower_photos()
