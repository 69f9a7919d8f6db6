"""`python -m utils train --data DIR`: a folder the test makes trains end to end, writes its report, and
`predict` on the validation files reproduces the validation accuracy that training reported."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ctrl_c_when
from PIL import Image

from utils.folders import scan_image_folder, split_files


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setenv("QUICK", "1")


def class_folder(root, classes: int, per_class: int, size: int = 150):
    """``classes`` classes told apart by colour and stripe direction, ``per_class`` noisy 150 x 150 images each."""
    rng = np.random.default_rng(0)
    for label in range(classes):
        folder = root / f"class_{label:02d}"
        folder.mkdir(parents=True)
        colour = np.array([(label * 53) % 256, (label * 97) % 256, (label * 31) % 256])
        for i in range(per_class):
            ramp = np.linspace(0, 1, size)[None, :, None] if label % 2 else np.linspace(0, 1, size)[:, None, None]
            pixels = colour * (0.5 + 0.5 * ramp) + rng.normal(0, 12, (size, size, 3))
            Image.fromarray(pixels.clip(0, 255).astype("uint8")).save(folder / f"{i}.jpg", quality=90)
    return root


@pytest.mark.needs_imagenet_weights
def test_a_50_class_folder_trains_reports_and_predicts_like_validation(cli, tmp_path):
    root = class_folder(tmp_path / "shapes", classes=50, per_class=5)
    model = tmp_path / "out" / "shapes.keras"
    result = cli("train", "--data", str(root), "--backbone", "mobilenet_v1_025", "--epochs", "3",
                 "--fine-tune-epochs", "1", "--save", str(model), "--verbose", "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"test_accuracy=0\.\d{4} val_accuracy=0\.\d{4} train_seconds=\d+ classes=50 images=250",
                        last), "the held-out test accuracy leads: " + last
    assert "usable: yes" in result.stdout, "the dataset doctor ran first"
    report = tmp_path / "out" / "shapes_report"
    for name in ("curves.png", "confusion_matrix.png", "confused_pairs.csv", "per_class.csv", "per_class.txt",
                 "mistakes.csv", "summary.json", "test_per_class.txt", "test_confusion_matrix.png"):
        assert (report / name).stat().st_size > 0, name
    rows = list(csv.DictReader((report / "per_class.csv").open()))
    assert len(rows) == 50 and {"precision", "recall", "f1-score", "support"} <= set(rows[0])
    summary = json.loads((report / "summary.json").read_text())
    assert summary["settings"]["backbone"] == "mobilenet_v1_025" and summary["settings"]["image_size"] == 96
    mistakes = list(csv.DictReader((report / "mistakes.csv").open()))
    assert all(Path(row["file"]).exists() for row in mistakes), "mistakes are listed with paths a user can open"
    test_accuracy, validation_accuracy = (float(part.split("=")[1]) for part in last.split()[:2])
    assert validation_accuracy > 3 / 50 and test_accuracy > 0, "clearly better than chance (0.02)"
    assert list(summary)[:3] == ["settings", "train_seconds", "classes"] and summary["test_accuracy"] == test_accuracy
    assert not (tmp_path / "out" / "shapes_backup").exists(), "a finished run removes its own backup"

    _, validation, test = split_files(scan_image_folder(root), 0.2, test_split=0.15)  # the files training held out
    assert len(validation) == 50 and len(test) == 50 and not {p for p, _ in validation} & {p for p, _ in test}
    predictions = tmp_path / "predictions.csv"
    predicted = cli("predict", *[str(path) for path, _ in validation], "--model", str(model), "--top", "1",
                    "--csv", str(predictions))
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    top1 = {row["path"]: row["label"] for row in csv.DictReader(predictions.open()) if row["rank"] == "1"}
    correct = [top1[str(path)] == path.parent.name for path, _ in validation]
    assert abs(np.mean(correct) - validation_accuracy) < 1e-9, "predict must see the files as training did"


def test_train_data_errors_are_one_line(cli, tmp_path):
    result = cli("train", "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "a").mkdir()
    (tmp_path / "test").mkdir()
    for i in range(6):
        Image.new("RGB", (40, 40), (i * 40, 0, 0)).save(tmp_path / "a" / f"{i}.png")
        Image.new("RGB", (40, 40), (0, i * 40, 0)).save(tmp_path / "test" / f"{i}.png")
    result = cli("train", "--data", str(tmp_path), "--backbone", "mobilenet_v1_025")
    assert result.returncode == 1 and "named like a split" in result.stderr and "Traceback" not in result.stderr
    result = cli("train", "--data", str(tmp_path), "--recipe", "baseline")
    assert result.returncode == 1 and "--data trains --recipe transfer" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_fast_recipe_trains_on_a_folder_at_32_pixels(cli, tmp_path):
    root = class_folder(tmp_path / "two", classes=2, per_class=40, size=48)
    model = tmp_path / "fast.keras"
    result = cli("train", "--data", str(root), "--recipe", "fast", "--epochs", "2", "--save", str(model),
                 "--verbose", "0", "--test-split", "0")  # 80 images are few enough: all but validation train
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"val_accuracy=(0|1)\.\d{4} train_seconds=\d+ classes=2 images=80", last), last
    summary = json.loads((tmp_path / "fast_report" / "summary.json").read_text())
    assert summary["settings"]["recipe"] == "fast" and summary["settings"]["image_size"] == 32
    assert float(last.split()[0].split("=")[1]) >= 0.75, "two colours, stripes across or down: easy"


@pytest.mark.needs_imagenet_weights
def test_ctrl_c_keeps_the_best_model_and_resume_continues_from_the_last_epoch(cli, tmp_path):
    root = class_folder(tmp_path / "colours", classes=3, per_class=20, size=64)
    model = tmp_path / "out" / "colours.keras"
    command = ["train", "--data", str(root), "--backbone", "mobilenet_v1_025", "--image-size", "64",
               "--fine-tune-epochs", "0", "--patience", "0", "--save", str(model), "--verbose", "2"]
    # a real Ctrl-C (SIGINT) to a real `python -m utils` process, after its second epoch
    returncode, out = ctrl_c_when([*command, "--epochs", "200"], "Epoch 3/", timeout=120)  # 1 and 2 backed up
    assert returncode == 130, out[-3000:]
    assert "Ctrl-C: stopped during stage 1: head" in out and "--resume" in out.splitlines()[-1]
    assert "Traceback" not in out
    info = json.loads(model.with_suffix(".json").read_text())
    assert info["interrupted"].startswith("stage 1: head, after ") and "test_accuracy" in info
    assert json.loads((tmp_path / "out" / "colours_report" / "summary.json").read_text())["interrupted"]
    backup = tmp_path / "out" / "colours_backup"
    assert (backup / "stage1").is_dir(), "BackupAndRestore's files stay for --resume"

    again = cli(*command, "--epochs", "200")
    assert again.returncode == 1 and "add --resume" in again.stderr, "a second run never overwrites the backup"
    resumed = cli(*command, "--epochs", "4", "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    epochs = re.findall(r"^Epoch (\d+)/4", resumed.stdout, re.MULTILINE)
    assert epochs and int(epochs[0]) >= 3, f"resumed after the epochs already done, not from 1: {epochs}"
    assert not backup.exists() and "interrupted" not in json.loads(model.with_suffix(".json").read_text())
