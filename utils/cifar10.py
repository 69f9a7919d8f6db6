"""CIFAR-10, from the Keras download cache or from a local copy named by ``CIFAR10_DIR``.

By default :func:`load_cifar10` calls ``keras.datasets.cifar10.load_data()``,
which downloads the official archive once (about 163 MB) into the Keras cache.
Offline, set the environment variable ``CIFAR10_DIR`` to a local copy; it may be

* a folder in the folder-per-class layout ``train/<class>/*`` and ``test/<class>/*``;
* the official extracted ``cifar-10-batches-py`` folder;
* a ``.tar.gz`` (or ``.tar``) archive of either.

The layout may sit at the path itself or up to two folders below it (an
extracted archive usually adds one folder). Whatever the source, the result has
the shapes, dtypes and label order of ``keras.datasets.cifar10.load_data()``.
"""

from __future__ import annotations

import os
import pickle
import re
import tarfile
from collections import defaultdict
from pathlib import Path

import keras
import numpy as np

from utils.images import ImageLoadError, decode_image, is_image_file, visible_files
from utils.settings import CIFAR10_ENV

#: The ten classes in the official label order (which is also alphabetical).
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]

#: Seed of the fixed shuffle applied to copies read from image folders.
FOLDER_ORDER_SEED = 0

_LAYOUTS_HELP = (
    "a folder with train/<class>/ and test/<class>/ images, an extracted "
    "cifar-10-batches-py folder, or a .tar.gz archive of either"
)
_BATCH_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
_FOLDER_RE = re.compile(r"^(?P<prefix>(?:[^/]+/)*?)(?P<split>train|test)/(?P<cls>[^/]+)/(?P<file>[^/]+)$")
_BATCH_RE = re.compile(r"^(?P<prefix>(?:[^/]+/)*?)(?P<file>data_batch_[1-5]|test_batch|batches\.meta)$")
_MAX_DEPTH = 2  # how many folders above the layout a path may add


class Cifar10NotAvailable(RuntimeError):
    """Neither a local copy nor the Keras download could provide CIFAR-10."""


class Cifar10FormatError(ValueError):
    """A local copy was found but its content does not match a CIFAR-10 layout."""


def load_cifar10(source=None):
    """Load CIFAR-10 as ``(x_train, y_train), (x_test, y_test), class_names``.

    Images are ``uint8`` arrays of shape ``(N, 32, 32, 3)``, labels ``uint8``
    arrays of shape ``(N, 1)`` indexing ``class_names`` (the official order).

    Args:
        source: a local copy (folder or archive). Defaults to the ``CIFAR10_DIR``
            environment variable; when that is unset too, Keras downloads the
            data (or reads its cache).

    Raises:
        Cifar10NotAvailable: no local copy and the download failed; the message
            says what to set.
        Cifar10FormatError: the local copy is incomplete or not CIFAR-10.
    """
    if source is None:
        source = os.environ.get(CIFAR10_ENV) or None
    if source is None:
        return _load_with_keras()
    return _load_local(Path(source).expanduser())


def _load_with_keras():
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as err:  # Keras raises a bare Exception for network failures
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise Cifar10NotAvailable(
            f"CIFAR-10 could not be downloaded ({reason}). Connect to the internet, or set "
            f"{CIFAR10_ENV} to a local copy: {_LAYOUTS_HELP}, e.g. "
            f"export {CIFAR10_ENV}=/path/to/cifar-10-python.tar.gz"
        ) from None
    return (x_train, y_train), (x_test, y_test), list(CLASS_NAMES)


def _load_local(path: Path):
    if not path.exists():
        raise Cifar10NotAvailable(
            f"The CIFAR-10 copy {path} does not exist. Point {CIFAR10_ENV} at {_LAYOUTS_HELP}, "
            f"or unset it to let Keras download CIFAR-10."
        )
    if path.is_file():
        if not tarfile.is_tarfile(path):
            raise Cifar10FormatError(
                f"{path} is a file but not a .tar.gz or .tar archive. Point {CIFAR10_ENV} at {_LAYOUTS_HELP}."
            )
        entries = _archive_entries(path)
    else:
        entries = _folder_entries(path)

    def locate(name):
        return path / name if path.is_dir() else f"{path}:{name}"

    batches, folders = {}, defaultdict(lambda: defaultdict(list))
    batch_prefixes, folder_prefixes = set(), set()
    for name, read in entries:
        match = _BATCH_RE.match(name)
        if match and match["prefix"].count("/") <= _MAX_DEPTH:
            batch_prefixes.add(match["prefix"])
            batches[match["prefix"] + match["file"]] = read()
            continue
        match = _FOLDER_RE.match(name)
        if (match and match["prefix"].count("/") <= _MAX_DEPTH
                and not match["cls"].startswith(".") and is_image_file(match["file"])):
            folder_prefixes.add(match["prefix"])
            folders[match["prefix"] + match["split"]][match["cls"]].append((name, read()))

    if batch_prefixes:
        prefix = _single(batch_prefixes, path, "cifar-10-batches-py copies")
        files = {k[len(prefix):]: v for k, v in batches.items() if k.startswith(prefix)}
        return _from_batches(files, locate(prefix))
    if folder_prefixes:
        prefix = _single(folder_prefixes, path, "train/ and test/ folders")
        return _from_folders(folders[prefix + "train"], folders[prefix + "test"], locate(prefix), locate)
    raise Cifar10FormatError(
        f"No CIFAR-10 data found in {path}. {CIFAR10_ENV} must name {_LAYOUTS_HELP}."
    )


def _single(prefixes, path, what):
    if len(prefixes) > 1:
        listed = ", ".join(sorted(p or "./" for p in prefixes))
        raise Cifar10FormatError(f"{path} holds more than one set of {what} ({listed}): point {CIFAR10_ENV} at one.")
    return next(iter(prefixes))


def _folder_entries(root: Path):
    """(relative posix path, reader) for the visible files up to the layout's depth."""
    for path in visible_files(root, max_depth=_MAX_DEPTH + 2):
        yield path.relative_to(root).as_posix(), path.read_bytes


def _archive_entries(path: Path):
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isfile():
                name = member.name.removeprefix("./")
                data = archive.extractfile(member).read()
                yield name, (lambda data=data: data)


def _from_folders(train: dict, test: dict, where, locate):
    splits = []
    for split_name, classes in (("train", train), ("test", test)):
        missing = [c for c in CLASS_NAMES if not classes.get(c)]
        if missing:
            raise Cifar10FormatError(
                f"{where}: {split_name}/ has no images for class(es) {', '.join(missing)}. "
                f"A CIFAR-10 folder copy needs train/<class>/ and test/<class>/ for all ten classes "
                f"({', '.join(CLASS_NAMES)}); re-extract the archive."
            )
        unexpected = sorted(set(classes) - set(CLASS_NAMES))
        if unexpected:
            raise Cifar10FormatError(
                f"{where}: {split_name}/ has folders that are not CIFAR-10 classes ({', '.join(unexpected)}). "
                f"For your own classes use utils.image_folder_datasets instead."
            )
        files = [(name, data, label) for label, cls in enumerate(CLASS_NAMES)
                 for name, data in sorted(classes[cls])]
        x = np.empty((len(files), 32, 32, 3), dtype=np.uint8)
        for i, (name, data, _) in enumerate(files):
            try:
                image = decode_image(data, name)
            except ImageLoadError as err:
                raise Cifar10FormatError(
                    f"{ImageLoadError(locate(name), err.reason, 'The CIFAR-10 copy is damaged: re-extract it')}"
                ) from None
            if image.shape != (32, 32, 3):
                raise Cifar10FormatError(
                    f"{locate(name)} is {image.shape[1]}x{image.shape[0]} pixels; CIFAR-10 images are 32x32."
                )
            x[i] = image
        y = np.array([label for _, _, label in files], dtype=np.uint8).reshape(-1, 1)
        order = np.random.default_rng(FOLDER_ORDER_SEED).permutation(len(files))
        splits.append((x[order], y[order]))
    return splits[0], splits[1], list(CLASS_NAMES)


def _from_batches(files: dict, where):
    missing = [f for f in _BATCH_FILES if f not in files]
    if missing:
        raise Cifar10FormatError(
            f"{where} is missing {', '.join(missing)}: a cifar-10-batches-py copy needs "
            f"{', '.join(_BATCH_FILES)}. Re-extract cifar-10-python.tar.gz."
        )

    def read(name):
        try:
            batch = pickle.loads(files[name], encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            labels = np.asarray(batch[b"labels"], dtype=np.uint8).reshape(-1, 1)
        except Exception as err:
            raise Cifar10FormatError(f"{where}/{name} is not a readable CIFAR-10 batch ({err}).") from None
        return data.transpose(0, 2, 3, 1), labels

    train = [read(name) for name in _BATCH_FILES[:5]]
    x_test, y_test = read("test_batch")
    class_names = list(CLASS_NAMES)
    if "batches.meta" in files:
        meta = pickle.loads(files["batches.meta"], encoding="bytes")
        class_names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"]]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), (x_test, y_test), class_names
