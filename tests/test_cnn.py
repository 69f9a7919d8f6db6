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


def test_fast_cnn_is_made_of_the_named_pieces_with_a_frozen_whitening_stem_and_identity_convolutions():
    images, _ = tiny_data(64)
    model = cnn.fast_cnn(images, 10, widths=(32, 16, 16))
    names = [layer.name for layer in model.layers]
    assert names[1:4] == ["normalize", "stem_whitening", "stem_act"] and names[-3:] == [
        "logits", "logit_scale", "probabilities"]
    assert [name for name in names if name.endswith("_conv1")] == ["block1_conv1", "block2_conv1", "block3_conv1"]
    stem = model.get_layer("stem_whitening")
    assert stem.kernel.shape == (2, 2, 3, 24) and not stem.kernel.trainable and stem.bias.trainable
    trainable = {w.path for w in model.trainable_weights}
    assert "stem_whitening/bias" in trainable and "stem_whitening/kernel" not in trainable
    assert not any(path.endswith("gamma") for path in {w.path for w in model.weights}), "batch norm without scale"
    kernel = model.get_layer("block1_conv1").kernel.numpy()  # 24 channels in, 32 out: the first 24 pass through
    assert np.array_equal(kernel[1, 1, :, :24], np.eye(24)) and not kernel[:, :, :, :24].sum() - 24
    assert np.abs(kernel[:, :, :, 24:]).sum() > 0, "the other filters start at random"
    assert model.get_layer("block2_bn1").momentum == 0.6 and model.get_layer("block2_act1").get_config()[
        "activation"] == "relu"
    plain = cnn.fast_cnn(images, 10, widths=(8, 8, 8), activation="gelu", identity=False, batchnorm_scale=True)
    assert any(w.path.endswith("gamma") for w in plain.weights)
    assert not np.array_equal(plain.get_layer("block2_conv1").kernel.numpy()[1, 1], np.eye(8))


def test_mixed_float16_gets_loss_scaling():
    images, labels = tiny_data(64)
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = cnn.fast_cnn(images, 2, widths=(8, 8, 8))
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.dtype_policy.name == "mixed_float16" and model.get_layer("block1_conv1").compute_dtype == "float16"
    cnn.train_fast(model, images, labels, epochs=1, batch_size=32, verbose=0)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer), "float16 gradients need loss scaling"
    assert model.optimizer.inner_optimizer.__class__.__name__ == "ScaledSGD"


def test_baseline_trains_and_learns():
    images, labels = tiny_data()
    model = cnn.baseline_cnn(2)
    history = cnn.train_baseline(model, images, labels, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and history.history["loss"][-1] < history.history["loss"][0]
    assert accuracy(model, images, labels) > 0.9


def test_fast_recipe_trains_learns_and_records_its_budget():
    images, labels = tiny_data(512)
    model = cnn.fast_cnn(images, 2, widths=(8, 16, 16))
    stem_bias = model.get_layer("stem_whitening").bias
    history = cnn.train_fast(model, images, labels, validation_data=(images[:64], labels[:64]), epochs=4,
                             batch_size=64, whitening_bias_epochs=2, verbose=0)
    optimizer = model.optimizer
    assert optimizer.__class__.__name__ == "ScaledSGD" and optimizer.nesterov and optimizer.momentum == 0.85
    assert optimizer.scales["beta"] == 64.0 and model.loss.label_smoothing == 0.2
    assert history.history["epochs_done"] == [1.0, 2.0, 3.0, 4.0] and history.history["seconds"][-1] > 0
    assert history.history["learning_rate"][-1] < 0.12 * 1.5 * 64 / 1024, "near 7 % of the peak at the end"
    assert "val_accuracy" in history.history and accuracy(model, images, labels) > 0.9
    assert np.abs(stem_bias.numpy()).max() > 0, "the stem's bias learned in its first epochs"
    before = stem_bias.numpy().copy()
    cnn.train_fast(model, images, labels, epochs=1, batch_size=64, whitening_bias_epochs=0, verbose=0)
    assert np.array_equal(stem_bias.numpy(), before), "switched off, the stem's bias does not move at all"


def test_time_budget_ends_the_fast_recipe_on_time(capsys):
    images, labels = tiny_data(512)
    model = cnn.fast_cnn(images, 2, widths=(8, 16, 16))
    history = cnn.train_fast(model, images, labels, minutes=0.25, batch_size=64, verbose=1)
    output = capsys.readouterr().out
    assert "Epoch 1/?" in output and "time budget: about" in output
    epochs, seconds = history.history["epochs_done"][-1], history.history["seconds"][-1]
    assert len(history.history["loss"]) >= 2 and len(history.history["loss"]) - 1 < epochs
    assert 0.25 * 60 <= seconds < 0.25 * 60 + 5  # the whole budget, then a stop within a step
    assert history.history["learning_rate"][-1] < 0.1 * 1.5 * 64 / 1024  # the schedule reached its end


def test_learning_rate_schedule():
    assert cnn.learning_rate_at(0.0, peak=1.5) == pytest.approx(0.3)  # from a fifth of the peak...
    assert cnn.learning_rate_at(0.23, peak=1.5) == pytest.approx(1.5)  # ...up to it at 23 %...
    assert cnn.learning_rate_at(0.615, peak=1.5) == pytest.approx(1.5 * (1 + 0.07) / 2)  # ...then down...
    assert cnn.learning_rate_at(1.0, peak=1.5) == pytest.approx(1.5 * 0.07)  # ...to 7 % at the end


def test_saved_model_loads_with_plain_keras_in_a_fresh_python(tmp_path):
    images, labels = tiny_data(64)
    network = cnn.fast_cnn(images, 2, widths=(8, 16, 16))
    cnn.train_fast(network, images, labels, epochs=1, batch_size=32, verbose=0)  # compiled with ScaledSGD
    model = evaluation.tta_model(network)
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
    cnn.baseline_cnn(2).save(tmp_path / "bare.keras")  # saved without the JSON of class names
    _, names, info = saving.load_model(tmp_path / "bare.keras")
    assert names == ["class 0", "class 1"] and "--labels" in info["note"]
