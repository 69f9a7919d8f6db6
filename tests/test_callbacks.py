"""utils.callbacks.TimeBudget: the learning rate follows the clock (or the steps) and training stops at the end;
notebook 02's Lookahead averages the weights."""

import time
import types

import keras
import numpy as np
import pytest

from utils import callbacks
from utils.cli.train_folder import Deadline


def linear(progress):
    return 1.0 - progress


def fake_model():
    return types.SimpleNamespace(optimizer=keras.optimizers.SGD(0.1), stop_training=False)


def test_schedule_follows_the_clock_and_stops_when_the_budget_is_spent(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])
    budget = callbacks.TimeBudget(linear, minutes=100 / 60, verbose=0)
    model = fake_model()
    budget.set_model(model)
    budget.set_params({"steps": 10})
    budget.on_train_begin()

    def run_epoch(epoch, seconds_per_step):
        logs = {}
        budget.on_epoch_begin(epoch)
        for batch in range(10):
            budget.on_train_batch_begin(batch)
            clock[0] += seconds_per_step
            budget.on_train_batch_end(batch)
            if model.stop_training:
                break
        budget.on_epoch_end(epoch, logs)
        return logs

    run_epoch(0, 2.0)  # 20 s: a fifth of the budget
    assert budget.progress() == pytest.approx(0.2) and budget.planned == 5
    assert budget.record == {"epochs_done": [1.0], "seconds": [pytest.approx(20)]}
    run_epoch(1, 4.0)  # the machine slows down: the decay stretches, the estimate drops
    assert budget.progress() == pytest.approx(0.6) and budget.planned == 3
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1 - 0.56)
    logs = run_epoch(2, 8.0)  # the budget runs out after 5 of the 10 steps
    assert model.stop_training and budget.step == 25 and budget.progress() == 1.0
    assert budget.record["epochs_done"] == [1.0, 2.0, 2.5] and budget.record["seconds"][-1] == pytest.approx(100)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1 - 0.92)
    assert logs["learning_rate"] == pytest.approx(1 - 0.92)


def test_without_a_budget_the_schedule_follows_the_steps():
    budget = callbacks.TimeBudget(linear, epochs=4)
    budget.steps_per_epoch, budget.step = 10, 30
    assert budget.progress() == 0.75 and budget.fit_epochs == 4 and budget.planned == 4
    assert callbacks.TimeBudget(linear, minutes=1).fit_epochs > 1000  # the budget, not fit, ends training


def test_a_budget_needs_a_limit_and_a_positive_one():
    with pytest.raises(ValueError, match="minutes, of epochs"):
        callbacks.TimeBudget(linear)
    with pytest.raises(ValueError, match="minutes must be positive"):
        callbacks.TimeBudget(linear, minutes=0)


class TinyModel:
    """Two float weights (one 'trainable', one like batch norm's moving mean) and an int counter."""

    def __init__(self):
        self.weights = [keras.Variable(np.zeros(3, "float32")), keras.Variable(np.ones(2, "float32"), trainable=False),
                        keras.Variable(np.zeros(1, "int32"), dtype="int32")]


def test_lookahead_averages_every_weight_every_few_steps_and_ends_on_the_average():
    from utils.cnn import Lookahead

    progress = [0.2]
    lookahead = Lookahead(lambda: progress[0], every=2, base=0.9, power=1.0, start=0.3)
    model = TinyModel()
    lookahead.set_model(model)
    lookahead.on_train_begin()
    for batch in range(4):  # before 30 % of the budget, nothing happens
        model.weights[0].assign(model.weights[0].numpy() + 1)
        lookahead.on_train_batch_end(batch)
    assert lookahead.average is None and model.weights[0].numpy()[0] == 4
    progress[0] = 0.5
    lookahead.on_train_batch_end(4)
    lookahead.on_train_batch_end(5)  # step 6: the average starts as a copy
    assert [a.tolist() for a in lookahead.average] == [[4.0] * 3, [1.0] * 2], "float weights only, stats included"
    model.weights[0].assign(np.full(3, 14.0, "float32"))
    model.weights[1].assign(np.full(2, 3.0, "float32"))
    lookahead.on_train_batch_end(6)
    lookahead.on_train_batch_end(7)  # step 8: rho = 0.9 ** 2 * 0.5 = 0.405
    rho = 0.405
    np.testing.assert_allclose(model.weights[0].numpy(), rho * 4 + (1 - rho) * 14, rtol=1e-6)
    np.testing.assert_allclose(model.weights[1].numpy(), rho * 1 + (1 - rho) * 3, rtol=1e-6)
    averaged = model.weights[0].numpy().copy()
    model.weights[0].assign(np.full(3, 99.0, "float32"))  # a step after the last averaging...
    lookahead.on_train_end()  # ...is replaced by the average when training ends (also mid-epoch)
    np.testing.assert_allclose(model.weights[0].numpy(), averaged)


def test_validation_passes_do_not_count_against_the_budget(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])
    budget = callbacks.TimeBudget(linear, minutes=1, verbose=0)
    budget.set_model(fake_model())
    budget.set_params({"steps": 10})
    budget.on_train_begin()
    budget.on_epoch_begin(0)
    for batch in range(10):
        budget.on_train_batch_begin(batch)
        clock[0] += 2.0
        budget.on_train_batch_end(batch)
    budget.on_test_begin()
    clock[0] += 25.0  # a long validation pass
    budget.on_test_end()
    budget.on_epoch_end(0, {})
    assert budget.progress() == pytest.approx(20 / 60) and budget.seconds == pytest.approx(20)
    assert budget.epoch_seconds == [pytest.approx(20)] and budget.planned == 3


def _tiny_fit(callbacks_, epochs=2, steps=6):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.zeros((steps * 8, 4), "float32"), np.zeros(steps * 8, "int32")
    return model.fit(x, y, batch_size=8, epochs=epochs, callbacks=callbacks_, verbose=0)


def test_run_estimate_prints_the_expected_duration_of_a_long_run(capsys):
    estimate = callbacks.RunEstimate(epochs=100, measure_seconds=0.0, min_minutes=0.0)
    slow = keras.callbacks.LambdaCallback(on_train_batch_end=lambda *_, **__: time.sleep(0.02))
    _tiny_fit([estimate, slow], epochs=1)
    # 6 steps of at least 0.02 s, 100 epochs: at least 12 s
    assert estimate.estimate_seconds >= 12 and "RunEstimate: about" in capsys.readouterr().out
    quiet = callbacks.RunEstimate(epochs=1, measure_seconds=0.0, min_minutes=2.0)
    _tiny_fit([quiet], epochs=1)
    assert quiet.estimate_seconds is not None and "RunEstimate" not in capsys.readouterr().out, "short runs: silent"


def test_deadline_stops_training_within_an_epoch():
    history = _tiny_fit([Deadline(time.perf_counter())], epochs=5, steps=50)
    counter = types.SimpleNamespace(steps=0)
    _tiny_fit([keras.callbacks.LambdaCallback(on_train_batch_end=lambda *_, **__: setattr(
        counter, "steps", counter.steps + 1)), Deadline(time.perf_counter())], epochs=5, steps=50)
    assert len(history.epoch) == 1 and counter.steps == 1, "stopped after the first step, not after 5 epochs"
