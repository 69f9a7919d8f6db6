"""utils.cnn (notebook 02's #@save cells): the models take raw pixels, train, save and load with plain Keras."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from utils import cnn, evaluation, saving


def tiny_data(count=256, seed=0):
    """Two easy classes: bright images are class 1, dark ones class 0 (learnable in a few steps)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = np.where(labels[:, None, None, None] == 1, 200, 40) + rng.integers(-30, 30, (count, 32, 32, 3))
    return images.clip(0, 255).astype(np.uint8), labels.reshape(-1, 1).astype(np.uint8)


def accuracy(model, images, labels):
    return evaluation.evaluate(evaluation.predict_proba(model, images), labels, ["dark", "bright"]).accuracy


@pytest.mark.parametrize("build", [lambda images: cnn.baseline_cnn(10), lambda images: cnn.fast_cnn(images, 10)],
                         ids=["baseline", "fast"])
def test_models_take_raw_pixels_and_output_probabilities(build):
    images, _ = tiny_data(8)
    model = build(images)
    probabilities = np.asarray(model(images.astype("float32"), training=False))
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    assert model.input_shape == (None, 32, 32, 3)


def test_fast_cnn_is_made_of_the_named_pieces_and_its_stem_is_frozen_whitening():
    images, _ = tiny_data(64)
    model = cnn.fast_cnn(images, 10, widths=(8, 16, 16))
    names = [layer.name for layer in model.layers]
    assert names[1:5] == ["augment_flip", "augment_shift", "normalize", "stem_whitening"]
    assert [name for name in names if name.endswith("_conv1")] == ["block1_conv1", "block2_conv1", "block3_conv1"]
    stem = model.get_layer("stem_whitening")
    assert not stem.trainable and stem.kernel.shape == (2, 2, 3, 24)
    assert model.get_layer("block3_conv2").kernel.shape[-1] == 16
    assert {w.path.split("/")[0] for w in model.trainable_weights}.isdisjoint({"stem_whitening"})


def test_baseline_trains_and_learns():
    images, labels = tiny_data()
    model = cnn.baseline_cnn(2)
    history = cnn.train_baseline(model, images, labels, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and history.history["loss"][-1] < history.history["loss"][0]
    assert accuracy(model, images, labels) > 0.9


def test_fast_recipe_trains_learns_and_records_its_budget():
    images, labels = tiny_data(512)
    model = cnn.fast_cnn(images, 2, widths=(8, 16, 16))
    history = cnn.train_fast(model, images, labels, validation_data=(images[:64], labels[:64]), epochs=3,
                             batch_size=64, verbose=0)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.nesterov and optimizer.weight_decay == 5e-4
    assert model.loss.label_smoothing == 0.2
    assert history.history["epochs_done"] == [1.0, 2.0, 3.0] and history.history["seconds"][-1] > 0
    assert history.history["learning_rate"][-1] < 0.05 * 0.4 * 64 / 256, "decayed to (nearly) zero at the end"
    assert "val_accuracy" in history.history and accuracy(model, images, labels) > 0.9


def test_time_budget_ends_the_fast_recipe_on_time(capsys):
    images, labels = tiny_data(512)
    model = cnn.fast_cnn(images, 2, widths=(8, 16, 16))
    history = cnn.train_fast(model, images, labels, minutes=0.25, batch_size=64, verbose=1)
    output = capsys.readouterr().out
    assert "Epoch 1/?" in output and "time budget: about" in output
    epochs, seconds = history.history["epochs_done"][-1], history.history["seconds"][-1]
    assert len(history.history["loss"]) >= 2 and len(history.history["loss"]) - 1 < epochs
    assert 0.25 * 60 <= seconds < 0.25 * 60 + 5  # the whole budget, then a stop within a step
    assert history.history["learning_rate"][-1] < 0.05 * 0.4 * 64 / 256  # decayed to its end


def test_learning_rate_schedule():
    assert cnn.learning_rate_at(0.0, 0.0) == pytest.approx(0.04)  # warm-up starts at a tenth of the peak
    assert cnn.learning_rate_at(0.05, 0.5) == pytest.approx(0.22)
    assert cnn.learning_rate_at(0.1, 1.0) == pytest.approx(0.36)  # then decays linearly with progress
    assert cnn.learning_rate_at(1.0, 12.0) == 0.0


def test_saved_model_loads_with_plain_keras_in_a_fresh_python(tmp_path):
    images, _ = tiny_data(64)
    model = cnn.fast_cnn(images, 2, widths=(8, 16, 16))
    path = saving.save_model(model, tmp_path / "sub" / "cnn.keras", ["dark", "bright"], recipe="fast")
    assert json.loads(path.with_suffix(".json").read_text()) == {"class_names": ["dark", "bright"], "recipe": "fast"}
    np.save(tmp_path / "images.npy", images)
    expected = model.predict(images, verbose=0)
    script = textwrap.dedent(f"""
        import sys, numpy as np, keras
        model = keras.models.load_model({str(path)!r})
        np.save({str(tmp_path / "out.npy")!r}, model.predict(np.load({str(tmp_path / "images.npy")!r}), verbose=0))
        assert not any(name.startswith("utils") for name in sys.modules), "plain Keras only"
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)
    _, names, info = saving.load_model(path)
    assert names == ["dark", "bright"] and info == {"recipe": "fast"}


def test_load_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="Train it first"):
        saving.load_model(tmp_path / "none.keras")
    with pytest.raises(ValueError, match=r"\.keras ending"):
        saving.save_model(None, tmp_path / "model.h5", ["a"])
    cnn.baseline_cnn(2).save(tmp_path / "bare.keras")
    with pytest.raises(FileNotFoundError, match="holds the class names"):
        saving.load_model(tmp_path / "bare.keras")
