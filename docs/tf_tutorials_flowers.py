"""The TensorFlow tutorials' own flower models, measured on this project's split of the flower photos.

The tutorial ``classification.ipynb`` trains a small CNN (three convolution blocks, 16/32/64 filters, a dense layer
of 128) on 180 x 180 photos: first as it is, for 10 epochs (its text reports "around 60 %" validation accuracy),
then with random flips, rotations and zooms and a dropout layer, for 15 epochs. ``transfer_learning_with_hub.ipynb``
trains one dense layer on a frozen ImageNet MobileNetV2 (width 1.0, from TensorFlow Hub) at 224 px for 10 epochs.
Here each is rebuilt in plain Keras 3 and trained on exactly the photos ``train --data`` and notebook 04 train on
(validation split 0.2, test split 0.15, seed 42; the photo filed under two classes left out), and evaluated on the
same 551 test photos. MobileNetV2 at width 1.0 has no weights on machines without internet, so the hub tutorial's
set-up runs with the offline backbones instead (``mobilenet_v2_035``: the same architecture at width 0.35;
``mobilenet_v1_075``).

Run from the repository root: ``.venv/bin/python docs/tf_tutorials_flowers.py FLOWERS_FOLDER`` (figures in
docs/results.md).
"""

import sys
import time

import keras
from keras import layers

from utils.backbones import load_backbone, preprocessing_layer
from utils.data import load_data
from utils.evaluation import evaluate, predict_dataset


def small_cnn(num_classes, augment):
    """classification.ipynb's model; with ``augment`` its second version (augmentation and dropout)."""
    inputs = keras.Input((180, 180, 3))
    x = inputs
    if augment:
        x = layers.RandomFlip("horizontal")(x)
        x = layers.RandomRotation(0.1)(x)
        x = layers.RandomZoom(0.1)(x)
    x = layers.Rescaling(1 / 255)(x)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    if augment:
        x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))  # logits, as in the tutorial


def frozen_backbone(key, num_classes):
    """transfer_learning_with_hub.ipynb's model: a frozen ImageNet feature extractor and one dense layer."""
    backbone = load_backbone(key)
    backbone.trainable = False
    inputs = keras.Input((224, 224, 3))
    features = backbone(preprocessing_layer(key)(inputs), training=False)
    return keras.Model(inputs, layers.Dense(num_classes)(features))


def run(name, build, size, epochs, folder):
    keras.utils.set_random_seed(42)
    data = load_data(folder, image_size=size, batch_size=32, validation_split=0.2, test_split=0.15)
    model = build(len(data.class_names))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(data.train, validation_data=data.validation, epochs=epochs, verbose=2)
    seconds = time.perf_counter() - start
    logits, labels = predict_dataset(model, data.test)
    test = evaluate(logits, labels, data.class_names).accuracy
    print(f"RESULT {name}: {epochs} epochs, {seconds:.0f} s, final validation accuracy "
          f"{history.history['val_accuracy'][-1]:.4f}, test accuracy {test:.4f} ({len(labels)} photos)", flush=True)


if __name__ == "__main__":
    flowers = sys.argv[1]
    run("classification.ipynb, first model", lambda n: small_cnn(n, augment=False), 180, 10, flowers)
    run("classification.ipynb, augmentation and dropout", lambda n: small_cnn(n, augment=True), 180, 15, flowers)
    for key in ("mobilenet_v2_035", "mobilenet_v1_075"):
        run(f"transfer_learning_with_hub.ipynb set-up, {key}", lambda n, key=key: frozen_backbone(key, n), 224, 10,
            flowers)
