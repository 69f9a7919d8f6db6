"""What the check of a folder-per-class data set finds besides unreadable files (:func:`utils.check_dataset`).

Every image is read once (in parallel, by :func:`inspect_file`): its bytes give a digest for exact duplicates,
its header the real format, frame count and size, and, if asked, a small grey picture gives a perceptual hash
(for the near-duplicates that ``python -m utils check-dataset --near-duplicates`` looks for). :func:`examine`
turns these facts into :class:`Finding` s, each with a severity, what it means and what to do:

* **problem** (training would be wrong or fail): a folder that is probably not a class (named like a split,
  e.g. ``test_dataset``, or full of files named after other classes); with ``strict``, one image under two
  labels;
* **warning**: one image under two labels (every copy is then left out: the data set still trains, and no
  label has to be guessed); byte-identical copies within a class; files present in both training and
  validation; strong class imbalance;
* **info**: the class weights an imbalanced set would train with.

Nothing is ever changed, moved or deleted.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.utils.class_weight import compute_class_weight

from utils.images import ImageLoadError, decode_image

#: Folder names that are splits of a data set, not classes (``test``, ``val``, ``test_dataset``, ...).
SPLIT_NAME = re.compile(r"^(train|training|val|valid|validation|dev|test|testing|eval|evaluation|holdout)"
                        r"([ _-]?(set|data|dataset|images|imgs|split|files))?$", re.IGNORECASE)

_SHOWN = 10  # groups or files listed in a message before "... and N more"


@dataclass(frozen=True)
class Finding:
    """One thing the doctor found: how serious, what kind, what it means, what to do, which files."""

    severity: str  # "problem", "warning" or "info"
    kind: str  # e.g. "duplicates-across-classes"
    message: str
    fix: str = ""
    paths: tuple = ()

    def __str__(self) -> str:
        return self.message + (f" {self.fix}" if self.fix else "")


@dataclass
class FileFacts:
    """What reading one image file told: its digest, real format, frames, size and perceptual hash."""

    digest: str
    format: str | None = None
    frames: int = 1
    size: tuple[int, int] | None = None  # (width, height)
    dhash: int | None = None
    problem: str | None = None  # why it cannot be used, or None


def inspect_file(path, near_duplicates: bool = False) -> FileFacts:
    """Read ``path`` once: digest, format, frames and size from the header, and a decode that proves it
    is usable (JPEGs decode at a reduced scale: fast, and a truncated file still fails)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        return FileFacts(digest="", problem=f"the file cannot be opened ({err.strerror or err})")
    facts = FileFacts(digest=hashlib.blake2b(data, digest_size=16).hexdigest())
    try:
        with Image.open(io.BytesIO(data)) as image:
            facts.format, facts.size = image.format, image.size
            facts.frames = int(getattr(image, "n_frames", 1))
    except Exception:  # decode_image below names the reason
        pass
    try:
        rgb = decode_image(data, path, draft=(64, 64))
    except ImageLoadError as err:
        facts.problem = err.reason
        return facts
    if near_duplicates:
        facts.dhash = difference_hash(rgb)
    return facts


def difference_hash(rgb: np.ndarray) -> int:
    """A 64-bit perceptual hash: is each pixel of a 9 x 8 grey thumbnail brighter than its right neighbour?
    Resizing, re-encoding or small colour changes flip few of its bits; a different photo flips about half."""
    grey = np.asarray(Image.fromarray(rgb).convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).reshape(-1)
    return int(np.packbits(bits).view(">u8")[0])


@dataclass
class ScannedImage:
    """One file of a folder for :func:`examine`: where it is, its class, its split and what reading it told."""

    path: Path
    label: str  # class name
    split: str  # "train", "val", "test", or "all" before the validation split is made
    facts: FileFacts


def examine(images: list[ScannedImage], class_names: list[str], validation: set | None = None,
            strict: bool = False) -> list[Finding]:
    """The findings for ``images`` (readable or not). ``validation``: the paths the seeded split would hold
    out, when the folder has no ``val/`` of its own. ``strict``: byte-identical files under two labels are a
    problem (training refuses the folder) instead of a warning (they are left out)."""
    readable = [image for image in images if image.facts.problem is None]
    return _exact_duplicates(readable, validation, strict) + _not_classes(images, class_names)


def _side(image: ScannedImage, validation: set | None) -> str:
    if image.split == "all":
        return "val" if validation is not None and image.path in validation else "train"
    return image.split


def _groups(values: dict) -> list[list]:
    """Keys grouped by equal value, groups of two or more only, in a stable order."""
    by_value = {}
    for key, value in values.items():
        by_value.setdefault(value, []).append(key)
    return [group for group in by_value.values() if len(group) > 1]


def _listed(groups, show=_SHOWN) -> str:
    text = "; ".join(" = ".join(str(image.path) for image in group) for group in groups[:show])
    return text + (f"; ... and {len(groups) - show} more group(s)" if len(groups) > show else "")


def _exact_duplicates(images: list[ScannedImage], validation: set | None, strict: bool = False) -> list[Finding]:
    findings = []
    groups = [[images[i] for i in group] for group in _groups({i: im.facts.digest for i, im in enumerate(images)})]
    across = [g for g in groups if len({im.label for im in g}) > 1]
    within = [g for g in groups if len({im.label for im in g}) == 1]
    if across:
        fix = "Decide which class each belongs to and keep it only there (move or delete the other copies yourself)"
        findings.append(Finding(
            "problem" if strict else "warning", "duplicates-across-classes",
            f"{len(across)} group(s) of byte-identical files are in different classes, so one image has two "
            f"labels: {_listed(across)}." + ("" if strict else
                                              " Every copy is left out of training, validation and testing."),
            fix + ("." if strict else "; or check with --strict, which refuses such a folder."),
            tuple(im.path for g in across for im in g)))
    if within:
        copies = sum(len(g) - 1 for g in within)
        findings.append(Finding(
            "warning", "duplicates-within-class",
            f"{len(within)} group(s) of byte-identical files within a class ({copies} extra copies): "
            f"{_listed(within)}.",
            "Each group counts several times in training; keep one copy of each. The validation split made "
            "here keeps every group on one side.",
            tuple(im.path for g in within for im in g)))
    leaks = [g for g in groups if len({_side(im, validation) for im in g}) > 1]
    if leaks:
        findings.append(Finding(
            "warning", "duplicates-across-splits",
            f"{len(leaks)} group(s) of byte-identical files are on both sides of the train / validation / test "
            f"split, so validation accuracy is measured partly on training images: {_listed(leaks)}.",
            "Keep each image in one split only.", tuple(im.path for g in leaks for im in g)))
    return findings


def _not_classes(images: list[ScannedImage], class_names: list[str]) -> list[Finding]:
    findings = []
    named = [name for name in class_names if SPLIT_NAME.match(name)]
    for name in named:
        findings.append(Finding(
            "problem", "split-folder-as-class",
            f"class folder '{name}' is named like a split of the data, not a class: its images would be "
            "learned as one more class.",
            f"Move '{name}' out of this folder. To use it as a test set, give the folder the layout "
            "train/<class>/..., val/<class>/..., test/<class>/...", ()))
    lowered = {name: name.lower() for name in class_names}
    for name in class_names:
        if name in named:
            continue
        files = [im.path for im in images if im.label == name]
        others = {}
        for path in files:
            stem = path.stem.lower()
            for other, low in lowered.items():
                if other != name and re.match(rf"{re.escape(low)}(?![a-z])", stem) and not stem.startswith(
                        lowered[name]):
                    others[other] = others.get(other, 0) + 1
        if files and len(others) >= 2 and sum(others.values()) >= len(files) / 2:
            examples = ", ".join(p.name for p in files[:3])
            findings.append(Finding(
                "problem", "mixed-folder-as-class",
                f"class folder '{name}' is probably not a class: {sum(others.values())} of its {len(files)} "
                f"files are named after other classes ({', '.join(sorted(others))}), e.g. {examples}.",
                f"Move '{name}' out of this folder, or sort its files into the class folders.", ()))
    return findings


def class_weights(counts: dict[str, int]) -> dict[str, float]:
    """Scikit-learn's "balanced" class weights: total / (classes x count), 1 for a balanced set."""
    names = [name for name, count in counts.items() if count]
    labels = np.repeat(np.arange(len(names)), [counts[name] for name in names])
    weights = compute_class_weight("balanced", classes=np.arange(len(names)), y=labels)
    return {name: round(float(weight), 3) for name, weight in zip(names, weights, strict=True)}


def imbalance(counts: dict[str, int], root) -> list[Finding]:
    """How unequal the classes are, and the weights that would even them out."""
    used = {name: count for name, count in counts.items() if count}
    if len(used) < 2:
        return []
    ratio = max(used.values()) / min(used.values())
    if ratio < 1.5:
        return []
    weights = ", ".join(f"{name} {weight:g}" for name, weight in class_weights(used).items())
    largest, smallest = max(used, key=used.get), min(used, key=used.get)
    message = (f"{root}: classes are imbalanced: {largest} has {ratio:.1f} times as many images as {smallest} "
               f"({used[largest]} against {used[smallest]}). Balanced class weights: {weights}.")
    fix = ("Accuracy alone can mislead: read the per-class report; train with these class weights "
           "(Keras: fit(class_weight=...)) or add images to the small classes.")
    return [Finding("warning" if ratio >= 10 else "info", "imbalance", message, fix, ())]
