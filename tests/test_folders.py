"""utils.folders: a realistic user folder (hidden folders, stray files, broken and mixed images)."""

import os
import warnings

import numpy as np
import pytest
from image_files import snapshot, write_bad, write_kind

from utils import folders
from utils.folders import (
    DatasetFolderError,
    UnreadableImagesWarning,
    check_dataset,
    class_folders,
    image_folder_datasets,
    scan_image_folder,
)


def test_scan_finds_classes_counts_and_every_problem(messy_folder):
    scan = scan_image_folder(messy_folder)
    assert scan.class_names == ["cats", "dogs", "fish"]
    assert scan.counts == {"cats": 10, "dogs": 11, "fish": 10}  # the WebP photo is read like any image
    unreadable = {path.name: reason for path, reason in scan.unreadable}
    assert set(unreadable) == {"broken.jpg", "empty.png", "fake.jpg"}
    assert "truncated" in unreadable["broken.jpg"] and "empty" in unreadable["empty.png"]
    assert "not an image" in unreadable["fake.jpg"]
    ignored = {path.name: reason for path, reason in scan.ignored}
    assert set(ignored) == {".ipynb_checkpoints", "README.md", "notes.txt", ".thumbnails"}
    assert "hidden folder" in ignored[".thumbnails"]
    report = scan.report()
    assert str(messy_folder / "cats" / "broken.jpg") in report and "cats" in report


def test_datasets_skip_unreadable_files_and_name_them(messy_folder):
    before = snapshot(messy_folder)
    with pytest.warns(UnreadableImagesWarning) as caught:
        data = image_folder_datasets(messy_folder, image_size=(24, 24), batch_size=4,
                                     validation_split=0.25, verbose=False)
    message = str(caught[0].message)
    for name in ("broken.jpg", "empty.png", "fake.jpg"):
        assert name in message
    assert data.class_names == ["cats", "dogs", "fish"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counts = np.zeros(3, int)
        for split in (data.train, data.val):
            for images, labels in split:  # a whole epoch: no decode error stops it
                assert images.shape[1:] == (24, 24, 3) and images.dtype.name == "uint8"
                counts += np.bincount(labels.numpy(), minlength=3)
    assert counts.tolist() == [10, 11, 10]  # every readable image once, no broken one
    assert snapshot(messy_folder) == before  # nothing changed, moved or deleted


def test_validation_split_is_reproducible_and_disjoint(tmp_path):
    root = tmp_path / "shapes"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(10):
            write_kind(root / name / f"{i}.png", "png", variant=1 + i + 10 * (name == "b"))

    def split_files(seed):
        data = image_folder_datasets(root, image_size=(8, 8), validation_split=0.3, seed=seed, verbose=False)
        return data.train.file_paths, data.val.file_paths

    train, val = split_files(7)
    assert len(val) == 6 and len(train) == 14 and not set(train) & set(val)
    assert sum("/a/" in path for path in val) == 3, "stratified: 30 % of each class"
    assert split_files(7) == (train, val)
    assert split_files(8)[1] != val


def split_folders(root, counts):
    """``root/<split>/{x,y}/`` with ``counts[split]`` different PNG files in each class."""
    variant = 0
    for split, count in counts.items():
        for name in ("x", "y"):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                variant += 1
                write_kind(root / split / name / f"{i}.png", "png", variant)


def test_train_val_test_folders_are_used_as_given(tmp_path):
    split_folders(tmp_path, {"train": 4, "val": 2, "test": 3})
    data = image_folder_datasets(tmp_path, image_size=(8, 8), batch_size=2, verbose=False)
    assert data.class_names == ["x", "y"]
    assert len(data.train.file_paths) == 8 and len(data.val.file_paths) == 4 and len(data.test.file_paths) == 6
    assert sum(int(labels.shape[0]) for _, labels in data.test) == 6
    assert len(data.train) == 4  # clean folders keep a known number of batches


def test_split_folders_must_share_classes(tmp_path):
    for split, names in (("train", ("x", "y")), ("test", ("x",))):
        for name in names:
            (tmp_path / split / name).mkdir(parents=True)
            write_kind(tmp_path / split / name / "0.png", "png")
    with pytest.raises(DatasetFolderError, match="missing \\['y'\\]"):
        image_folder_datasets(tmp_path, verbose=False)


def test_bad_paths_give_clear_errors(tmp_path):
    with pytest.raises(DatasetFolderError, match="does not exist"):
        scan_image_folder(tmp_path / "nope")
    (tmp_path / "file.jpg").write_bytes(b"")
    with pytest.raises(DatasetFolderError, match="is a file, not a folder"):
        image_folder_datasets(tmp_path / "file.jpg")
    with pytest.raises(DatasetFolderError, match="has no class folders"):
        scan_image_folder(tmp_path)


def test_class_with_no_readable_images_is_an_error(tmp_path):
    (tmp_path / "good").mkdir()
    write_kind(tmp_path / "good" / "0.png", "png")
    (tmp_path / "bad").mkdir()
    write_bad(tmp_path / "bad" / "0.png", "empty")
    with pytest.raises(DatasetFolderError, match="bad hold no readable"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image_folder_datasets(tmp_path, verbose=False)


def test_class_folders_ignores_hidden_and_files(tmp_path):
    for name in ("b", "a", ".git", ".ipynb_checkpoints"):
        os.makedirs(tmp_path / name)
    (tmp_path / "c.txt").write_text("")
    assert class_folders(tmp_path) == ["a", "b"]


def make_classes(root, counts):
    variant = 0
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            variant += 1  # every file different
            write_kind(root / name / f"{i}.png", "png", variant)
    return root


def test_check_reports_a_messy_but_usable_folder_and_changes_nothing(messy_folder):
    before = snapshot(messy_folder)
    check = check_dataset(messy_folder)
    assert check.usable and check.problems == []
    assert check.class_names == ["cats", "dogs", "fish"]
    assert {path.name for path, _ in check.unreadable} == {"broken.jpg", "empty.png", "fake.jpg"}
    report = check.report()
    for path, reason in check.unreadable + check.scans["all"].ignored:
        assert f"{path}: {reason}" in report
    assert "usable: yes (3 unreadable file(s) will be skipped)" in report
    assert snapshot(messy_folder) == before


@pytest.mark.parametrize(("split", "usable"), [(0.2, False), (0.5, True), (0.0, True)])
def test_check_flags_classes_too_small_for_the_split(tmp_path, split, usable):
    check = check_dataset(make_classes(tmp_path, {"big": 20, "small": 3}), validation_split=split)
    assert check.usable is usable
    if not usable:
        assert len(check.problems) == 1 and "small (3)" in check.problems[0] and "at least 5" in check.problems[0]
        assert "usable: no" in check.report()
        with pytest.raises(DatasetFolderError, match="small \\(3\\)"):
            image_folder_datasets(tmp_path, validation_split=split, verbose=False)


def test_check_needs_two_classes_and_class_folders(tmp_path):
    assert "at least 2" in check_dataset(make_classes(tmp_path / "one", {"only": 10})).problems[0]
    (tmp_path / "flat").mkdir()
    write_kind(tmp_path / "flat" / "a.png", "png")
    check = check_dataset(tmp_path / "flat")
    assert not check.usable and "has no class folders" in check.problems[0]
    with pytest.raises(DatasetFolderError, match="does not exist"):
        check_dataset(tmp_path / "missing")


def test_check_of_split_folders_checks_each_split(tmp_path):
    make_classes(tmp_path / "train", {"x": 6, "y": 6})
    make_classes(tmp_path / "test", {"x": 1, "y": 0})
    check = check_dataset(tmp_path)
    assert list(check.scans) == ["train", "test"]
    assert not check.usable and "y hold no readable" in check.problems[0]
    assert "[train]" in check.report() and "[test]" in check.report()


def test_train_and_test_folders_without_val_hold_out_validation_from_train(tmp_path):
    split_folders(tmp_path, {"train": 10, "test": 3})
    data = image_folder_datasets(tmp_path, image_size=(8, 8), validation_split=0.2, verbose=False)
    assert len(data.train.file_paths) == 16 and len(data.val.file_paths) == 4 and len(data.test.file_paths) == 6
    assert all("/train/" in path for path in data.val.file_paths), "validation comes from train/, test stays test"
    assert "validation split 0.2" in data.check.report()


def test_a_test_split_is_held_out_stratified_seeded_and_apart_unless_the_folder_has_test(tmp_path):
    root = make_classes(tmp_path / "flat", {"a": 20, "b": 20})
    data = image_folder_datasets(root, image_size=(8, 8), validation_split=0.2, test_split=0.25, seed=3,
                                 verbose=False)
    train, val, test = data.train.file_paths, data.val.file_paths, data.test.file_paths
    assert (len(train), len(val), len(test)) == (22, 8, 10) and sum("/a/" in path for path in test) == 5
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    again = image_folder_datasets(root, image_size=(8, 8), validation_split=0.2, test_split=0.25, seed=3,
                                  verbose=False)
    assert again.test.file_paths == test and again.val.file_paths == val, "the same files every run"
    split = tmp_path / "split"
    split_folders(split, {"train": 10, "test": 3})
    own = image_folder_datasets(split, image_size=(8, 8), validation_split=0.2, test_split=0.25, verbose=False)
    assert len(own.test.file_paths) == 6 and all("/test/" in path for path in own.test.file_paths)


def test_images_are_decoded_once_in_memory_or_in_a_cache_file_outside_the_data(tmp_path, monkeypatch):
    root = make_classes(tmp_path / "data", {"a": 6, "b": 6})
    decoded = []
    real = folders.load_image
    monkeypatch.setattr(folders, "load_image", lambda path, size: decoded.append(path) or real(path, size=size))
    data = image_folder_datasets(root, image_size=(8, 8), validation_split=0.25, verbose=False)
    first = [images.numpy() for images, _ in data.train]
    second = [images.numpy() for images, _ in data.train]
    assert len(decoded) == len(data.train.file_paths) == 8, "the second epoch decodes nothing"
    assert sorted(map(bytes, np.concatenate(first))) == sorted(map(bytes, np.concatenate(second)))

    monkeypatch.setenv("CNN_CACHE_DIR", str(tmp_path / "cache"))
    paths = sorted(root.rglob("*.png"))
    read = folders.DecodeOnce(paths, (8, 8), memory_budget=0)  # too many for memory: a file
    assert read.file.parent == tmp_path / "cache" and "written during the first epoch" in read.describe()
    decoded.clear()
    expected = [read(i).copy() for i in range(len(paths))]
    assert len(decoded) == 12 and read.file.with_suffix(".complete").exists()
    decoded.clear()
    reused = folders.DecodeOnce(paths, (8, 8), memory_budget=0)
    assert "complete, from an earlier run" in reused.describe()
    assert all(np.array_equal(reused(i), expected[i]) for i in range(12)) and not decoded
    os.utime(paths[0], ns=(paths[0].stat().st_atime_ns, paths[0].stat().st_mtime_ns + 10 ** 9))
    changed = folders.DecodeOnce(paths, (8, 8), memory_budget=0)
    assert changed.file != read.file and not changed.filled.any(), "a changed file gives a new cache"
    monkeypatch.setenv("CNN_CACHE_DIR", str(root / "cache"))
    with pytest.raises(ValueError, match="inside the data folder"):
        folders.DecodeOnce(paths, (8, 8), memory_budget=0, root=root)


def test_max_per_class_takes_a_seeded_subset_of_each_class_before_the_split(tmp_path):
    root = make_classes(tmp_path / "big", {"a": 30, "b": 12})
    data = image_folder_datasets(root, image_size=(8, 8), validation_split=0.2, test_split=0.2, seed=5,
                                 verbose=False, max_per_class=10)
    files = [*data.train.file_paths, *data.val.file_paths, *data.test.file_paths]
    assert sum("/a/" in path for path in files) == 10 and sum("/b/" in path for path in files) == 10
    assert (len(data.val.file_paths), len(data.test.file_paths)) == (4, 4), "each class split as a whole"
    again = image_folder_datasets(root, image_size=(8, 8), validation_split=0.2, test_split=0.2, seed=5,
                                  verbose=False, max_per_class=10)
    assert [*again.train.file_paths, *again.val.file_paths, *again.test.file_paths] == files
    other = image_folder_datasets(root, image_size=(8, 8), validation_split=0.2, test_split=0.2, seed=6,
                                  verbose=False, max_per_class=10)
    assert set(other.train.file_paths) != set(data.train.file_paths), "the seed chooses the subset"
