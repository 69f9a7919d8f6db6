"""utils.predict and utils.gradcam: top-k in batches, bad files reported, heat maps for flat and nested models."""

from pathlib import Path

import keras
import numpy as np
import pytest
from image_files import ENDINGS, GOOD_KINDS, write_bad, write_kind

from utils import predict, transfer
from utils.cli import predict as predict_command
from utils.gradcam import gradcam
from utils.images import in_threads
from utils.settings import OFFLINE_BACKBONE


class CountingModel(keras.Model):
    """A tiny classifier (mean colour -> 3 classes) that counts its calls."""

    def __init__(self):
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
        super().__init__(inputs, keras.layers.Dense(3, activation="softmax")(x))
        self.calls = 0

    def predict_on_batch(self, x):
        self.calls += 1
        return super().predict_on_batch(x)


def test_top_k_sorts_and_names():
    labels, values = predict.top_k([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], ["a", "b", "c"], k=2)
    assert labels == [["b", "c"], ["a", "c"]]
    np.testing.assert_allclose(values, [[0.6, 0.3], [0.5, 0.3]])


def test_image_paths_expand_folders_and_keep_files_as_given(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt", "sub/c.gif", ".hidden/d.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = predict.image_paths([tmp_path, tmp_path / "missing.jpg"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.jpg", "b.png", "sub/c.gif", "missing.jpg"]


def test_defaults_include_the_sample_photos():
    names = [path.name for path in predict.default_images()]
    assert {"china.jpg", "flower.jpg", "grace_hopper.jpg"} <= set(names)


def test_reading_in_threads_keeps_order_and_reasons_and_reading_rate_counts_every_file(tmp_path):
    paths = [write_kind(tmp_path / f"{i}.png", "png") for i in range(5)]
    bad = write_bad(tmp_path / "broken.jpg", "truncated_jpeg")
    flat = list(in_threads(lambda path: predict.read_image(path, (8, 8)), [paths[0], bad, *paths[1:]], ahead=2))
    assert [path for path, _, _ in flat] == [paths[0], bad, *paths[1:]]
    assert [image.shape for _, image, reason in flat if reason is None] == [(8, 8, 3)] * 5
    assert "truncated" in flat[1][2] and flat[1][1] is None
    assert predict_command.reading_rate([*paths, bad], (8, 8)) > 0
    assert predict_command.shared_ceiling(600.0, 300.0) == pytest.approx(200.0)  # 1/600 + 1/300 seconds per image


def test_predict_files_batches_and_reports_bad_files(tmp_path):
    paths = [write_kind(tmp_path / f"{i:02d}-{kind}{ENDINGS.get(kind, '.png')}", kind)
             for i, kind in enumerate(GOOD_KINDS)]  # every image mode users have
    bad = write_bad(tmp_path / "broken.jpg", "truncated_jpeg")
    model = CountingModel()
    predictor = predict.Predictor(model=model, class_names=["x", "y", "z"], name="tiny")
    predictions, failures = predict.predict_files(predictor, [*paths[:5], bad, *paths[5:], tmp_path / "gone.png"],
                                                  k=2, batch_size=4, progress=False, keep_images=True)
    assert [p.path for p in predictions] == paths  # every readable file, in order
    assert [(path.name, "truncated" in reason) for path, reason in failures[:1]] == [("broken.jpg", True)]
    assert failures[1][0].name == "gone.png" and "no such file" in failures[1][1]
    assert model.calls == 3  # 12 files in batches of 4, not one call per image
    for p in predictions:
        assert len(p.labels) == 2 and p.probabilities[0] >= p.probabilities[1] and p.image.shape == (8, 8, 3)
    single, single_failures = predict_command.predict_one_by_one(predictor, [*paths[:3], bad], k=2)
    assert [p.labels for p in single] == [p.labels for p in predictions[:3]] and len(single_failures) == 1
    table = predict.predictions_table(predictions, k=2)
    assert list(table.columns) == ["image", "top-1", "top-2"] and len(table) == len(paths)
    assert table["image"].tolist() == [path.name for path in paths]


def test_missing_model_and_bad_model_names():
    with pytest.raises(predict.ModelNotAvailable, match="notebook 03"):
        predict.load_predictor(Path("models/none.keras"))
    with pytest.raises(ValueError, match="backbone key"):
        predict.load_predictor("resnet9000")


def test_a_model_saved_elsewhere_predicts_with_labels_or_class_indices(cli, tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)).save(tmp_path / "theirs.keras")  # no JSON
    plain = predict.load_predictor(tmp_path / "theirs.keras")
    assert plain.class_names == ["class 0", "class 1", "class 2"] and "--labels" in plain.info["note"]
    (tmp_path / "labels.txt").write_text("apple\nbanana\n\ncherry\n")
    assert predict.load_predictor(tmp_path / "theirs.keras", tmp_path / "labels.txt").class_names == [
        "apple", "banana", "cherry"]
    (tmp_path / "two.txt").write_text("apple\nbanana\n")
    with pytest.raises(ValueError, match=r"names 2 classes but theirs\.keras has 3 outputs"):
        predict.load_predictor(tmp_path / "theirs.keras", tmp_path / "two.txt")
    with pytest.raises(FileNotFoundError, match="cannot read it"):
        predict.load_predictor(tmp_path / "theirs.keras", tmp_path / "none.txt")
    write_kind(tmp_path / "fruit.png", "png")
    result = cli("predict", tmp_path / "fruit.png", "--model", tmp_path / "theirs.keras", "--labels",
                 tmp_path / "labels.txt", "--top", "3")
    assert result.returncode == 0, result.stderr
    assert {"apple", "banana", "cherry"} <= set(result.stdout.split()) and "note:" not in result.stderr
    result = cli("predict", tmp_path / "fruit.png", "--model", tmp_path / "theirs.keras")
    assert result.returncode == 0 and "class 2" in result.stdout and "note:" in result.stderr
    result = cli("predict", tmp_path / "fruit.png", "--model", tmp_path / "theirs.keras", "--min-confidence", "0.99",
                 "--csv", tmp_path / "p.csv")
    assert result.returncode == 0 and "(unsure: top-1 below 0.99)" in result.stdout  # untrained: far below
    assert "1 of 1 unsure" in result.stdout and (tmp_path / "p.csv").read_text().splitlines()[1].endswith(",yes")


def test_gradcam_on_a_flat_cnn_highlights_the_evidence():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    x = keras.layers.GlobalMaxPooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    images = np.zeros((2, 16, 16, 3), "float32")
    images[:, 2:6, 10:14] = 255  # the only bright patch
    heatmaps = gradcam(model, images)
    assert heatmaps.shape == (2, 16, 16) and heatmaps.min() >= 0 and heatmaps.max() <= 1 + 1e-6
    assert heatmaps[0, 2:6, 10:14].mean() > heatmaps[0, 10:, :6].mean()  # max pooling only sees the patch


def test_gradcam_reaches_inside_a_nested_backbone():
    model, _ = transfer.build_classifier("mobilenet_v1_025", 3, (32, 32, 3), 64, weights=None)
    heatmaps = gradcam(model, np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)), class_indices=[0, 2])
    assert heatmaps.shape == (2, 32, 32) and np.isfinite(heatmaps).all() and heatmaps.max() <= 1 + 1e-6


@pytest.mark.needs_imagenet_weights
def test_imagenet_predictor_knows_grace_hopper():
    imagenet = predict.load_predictor(OFFLINE_BACKBONE)
    assert imagenet.image_size == (224, 224) and len(imagenet.class_names) == 1000
    photo = next(path for path in predict.default_images() if path.name == "grace_hopper.jpg")
    [prediction], failures = predict.predict_files(imagenet, [photo], k=5)
    assert not failures and "military_uniform" in prediction.labels


def test_gradcam_and_predictions_work_on_a_model_with_test_time_augmentation(tmp_path):
    from utils import cnn, saving

    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype("uint8")
    model = cnn.tta_model(cnn.recipe_cnn(images, {**cnn.RECIPE, "widths": (8, 8, 8)}, 3))
    heatmaps = gradcam(model, images[:2])
    assert heatmaps.shape == (2, 32, 32) and np.isfinite(heatmaps).all() and heatmaps.max() <= 1 + 1e-6
    path = saving.save_model(model, tmp_path / "cnn.keras", ["a", "b", "c"], recipe="fast")
    predictor = predict.load_predictor(path)
    assert predictor.image_size == (32, 32)
    image = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(images[0]).save(image)
    [prediction], failures = predict.predict_files(predictor, [image], k=3)
    assert not failures and sorted(prediction.labels) == ["a", "b", "c"]
    assert abs(sum(prediction.probabilities) - 1) < 1e-4


def test_the_upload_cell_shows_one_button_that_waits_for_no_one(monkeypatch, capsys):
    import ipywidgets

    from utils import upload

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects: shown.extend(objects))
    monkeypatch.setenv("QUICK", "1")  # as the README suggests for starting Jupyter: the button is still there
    assert upload.upload_and_predict({"a model": object()}, k=5) is None, "no Out[] echo of the widget"
    assert len(shown) == 1 and isinstance(shown[0].children[0], ipywidgets.FileUpload)
    assert "Upload one or more pictures" in capsys.readouterr().out
