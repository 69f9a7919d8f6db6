"""utils.export and ``python -m utils export-model``: every format written, run with its own runtime and compared."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from utils import cnn, export, transfer
from utils.saving import save_model
from utils.settings import precision

CLASSES = ["red", "green", "blue"]


def images_folder(root, size=32, per_class=8):
    """Noisy images, one sub-folder per class of CLASSES: the held-out images to verify on."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.normal(60, 30, (size, size, 3))
            pixels[..., label] += 120
            Image.fromarray(pixels.clip(0, 255).astype("uint8")).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def mixed_cnn(tmp_path_factory):
    """Notebook 02's recipe network, narrow, trained in mixed bfloat16 precision, with its test-time augmentation."""
    folder = tmp_path_factory.mktemp("cnn")
    x = np.random.default_rng(1).integers(0, 256, (64, 32, 32, 3)).astype("uint8")
    with precision("mixed_bfloat16"):
        network = cnn.recipe_cnn(x, {**cnn.RECIPE, "widths": (8, 16, 16)}, len(CLASSES))
    return save_model(cnn.tta_model(network, 6), folder / "mixed.keras", CLASSES)


def test_float32_copy_computes_in_float32_with_the_same_weights(mixed_cnn):
    import keras

    model = keras.models.load_model(mixed_cnn)
    assert export.mixed_precision(model)
    copy = export.float32_copy(model)
    assert not export.mixed_precision(copy)
    x = np.random.default_rng(2).integers(0, 256, (16, 32, 32, 3)).astype("float32")
    assert np.allclose(copy.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.05), "bfloat16 rounding only"
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), model.get_weights(), strict=True))


def test_export_model_writes_every_format_and_each_agrees_with_keras(cli, mixed_cnn, tmp_path):
    held_out = images_folder(tmp_path / "held_out")
    formats = [argument for fmt in export.FORMATS for argument in ("--format", fmt)]
    result = cli("export-model", str(mixed_cnn), *formats, "--images", str(held_out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "computes in mixed precision: exported from a float32 copy" in result.stdout
    for fmt in export.FORMATS:
        path = export.default_path(mixed_cnn, fmt)
        assert path.exists() and f"wrote {path}" in result.stdout
    assert "input image: (None, 32, 32, 3) float32" in result.stdout  # the SavedModel's signature
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in export.FORMATS}
    assert set(rows) == set(export.FORMATS), result.stdout
    for fmt in ("savedmodel", "litert", "onnx"):  # float32 files: the float32 model's answers
        assert float(rows[fmt][2]) == 1.0 and float(rows[fmt][3]) < 1e-4, rows[fmt]
    assert float(rows["litert-float16"][2]) >= 0.9 and float(rows["litert-int8"][2]) >= 0.6, "close, not equal"
    assert export.size_mb(export.default_path(mixed_cnn, "litert-int8")) < export.size_mb(
        export.default_path(mixed_cnn, "litert")), "8-bit weights are smaller"


def test_each_runtime_takes_raw_rgb_and_gives_probabilities(mixed_cnn, tmp_path):
    import keras

    model = export.float32_copy(keras.models.load_model(mixed_cnn))
    x = np.random.default_rng(3).integers(0, 256, (5, 32, 32, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    for fmt in ("savedmodel", "litert", "onnx"):
        path = export.export(model, tmp_path / ("m" + export.FORMATS[fmt]), fmt)
        predict, signature = export.runtime(path, fmt)
        assert signature.startswith(("image", "serving_default_image")), signature
        assert np.allclose(predict(x), expected, atol=1e-5) and np.allclose(predict(x[:1]), expected[:1], atol=1e-5)
    assert sorted(item.name for item in tmp_path.iterdir()) == ["m.onnx", "m.tflite", "m_savedmodel"], "no leftovers"


def test_a_transfer_model_with_resizing_and_augmentation_exports_to_litert_and_onnx(tmp_path):
    model, _ = transfer.build_classifier("mobilenet_v1_025", 2, (48, 48, 3), 64, rotation=0.05, zoom=0.1,
                                         weights=None)
    x = np.random.default_rng(4).integers(0, 256, (4, 48, 48, 3)).astype("float32")
    expected = model.predict(x, verbose=0)  # augmentation is off outside training: the files do the same
    for fmt in ("litert", "onnx"):
        predict, _ = export.runtime(export.export(model, tmp_path / ("t" + export.FORMATS[fmt]), fmt), fmt)
        assert np.allclose(predict(x), expected, atol=1e-4), fmt


def test_bad_input_gets_one_line_exit_2_and_leaves_nothing(cli, mixed_cnn, tmp_path, monkeypatch):
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    result = cli("export-model", str(text))
    assert result.returncode == 2 and "is not a .keras model file" in result.stderr and str(text) in result.stderr
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 cut off")
    result = cli("export-model", str(broken))
    assert result.returncode == 2 and "could not be read as a Keras model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    result = cli("export-model", str(mixed_cnn), "--format", "coreml")
    assert result.returncode == 2 and "invalid choice: 'coreml'" in result.stderr

    def fails(self, filepath, format="tf_saved_model", **kwargs):
        Path(filepath).write_text("half")  # what a converter leaves when it stops half-way
        raise RuntimeError("'tfl.custom' op is neither a custom op nor a flex op")

    monkeypatch.setattr("keras.Model.export", fails)
    out = tmp_path / "out"
    out.mkdir()
    result = cli("export-model", str(mixed_cnn), "--format", "litert", "--output", str(out / "m.tflite"),
                 "--images", str(images_folder(tmp_path / "held_out")))
    assert result.returncode == 2, result.stdout[-2000:]
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and str(mixed_cnn) in line and "litert export failed" in line
    assert "try another format" in line and list(out.iterdir()) == [], "nothing half-written"
