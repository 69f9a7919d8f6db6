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
