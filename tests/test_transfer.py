"""utils.backbones and utils.transfer (notebook 04's #@save cells): the backbone table, models that take raw
RGB, freezing rules, offline weights, and utils.data.load_data for a folder or CIFAR-10."""

import keras
import numpy as np
import pytest

from utils import backbones, data, evaluation, saving, settings, transfer


def bright_and_dark(count=64, size=32, seed=0):
    """Two easy classes: bright images are class 1, dark ones class 0."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = np.where(labels[:, None, None, None] == 1, 200, 40) + rng.integers(-30, 30, (count, size, size, 3))
    return images.clip(0, 255).astype(np.uint8), labels


def batchnorm_layers(base):
    return [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_table_names_real_constructors_and_the_offline_backbone():
    assert settings.DEFAULT_BACKBONE in backbones.BACKBONES and settings.OFFLINE_BACKBONE in backbones.BACKBONES
    assert backbones.BACKBONES["mobilenet_v1_025"].constructor == "MobileNet"
    assert backbones.BACKBONES["mobilenet_v1_025"].options == {"alpha": 0.25}
    for key, spec in backbones.BACKBONES.items():
        assert spec.key == key and callable(getattr(keras.applications, spec.constructor))
        assert spec.preprocessing in {"built_in", "minus_one_to_one", "caffe"}
        assert key in spec.describe()
    with pytest.raises(ValueError, match="choose one of"):
        backbones.get_backbone("vgg99")


def test_preprocessing_layers_scale_raw_rgb_as_each_backbone_expects():
    pixels = np.array([[[[0.0, 127.5, 255.0]]]])
    np.testing.assert_allclose(np.asarray(backbones.preprocessing_layer("mobilenet_v2")(pixels)), [[[[-1, 0, 1]]]])
    np.testing.assert_allclose(np.asarray(backbones.preprocessing_layer("efficientnetv2b0")(pixels)), pixels)
    images = np.random.default_rng(0).uniform(0, 255, (2, 5, 4, 3)).astype("float32")
    for key, module in (("vgg16", keras.applications.vgg16), ("resnet50", keras.applications.resnet50)):
        layer = backbones.preprocessing_layer(key)
        expected = module.preprocess_input(images.copy())  # Keras' own: RGB to BGR, ImageNet mean subtracted
        np.testing.assert_allclose(np.asarray(layer(images)), expected, atol=1e-4)
        assert not layer.trainable_weights, "frozen: fine-tuning never changes the preprocessing"


def test_caffe_preprocessing_saves_and_loads_with_plain_keras(tmp_path):
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, backbones.preprocessing_layer("vgg16")(inputs))
    model.save(tmp_path / "pre.keras")
    images = np.random.default_rng(1).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "pre.keras")(images), model(images), atol=1e-5)


def test_model_takes_raw_rgb_resizes_inside_and_trains_only_the_head():
    model, base = transfer.build_classifier("mobilenet_v1_025", 3, (32, 32, 3), 64, weights=None)
    names = [layer.name for layer in model.layers]
    assert names.index("augment_flip") < names.index("resize") < names.index("preprocess") < names.index(base.name)
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("float32")
    probabilities = np.asarray(model(images))
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert not base.trainable
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {"probabilities"}
    plain, _ = transfer.build_classifier("mobilenet_v1_025", 2, (64, 64, 3), 64, augment=False, weights=None)
    assert not any(layer.name.startswith("augment") for layer in plain.layers)


def test_unfreeze_top_keeps_batchnorm_frozen():
    base = backbones.load_backbone("mobilenet_v1_025", weights=None)
    trainable = transfer.unfreeze_top(base, 0.25)
    assert trainable and all(base.get_layer(name).trainable for name in trainable)
    assert all(not layer.trainable for layer in batchnorm_layers(base))
    first = base.layers.index(base.get_layer(trainable[0]))
    assert first >= 0.7 * len(base.layers)
    assert not any(layer.trainable and layer.weights for layer in base.layers[:first])
    with pytest.raises(ValueError, match="fraction"):
        transfer.unfreeze_top(base, 0)


def test_fine_tuning_unfreezes_whole_blocks():
    assert [transfer.block_of(name) for name in ("block_13_expand", "block6a_se_reduce", "conv4_block3_1_conv",
                                                  "conv_dw_7_bn", "conv_pw_7", "conv_pad_6", "Conv1", "out_relu")] == [
        "block_13", "block6a", "conv4_block3", "7", "7", "6", None, None]
    base = backbones.load_backbone("mobilenet_v2_035", weights=None)  # half its layers end inside block_8
    by_layers = transfer.unfreeze_top(base, 0.5, whole_blocks=False)
    assert "block_8_project" in by_layers and "block_8_expand" not in by_layers, "the cut by count halves block_8"
    by_blocks = transfer.unfreeze_top(base, 0.5)
    assert {"block_8_expand", "block_8_depthwise", "block_8_project"} <= set(by_blocks)
    assert "block_7_project" not in by_blocks and set(by_layers) < set(by_blocks)
    assert all(not layer.trainable for layer in batchnorm_layers(base))


@pytest.mark.needs_imagenet_weights
def test_two_stages_train_and_fine_tuning_leaves_batchnorm_untouched(tmp_path):
    keras.utils.set_random_seed(0)
    images, labels = bright_and_dark(96)
    model, base = transfer.build_classifier("mobilenet_v1_025", 2, (32, 32, 3), 64)
    batches = data.make_dataset(images, labels, batch_size=16, shuffle=True)
    head = transfer.fit_stage(model, batches, None, learning_rate=1e-2, epochs=4, verbose=0)
    assert head.epoch == [0, 1, 2, 3] and isinstance(model.optimizer, keras.optimizers.Adam)
    frozen_count = len(model.trainable_weights)

    transfer.unfreeze_top(base, 0.3)
    assert len(model.trainable_weights) > frozen_count
    bn_before = [w.numpy().copy() for layer in batchnorm_layers(base) for w in layer.weights]
    top_conv = next(layer for layer in reversed(base.layers) if layer.trainable and layer.weights)
    conv_before = top_conv.weights[0].numpy().copy()
    tuned = transfer.fit_stage(model, batches, None, learning_rate=1e-4, epochs=1, initial_epoch=4, verbose=0)
    assert tuned.epoch == [4] and float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-4)
    bn_after = [w.numpy() for layer in batchnorm_layers(base) for w in layer.weights]
    assert all(np.array_equal(a, b) for a, b in zip(bn_before, bn_after, strict=True))  # gamma, beta and statistics
    assert not np.array_equal(conv_before, top_conv.weights[0].numpy())  # the unfrozen top did train

    probabilities, seen = evaluation.predict_dataset(model, data.make_dataset(images, labels, 32))
    assert probabilities.shape == (96, 2) and np.array_equal(seen, labels)
    assert np.mean(probabilities.argmax(axis=1) == labels) > 0.9  # two easy classes
    path = saving.save_model(model, tmp_path / "transfer.keras", ["dark", "bright"], backbone="mobilenet_v1_025")
    reloaded, names, info = saving.load_model(path)
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)
    assert names == ["dark", "bright"] and info["backbone"] == "mobilenet_v1_025"


def test_missing_weights_give_one_line_naming_the_offline_backbone(monkeypatch, tmp_path):
    from keras.src.utils import file_utils

    def offline(fname, origin=None, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(backbones.BackboneWeightsUnavailable) as caught:
        backbones.load_backbone("efficientnetv2b0")
    message = str(caught.value)
    assert "\n" not in message and "'efficientnetv2b0'" in message
    assert f"BACKBONE = '{settings.OFFLINE_BACKBONE}'" in message
    assert str(tmp_path / "models") in message and "Name or service not known" in message
    with pytest.raises(backbones.BackboneWeightsUnavailable, match="point KERAS_HOME"):
        backbones.load_backbone(settings.OFFLINE_BACKBONE)


@pytest.mark.needs_imagenet_weights
def test_offline_weights_load_from_the_keras_cache():
    assert backbones.get_backbone(settings.OFFLINE_BACKBONE).cached() and "works offline" in (
        backbones.get_backbone(settings.OFFLINE_BACKBONE).describe())
    assert backbones.load_backbone(settings.OFFLINE_BACKBONE).count_params() == 1_832_976
    base = backbones.load_backbone("mobilenet_v1_025")
    assert base.count_params() == 218_544
    random = backbones.load_backbone("mobilenet_v1_025", weights=None)
    assert not np.array_equal(base.layers[1].weights[0].numpy(), random.layers[1].weights[0].numpy())


def test_load_data_from_a_folder_checks_splits_and_skips_unreadable_files(messy_folder):
    from utils.folders import UnreadableImagesWarning

    with pytest.warns(UnreadableImagesWarning, match="broken.jpg"):
        loaded = data.load_data(messy_folder, image_size=32, batch_size=8, validation_split=0.25)
    assert loaded.class_names == ["cats", "dogs", "fish"] and loaded.input_shape == (32, 32, 3)
    # 10, 11 and 10 readable images: a quarter of each class (rounded) held out, the unreadable left out
    assert loaded.counts == {"train": 24, "validation": 7, "test": 0}
    assert loaded.test is None and loaded.evaluation[0] == "validation" and loaded.check.usable
    val_labels = np.concatenate([labels.numpy() for _, labels in loaded.validation])
    assert np.bincount(val_labels).tolist() == [2, 3, 2], "stratified"
    assert sum(int(labels.shape[0]) for _, labels in loaded.train) == 24
    with pytest.raises(ValueError, match="fraction"):
        data.load_data(messy_folder, validation_split=1.0)


@pytest.mark.needs_cifar10
def test_load_data_cifar10_keeps_small_images_and_takes_stratified_subsets():
    loaded = data.load_data(None, batch_size=50, validation_split=0.1,
                            cifar10_sizes={"train": 500, "validation": 100, "test": 200})
    assert loaded.source == "CIFAR-10" and loaded.input_shape == (32, 32, 3) and loaded.evaluation[0] == "test"
    assert loaded.counts == {"train": 500, "validation": 100, "test": 200}
    labels = np.concatenate([np.asarray(batch) for _, batch in loaded.test])
    assert np.bincount(labels).tolist() == [20] * 10
    images, _ = next(iter(loaded.train))
    assert images.shape == (50, 32, 32, 3) and images.dtype.name == "uint8"
