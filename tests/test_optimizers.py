"""ScaledSGD (notebook 02, utils.cnn): a learning rate per variable, a switch that freezes at once, decay unscaled."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.cnn import ScaledSGD

X, Y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")


def two_layer_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    x = keras.layers.Dense(2, name="fast")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="slow")(x))


def fit_steps(model, optimizer, steps=1):
    """``steps`` training steps; returns {path: (before, after)} of the trainable weights."""
    if getattr(model, "optimizer", None) is None:
        model.compile(optimizer=optimizer, loss="mse")
    before = {w.path: w.numpy().copy() for w in model.trainable_weights}
    model.fit(X, Y, batch_size=4, epochs=steps, verbose=0, shuffle=False)
    return {w.path: (before[w.path], w.numpy()) for w in model.trainable_weights}


def test_one_step_is_pytorch_style_nesterov_scaled_per_variable():
    model = two_layer_model()
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(Y, model(X))
    gradients = {w.path: g.numpy() for w, g in zip(model.trainable_weights,
                                                  tape.gradient(loss, model.trainable_weights), strict=True)}
    moves = fit_steps(model, ScaledSGD(learning_rate=0.1, momentum=0.9, scales={"fast/kernel": 64.0}))
    for path, (before, after) in moves.items():
        scale = 64.0 if path == "fast/kernel" else 1.0
        # the first step: buffer = gradient; update = lr * scale * (gradient + momentum * buffer)
        np.testing.assert_allclose(before - after, 0.1 * scale * 1.9 * gradients[path], rtol=1e-4, atol=1e-7)


def test_a_variable_switch_freezes_at_once_and_weight_decay_ignores_the_scales():
    model = two_layer_model()
    switch = keras.Variable(1.0, trainable=False)
    optimizer = ScaledSGD(learning_rate=0.1, momentum=0.9, scales={"slow/kernel": switch}, weight_decay=0.5)
    fit_steps(model, optimizer, steps=2)  # momentum has built up in every variable
    switch.assign(0.0)  # no retracing: the compiled step reads the switch
    moves = fit_steps(model, optimizer)
    before, after = moves["slow/kernel"]
    # frozen at once: only the decoupled weight decay (lr * decay * w, at the unscaled rate) moves it
    np.testing.assert_allclose(after - before, -0.1 * 0.5 * before, rtol=1e-5, atol=1e-8)
    for path in ("fast/kernel", "slow/bias"):
        before, after = moves[path]
        assert np.abs(after - before).max() > 1e-4, f"{path} keeps learning"


def test_scales_match_on_the_variable_path_and_multiply():
    layer = keras.layers.BatchNormalization(name="block1_bn1")
    layer.build((None, 2))
    optimizer = ScaledSGD(scales={"beta": 64.0, "block1": 0.5})
    assert optimizer.scales_of(layer.beta) == [64.0, 0.5] and optimizer.scales_of(layer.gamma) == [0.5]
    assert ScaledSGD(scales={"a": keras.Variable(2.0)}).get_config()["scales"] == {"a": 2.0}
    with pytest.raises(ValueError):
        ScaledSGD(momentum=2.0)


def test_newton_schulz_orthogonalises_tall_and_wide_matrices():
    from keras import ops

    from utils.cnn import newton_schulz

    for shape in ((288, 64), (64, 288)):
        matrix = np.random.default_rng(1).normal(size=shape).astype("float32")
        result = np.asarray(newton_schulz(ops.convert_to_tensor(matrix)))
        singular = np.linalg.svd(result, compute_uv=False)
        assert result.shape == shape and singular.min() > 0.5 and singular.max() < 1.3
        u, _, vt = np.linalg.svd(matrix, full_matrices=False)
        direction = np.sum(result * (u @ vt)) / (np.linalg.norm(result) * np.linalg.norm(u @ vt))
        assert direction > 0.95, "close to the orthogonal matrix nearest to it"


def test_muon_steps_the_filters_orthogonally_and_sgd_the_rest():
    from utils.cnn import MuonSGD

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 4))
    x = keras.layers.Conv2D(8, 3, use_bias=False, name="conv")(inputs)
    outputs = keras.layers.Dense(4, name="head")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(2)  # random targets: a full-rank gradient for the filters
    images, targets = rng.normal(size=(8, 6, 6, 4)).astype("float32"), rng.normal(size=(8, 4)).astype("float32")
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(targets, model(images))
    gradients = dict(zip([w.path for w in model.trainable_weights],
                         tape.gradient(loss, model.trainable_weights), strict=True))
    before = {w.path: w.numpy().copy() for w in model.trainable_weights}
    model.compile(optimizer=MuonSGD(learning_rate=0.1, momentum=0.9, muon_ratio=0.5, muon_momentum=0.6), loss="mse")
    model.fit(images, targets, batch_size=8, epochs=1, verbose=0, shuffle=False)
    after = {w.path: w.numpy() for w in model.trainable_weights}
    kernel = before["conv/kernel"]
    normalised = kernel * (8**0.5 / np.linalg.norm(kernel))
    step = (normalised - after["conv/kernel"]).reshape(-1, 8) / (0.1 * 0.5)
    singular = np.linalg.svd(step, compute_uv=False)
    assert singular.min() > 0.5 and singular.max() < 1.3, "the filters' step is (nearly) orthogonal"
    np.testing.assert_allclose(before["head/kernel"] - after["head/kernel"],
                               0.1 * 1.9 * np.asarray(gradients["head/kernel"]), rtol=1e-4, atol=1e-7)
