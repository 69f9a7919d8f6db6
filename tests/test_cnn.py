"""utils.cnn, notebook 02's #@save cells: the models take raw pixels, every ingredient does what the notebook says,
the recipe trains within its budget, and the saved models load with plain Keras."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from utils import calibration, cnn, evaluation, saving
from utils.cli import train as train_command

SMALL = {**cnn.RECIPE, "widths": (8, 16, 16)}


def tiny_data(count=256, seed=0):
    """Two easy classes: bright images are class 1, dark ones class 0 (learnable in a few steps)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = np.where(labels[:, None, None, None] == 1, 200, 40) + rng.integers(-30, 30, (count, 32, 32, 3))
    return images.clip(0, 255).astype(np.uint8), labels.reshape(-1, 1).astype(np.uint8)


def accuracy(model, images, labels):
    return evaluation.evaluate(evaluation.predict_proba(model, images), labels, ["dark", "bright"]).accuracy


@pytest.mark.parametrize("build", [lambda images: cnn.baseline_cnn(10), lambda images: cnn.recipe_cnn(images)],
                         ids=["baseline", "recipe"])
def test_models_take_raw_pixels_and_output_probabilities(build):
    images, _ = tiny_data(8)
    model = build(images)
    probabilities = np.asarray(model(images.astype("float32"), training=False))
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    assert model.input_shape == (None, 32, 32, 3)


def test_recipe_cnn_has_a_frozen_whitening_stem_identity_convolutions_and_batch_norm_without_scale():
    images, _ = tiny_data(64)
    model = cnn.recipe_cnn(images, {**cnn.RECIPE, "widths": (32, 16, 16)})
    names = [layer.name for layer in model.layers]
    assert names[1:4] == ["normalize", "stem", "stem_act"] and names[-3:] == ["logits", "logit_scale", "probabilities"]
    assert [name for name in names if name.endswith("_conv1")] == ["block1_conv1", "block2_conv1", "block3_conv1"]
    stem = model.get_layer("stem")
    assert stem.kernel.shape == (2, 2, 3, 24) and not stem.kernel.trainable and stem.bias.trainable
    assert not any(w.path.endswith("gamma") for w in model.weights), "batch norm without scale"
    kernel = model.get_layer("block1_conv1").kernel.numpy()  # 24 channels in, 32 out: the first 24 pass through
    assert np.array_equal(kernel[1, 1, :, :24], np.eye(24)) and not kernel[:, :, :, :24].sum() - 24
    assert np.abs(kernel[:, :, :, 24:]).sum() > 0, "the other filters start at random"
    assert model.get_layer("block2_bn1").momentum == 0.6
    assert model.get_layer("logit_scale").scale == pytest.approx(1 / 9)
    plain = cnn.recipe_cnn(images, {**cnn.BASELINE, "widths": (8, 8, 8), "activation": "gelu", "batchnorm_scale": True})
    assert plain.get_layer("stem").kernel.trainable, "without whitening the stem is learnt"
    assert any(w.path.endswith("gamma") for w in plain.weights)
    assert not np.array_equal(plain.get_layer("block2_conv1").kernel.numpy()[1, 1], np.eye(8))


def test_the_whitening_kernel_decorrelates_patches_and_comes_with_both_signs():
    images = np.random.default_rng(0).integers(0, 256, (200, 8, 8, 3)).astype(np.uint8)
    images[..., 1] = images[..., 0] // 2 + images[..., 1] // 2  # correlated channels
    mean, std = images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2))
    kernel = cnn.patch_whitening_kernel(images, mean, std, samples=200)
    assert kernel.shape == (2, 2, 3, 24) and np.allclose(kernel[..., :12], -kernel[..., 12:])
    conv = keras.layers.Conv2D(12, 2, use_bias=False)
    conv.build((None, 8, 8, 3))
    conv.kernel.assign(kernel[..., :12])
    whitened = np.asarray(conv(((images - mean) / std).astype("float32"))).reshape(-1, 12)  # every 2 x 2 patch
    np.testing.assert_allclose(np.cov(whitened, rowvar=False), np.eye(12), atol=0.02)


def test_identity_init_makes_the_first_filters_copy_their_input_channels():
    conv = keras.layers.Conv2D(6, 3, padding="same", use_bias=False)
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 4)).astype("float32")
    conv.build(x.shape)
    cnn.identity_init(conv)
    out = np.asarray(conv(x))
    np.testing.assert_allclose(out[..., :4], x, atol=1e-6)
    assert np.abs(out[..., 4:]).sum() > 0


def test_mixed_float16_gets_loss_scaling():
    from utils.settings import precision

    images, labels = tiny_data(64)
    with precision("mixed_float16"):
        model = cnn.recipe_cnn(images, {**cnn.RECIPE, "widths": (8, 8, 8)}, 2)
    assert keras.config.dtype_policy().name == "float32", "the policy before the block comes back"
    assert model.dtype_policy.name == "mixed_float16" and model.get_layer("block1_conv1").compute_dtype == "float16"
    cnn.train(model, images, labels, {**cnn.RECIPE, "batch_size": 32}, epochs=1, verbose=0)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer), "float16 gradients need loss scaling"
    assert model.optimizer.inner_optimizer.__class__.__name__ == "MuonSGD"


def test_the_baseline_trains_with_its_settings_and_learns():
    images, labels = tiny_data()
    model = cnn.baseline_cnn(2)
    history = cnn.train(model, images, labels, cnn.BASELINE, epochs=3, verbose=0)
    assert isinstance(model.optimizer, keras.optimizers.Adam) and model.loss.label_smoothing == 0
    assert len(history.history["loss"]) == 3 and history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["learning_rate"] == pytest.approx([1e-3] * 3)
    assert accuracy(model, images, labels) > 0.9


def test_the_recipe_trains_learns_and_records_its_budget():
    images, labels = tiny_data(512)
    model = cnn.recipe_cnn(images, SMALL, 2)
    stem_bias = model.get_layer("stem").bias
    settings = {**SMALL, "batch_size": 64, "whitening_bias_epochs": 2}
    history = cnn.train(model, images, labels, settings, validation_data=(images[:64], labels[:64]), epochs=4,
                        verbose=0)
    optimizer = model.optimizer
    assert optimizer.__class__.__name__ == "MuonSGD" and optimizer.nesterov and optimizer.momentum == 0.85
    assert optimizer.muon_ratio == pytest.approx(0.24 / (0.85 * 64 / 1024)) and optimizer.muon_steps == 3
    assert optimizer.scales["beta"] == 64.0 and model.loss.label_smoothing == 0.2
    assert history.history["epochs_done"] == [1.0, 2.0, 3.0, 4.0] and history.history["seconds"][-1] > 0
    peak = 0.85 * 64 / 1024
    assert history.history["learning_rate"][0] == pytest.approx(peak * (1 - 7 / 32)), "straight down from the peak"
    assert history.history["learning_rate"][-1] == pytest.approx(peak / 32), "to 0 at the end: its last step"
    assert "val_accuracy" in history.history and accuracy(model, images, labels) > 0.9
    assert np.abs(stem_bias.numpy()).max() > 0, "the stem's bias learned in its first epochs"
    before = stem_bias.numpy().copy()
    cnn.train(model, images, labels, {**settings, "whitening_bias_epochs": 0}, epochs=1, verbose=0)
    assert np.array_equal(stem_bias.numpy(), before), "switched off, the stem's bias does not move at all"


@pytest.mark.parametrize("optimizer", ["sgd", "muon"])
def test_notebook_03_written_out_training_is_cnn_train(optimizer):
    """Notebook 03 writes out compile and fit; `python -m utils train` runs cnn.train: both must train alike."""
    import nbformat

    import utils

    notebook = nbformat.read(utils.settings.REPO_ROOT / "notebooks" / "03_fast_recipe_cifar10.ipynb", as_version=4)
    cells = {cell.get("id"): cell.source for cell in notebook.cells}
    images, labels = tiny_data(512)
    settings = {**SMALL, "batch_size": 64, "whitening_bias_epochs": 1, "optimizer": optimizer}
    names = [f"class {i}" for i in range(10)]
    namespace = dict(utils=utils, cnn=cnn, keras=keras, settings=settings, x_train=images, y_train=labels,
                     x_val=images[:128], y_val=labels[:128], class_names=names, PRECISION="float32",
                     RECIPE_MINUTES=None, RECIPE_EPOCHS=2)
    for cell_id in ("network", "compile", "fit"):
        exec(cells[cell_id], namespace)  # the notebook's own cells
    written_out = namespace["network"]

    utils.set_seed()
    model = cnn.recipe_cnn(images, settings, num_classes=10)
    history = cnn.train(model, images, labels, settings, validation_data=(images[:128], labels[:128]), epochs=2,
                        verbose=0)
    assert type(written_out.optimizer) is type(model.optimizer)
    def config(optimizer):
        return {key: value for key, value in optimizer.get_config().items() if key != "name"}

    assert config(written_out.optimizer) == config(model.optimizer)
    assert namespace["history"].history["learning_rate"] == pytest.approx(history.history["learning_rate"])
    assert len(model.weights) == len(written_out.weights)
    for mine, theirs in zip(written_out.weights, model.weights, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5, err_msg=mine.path)


def test_a_time_budget_shows_the_epochs_it_expects_and_ends_the_schedule(capsys):
    images, labels = tiny_data(512)
    model = cnn.recipe_cnn(images, SMALL, 2)
    history = cnn.train(model, images, labels, {**SMALL, "batch_size": 64}, minutes=0.2, verbose=1)  # 2+ epochs
    output = capsys.readouterr().out
    assert "Epoch 1/?" in output and "time budget: about" in output
    epochs = history.history["epochs_done"][-1]
    assert len(history.history["loss"]) >= 2 and len(history.history["loss"]) - 1 < epochs
    assert history.history["seconds"][-1] >= 0.2 * 60, "the whole budget is used"
    assert history.history["learning_rate"][-1] < 0.1 * 0.85 * 64 / 1024  # the schedule reached its end


def test_learning_rate_schedule():
    recipe = [cnn.learning_rate_at(p, peak=2.0) for p in (0.0, 0.25, 1.0)]
    assert recipe == pytest.approx([2.0, 1.5, 0.0]), "the recipe's: from the peak straight down to 0"
    warm = dict(peak=1.5, rise=0.23, start=0.2, end=0.07)  # airbench94's
    assert cnn.learning_rate_at(0.0, **warm) == pytest.approx(0.3)  # from a fifth of the peak...
    assert cnn.learning_rate_at(0.23, **warm) == pytest.approx(1.5)  # ...up to it at 23 %...
    assert cnn.learning_rate_at(0.615, **warm) == pytest.approx(1.5 * (1 + 0.07) / 2)  # ...then down...
    assert cnn.learning_rate_at(1.0, **warm) == pytest.approx(1.5 * 0.07)  # ...to 7 % at the end


def small_classifier(size=8, classes=3):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, keras.layers.Activation("softmax")(x))


def test_tta_model_averages_the_logits_of_six_views_with_standard_layers(tmp_path):
    model = small_classifier()
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3)).astype("float32")
    logits = keras.Model(model.input, model.get_layer("logits").output)

    def views_of(x):
        padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
        down, up = padded[:, :8, :8], padded[:, 2:, 2:]  # moved by one pixel down-right and up-left
        return [x, x[:, :, ::-1], down, down[:, :, ::-1], up, up[:, :, ::-1]]

    scores = [np.asarray(logits(view)) for view in views_of(images)]
    expected = 0.25 * (scores[0] + scores[1]) + 0.125 * sum(scores[2:])
    expected = np.exp(expected) / np.exp(expected).sum(axis=1, keepdims=True)
    wrapped = cnn.tta_model(model)
    np.testing.assert_allclose(wrapped.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    mirror_only = cnn.tta_model(model, 2).predict(images, verbose=0)
    flips = 0.5 * (scores[0] + scores[1])
    np.testing.assert_allclose(mirror_only, np.exp(flips) / np.exp(flips).sum(axis=1, keepdims=True), rtol=1e-5)
    assert cnn.tta_model(model, 1) is model
    assert wrapped.get_layer(f"{model.name}_logits").output_shape == (None, 3), "one network, without its softmax"
    used = {type(layer).__module__.split(".")[0] for layer in wrapped.layers}
    assert used <= {"keras"}, "standard Keras layers only: plain load_model opens the saved file"
    wrapped.save(tmp_path / "tta.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "tta.keras").predict(images, verbose=0),
                               expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="does not end in a softmax layer"):
        cnn.tta_model(keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="views must be 1, 2 or 6"):
        cnn.tta_model(model, 4)


def numbered_images(count=16, size=8):
    """Images whose pixels say which image, row and column they come from (so moves and flips can be traced)."""
    index = np.arange(count)[:, None, None]
    rows, cols = np.arange(size)[None, :, None], np.arange(size)[None, None, :]
    image = np.stack([np.broadcast_to(index * 10 % 256, (count, size, size)),
                      np.broadcast_to(rows * 16 + 3, (count, size, size)),
                      np.broadcast_to(cols * 16 + 5, (count, size, size))], axis=-1)
    return image.astype(np.uint8)


def test_augmented_batches_mirror_alternately_and_shift_by_whole_pixels_with_mirrored_borders():
    images = numbered_images()
    labels = np.arange(16) % 4
    batches = cnn.augmented_batches(images, labels, batch_size=8, num_classes=4, translate=2, seed=3)
    epochs = [list(batches.skip(2 * epoch).take(2)) for epoch in range(3)]  # 2 steps an epoch, never-ending
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    seen = {}
    for epoch, steps in enumerate(epochs):
        for batch, one_hot in steps:
            for image, label in zip(batch.numpy(), one_hot.numpy(), strict=True):
                number = int(image[0, 0, 0]) // 10  # the red channel names the image
                assert label.argmax() == labels[number], "labels follow their images"
                views = {(dy, dx, mirror) for dy in range(5) for dx in range(5) for mirror in (False, True)
                         if np.array_equal(image, (padded[number, :, ::-1] if mirror else padded[number])
                                           [dy:dy + 8, dx:dx + 8])}
                assert views, "a window of the mirrored-border image, whole pixels only"
                seen[epoch, number] = {mirror for *_, mirror in views}
    for number in range(16):
        flips = [seen[epoch, number] for epoch in range(3)]
        if all(len(f) == 1 for f in flips):  # (a symmetric window can read both ways)
            assert flips[0] != flips[1] and flips[1] != flips[2], "each image is mirrored the other way every epoch"
    first = {number for (epoch, number), f in seen.items() if epoch == 0 and f == {True}}
    assert 0 < len(first) < 16, "the first epoch mirrors at random"
    again = list(cnn.augmented_batches(images, labels, 8, 4, translate=2, seed=3).take(2))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(again, epochs[0], strict=True)), "reproducible"


def test_augmented_batches_in_order_random_flips_and_no_augmentation():
    images = numbered_images()
    ordered = next(iter(cnn.augmented_batches(images, np.zeros(16), 16, 2, translate=0, shuffle=False)))[0].numpy()
    assert [int(image[0, 0, 0]) // 10 for image in ordered] == list(range(16)), "shuffle=False keeps the order"
    batches = cnn.augmented_batches(images, np.zeros(16), 16, 2, flip=None, translate=0)
    plain = next(iter(batches))[0].numpy()
    assert sorted(int(image[0, 0, 0]) for image in plain) == sorted(int(i[0, 0, 0]) for i in images)
    assert all(np.array_equal(image, images[int(image[0, 0, 0]) // 10]) for image in plain), "untouched"
    with pytest.raises(ValueError, match="flip must be"):
        cnn.augmented_batches(images, np.zeros(16), 8, 2, flip="sometimes")
    with pytest.raises(ValueError, match="larger than the 16 training images"):
        cnn.augmented_batches(images, np.zeros(16), 32, 2)


def test_augmented_batches_follow_keras_global_seed_by_default():
    images = numbered_images()

    def first_batch(seed):
        keras.utils.set_random_seed(seed)
        return next(iter(cnn.augmented_batches(images, np.zeros(16), 16, 2)))[0].numpy()

    assert np.array_equal(first_batch(1), first_batch(1)), "the same seed gives the same order and flips"
    assert not np.array_equal(first_batch(1), first_batch(2)), "`train --seed` changes the augmentation too"


def test_recipe_settings_remove_ingredients_and_refuse_unknown_names():
    settings = train_command.recipe_settings(cnn.RECIPE, ["muon", "tta-shifts"], {"widths": (16, 64, 64)})
    assert settings == {**cnn.RECIPE, "optimizer": "sgd", "test_views": 2, "widths": (16, 64, 64)}
    assert cnn.RECIPE["optimizer"] == "muon", "the recipe itself is not changed"
    assert all(set(item.without) <= set(cnn.RECIPE) for item in train_command.INGREDIENTS.values())
    with pytest.raises(ValueError, match="no such ingredient"):
        train_command.recipe_settings(cnn.RECIPE, ["dropout"])
    with pytest.raises(ValueError, match="not a setting of the recipe; choose from widths"):
        train_command.recipe_settings(cnn.RECIPE, (), {"width": 3})


def test_the_saved_final_model_loads_with_plain_keras_in_a_fresh_python(tmp_path):
    """The one fresh interpreter of these tests: the recipe's final model (notebook 03's: six views, calibrated)
    opens in a Python that never imports this project."""
    images, labels = tiny_data(64)
    network = cnn.recipe_cnn(images, SMALL, 2)
    cnn.train(network, images, labels, {**SMALL, "batch_size": 32}, epochs=1, verbose=0)  # compiled with ScaledSGD
    model = calibration.with_temperature(cnn.tta_model(network), 0.5)
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
