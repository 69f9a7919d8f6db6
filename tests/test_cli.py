"""python -m utils: the commands run and fail with one clear line (in this process: ``cli`` of conftest.py)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from conftest import ctrl_c_when
from image_files import write_bad, write_kind

from utils.settings import OFFLINE_BACKBONE, REPO_ROOT


def test_info_reports_the_environment(cli):
    result = cli("info", env={"QUICK": "1"})
    assert result.returncode == 0, result.stderr
    for label in ("tensorflow", "keras", "accelerator", "quick mode", "CIFAR-10 from"):
        assert label in result.stdout
    assert "on (QUICK=1)" in result.stdout


def test_cifar10_with_a_missing_copy_fails_with_one_line(cli, tmp_path):
    result = cli("cifar10", "--source", str(tmp_path / "missing.tar.gz"))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "missing.tar.gz does not exist" in errors[0]
    assert "Traceback" not in result.stderr


def test_python_dash_m_utils_is_the_entry_point_in_a_fresh_interpreter():
    result = subprocess.run([sys.executable, "-m", "utils", "info"], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=300)
    assert result.returncode == 0 and "accelerator" in result.stdout, result.stderr
    assert result.stderr == "", "TensorFlow's start-up log is kept out of the user's terminal"


def test_unknown_command_is_a_usage_error(cli):
    result = cli("fly")
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.needs_cifar10
def test_train_quick_run_reports_and_saves(cli, tmp_path):
    path = tmp_path / "cnn.keras"
    result = cli("train", "--recipe", "fast", "--epochs", "2", "--save", str(path), "--verbose", "2",
                 "--set", "widths=(16,64,64)", env={"QUICK": "1"})  # a narrow network: the behaviour, not the figure
    assert result.returncode == 0, result.stderr[-2000:]
    assert "utils/cnn.py, the code of notebook 02" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"test_accuracy=(0\.\d{4}) train_seconds=(\d+) params=(\d+)", last)
    assert match, last
    assert float(match.group(1)) > 0.2  # 10 classes: chance is 0.1
    assert "Epoch 2/2" in result.stdout and "trained 2.0 epochs of batches of 256" in result.stdout
    ruler = re.search(r"training cost: ([\d.]+) GFLOP per training image \(three forward passes of ([\d.]+)\), "
                      r"([\d.]+) PFLOP in all \(([\d,]+) images seen\)", result.stdout)
    assert ruler, "the ruler: FLOPs per image and in all"
    per_image, forward, total, seen = (float(group.replace(",", "")) for group in ruler.groups())
    assert per_image == 0.061 and per_image == pytest.approx(3 * forward, abs=0.002), "widths 16/64/64, counted"
    assert seen == 2 * 4608 and total == pytest.approx(per_image * seen / 1e6, abs=0.0005)
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["class_names"][0] == "airplane" and info["test_accuracy"] == float(match.group(1))
    assert "training on 4800 images" in result.stdout  # 200 of the 5,000 held out to fit the temperature on
    temperature = float(re.search(r"calibrated: temperature ([\d.]+) fitted on 200 training images held out",
                                  result.stdout)[1])
    assert info["temperature"] == pytest.approx(temperature, abs=1e-3)
    assert path.stat().st_size > 0


@pytest.mark.needs_cifar10
def test_ctrl_c_during_cifar10_training_keeps_evaluates_and_saves_the_model_so_far(tmp_path):
    path = tmp_path / "cnn.keras"
    # a real Ctrl-C (SIGINT) to a real `python -m utils train` during its third epoch
    returncode, out = ctrl_c_when(["train", "--recipe", "fast", "--epochs", "100", "--save", str(path),
                                   "--verbose", "2", "--set", "widths=(16,64,64)"], "Epoch 3/")
    assert returncode == 130, out[-3000:]
    assert "Ctrl-C: stopping after this step" in out and "Traceback" not in out
    assert re.search(r"^test_accuracy=0\.\d{4} ", out, re.MULTILINE) and "interrupted: the figures above" in out
    assert keras.models.load_model(path).output_shape == (None, 10), "the model so far is saved"
    assert "Epoch 4/" not in out


@pytest.mark.needs_cifar10
def test_train_on_the_validation_split_never_reports_test_accuracy_and_calibrates(cli, tmp_path):
    path = tmp_path / "baseline.keras"
    result = cli("train", "--recipe", "baseline", "--epochs", "1", "--validation", "--verbose", "0",
                 "--save", str(path), env={"QUICK": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "evaluating on 1000 validation images" in result.stdout
    assert re.fullmatch(r"validation_accuracy=0\.\d{4} train_seconds=\d+ params=\d+",
                        result.stdout.strip().splitlines()[-1])
    assert "test_accuracy" not in result.stdout
    temperature = float(re.search(r"calibrated: temperature ([\d.]+) fitted on 1000 validation images",
                                  result.stdout)[1])
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["temperature"] == pytest.approx(temperature, abs=1e-3) and temperature > 0
    model = keras.models.load_model(path)
    assert model.get_layer("temperature").scale == pytest.approx(1 / info["temperature"], rel=1e-3)


def test_train_refuses_a_bad_save_path_and_unknown_settings(cli):
    result = cli("train", "--save", "model.h5", env={"QUICK": "1"})
    assert result.returncode == 1 and "must end in .keras" in result.stderr
    result = cli("train", "--set", "width=(8,8,8)", env={"QUICK": "1"})
    assert result.returncode == 1 and "--set width: not a setting of the recipe; choose from widths" in result.stderr
    result = cli("train", "--without", "dropout", env={"QUICK": "1"})
    assert result.returncode == 1 and "--without dropout: no such ingredient" in result.stderr
    for options in (["--calibration-images", "-1"], ["--calibration-images", "100", "--validation"]):
        result = cli("train", *options, env={"QUICK": "1"})
        assert result.returncode == 1 and "--calibration-images takes 0 or more" in result.stderr


def test_benchmark_prints_a_rate_per_setting(cli):
    result = cli("benchmark", "--recipe", "baseline", "--steps", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("recipe=")]
    assert [line.split(" images_per_second=")[0] for line in lines] == [
        "recipe=baseline precision=float32 xla=off", "recipe=baseline precision=mixed_bfloat16 xla=off"]
    assert all(int(line.rsplit("=", 1)[1]) > 0 for line in lines)


def test_check_dataset_lists_problem_files_and_exits_0_when_usable(cli, messy_folder):
    from image_files import snapshot

    before = snapshot(messy_folder)
    result = cli("check-dataset", str(messy_folder))
    assert result.returncode == 0, result.stdout + result.stderr
    for name, count in (("cats", 10), ("dogs", 11), ("fish", 10)):
        assert re.search(rf"^  {name} +{count}$", result.stdout, re.MULTILINE), name
    assert "usable: yes" in result.stdout
    for name in ("cats/broken.jpg", "dogs/empty.png", "fish/fake.jpg", "cats/notes.txt", "cats/.thumbnails"):
        assert str(messy_folder / name) in result.stdout, name
    assert ".ipynb_checkpoints: hidden folder" in result.stdout
    assert cli("check-dataset", str(messy_folder), "--strict").returncode == 1
    assert snapshot(messy_folder) == before


def test_check_dataset_exits_1_on_problems_and_2_on_a_wrong_path(cli, messy_folder, tmp_path):
    for path in (messy_folder / "fish").iterdir():
        if path.name != "fake.jpg":
            path.rename(tmp_path / f"moved-{path.name}")  # fish keeps only its unreadable file
    result = cli("check-dataset", str(messy_folder))
    assert result.returncode == 1
    assert "problem:" in result.stdout and "fish hold no readable" in result.stdout and "usable: no" in result.stdout
    result = cli("check-dataset", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:") and "does not exist" in result.stderr


@pytest.mark.needs_imagenet_weights
def test_predict_reports_top_k_writes_csv_and_names_bad_files(cli, tmp_path):
    import csv


    folder = tmp_path / "new"
    (folder / "sub").mkdir(parents=True)
    write_kind(folder / "a.png", "rgba")
    write_kind(folder / "sub" / "b.jpg", "cmyk_jpeg")
    write_bad(folder / "c.jpg", "truncated_jpeg")
    (folder / "notes.txt").write_text("not an image\n")
    result = cli("predict", str(folder), "--model", OFFLINE_BACKBONE, "--top", "3", "--csv", str(tmp_path / "p.csv"),
                 "--benchmark")
    assert result.returncode == 1, result.stderr[-2000:]
    model, reading, ceiling, share = map(float, re.search(
        r"model alone runs ([\d.]+) images/s.*\n.*reading the files alone .* runs ([\d.]+) images/s; .* at most "
        r"([\d.]+) images/s, and this run reached (\d+)% of that", result.stdout).groups())
    assert model > 0 and reading > 0 and ceiling == pytest.approx(1 / (1 / model + 1 / reading), abs=0.1)
    rate = float(re.search(r"predicted with .* \(([\d.]+) images/s", result.stdout).group(1))
    assert share == pytest.approx(100 * rate / ceiling, abs=0.5 + 10 / ceiling), "rounded to 1 %"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(folder / "c.jpg") in errors[0] and "truncated" in errors[0]
    assert re.search(r"^  3\. \S+ +0\.\d{4}$", result.stdout, re.MULTILINE) and "  4. " not in result.stdout
    assert "2 image(s) predicted" in result.stdout and "1 failed" in result.stdout
    with open(tmp_path / "p.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(Path(r["path"]).name, r["rank"]) for r in rows] == [("a.png", "1"), ("a.png", "2"), ("a.png", "3"),
                                                                  ("b.jpg", "1"), ("b.jpg", "2"), ("b.jpg", "3")]
    assert all(0 <= float(r["probability"]) <= 1 for r in rows)


@pytest.mark.needs_imagenet_weights
def test_predict_defaults_and_usage_errors(cli, tmp_path):
    result = cli("predict", "--model", OFFLINE_BACKBONE, "--top", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "grace_hopper.jpg" in result.stdout and "drawn_sunset_rgba.png" in result.stdout
    missing = cli("predict", "--model", str(tmp_path / "none.keras"))
    assert missing.returncode == 2 and "No model at" in missing.stderr and "Traceback" not in missing.stderr
    assert cli("predict", "--top", "0").returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("predict", str(empty), "--model", OFFLINE_BACKBONE).returncode == 2


@pytest.mark.needs_imagenet_weights
def test_predict_on_many_files_shows_a_few_then_a_progress_bar_unless_verbose(cli, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(25):
        write_kind(folder / f"{i:02d}.png", "png", variant=i)
    result = cli("predict", str(folder), "--model", OFFLINE_BACKBONE, "--top", "2", "--csv", str(tmp_path / "p.csv"))
    assert result.returncode == 0, result.stderr[-2000:]
    printed = re.findall(r"^\S+\.png$", result.stdout, re.MULTILINE)
    assert len(printed) == 10 and "--verbose prints every file" in result.stdout
    assert "25 image(s) predicted" in result.stdout and "predicting" in result.stderr, "a progress bar on stderr"
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 1 + 25 * 2, "the CSV has every file"
    verbose = cli("predict", str(folder), "--model", OFFLINE_BACKBONE, "--top", "2", "--verbose")
    assert len(re.findall(r"^\S+\.png$", verbose.stdout, re.MULTILINE)) == 25 and "predicting" not in verbose.stderr
