"""utils.plots: figures have the panels and titles asked for."""

import matplotlib

matplotlib.use("Agg")

import numpy as np

from utils.plots import image_grid


def test_image_grid_shows_each_image_with_its_title():
    images = np.random.default_rng(0).integers(0, 256, (7, 8, 8, 3), dtype=np.uint8)
    figure = image_grid(images, titles=[f"img {i}" for i in range(7)], columns=4, title="samples")
    shown = [axis for axis in figure.axes if axis.images]
    assert len(figure.axes) == 8 and len(shown) == 7
    assert [axis.get_title() for axis in shown] == [f"img {i}" for i in range(7)]
    np.testing.assert_array_equal(shown[3].images[0].get_array(), images[3])
    assert figure._suptitle.get_text() == "samples"


def test_training_curves_draw_train_validation_and_marks():
    from utils.plots import training_curves

    history = {"loss": [2.0, 1.5, 1.2], "val_loss": [2.1, 1.7, 1.5], "accuracy": [0.3, 0.5, 0.6],
               "val_accuracy": [0.3, 0.45, 0.55]}
    figure = training_curves({"run": history}, marks={"fine-tuning starts": 2})
    loss_axis, accuracy_axis = figure.axes
    assert [line.get_label() for line in accuracy_axis.lines[:2]] == ["run train", "run validation"]
    np.testing.assert_array_equal(accuracy_axis.lines[1].get_ydata(), history["val_accuracy"])
    mark = accuracy_axis.lines[2]
    assert list(mark.get_xdata()) == [2.5, 2.5] and "fine-tuning starts" in [t.get_text() for t in loss_axis.texts]


def test_curve_draws_one_line_or_one_named_line_per_entry():
    from utils.plots import curve

    x = np.linspace(0, 1, 5)
    (axis,) = curve(x, x**2, xlabel="x", ylabel="y").axes
    assert len(axis.lines) == 1 and axis.get_legend() is None
    (axis,) = curve(x, {"up": x, "down": 1 - x}, xlabel="x", ylabel="y", title="both").axes
    assert [line.get_label() for line in axis.lines] == ["up", "down"] and axis.get_title() == "both"
    np.testing.assert_array_equal(axis.lines[1].get_ydata(), 1 - x)
    assert [text.get_text() for text in axis.get_legend().get_texts()] == ["up", "down"]
