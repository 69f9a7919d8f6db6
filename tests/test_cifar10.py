"""utils.load_cifar10: every supported local layout, the Keras default, and each error."""

import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from utils.cifar10 import CLASS_NAMES, Cifar10FormatError, Cifar10NotAvailable, load_cifar10
from utils.settings import CIFAR10_ENV, cifar10_source

TRAIN_PER_CLASS, TEST_PER_CLASS = 3, 2


def pixel_value(label: int, index: int) -> int:
    """Each tiny image is one flat grey level that encodes its label, so label order can be checked."""
    return 20 * label + index


def arrays(per_class):
    x = np.array([np.full((32, 32, 3), pixel_value(label, i), dtype=np.uint8)
                  for label in range(10) for i in range(per_class)])
    y = np.repeat(np.arange(10, dtype=np.uint8), per_class).reshape(-1, 1)
    return x, y


def write_folder_copy(root, ext=".png"):
    """The folder-per-class layout of ../shared's archive: cifar10/{train,test}/<class>/NNNN.ext."""
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        for label, name in enumerate(CLASS_NAMES):
            folder = root / "cifar10" / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = np.full((32, 32, 3), pixel_value(label, i), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}{ext}")
    return root


def write_batches_copy(root):
    """The official python layout: cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    x_all, y_all = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)  # distinct values per pixel and channel
        y = rng.integers(0, 10, 4)
        batch = {b"data": x.transpose(0, 3, 1, 2).reshape(4, 3072), b"labels": y.tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
        x_all.append(x)
        y_all.append(y)
    meta = {b"label_names": [n.encode() for n in CLASS_NAMES]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return root, np.concatenate(x_all[:5]), np.concatenate(y_all[:5]), x_all[5], y_all[5]


def tar_gz(source_root, archive):
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(source_root.iterdir()):
            tar.add(child, arcname=child.name)
    return archive


def check_folder_result(result):
    (x_train, y_train), (x_test, y_test), class_names = result
    assert class_names == CLASS_NAMES
    assert x_train.shape == (10 * TRAIN_PER_CLASS, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (10 * TRAIN_PER_CLASS, 1) and y_train.dtype == np.uint8
    assert x_test.shape == (10 * TEST_PER_CLASS, 32, 32, 3) and y_test.shape == (10 * TEST_PER_CLASS, 1)
    for x, y in ((x_train, y_train), (x_test, y_test)):
        # the grey level of each image says which class folder it came from
        assert ((x[:, 0, 0, 0] // 20) == y[:, 0]).all()
        assert np.bincount(y[:, 0], minlength=10).tolist() == [len(y) // 10] * 10
    assert len(set(y_train[:10, 0])) > 1, "folder copies are shuffled so the first images mix classes"


def test_png_folder_copy(tmp_path):
    root = write_folder_copy(tmp_path)
    check_folder_result(load_cifar10(root / "cifar10"))
    check_folder_result(load_cifar10(root))  # the layout may sit one folder below


def test_jpeg_folder_copy_as_in_shared(tmp_path):
    root = write_folder_copy(tmp_path, ext=".jpg")
    (x_train, y_train), _, _ = load_cifar10(root)
    expected = np.array([pixel_value(int(label), 0) for label in y_train[:, 0]])
    assert (np.abs(x_train[:, 5, 5, 0].astype(int) - expected) <= 2 * TRAIN_PER_CLASS).all()


def test_folder_copy_archive(tmp_path):
    root = write_folder_copy(tmp_path / "src")
    check_folder_result(load_cifar10(tar_gz(root, tmp_path / "cifar10-png.tar.gz")))


def test_folder_copy_ignores_hidden_folders(tmp_path):
    root = write_folder_copy(tmp_path)
    hidden = root / "cifar10" / "train" / ".ipynb_checkpoints"
    hidden.mkdir()
    Image.new("RGB", (32, 32)).save(hidden / "0000-checkpoint.png")
    check_folder_result(load_cifar10(root))


def test_official_batches_folder_and_archive(tmp_path):
    root, x_train, y_train, x_test, y_test = write_batches_copy(tmp_path / "src")
    for source in (root / "cifar-10-batches-py", root, tar_gz(root, tmp_path / "cifar-10-python.tar.gz")):
        (xa, ya), (xb, yb), class_names = load_cifar10(source)
        np.testing.assert_array_equal(xa, x_train)  # channels-last, pixel for pixel
        np.testing.assert_array_equal(ya[:, 0], y_train)
        np.testing.assert_array_equal(xb, x_test)
        np.testing.assert_array_equal(yb[:, 0], y_test)
        assert xa.dtype == ya.dtype == np.uint8 and ya.shape == (20, 1)
        assert class_names == CLASS_NAMES


def test_environment_variable_names_the_copy(tmp_path, monkeypatch):
    root = write_folder_copy(tmp_path)
    monkeypatch.setenv(CIFAR10_ENV, str(root))
    check_folder_result(load_cifar10())
    assert str(root) in cifar10_source()


def test_without_a_copy_keras_downloads(monkeypatch):
    import keras

    x, y = arrays(1)
    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: ((x, y), (x[:5], y[:5])))
    (x_train, y_train), (x_test, _), class_names = load_cifar10()
    assert x_train is x and y_train is y and x_test.shape == (5, 32, 32, 3)
    assert class_names == CLASS_NAMES


def test_failed_download_says_what_to_set(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: None")

    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(Cifar10NotAvailable) as caught:
        load_cifar10()
    message = str(caught.value)
    assert "could not be downloaded" in message and f"set {CIFAR10_ENV}" in message and "\n" not in message


def test_missing_path_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(CIFAR10_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(Cifar10NotAvailable, match=f"nowhere does not exist. Point {CIFAR10_ENV} at"):
        load_cifar10()
    assert "does not exist" in cifar10_source()


def test_folder_without_cifar10(tmp_path):
    (tmp_path / "holiday.txt").write_text("hello")
    with pytest.raises(Cifar10FormatError, match=r"No CIFAR-10 data found"):
        load_cifar10(tmp_path)


def test_plain_file_is_not_an_archive(tmp_path):
    (tmp_path / "cifar.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(Cifar10FormatError, match=r"not a \.tar\.gz"):
        load_cifar10(tmp_path / "cifar.zip")


def test_missing_class_folder_is_named(tmp_path):
    root = write_folder_copy(tmp_path)
    for file in (root / "cifar10" / "test" / "frog").iterdir():
        file.unlink()
    (root / "cifar10" / "test" / "frog").rmdir()
    with pytest.raises(Cifar10FormatError, match=r"test/ has no images for class.*frog"):
        load_cifar10(root)


def test_extra_class_folder_is_named(tmp_path):
    root = write_folder_copy(tmp_path)
    (root / "cifar10" / "train" / "unicorn").mkdir()
    Image.new("RGB", (32, 32)).save(root / "cifar10" / "train" / "unicorn" / "0.png")
    with pytest.raises(Cifar10FormatError, match="unicorn"):
        load_cifar10(root)


def test_damaged_image_is_named(tmp_path):
    root = write_folder_copy(tmp_path)
    bad = root / "cifar10" / "train" / "cat" / "0001.png"
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(Cifar10FormatError) as caught:
        load_cifar10(root)
    assert str(bad) in str(caught.value) and "re-extract" in str(caught.value)


def test_wrong_image_size_is_named(tmp_path):
    root = write_folder_copy(tmp_path)
    Image.new("RGB", (64, 48)).save(root / "cifar10" / "test" / "dog" / "0000.png")
    with pytest.raises(Cifar10FormatError, match=r"0000\.png is 64x48 pixels"):
        load_cifar10(root)


def test_missing_batch_is_named(tmp_path):
    root, *_ = write_batches_copy(tmp_path)
    (root / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(Cifar10FormatError, match="missing data_batch_3"):
        load_cifar10(root)


def test_two_copies_are_ambiguous(tmp_path):
    write_folder_copy(tmp_path / "a")
    write_folder_copy(tmp_path / "b")
    with pytest.raises(Cifar10FormatError, match="more than one"):
        load_cifar10(tmp_path)


@pytest.mark.needs_cifar10
def test_the_real_copy_has_the_official_shapes():
    (x_train, y_train), (x_test, y_test), class_names = load_cifar10()
    assert x_train.shape == (50000, 32, 32, 3) and y_train.shape == (50000, 1)
    assert x_test.shape == (10000, 32, 32, 3) and y_test.shape == (10000, 1)
    assert np.bincount(y_train[:, 0]).tolist() == [5000] * 10
    assert np.bincount(y_test[:, 0]).tolist() == [1000] * 10
    assert class_names == CLASS_NAMES
