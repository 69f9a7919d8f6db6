"""The dataset doctor (utils.doctor via check_dataset, and what check-dataset adds): every finding, on folders built
here."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from image_files import snapshot, write_kind
from PIL import Image

from utils.cli import main
from utils.cli.check_dataset import file_kinds, near_duplicates, progress_bar, write_findings
from utils.doctor import class_weights, difference_hash
from utils.folders import DatasetFolderError, check_dataset, image_folder_datasets, scan_image_folder, split_files


def photo(seed: int, size=64) -> np.ndarray:
    """A smooth random picture (blurred noise): different seeds look different, like different photos."""
    small = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


def photo_folder(root, counts, start=0):
    """One sub-folder per class, ``counts[name]`` different PNG photos in each."""
    seed = start
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            seed += 1
            Image.fromarray(photo(seed)).save(root / name / f"{name}{i:02d}.png")
    return root


def kinds(check):
    return {finding.kind: finding for finding in check.findings}


def doctor(root, near=False):
    """What ``python -m utils check-dataset`` finds: the library's check, file kinds and (asked) near-duplicates."""
    check = check_dataset(root, near_duplicates=near)
    check.findings += file_kinds(check.images()) + (near_duplicates(check.images()) if near else [])
    return check


def test_a_clean_folder_has_no_findings(tmp_path):
    check = doctor(photo_folder(tmp_path, {"cats": 10, "dogs": 10}), near=True)
    assert check.usable and check.findings == [], check.report()


def test_identical_files_within_a_class_warn_and_the_split_keeps_them_together(tmp_path):
    root = photo_folder(tmp_path, {"cats": 10, "dogs": 10})
    for copy in ("copy1.png", "copy2.png"):
        shutil.copy(root / "cats" / "cats03.png", root / "cats" / copy)
    before = snapshot(root)
    check = check_dataset(root, validation_split=0.3)
    finding = kinds(check)["duplicates-within-class"]
    assert check.usable and finding.severity == "warning" and "2 extra copies" in finding.message
    assert {path.name for path in finding.paths} == {"cats03.png", "copy1.png", "copy2.png"}
    assert "duplicates-across-splits" not in kinds(check), "the doctor's split keeps copies on one side"
    for seed in range(20):  # whatever the seed, the three copies are on the same side
        train, val, _ = split_files(scan_image_folder(root), 0.3, seed)
        copies_in_val = sum(path.name in {"cats03.png", "copy1.png", "copy2.png"} for path, _ in val)
        assert copies_in_val in (0, 3) and len(train) + len(val) == 22
    assert snapshot(root) == before, "the doctor only reads"


def test_one_image_under_two_labels_is_left_out_or_refused_with_strict(tmp_path, capsys):
    root = photo_folder(tmp_path, {"cats": 6, "dogs": 6})
    shutil.copy(root / "cats" / "cats01.png", root / "dogs" / "maybe-a-dog.png")
    before = sorted((path, path.stat().st_mtime_ns) for path in root.rglob("*"))
    check = check_dataset(root)
    finding = kinds(check)["duplicates-across-classes"]
    assert check.usable and finding.severity == "warning" and "left out" in finding.message
    assert str(root / "cats" / "cats01.png") in finding.message and "maybe-a-dog.png" in finding.message
    assert sorted(check.left_out) == [root / "cats" / "cats01.png", root / "dogs" / "maybe-a-dog.png"]
    data = image_folder_datasets(root, image_size=(8, 8), validation_split=0.2, test_split=0.2)
    used = data.train.file_paths + data.val.file_paths + data.test.file_paths
    assert len(used) == 13 - 2 and not {"cats01.png", "maybe-a-dog.png"} & {Path(p).name for p in used}
    assert "left out 2 file(s) filed under two classes" in capsys.readouterr().out
    strict = check_dataset(root, strict=True)
    assert not strict.usable and kinds(strict)["duplicates-across-classes"].severity == "problem"
    with pytest.raises(DatasetFolderError, match="two labels"):
        image_folder_datasets(root, verbose=False, strict=True)
    assert sorted((path, path.stat().st_mtime_ns) for path in root.rglob("*")) == before, "no file is touched"


def test_the_same_file_in_train_and_val_folders_is_a_leak(tmp_path):
    photo_folder(tmp_path / "train", {"a": 5, "b": 5})
    photo_folder(tmp_path / "val", {"a": 2, "b": 2}, start=100)
    shutil.copy(tmp_path / "train" / "a" / "a00.png", tmp_path / "val" / "a" / "again.png")
    finding = kinds(check_dataset(tmp_path))["duplicates-across-splits"]
    assert finding.severity == "warning" and "both sides" in finding.message
    assert {path.parent.parent.name for path in finding.paths} == {"train", "val"}


def test_near_duplicates_resized_and_reencoded_are_found_when_asked(tmp_path):
    root = photo_folder(tmp_path, {"cats": 8, "dogs": 8})
    original = Image.open(root / "cats" / "cats02.png")
    original.resize((48, 48), Image.Resampling.LANCZOS).convert("RGB").save(root / "dogs" / "small.jpg", quality=80)
    assert "near-duplicates" not in kinds(doctor(root)), "optional: only with --near-duplicates"
    finding = kinds(doctor(root, near=True))["near-duplicates"]
    assert finding.severity == "warning" and "1 group(s)" in finding.message and "1 of them across classes" in (
        finding.message)
    assert {path.name for path in finding.paths} == {"cats02.png", "small.jpg"}
    distances = [bin(difference_hash(photo(1)) ^ difference_hash(photo(seed))).count("1") for seed in range(2, 30)]
    assert min(distances) > 4, "different pictures are far apart"


def test_folders_that_are_not_classes_are_problems(tmp_path):
    root = photo_folder(tmp_path, {"cloudy": 6, "rain": 6, "shine": 6, "test_dataset": 0})
    seed = 500
    for name in ("cloudy_1", "rain_2", "shine_3", "rain_4"):  # a flat folder of files named after classes
        seed += 1
        Image.fromarray(photo(seed)).save(root / "test_dataset" / f"{name}.png")
    found = kinds(check_dataset(root))
    assert found["split-folder-as-class"].severity == "problem" and "test_dataset" in found[
        "split-folder-as-class"].message
    other = photo_folder(tmp_path / "other", {"cloudy": 6, "rain": 6, "mixed": 0})
    for i, name in enumerate(("cloudy_1", "rain_2", "cloudy_3", "rain_4")):
        Image.fromarray(photo(600 + i)).save(other / "mixed" / f"{name}.png")
    finding = kinds(check_dataset(other))["mixed-folder-as-class"]
    assert finding.severity == "problem" and "'mixed'" in finding.message and "cloudy, rain" in finding.message
    assert "mixed-folder-as-class" not in kinds(check_dataset(photo_folder(tmp_path / "ok", {"cat": 4, "cats": 4})))


def test_imbalance_reports_the_ratio_and_the_class_weights(tmp_path):
    check = check_dataset(photo_folder(tmp_path, {"common": 50, "rare": 5}))
    finding = kinds(check)["imbalance"]
    assert check.usable and finding.severity == "warning" and "10.0 times" in finding.message
    assert "common 0.55" in finding.message and "rare 5.5" in finding.message
    assert class_weights({"a": 10, "b": 10}) == {"a": 1.0, "b": 1.0}
    mild = kinds(check_dataset(photo_folder(tmp_path / "mild", {"a": 20, "b": 10})))["imbalance"]
    assert mild.severity == "info"


def test_file_kinds_disguised_animated_and_small_are_infos(tmp_path):
    root = photo_folder(tmp_path, {"a": 4, "b": 4})
    Image.fromarray(photo(90)).save(root / "a" / "really-a-png.jpg", format="PNG")
    frames = [Image.fromarray(photo(91 + i)) for i in range(3)]
    frames[0].save(root / "b" / "moving.gif", save_all=True, append_images=frames[1:])
    write_kind(root / "b" / "tiny.png", "png", variant=7)  # 16 x 12 pixels
    found = kinds(doctor(root))
    assert found["content-not-extension"].severity == "info" and "really-a-png.jpg (PNG)" in found[
        "content-not-extension"].message
    assert [p.name for p in found["animated"].paths] == ["moving.gif"]
    assert [p.name for p in found["small-images"].paths] == ["tiny.png"] and "16x12" in found["small-images"].message
    assert check_dataset(root).usable


def test_report_file_csv_and_json_one_row_per_finding(tmp_path):
    root = photo_folder(tmp_path / "data", {"cats": 6, "dogs": 6})
    shutil.copy(root / "cats" / "cats01.png", root / "dogs" / "dup.png")
    check = check_dataset(root, strict=True)
    rows = list(csv.DictReader(write_findings(check.findings, tmp_path / "out" / "findings.csv").open()))
    assert len(rows) == len(check.findings) and rows[0]["severity"] == "problem"
    assert rows[0]["kind"] == "duplicates-across-classes" and "dup.png" in rows[0]["files"]
    data = json.loads(write_findings(check.findings, tmp_path / "findings.json").read_text())
    assert data[0]["files"] == [str(p) for p in check.findings[0].paths]


def test_check_dataset_command_writes_the_report_and_exits_1_on_problems(tmp_path, capsys):
    root = photo_folder(tmp_path / "data", {"cats": 6, "dogs": 6, "val": 6})
    before = snapshot(root)
    status = main(["check-dataset", str(root), "--near-duplicates", "--report", str(tmp_path / "findings.json")])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "problem: class folder 'val' is named like a split" in out and "usable: no" in out
    assert "image files read in" in out and "findings written to" in out
    assert [row["kind"] for row in json.loads((tmp_path / "findings.json").read_text())] == ["split-folder-as-class"]
    assert snapshot(root) == before


def test_reading_a_large_folder_shows_progress(tmp_path, capsys):
    root = photo_folder(tmp_path, {"cats": 6, "dogs": 6})
    seen = []
    check = check_dataset(root, progress=lambda results, total: seen.append(total) or results)
    assert check.usable and seen == [12], "the stream of 12 files is handed to the progress bar"
    assert progress_bar(iter([1, 2]), 2) is not None and list(progress_bar(iter([1, 2]), 2)) == [1, 2]
    assert list(progress_bar(iter(range(3)), 3, many=3)) == [0, 1, 2]
    assert "reading" in capsys.readouterr().err, "from `many` files on, a bar on stderr"
