"""Folder-per-class image data sets: checking a user's folder and building ``tf.data`` pipelines.

A folder-per-class data set looks like this (class names come from the folder names)::

    my_images/                      or    my_images/
        cats/  img001.jpg ...                 train/  cats/ ...  dogs/ ...
        dogs/  img101.png ...                 val/    cats/ ...  dogs/ ...   (optional)
                                              test/   cats/ ...  dogs/ ...   (optional)

With the first layout a validation split is made reproducibly (fixed seed, no
file in both splits). Hidden folders such as ``.ipynb_checkpoints`` are not
classes, files that are not images are ignored, and images that cannot be read
are reported by path and left out, so they cannot stop training half-way.
The user's files are only read, never changed, moved or deleted.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from utils.doctor import Finding, ScannedImage, examine, imbalance, inspect_file
from utils.images import IMAGE_EXTENSIONS, in_threads, load_image, visible_files
from utils.settings import SEED, cache_dir

__all__ = ["DatasetCheck", "DatasetFolderError", "DecodeOnce", "Finding", "FolderDatasets", "FolderScan",
           "UnreadableImagesWarning", "check_dataset", "class_folders", "image_folder_datasets", "labelled_files",
           "scan_image_folder", "split_files", "split_folders", "write_example_folder"]

_SPLIT_FOLDERS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
_SHOWN = 20  # problem files listed in a warning before "... and N more"
MEMORY_BUDGET = 2 * 1024 ** 3  # bytes of decoded images kept in memory; more go to a file (DecodeOnce)


class DatasetFolderError(ValueError):
    """The folder given as a data set is missing or has no usable class folders."""


class UnreadableImagesWarning(UserWarning):
    """Some image files in a data set folder cannot be read; they are left out."""


@dataclass
class FolderScan:
    """What :func:`scan_image_folder` found in one folder-per-class folder."""

    root: Path
    class_names: list[str]
    images: dict[str, list[Path]] = field(default_factory=dict)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # Path -> utils.doctor.FileFacts, when the images were read

    @property
    def counts(self) -> dict[str, int]:
        """Readable images per class."""
        return {name: len(self.images.get(name, [])) for name in self.class_names}

    def report(self) -> str:
        """A readable multi-line summary: classes with counts, then every problem file."""
        width = max([len(n) for n in self.class_names] + [5])
        lines = [f"{self.root}: {len(self.class_names)} classes, {sum(self.counts.values())} readable images"]
        lines += [f"  {name:<{width}}  {count:>6}" for name, count in self.counts.items()]
        if self.unreadable:
            lines.append(f"{len(self.unreadable)} unreadable image(s), left out:")
            lines += [f"  {path}: {reason}" for path, reason in self.unreadable]
        if self.ignored:
            lines.append(f"{len(self.ignored)} other file(s), not used:")
            lines += [f"  {path}: {reason}" for path, reason in self.ignored]
        return "\n".join(lines)


def class_folders(directory) -> list[str]:
    """Names of the class folders of ``directory``: its visible sub-folders, sorted."""
    directory = _existing_folder(directory)
    return sorted(entry.name for entry in os.scandir(directory)
                  if entry.is_dir() and not entry.name.startswith("."))


def scan_image_folder(directory, check_images: bool = True, near_duplicates: bool = False,
                      progress=None) -> FolderScan:
    """List the classes and images of a folder-per-class data set, and find problem files.

    Visible top-level folders are classes; their visible sub-folders are searched too. With
    ``check_images`` every image is read once (in parallel, :func:`utils.doctor.inspect_file`) so that
    truncated, empty or mislabelled files are found before training, and its facts (digest, format,
    size; with ``near_duplicates`` a perceptual hash) are kept in ``facts`` for the dataset doctor.
    ``progress(results, total)``, if given, wraps the stream of results (the command line's progress bar).
    """
    root = _existing_folder(directory)
    names = class_folders(root)
    if not names:
        raise DatasetFolderError(
            f"{root} has no class folders. Put the images of each class in a sub-folder "
            f"named after the class, e.g. {root / 'cats'}/img001.jpg and {root / 'dogs'}/img002.jpg."
        )
    scan = FolderScan(root=root, class_names=names)
    candidates = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_file():
            scan.ignored.append((Path(entry.path), "not inside a class folder"))
        elif entry.is_dir() and entry.name.startswith("."):
            scan.ignored.append((Path(entry.path), "hidden folder, not a class"))
    for name in names:
        hidden = []
        for path in visible_files(root / name, hidden=hidden):
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                candidates.append((name, path))
            else:
                scan.ignored.append((path, "not an image file"))
        scan.ignored += [(path, "hidden folder, skipped") for path in hidden]
    if check_images and candidates:
        paths = [path for _, path in candidates]
        results = in_threads(lambda p: inspect_file(p, near_duplicates), paths)
        scan.facts = dict(zip(paths, progress(results, len(paths)) if progress else results, strict=True))
    for name, path in candidates:
        problem = scan.facts[path].problem if path in scan.facts else None
        if problem:
            scan.unreadable.append((path, problem))
        else:
            scan.images.setdefault(name, []).append(path)
    return scan


@dataclass
class DatasetCheck:
    """What :func:`check_dataset` found: the scans of each split and the doctor's findings.

    Each :class:`utils.doctor.Finding` has a severity. Problems would stop training or make it wrong (no
    class folders, a class without readable images or too small for the validation split, one image under
    two labels, a folder that is not a class); warnings would not (unreadable files are skipped,
    duplicates, imbalance); infos are for the record. ``usable`` is True when there are no problems.
    """

    root: Path
    scans: dict[str, FolderScan]
    validation_split: float
    findings: list[Finding] = field(default_factory=list)

    def add(self, severity: str, kind: str, message: str, fix: str = "", paths=()) -> None:
        self.findings.append(Finding(severity, kind, message, fix, tuple(paths)))

    def _texts(self, severity: str) -> list[str]:
        return [str(finding) for finding in self.findings if finding.severity == severity]

    @property
    def problems(self) -> list[str]:
        return self._texts("problem")

    @property
    def warnings(self) -> list[str]:
        return self._texts("warning")

    @property
    def infos(self) -> list[str]:
        return self._texts("info")

    @property
    def usable(self) -> bool:
        return not self.problems

    @property
    def class_names(self) -> list[str]:
        return self.scans.get("train", self.scans.get("all")).class_names

    @property
    def unreadable(self) -> list[tuple[Path, str]]:
        return [item for scan in self.scans.values() for item in scan.unreadable]

    @property
    def left_out(self) -> list[Path]:
        """Readable files that are not used: every copy of a byte-identical file filed under two classes."""
        return [path for finding in self.findings if finding.kind == "duplicates-across-classes"
                and finding.severity == "warning" for path in finding.paths]

    def images(self) -> list[ScannedImage]:
        """Every readable image with its class, split and what reading it told (when the images were read)."""
        holdout = "all" if "all" in self.scans else ("train" if "val" not in self.scans else None)
        return [ScannedImage(path, name, "all" if split == holdout else split, scan.facts[path])
                for split, scan in self.scans.items()
                for name, paths in scan.images.items() for path in paths if path in scan.facts]

    def report(self) -> str:
        """Classes with counts, every problem file with its reason, then the verdict."""
        split = "" if not self.validation_split else (
            f" (validation split {self.validation_split:g}, made with a fixed seed)")
        lines = [f"Checked {self.root}{split}"]
        for name, scan in self.scans.items():
            if name != "all":
                lines.append(f"[{name}]")
            lines.append(scan.report())
        lines += [f"info: {text}" for text in self.infos]
        lines += [f"warning: {text}" for text in self.warnings]
        lines += [f"problem: {text}" for text in self.problems]
        if self.usable:
            skipped = len(self.unreadable)
            lines.append("usable: yes" + (f" ({skipped} unreadable file(s) will be skipped)" if skipped else ""))
        else:
            lines.append(f"usable: no - fix the {len(self.problems)} problem(s) above, then check again")
        lines.append("(nothing was changed, moved or deleted)")
        return "\n".join(lines)

    def raise_if_unusable(self):
        if self.problems:
            raise DatasetFolderError(f"{self.root} cannot be used for training:\n"
                                     + "\n".join(f"  - {text}" for text in self.problems))
        return self


def split_folders(directory) -> dict[str, Path]:
    """``{"train": path, "val": path, "test": path}`` when ``directory`` is split into such
    folders (``val`` may be called ``validation``; only ``train`` is required), else ``{}``."""
    root = _existing_folder(directory)
    top = class_folders(root)
    if top and "train" in top and all(name.lower() in _SPLIT_FOLDERS for name in top):
        found = {_SPLIT_FOLDERS[name.lower()]: root / name for name in top}
        return {split: found[split] for split in ("train", "val", "test") if split in found}
    return {}


def check_dataset(directory, validation_split: float = 0.2, check_images: bool = True,
                  min_images: int = 2, near_duplicates: bool = False, seed: int = SEED,
                  test_split: float = 0.0, strict: bool = False, progress=None) -> DatasetCheck:
    """Check a folder-per-class data set before training (the dataset doctor); the user's files are only read.

    Lists the classes (hidden folders such as ``.ipynb_checkpoints`` are not classes) with their
    readable image counts, every unreadable image and every other file with the reason, and
    the findings of :mod:`utils.doctor` (duplicates, folders that are not classes, imbalance, file
    kinds; near-duplicates with ``near_duplicates``). A class is too small when it has fewer than
    ``min_images`` readable images, or so few that the validation split (about
    ``validation_split`` of each class, chosen with ``seed``; and ``test_split`` where the folder has no
    ``test/``) would leave it with no validation (or test) image. Byte-identical files under two labels are
    left out (a warning; ``strict``: a problem). ``progress`` as in :func:`scan_image_folder`. Raises
    :class:`DatasetFolderError` only for a path that is not a folder.
    """
    if not (0 <= validation_split < 1 and 0 <= test_split < 1 and validation_split + test_split < 1):
        raise ValueError(f"validation_split and test_split must be at least 0 with a sum below 1, "
                         f"got {validation_split} and {test_split}")
    root = _existing_folder(directory)
    splits = split_folders(root)
    holdout = "all" if not splits else ("train" if "val" not in splits else None)  # the scan to split
    check = DatasetCheck(root=root, scans={}, validation_split=validation_split if holdout else 0.0)
    try:
        for split, path in (splits or {"all": root}).items():
            check.scans[split] = scan_image_folder(path, check_images, near_duplicates, progress)
    except DatasetFolderError as err:
        check.add("problem", "no-classes", str(err))
        return check
    main = check.scans.get("train", check.scans.get("all"))
    if len(main.class_names) < 2:
        check.add("problem", "too-few-classes", f"{main.root} has {len(main.class_names)} class folder(s): a "
                  "classifier needs at least 2, one sub-folder per class.")
    smallest = min_images
    if holdout and validation_split:
        smallest = max(min_images, math.ceil(1 / validation_split), math.ceil(1 / (1 - validation_split)))
    if holdout and test_split and "test" not in check.scans:
        smallest = max(smallest, 3 if validation_split else 2)  # one image in each split at least
    for split, scan in check.scans.items():
        missing = sorted(set(main.class_names) - set(scan.class_names))
        extra = sorted(set(scan.class_names) - set(main.class_names))
        if missing or extra:
            check.add("problem", "classes-differ", f"{scan.root} must have the same class folders as {main.root}: "
                      f"missing {missing or 'none'}, unexpected {extra or 'none'}.")
        empty = [name for name, count in scan.counts.items() if count == 0]
        if empty:
            check.add("problem", "empty-class", f"{scan.root}: class folder(s) {', '.join(empty)} hold no readable "
                      f"images ({' '.join(IMAGE_EXTENSIONS)}).", "Add images or remove the folder.")
        needed = smallest if split == holdout else (min_images if split == "train" else 1)
        small = {name: count for name, count in scan.counts.items() if 0 < count < needed}
        if small:
            listed = ", ".join(f"{name} ({count})" for name, count in small.items())
            why = (f"with validation_split={validation_split:g} each class needs at least {needed} so that "
                   "it has images in both splits" if needed > min_images else f"each class needs at least {needed}")
            check.add("problem", "small-class", f"{scan.root}: too few images in {listed}: {why}.",
                      "Add images" + (" or change the split." if needed > min_images else "."))
        if split in ("all", "train"):
            check.findings += imbalance(scan.counts, scan.root)
        if scan.unreadable:
            check.add("warning", "unreadable", f"{scan.root}: {len(scan.unreadable)} unreadable image(s) will be "
                      "left out (listed above).", "Re-save or replace them; nothing stops training.",
                      [path for path, _ in scan.unreadable])
    if check_images:
        validation = None
        if holdout and validation_split:
            held_test = test_split if "test" not in check.scans else 0.0
            validation = {path for path, _ in split_files(check.scans[holdout], validation_split, seed, held_test)[1]}
        check.findings += examine(check.images(), main.class_names, validation, strict)
    order = {"problem": 0, "warning": 1, "info": 2}
    check.findings.sort(key=lambda finding: order[finding.severity])
    return check


@dataclass
class FolderDatasets:
    """The pipelines :func:`image_folder_datasets` builds, with what it found."""

    train: object
    val: object | None
    test: object | None
    class_names: list[str]
    check: DatasetCheck


def image_folder_datasets(
    directory,
    image_size=(224, 224),
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = SEED,
    verbose: bool = True,
    test_split: float = 0.0,
    strict: bool = False,
    cache: bool = True,
    memory_budget: int = MEMORY_BUDGET,
    max_per_class: int | None = None,
) -> FolderDatasets:
    """Build train / validation (/ test) ``tf.data`` pipelines from a folder-per-class data set.

    Batches of ``uint8`` RGB images of ``image_size`` (values 0-255) with integer labels, class
    names from the folder names. If ``directory`` holds ``train/`` (and optionally ``val/`` or
    ``validation/`` and ``test/``) those splits are used; otherwise ``validation_split`` of each
    class's images is held out, chosen with ``seed`` (the same files every run, none in both); from
    ``train/`` when there is no ``val/``. Without a ``test/`` folder, ``test_split`` of each class is held
    out as well, the same way, for an honest final number (the validation images choose the epoch and
    calibrate, so their accuracy is optimistic).
    ``max_per_class`` takes at most that many images of each class of each split folder, chosen with ``seed``
    before the split (a quick first run on a large folder; the check still reads every file).

    The folder is checked first (:func:`check_dataset`): problems that would stop training
    raise :class:`DatasetFolderError` listing them all; unreadable images are reported by path
    (an :class:`UnreadableImagesWarning`) and left out, so they cannot stop training mid-epoch; every copy
    of a byte-identical file filed under two classes is left out and named (``strict``: refused instead).

    Every image is read by :func:`utils.images.load_image`, the reader ``python -m utils predict``
    uses for new images: the same decoding (any mode to RGB, phone photos turned upright by their
    EXIF orientation) and the same resize, so a saved model sees new images exactly as it saw its
    training images. (``keras.utils.image_dataset_from_directory`` decodes with TensorFlow, which
    ignores EXIF orientation, and resizes without antialiasing.) With ``cache`` each image is decoded once,
    in the first epoch, and kept for the others (:class:`DecodeOnce`).
    """
    root = _existing_folder(directory)
    has_test = "test" in split_folders(root)
    check = check_dataset(root, validation_split, min_images=1, seed=seed,
                          test_split=0.0 if has_test else test_split, strict=strict).raise_if_unusable()
    class_names = check.class_names
    for scan in check.scans.values():
        if scan.unreadable:
            shown = "\n".join(f"  {path}: {reason}" for path, reason in scan.unreadable[:_SHOWN])
            more = len(scan.unreadable) - _SHOWN
            warnings.warn(
                f"{len(scan.unreadable)} unreadable image(s) in {scan.root} are left out of training "
                f"(your files are not changed):\n{shown}" + (f"\n  ... and {more} more" if more > 0 else ""),
                UnreadableImagesWarning, stacklevel=2,
            )
    height, width = (int(side) for side in image_size)
    scans = {split: _subsample(scan, max_per_class, seed) for split, scan in check.scans.items()}

    if "all" in scans:
        train, val, test = split_files(scans["all"], validation_split, seed, test_split)
    elif "val" not in scans:  # train/ (and test/) without val/: validation held out from train/
        train, val, test = split_files(scans["train"], validation_split, seed, 0.0 if has_test else test_split)
        test = labelled_files(scans["test"]) if has_test else test
    else:
        train, val, test = (labelled_files(scans[split]) if split in scans else []
                            for split in ("train", "val", "test"))
        if not has_test and test_split:  # train/ and val/ only: the test images come from train/
            train, _, test = split_files(_as_scan(scans["train"], train), 0.0, seed, test_split)
    left_out = set(check.left_out)
    train, val, test = ([(path, label) for path, label in items if path not in left_out]
                        for items in (train, val, test))
    files = [path for path, _ in (*train, *val, *test)]
    read = DecodeOnce(files, (height, width), memory_budget, root) if cache else None
    index = {path: i for i, path in enumerate(files)}

    def image(i):
        return read(i) if read is not None else load_image(files[int(i)], size=(height, width))

    def pipeline(items, shuffle):
        if not items:
            return None
        labels = [label for _, label in items]
        ds = tf.data.Dataset.from_tensor_slices(([index[path] for path, _ in items], labels))
        if shuffle:
            ds = ds.shuffle(len(items), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(lambda i, label: (tf.ensure_shape(tf.numpy_function(image, [i], tf.uint8), (height, width, 3)),
                                      label), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        ds.class_names = list(class_names)  # as Keras' own folder datasets provide them
        ds.file_paths = [str(path) for path, _ in items]
        return ds

    if verbose:
        print(f"Found {len(files)} images of {len(class_names)} classes: "
              f"{len(train)} for training, {len(val)} for validation" + (f", {len(test)} for testing" if test else ""))
        if left_out:
            print(f"left out {len(left_out)} file(s) filed under two classes (byte-identical copies): "
                  + ", ".join(str(path) for path in sorted(left_out)))
        if read is not None:
            print(read.describe())
    return FolderDatasets(train=pipeline(train, shuffle=True), val=pipeline(val, shuffle=False),
                          test=pipeline(test, shuffle=False), class_names=list(class_names), check=check)


class DecodeOnce:
    """Images decoded and resized once, then kept: ``read(i)`` gives image ``i`` of ``paths`` at ``size``.

    The first call for an image reads its file (:func:`utils.images.load_image`); later calls, in the
    following epochs, return the kept copy. They are kept in memory when all of them fit in ``memory_budget``
    bytes, else in a file under :func:`utils.settings.cache_dir` (never inside the data folder ``root``),
    named after the files' paths, sizes and modification times: a changed file gives a new cache file, and a
    cache completed by an earlier run is used again from its first epoch.
    """

    def __init__(self, paths, size, memory_budget: int = MEMORY_BUDGET, root=None):
        self.paths, self.size = [str(path) for path in paths], tuple(size)
        shape = (len(self.paths), *self.size, 3)
        self.filled = np.zeros(len(self.paths), dtype=bool)
        self.file = self._complete = None
        self._lock = threading.Lock()
        if math.prod(shape) <= memory_budget:
            self.images = np.empty(shape, dtype=np.uint8)
            return
        folder = cache_dir()
        if root is not None and folder.resolve().is_relative_to(Path(root).resolve()):
            raise ValueError(f"the cache folder {folder} is inside the data folder {root}: set CNN_CACHE_DIR "
                             "to a folder elsewhere (the data folder is never written to)")
        folder.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(repr(self.size).encode())
        for path in self.paths:
            stat = os.stat(path)
            key.update(f"\n{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        self.file = folder / f"decoded-{key.hexdigest()[:24]}.npy"
        self._complete = self.file.with_suffix(".complete")
        if self.file.exists() and self._complete.exists():
            self.images = np.load(self.file, mmap_mode="r")
            self.filled[:] = True
        else:
            self.images = np.lib.format.open_memmap(self.file, mode="w+", dtype=np.uint8, shape=shape)

    def __call__(self, index) -> np.ndarray:
        i = int(index)
        if not self.filled[i]:
            self.images[i] = load_image(self.paths[i], size=self.size)
            self.filled[i] = True
            if self.file is not None and self.filled.all():
                with self._lock:
                    if not self._complete.exists():
                        self.images.flush()
                        self._complete.touch()
        return self.images[i]

    def describe(self) -> str:
        size = f"{self.images.nbytes / 1e6:,.0f} MB"
        if self.file is None:
            return f"decoded images kept in memory after the first epoch ({size})"
        state = "complete, from an earlier run" if self.filled.all() else "written during the first epoch"
        return f"decoded images kept in {self.file} ({size}, {state})"


def labelled_files(scan: FolderScan) -> list[tuple[Path, int]]:
    """``(path, class index)`` for every readable image of ``scan``, class by class."""
    return [(path, label) for label, name in enumerate(scan.class_names) for path in scan.images.get(name, [])]


def split_files(scan: FolderScan, validation_split: float, seed: int = SEED, test_split: float = 0.0):
    """``(train, validation, test)`` lists of ``(path, class index)``: from each class, a random ``test_split``
    and a random ``validation_split`` of its images (at least one each, when not 0) are held out, chosen with
    ``seed`` - the same files every run.

    Byte-identical files of a class (when the scan read the images) stay together on one side, so a copy
    cannot be in two splits at once."""
    rng = np.random.default_rng(seed)
    train, validation, test = [], [], []
    for label, name in enumerate(scan.class_names):
        files = scan.images.get(name, [])
        groups = {}  # digest (or the file itself) -> indices of identical files, in file order
        for index, path in enumerate(files):
            facts = scan.facts.get(path)
            groups.setdefault(facts.digest if facts is not None and facts.digest else index, []).append(index)
        groups = list(groups.values())
        wanted = [max(1, round(len(files) * fraction)) if fraction else 0
                  for fraction in (test_split, validation_split)]
        held = [[], []]  # indices held out for test, for validation
        for group in (groups[i] for i in rng.permutation(len(groups))):
            for indices, count in zip(held, wanted, strict=True):
                if len(indices) < count:
                    indices.extend(group)
                    break
        for split, indices in ((test, held[0]), (validation, held[1])):
            split += [(files[i], label) for i in sorted(indices)]
        kept = set(held[0]) | set(held[1])
        train += [(path, label) for i, path in enumerate(files) if i not in kept]
    return train, validation, test


def _subsample(scan: FolderScan, count: int | None, seed: int) -> FolderScan:
    """``scan`` with at most ``count`` images of each class, chosen with ``seed`` (all when ``count`` is None)."""
    if count is None:
        return scan
    rng = np.random.default_rng(seed)
    kept = [(path, 0) for paths in scan.images.values()
            for path in (paths if len(paths) <= count else [paths[i] for i in sorted(rng.choice(len(paths), count,
                                                                                               replace=False))])]
    return _as_scan(scan, kept)


def _as_scan(scan: FolderScan, items) -> FolderScan:
    """``scan`` restricted to the ``(path, label)`` ``items``."""
    kept = {path for path, _ in items}
    return FolderScan(root=scan.root, class_names=scan.class_names, facts=scan.facts,
                      images={name: [path for path in paths if path in kept] for name, paths in scan.images.items()})


def _existing_folder(directory) -> Path:
    if directory is None or str(directory) == "":
        raise DatasetFolderError("No data folder given. Set it to a folder with one sub-folder per class.")
    path = Path(directory).expanduser()
    if not path.exists():
        raise DatasetFolderError(
            f"Data folder {path} does not exist. Check the path; it should be a folder with one sub-folder per class."
        )
    if not path.is_dir():
        raise DatasetFolderError(
            f"{path} is a file, not a folder. Give the folder that holds one sub-folder per class."
        )
    return path.resolve()


def write_example_folder(images, labels, class_names, directory, per_class: int, classes=None) -> Path:
    """Write ``per_class`` images of each of ``classes`` as PNG files in the folder-per-class layout.

    Gives notebooks a small "own images" data set to demonstrate the check and the pipeline
    on. Refuses to write into a folder that already holds other files.
    """
    directory = Path(directory)
    labels = np.asarray(labels).reshape(-1)
    classes = list(classes or class_names)
    if directory.exists() and any(directory.iterdir()):
        raise DatasetFolderError(f"{directory} is not empty: give write_example_folder a new folder.")
    for name in classes:
        (directory / name).mkdir(parents=True)
        for number, index in enumerate(np.flatnonzero(labels == class_names.index(name))[:per_class]):
            Image.fromarray(np.asarray(images[index], dtype=np.uint8)).save(directory / name / f"{number:04d}.png")
    return directory
