"""utils.training: augmentation layer, schedules, time budget, saving, and a real (tiny) training run."""

import dataclasses
import json
import types

import keras
import numpy as np
import pytest

from utils import training


def tiny_data(count=256, seed=0):
    """Two easy classes: bright images are class 1, dark ones class 0 (learnable in a few steps)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = np.where(labels[:, None, None, None] == 1, 200, 40) + rng.integers(-30, 30, (count, 32, 32, 3))
    return images.clip(0, 255).astype(np.uint8), labels.reshape(-1, 1).astype(np.uint8)


def test_random_shift_moves_whole_pixels_with_reflection():
    layer = training.RandomShift(2, seed=1)
    images = np.arange(2 * 6 * 6 * 1, dtype="float32").reshape(2, 6, 6, 1)
    assert np.array_equal(np.asarray(layer(images, training=False)), images)  # inference: untouched
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    windows = {(dy, dx) for dy in range(5) for dx in range(5)}
    seen = set()
    for _ in range(30):
        shifted = np.asarray(layer(images, training=True))
        for n in range(2):
            match = [(dy, dx) for dy, dx in windows if np.array_equal(shifted[n], padded[n, dy:dy + 6, dx:dx + 6])]
            assert match, "each output must be an exact 6x6 window of the reflected image"
            seen.add(match[0])
    assert len(seen) > 10  # shifts vary per image and per call


def test_random_shift_survives_saving(tmp_path):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, training.RandomShift(3, seed=4)(inputs))
    model.save(tmp_path / "m.keras")
    layer = keras.saving.load_model(tmp_path / "m.keras").layers[-1]
    assert type(layer).__name__ == "RandomShift" and layer.pixels == 3


def test_schedules():
    fast = training.get_recipe("fast")
    assert fast.learning_rate_at(0.0, 0.0) == pytest.approx(0.1 * fast.learning_rate)  # warm-up starts low
    assert fast.learning_rate_at(0.1, 1.0) == pytest.approx(0.9 * fast.learning_rate)  # then decays linearly
    assert fast.learning_rate_at(1.0, 12.0) == 0.0
    baseline = training.get_recipe("baseline")
    assert baseline.learning_rate_at(0.7, 5) == baseline.learning_rate
    with pytest.raises(ValueError, match="Unknown recipe 'slow'"):
        training.get_recipe("slow")


@pytest.mark.parametrize("name", ["baseline", "fast"])
def test_models_take_raw_pixels_and_output_probabilities(name):
    images, _ = tiny_data(8)
    model = training.get_recipe(name).build(images, num_classes=10)
    probabilities = np.asarray(model(images.astype("float32"), training=False))
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    assert model.input_shape == (None, 32, 32, 3)


def test_fixed_epochs_train_and_learn():
    images, labels = tiny_data()
    result = training.train("baseline", images, labels, epochs=3, num_classes=2, verbose=0)
    assert result.epochs == 3 and len(result.history["loss"]) == 3
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert training.accuracy(training.predict_proba(result.model, images), labels) > 0.9
    assert result.params == result.model.count_params() > 0


def test_time_budget_plans_epochs_and_ends_the_schedule(capsys):
    images, labels = tiny_data(512)
    recipe = dataclasses.replace(training.get_recipe("fast"), batch_size=64)  # 8 steps an epoch
    result = training.train(recipe, images, labels, minutes=0.25, num_classes=2, verbose=1)
    output = capsys.readouterr().out
    assert "Epoch 1/?" in output and "time budget: about" in output
    assert result.epochs >= 2 and result.epochs - 1 < result.epochs_done <= result.epochs
    assert 0.25 * 60 <= result.train_seconds < 0.25 * 60 + 5  # the whole budget, then a stop within a step
    assert result.history["learning_rate"][-1] < 0.05 * result.recipe.learning_rate  # decayed to its end


def test_epoch_cap_with_budget():
    images, labels = tiny_data(128)
    result = training.train("baseline", images, labels, minutes=5, epochs=2, num_classes=2, verbose=0)
    assert result.epochs == 2


def test_bad_budget_is_refused():
    images, labels = tiny_data(16)
    with pytest.raises(ValueError, match="minutes must be positive"):
        training.train("baseline", images, labels, minutes=0)


def test_flip_tta_averages_the_mirror():
    images, _ = tiny_data(4)
    model = training.get_recipe("baseline").build(images, num_classes=10)
    plain = training.predict_proba(model, images)
    mirrored = training.predict_proba(model, images[:, :, ::-1])
    np.testing.assert_allclose(training.predict_proba(model, images, flip_tta=True), (plain + mirrored) / 2, atol=1e-6)


def test_save_and_load_round_trip(tmp_path):
    images, _ = tiny_data(64)
    model = training.get_recipe("fast").build(images, num_classes=2)
    path = training.save_model(model, tmp_path / "sub" / "cnn.keras", ["dark", "bright"], recipe="fast")
    assert json.loads(path.with_suffix(".json").read_text()) == {"class_names": ["dark", "bright"], "recipe": "fast"}
    reloaded, names, info = training.load_model(path)
    assert names == ["dark", "bright"] and info == {"recipe": "fast"}
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


def test_load_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="Train it first"):
        training.load_model(tmp_path / "none.keras")
    with pytest.raises(ValueError, match=r"\.keras ending"):
        training.save_model(None, tmp_path / "model.h5", ["a"])


def test_stratified_subset_keeps_proportions():
    labels = np.repeat(np.arange(10), 100).reshape(-1, 1)
    images = np.zeros((1000, 2, 2, 3), np.uint8)
    subset, subset_labels = training.stratified_subset(images, labels, 200)
    assert len(subset) == 200 and np.bincount(subset_labels[:, 0]).tolist() == [20] * 10
    assert training.stratified_subset(images, labels, None)[0] is images


def test_schedule_follows_the_clock_and_stops_when_the_budget_is_spent(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(training.time, "perf_counter", lambda: clock[0])
    recipe = training.get_recipe("fast")
    schedule = training.Schedule(recipe, steps_per_epoch=10, seconds=100, verbose=0)
    model = types.SimpleNamespace(optimizer=keras.optimizers.SGD(0.1), stop_training=False)
    schedule.set_model(model)
    schedule.on_train_begin()

    def run_epoch(epoch, seconds_per_step):
        schedule.on_epoch_begin(epoch)
        for batch in range(10):
            schedule.on_train_batch_begin(batch)
            clock[0] += seconds_per_step
            schedule.on_train_batch_end(batch)
            if model.stop_training:
                break
        schedule.on_epoch_end(epoch, {})

    run_epoch(0, 2.0)  # 20 s: a fifth of the budget
    assert schedule.progress() == pytest.approx(0.2) and schedule.planned == 5
    run_epoch(1, 4.0)  # the machine slows down: the decay stretches, the estimate drops
    assert schedule.progress() == pytest.approx(0.6) and schedule.planned == 3
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(recipe.learning_rate * (1 - 0.56))
    run_epoch(2, 8.0)  # the budget runs out after 5 of the 10 steps
    assert model.stop_training and schedule.step == 25 and schedule.progress() == 1.0
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(recipe.learning_rate * (1 - 0.92))


def test_schedule_without_budget_follows_the_steps():
    schedule = training.Schedule(training.get_recipe("fast"), steps_per_epoch=10, epochs=4)
    schedule.step = 30
    assert schedule.progress() == 0.75
    with pytest.raises(ValueError, match="epochs, a time budget"):
        training.Schedule(training.get_recipe("fast"), steps_per_epoch=10)
