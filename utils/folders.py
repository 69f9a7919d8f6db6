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

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from utils.images import IMAGE_EXTENSIONS, ImageLoadError, load_image
from utils.settings import SEED

#: File endings ``keras.utils.image_dataset_from_directory`` reads (its own allow-list).
KERAS_IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

#: Image formats TensorFlow's ``decode_image`` can decode, as Pillow names them.
KERAS_DECODABLE_FORMATS = frozenset({"BMP", "GIF", "JPEG", "MPO", "PNG", "WEBP"})

_SPLIT_FOLDERS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
_SHOWN = 20  # problem files listed in a warning before "... and N more"


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


def scan_image_folder(directory, check_images: bool = True) -> FolderScan:
    """List the classes and images of a folder-per-class data set, and find problem files.

    Walks the folders the way ``keras.utils.image_dataset_from_directory`` does
    (visible top-level folders are classes, their sub-folders are searched
    too). With ``check_images`` every image is decoded once (in parallel) so
    that truncated, empty or mislabelled files are found before training.
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
    for name in names:
        for dirpath, dirnames, filenames in os.walk(root / name):
            dirnames.sort()
            for filename in sorted(filenames):
                path = Path(dirpath, filename)
                suffix = path.suffix.lower()
                if suffix in KERAS_IMAGE_EXTENSIONS:
                    candidates.append((name, path))
                elif suffix in IMAGE_EXTENSIONS:
                    scan.ignored.append((path, f"{suffix} images are not read by image_dataset_from_directory "
                                               f"(it reads {' '.join(KERAS_IMAGE_EXTENSIONS)}): convert it to use it"))
                else:
                    scan.ignored.append((path, "not an image file"))

    problems = {}
    if check_images and candidates:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for (_, path), problem in zip(candidates, pool.map(_problem, (p for _, p in candidates)), strict=True):
                if problem:
                    problems[path] = problem
    for name, path in candidates:
        if path in problems:
            scan.unreadable.append((path, problems[path]))
        else:
            scan.images.setdefault(name, []).append(path)
    return scan


def _problem(path: Path):
    """The reason ``path`` cannot be used for training, or None when it can."""
    try:
        load_image(path, formats=KERAS_DECODABLE_FORMATS)
    except ImageLoadError as err:
        return err.reason
    return None


@dataclass
class FolderDatasets:
    """The pipelines :func:`image_folder_datasets` builds, with what it found."""

    train: object
    val: object | None
    test: object | None
    class_names: list[str]
    scans: dict[str, FolderScan]


def image_folder_datasets(
    directory,
    image_size=(224, 224),
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = SEED,
    check_images: bool = True,
    verbose: bool = True,
) -> FolderDatasets:
    """Build train / validation (/ test) ``tf.data`` pipelines from a folder-per-class data set.

    Uses ``keras.utils.image_dataset_from_directory``: batches of float32 RGB
    images of ``image_size`` (values 0-255) with integer labels, class names
    from the folder names. If ``directory`` holds ``train/`` (and optionally
    ``val/`` or ``validation/`` and ``test/``) those splits are used; otherwise
    ``validation_split`` of the images is held out, chosen with ``seed``.

    Unreadable images are reported by path (an :class:`UnreadableImagesWarning`)
    and skipped instead of stopping training mid-epoch.
    """
    import keras
    import tensorflow as tf

    root = _existing_folder(directory)
    top = class_folders(root)
    splits = {}
    if top and "train" in top and all(name.lower() in _SPLIT_FOLDERS for name in top):
        splits = {_SPLIT_FOLDERS[name.lower()]: root / name for name in top}
    scans = {split: scan_image_folder(path, check_images) for split, path in splits.items()}
    if not scans:
        scans = {"all": scan_image_folder(root, check_images)}
    main = scans.get("train", scans.get("all"))
    class_names = main.class_names
    for scan in scans.values():
        missing = sorted(set(class_names) - set(scan.class_names))
        extra = sorted(set(scan.class_names) - set(class_names))
        if missing or extra:
            raise DatasetFolderError(
                f"{scan.root} must have the same class folders as {main.root}: "
                f"missing {missing or 'none'}, unexpected {extra or 'none'}."
            )
        empty = [name for name, count in scan.counts.items() if count == 0]
        if empty:
            raise DatasetFolderError(
                f"{scan.root}: class folder(s) {', '.join(empty)} hold no readable "
                f"{'/'.join(KERAS_IMAGE_EXTENSIONS)} images. Add images or remove the folder."
            )
        if scan.unreadable:
            shown = "\n".join(f"  {path}: {reason}" for path, reason in scan.unreadable[:_SHOWN])
            more = len(scan.unreadable) - _SHOWN
            warnings.warn(
                f"{len(scan.unreadable)} unreadable image(s) in {scan.root} are left out of training "
                f"(your files are not changed):\n{shown}" + (f"\n  ... and {more} more" if more > 0 else ""),
                UnreadableImagesWarning, stacklevel=2,
            )
    robust = not check_images or any(scan.unreadable for scan in scans.values())

    def build(path, subset=None, split=None, shuffle=True):
        return keras.utils.image_dataset_from_directory(
            path, labels="inferred", label_mode="int", class_names=class_names,
            image_size=tuple(image_size), batch_size=None, shuffle=shuffle, seed=seed,
            validation_split=split, subset=subset, verbose=verbose,
        )

    unreadable = {str(path) for scan in scans.values() for path, _ in scan.unreadable}

    def finish(ds):
        if ds is None:
            return None
        files = [path for path in ds.file_paths if path not in unreadable]
        if robust:  # drop files TensorFlow cannot decode instead of failing the epoch
            ds = ds.ignore_errors(log_warning=True)
        ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
        ds.class_names, ds.file_paths = list(class_names), files  # as Keras provides them
        return ds

    if "all" in scans:
        if validation_split:
            train, val = build(root, subset="both", split=validation_split)
        else:
            train, val = build(root), None
        test = None
    else:
        train = build(splits["train"])
        val = build(splits["val"], shuffle=False) if "val" in splits else None
        test = build(splits["test"], shuffle=False) if "test" in splits else None
    return FolderDatasets(
        train=finish(train), val=finish(val), test=finish(test),
        class_names=list(class_names), scans=scans,
    )


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
