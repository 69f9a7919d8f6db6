"""utils.data: one CIFAR-10 split for every notebook and command, stratified subsets, batches from arrays."""

import keras
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
    assert split.sizes() == {"train": 2000, "validation": 5000, "test": 1000}
    assert np.bincount(split.y_val[:, 0]).tolist() == [500] * 10
    assert np.bincount(split.y_test[:, 0]).tolist() == [100] * 10
    train = set(map(bytes, split.x_train))
    assert not any(bytes(image) in train for image in split.x_val[:500]), "validation never overlaps training"
    again = data.cifar10_splits(5000, train_size=2000, test_size=1000)
    assert np.array_equal(again.x_val, split.x_val), "the same validation images every time"


def numbered_images(count=16, size=8):
    """Images whose pixels say which image, row and column they come from (so moves and flips can be traced)."""
    index = np.arange(count)[:, None, None]
    rows, cols = np.arange(size)[None, :, None], np.arange(size)[None, None, :]
    image = np.stack([np.broadcast_to(index * 10 % 256, (count, size, size)),
                      np.broadcast_to(rows * 16 + 3, (count, size, size)),
                      np.broadcast_to(cols * 16 + 5, (count, size, size))], axis=-1)
    return image.astype(np.uint8)


def test_augmented_batches_mirror_alternately_and_shift_by_whole_pixels_with_mirrored_borders():
    images = numbered_images()
    labels = np.arange(16) % 4
    batches = data.augmented_batches(images, labels, batch_size=8, num_classes=4, translate=2, seed=3)
    epochs = [list(batches.skip(2 * epoch).take(2)) for epoch in range(3)]  # 2 steps an epoch, never-ending
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    seen = {}
    for epoch, steps in enumerate(epochs):
        for batch, one_hot in steps:
            for image, label in zip(batch.numpy(), one_hot.numpy(), strict=True):
                number = int(image[0, 0, 0]) // 10  # the red channel names the image
                assert label.argmax() == labels[number], "labels follow their images"
                views = {(dy, dx, mirror) for dy in range(5) for dx in range(5) for mirror in (False, True)
                         if np.array_equal(image, (padded[number, :, ::-1] if mirror else padded[number])
                                           [dy:dy + 8, dx:dx + 8])}
                assert views, "a window of the mirrored-border image, whole pixels only"
                seen[epoch, number] = {mirror for *_, mirror in views}
    for number in range(16):
        flips = [seen[epoch, number] for epoch in range(3)]
        if all(len(f) == 1 for f in flips):  # (a symmetric window can read both ways)
            assert flips[0] != flips[1] and flips[1] != flips[2], "each image is mirrored the other way every epoch"
    first = {number for (epoch, number), f in seen.items() if epoch == 0 and f == {True}}
    assert 0 < len(first) < 16, "the first epoch mirrors at random"
    again = list(data.augmented_batches(images, labels, 8, 4, translate=2, seed=3).take(2))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(again, epochs[0], strict=True)), "reproducible"


def test_augmented_batches_random_flips_and_no_augmentation():
    images = numbered_images()
    batches = data.augmented_batches(images, np.zeros(16), 16, 2, flip=None, translate=0)
    plain = next(iter(batches))[0].numpy()
    assert sorted(int(image[0, 0, 0]) for image in plain) == sorted(int(i[0, 0, 0]) for i in images)
    assert all(np.array_equal(image, images[int(image[0, 0, 0]) // 10]) for image in plain), "untouched"
    with pytest.raises(ValueError, match="flip must be"):
        data.augmented_batches(images, np.zeros(16), 8, 2, flip="sometimes")
    with pytest.raises(ValueError, match="larger than the 16 training images"):
        data.augmented_batches(images, np.zeros(16), 32, 2)


def test_augmented_batches_follow_keras_global_seed_by_default():
    images = numbered_images()

    def first_batch(seed):
        keras.utils.set_random_seed(seed)
        return next(iter(data.augmented_batches(images, np.zeros(16), 16, 2)))[0].numpy()

    assert np.array_equal(first_batch(1), first_batch(1)), "the same seed gives the same order and flips"
    assert not np.array_equal(first_batch(1), first_batch(2)), "`train --seed` changes the augmentation too"
