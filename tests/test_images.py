"""utils.load_image: every kind of file a user may have becomes the right RGB array, or a clear error."""

import numpy as np
import pytest
from image_files import HEIGHT, READABLE, WIDTH, rgb_pixels, write_bad, write_kind

from utils.images import ImageLoadError, is_image_file, load_image

RED, BLUE = np.array([220, 20, 20]), np.array([20, 20, 220])


@pytest.mark.parametrize("kind", sorted(READABLE))
def test_every_kind_becomes_uint8_rgb(tmp_path, kind):
    path = write_kind(tmp_path / f"picture{READABLE[kind]}", kind)
    image = load_image(path)
    assert image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3


@pytest.mark.parametrize("kind", ["png", "bmp", "webp", "tiff", "rgb16"])
def test_lossless_kinds_keep_exact_pixels(tmp_path, kind):
    path = write_kind(tmp_path / f"picture{READABLE[kind]}", kind)
    np.testing.assert_array_equal(load_image(path), rgb_pixels())


@pytest.mark.parametrize("kind", ["jpeg", "cmyk_jpeg"])
def test_jpeg_colours_survive(tmp_path, kind):
    image = load_image(write_kind(tmp_path / "photo.jpg", kind)).astype(int)
    assert np.abs(image[:, : WIDTH // 2 - 1] - RED).max() < 40
    assert np.abs(image[:, WIDTH // 2 + 1:] - BLUE).max() < 40


def test_grayscale_is_repeated_over_three_channels(tmp_path):
    image = load_image(write_kind(tmp_path / "gray.png", "gray"))
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
    assert image[0, 0, 0] != image[0, -1, 0]  # red and blue halves have different brightness


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    image = load_image(write_kind(tmp_path / "gray16.png", "gray16"))
    np.testing.assert_array_equal(image[..., 0], rgb_pixels()[..., 0])  # 220*257 -> 220, not 255


def test_transparent_pixels_become_the_background(tmp_path):
    path = write_kind(tmp_path / "logo.png", "rgba")
    white = load_image(path)
    assert (white[: HEIGHT // 2] == 255).all()
    np.testing.assert_array_equal(white[HEIGHT // 2:], rgb_pixels()[HEIGHT // 2:])
    black = load_image(path, background=(0, 0, 0))
    assert (black[: HEIGHT // 2] == 0).all()


def test_palette_gif_keeps_its_colours(tmp_path):
    image = load_image(write_kind(tmp_path / "anim.gif", "palette_gif")).astype(int)
    assert np.abs(image[0, 0] - RED).max() < 10 and np.abs(image[0, -1] - BLUE).max() < 10


def test_exif_orientation_turns_the_photo_upright(tmp_path):
    image = load_image(write_kind(tmp_path / "phone.jpg", "exif_rotated")).astype(int)
    assert image.shape == (WIDTH, HEIGHT, 3)  # stored 16 wide x 12 high, shown 12 wide x 16 high
    assert np.abs(image[1, HEIGHT // 2] - RED).max() < 40  # the stored left (red) half is now on top
    assert np.abs(image[-2, HEIGHT // 2] - BLUE).max() < 40


def test_size_resizes_to_height_width(tmp_path):
    image = load_image(write_kind(tmp_path / "p.png", "png"), size=(5, 7))
    assert image.shape == (5, 7, 3)


BAD = {
    "empty": ("empty.jpg", "empty"),
    "text": ("notes.jpg", "not an image"),
    "truncated_jpeg": ("cut.jpg", "truncated or corrupt"),
    "truncated_png": ("cut.png", "truncated or corrupt"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_files_give_one_line_naming_the_file(tmp_path, kind):
    name, reason = BAD[kind]
    path = write_bad(tmp_path / name, kind)
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    message = str(caught.value)
    assert str(path) in message and reason in message
    assert "\n" not in message
    assert caught.value.path == path
    assert path.exists()  # the user's file is left alone


def test_missing_file_and_folder_are_named(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file") as caught:
        load_image(tmp_path / "nope.jpg")
    assert str(tmp_path / "nope.jpg") in str(caught.value)
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def test_formats_restricts_what_is_accepted(tmp_path):
    disguised = tmp_path / "really-a-tiff.png"
    disguised.write_bytes(write_kind(tmp_path / "x.tiff", "tiff").read_bytes())
    assert load_image(disguised).shape == (HEIGHT, WIDTH, 3)  # readable by default
    with pytest.raises(ImageLoadError, match="holds TIFF data"):
        load_image(disguised, formats={"JPEG", "PNG"})


def test_is_image_file():
    assert is_image_file("a/b/Photo.JPG") and is_image_file("x.webp")
    assert not is_image_file("notes.txt") and not is_image_file("._Photo.jpg")
