"""``python -m utils check-dataset DIR``: the dataset doctor. The check of :func:`utils.folders.check_dataset` (classes,
unreadable files, byte-identical copies, folders that are not classes, imbalance), plus what only a practitioner
cleaning a folder needs: near-duplicates by a perceptual hash, files whose content is not what their ending says,
animated and tiny images, and the findings as a CSV or JSON file. Only reads the files."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from utils.folders import DatasetFolderError, Finding, check_dataset

#: What a file's ending promises, as Pillow format names.
EXPECTED_FORMATS = {".jpg": {"JPEG", "MPO"}, ".jpeg": {"JPEG", "MPO"}, ".png": {"PNG"}, ".gif": {"GIF"},
                    ".bmp": {"BMP", "DIB"}, ".tif": {"TIFF"}, ".tiff": {"TIFF"}, ".webp": {"WEBP"}}
SMALL_SIDE = 32  # pixels: smaller images carry little for a network trained at 128 px or more
NEAR_DISTANCE = 4  # bits of 64 in which two difference hashes may differ and still be "the same photo"
SHOWN = 10  # files listed in a message before "... and N more"


def add_parser(commands) -> None:
    check = commands.add_parser(
        "check-dataset", help="the dataset doctor: classes, counts, unreadable files, duplicates, folders that "
                              "are not classes, imbalance",
        description="Check a folder-per-class data set before training: classes and counts, unreadable files, "
                    "byte-identical files (within a class, across classes, across the train/validation split), "
                    "optionally near-duplicates, folders that are probably not classes, class imbalance with "
                    "class weights, files whose content is not what their ending says, animated and very small "
                    "images. Only reads the files. Exit status: 0 usable (warnings and skipped files are listed), "
                    "1 problems that would stop training or make it wrong, 2 the path is not a folder.")
    check.add_argument("directory", metavar="DIR", help="folder with one sub-folder of images per class "
                       "(or train/, val/, test/ folders that each hold them)")
    check.add_argument("--validation-split", type=float, default=0.2,
                       help="fraction held out for validation when DIR has no val/ folder (default 0.2)")
    check.add_argument("--test-split", type=float, default=0.15,
                       help="fraction held out for testing when DIR has no test/ folder (default 0.15, as train)")
    check.add_argument("--min-images", type=int, default=2, help="fewest readable images a class may have")
    check.add_argument("--strict", action="store_true", help="exit 1 also when some files are unreadable or one "
                       "image is filed under two classes (train --data leaves such copies out unless --strict)")
    check.add_argument("--near-duplicates", action="store_true",
                       help="also find near-identical images (resized or re-encoded copies) by a perceptual hash")
    check.add_argument("--report", metavar="FILE", help="write the findings to FILE, one row each: JSON if FILE "
                       "ends in .json, else CSV")
    check.set_defaults(run=run)


def run(args) -> int:
    start = time.perf_counter()
    try:
        check = check_dataset(args.directory, validation_split=args.validation_split, min_images=args.min_images,
                              near_duplicates=args.near_duplicates, test_split=args.test_split, strict=args.strict,
                              progress=progress_bar)
    except DatasetFolderError as err:  # the path itself is wrong
        print(f"error: {err}", file=sys.stderr)
        return 2
    images = check.images()
    check.findings += file_kinds(images) + (near_duplicates(images) if args.near_duplicates else [])
    print(check.report())
    print(f"({len(images)} image files read in {time.perf_counter() - start:.1f} s)")
    if args.report:
        try:
            print(f"findings written to {write_findings(check.findings, args.report)} ({len(check.findings)} rows)")
        except OSError as err:
            print(f"error: cannot write --report {args.report}: {err.strerror or err}", file=sys.stderr)
            return 2
    if args.strict and check.unreadable:
        print(f"--strict: {len(check.unreadable)} unreadable file(s) count as a problem")
        return 1
    return 0 if check.usable else 1


def progress_bar(results, total: int, many: int = 1000):
    """A progress bar on stderr (files read, rate, time left) over ``results`` when there are ``many`` files or
    more; the results unchanged for fewer, which take a second or two."""
    if total < many:
        return results
    return tqdm(results, total=total, unit="file", desc="reading", file=sys.stderr, mininterval=1.0, leave=False)


def near_duplicates(images) -> list[Finding]:
    """Groups of different files whose difference hashes are within :data:`NEAR_DISTANCE` bits."""
    readable = [image for image in images if image.facts.problem is None and image.facts.dhash is not None]
    hashes = np.array([image.facts.dhash for image in readable], dtype=np.uint64)
    parent = list(range(len(readable)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, len(hashes), 1024):  # in blocks: memory stays small for tens of thousands of files
        distances = np.bitwise_count(hashes[start:start + 1024, None] ^ hashes[None, :])
        for i, j in zip(*np.nonzero(distances <= NEAR_DISTANCE), strict=True):
            i = int(i) + start
            if i < j and readable[i].facts.digest != readable[j].facts.digest:
                parent[root(i)] = root(int(j))
    members = {}
    for i, image in enumerate(readable):
        members.setdefault(root(i), []).append(image)
    groups = [group for group in members.values() if len({image.facts.digest for image in group}) > 1]
    if not groups:
        return []
    across = [group for group in groups if len({image.label for image in group}) > 1]
    listed = "; ".join(" = ".join(str(image.path) for image in group) for group in groups[:SHOWN])
    more = f"; ... and {len(groups) - SHOWN} more group(s)" if len(groups) > SHOWN else ""
    return [Finding(
        "warning", "near-duplicates",
        f"{len(groups)} group(s) of near-identical images (the same picture resized or re-encoded, by a perceptual "
        f"hash), {len(across)} of them across classes: {listed}{more}.",
        "Look at them: keep one of each group, in the right class (the hash can also match plain, similar-looking "
        "images).", tuple(image.path for group in groups for image in group))]


def file_kinds(images) -> list[Finding]:
    """Notes for the record: content that is not what the ending says, animated images, very small images."""
    readable = [image for image in images if image.facts.problem is None]

    def listed(chosen, describe=str):
        text = ", ".join(describe(image) for image in chosen[:SHOWN])
        return text + (f", ... and {len(chosen) - SHOWN} more" if len(chosen) > SHOWN else "")

    findings = []
    mismatched = [image for image in readable if image.facts.format and image.facts.format not in
                  EXPECTED_FORMATS.get(image.path.suffix.lower(), {image.facts.format})]
    if mismatched:
        findings.append(Finding(
            "info", "content-not-extension", f"{len(mismatched)} file(s) hold another format than their ending says: "
            + listed(mismatched, lambda image: f"{image.path} ({image.facts.format})") + ".",
            "They are read by their content, so training is not affected; other tools may be confused.",
            tuple(image.path for image in mismatched)))
    animated = [image for image in readable if image.facts.frames > 1]
    if animated:
        findings.append(Finding("info", "animated", f"{len(animated)} animated image(s); only the first frame is "
                                f"used: {listed(animated, lambda image: str(image.path))}.", "",
                                tuple(image.path for image in animated)))
    small = [image for image in readable if image.facts.size and min(image.facts.size) < SMALL_SIDE]
    if small:
        findings.append(Finding(
            "info", "small-images", f"{len(small)} image(s) smaller than {SMALL_SIDE} pixels on a side, enlarged for "
            "training: " + listed(small, lambda image: f"{image.path} ({image.facts.size[0]}x{image.facts.size[1]})")
            + ".", "Check that they are not thumbnails or icons.", tuple(image.path for image in small)))
    return findings


def write_findings(findings, path) -> Path:
    """``findings`` as a table, one row each with the files it concerns (CSV: separated by ``|``): JSON if ``path``
    ends in ``.json``, else CSV."""
    path = Path(path)
    rows = [{"severity": f.severity, "kind": f.kind, "message": f.message, "fix": f.fix,
             "files": [str(p) for p in f.paths]} for f in findings]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    else:
        table = pd.DataFrame(rows, columns=["severity", "kind", "message", "fix", "files"])
        table["files"] = table["files"].map(" | ".join)
        table.to_csv(path, index=False)
    return path
