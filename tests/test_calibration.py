"""utils.calibration: ECE, the temperature fitted on held-out data, and a calibrated model that Keras reloads (plain
Keras in a fresh Python: tests/test_cnn.py, on the recipe's calibrated model)."""

import keras
import numpy as np
import pytest

from utils import calibration


def overconfident(count=4000, classes=5, temperature=3.0, seed=0):
    """Logits whose softmax is too sure by ``temperature``: labels drawn from softmax(logits / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, (count, classes))
    true = np.exp(logits / temperature)
    true /= true.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(classes, p=row) for row in true])
    return logits, labels


def softmax(logits):
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def test_ece_is_zero_when_confidence_matches_accuracy_and_measures_the_gap():
    probabilities = np.array([[0.8, 0.2]] * 10)
    labels = np.array([0] * 8 + [1] * 2)  # 80 % confident, 80 % right
    assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(0.0)
    assert calibration.expected_calibration_error(probabilities, np.zeros(10, int)) == pytest.approx(0.2)
    centres, accuracy, confidence, counts = calibration.reliability(probabilities, labels)
    assert counts.sum() == 10 and accuracy[counts > 0] == pytest.approx([0.8]) and len(centres) == 15
    assert confidence[counts > 0] == pytest.approx([0.8])


def test_the_fitted_temperature_recovers_the_true_one_and_lowers_ece():
    logits, labels = overconfident(temperature=3.0)
    temperature = calibration.fit_temperature(logits, labels)
    assert 2.6 < temperature < 3.4
    before = calibration.expected_calibration_error(softmax(logits), labels)
    after = calibration.expected_calibration_error(softmax(logits / temperature), labels)
    assert after < before / 3 and (softmax(logits / temperature).argmax(1) == logits.argmax(1)).all()


@pytest.mark.parametrize("ending", ["activation", "dense"])
def test_with_temperature_divides_the_logits_and_reloads(tmp_path, ending):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    if ending == "activation":
        outputs = keras.layers.Activation("softmax", name="probabilities")(keras.layers.Dense(3)(inputs))
    else:
        outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).normal(size=(8, 6)).astype("float32")
    logits = calibration.logits_model(model).predict(x, verbose=0)
    np.testing.assert_allclose(softmax(logits), model.predict(x, verbose=0), atol=1e-5)
    calibrated = calibration.with_temperature(model, 2.0)
    np.testing.assert_allclose(calibrated.predict(x, verbose=0), softmax(logits / 2), atol=1e-5)
    calibrated.save(tmp_path / "calibrated.keras")
    reloaded = keras.models.load_model(tmp_path / "calibrated.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), softmax(logits / 2), atol=1e-5)
    np.testing.assert_allclose(calibration.without_temperature(reloaded).predict(x, verbose=0), softmax(logits),
                               atol=1e-5)
    with pytest.raises(ValueError, match="no temperature layer"):
        calibration.without_temperature(model)
    with pytest.raises(ValueError, match="does not end in a softmax"):
        calibration.logits_model(keras.Model(inputs, keras.layers.Dense(3)(inputs)))


def test_calibrate_with_outputs_gives_the_calibrated_models_probabilities_from_one_pass():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(3)(inputs)))
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(64, 6)).astype("float32"), rng.integers(0, 3, 64)
    calibrated, temperature, probabilities, labels = calibration.calibrate_with_outputs(model, x, y)
    assert calibration.calibrate(model, x, y)[1] == pytest.approx(temperature)
    np.testing.assert_allclose(probabilities, calibrated.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(labels, y)
