"""Safe image loading: size bound, broken files, EXIF orientation and every mode brought to RGB."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image", reason="needs the [image] extra (Pillow)")

from mmaffect.encoders.image import DEFAULT_MAX_PIXELS, load_image, to_rgb  # noqa: E402
from mmaffect.errors import DataFileNotFoundError, MediaError, MMAffectError  # noqa: E402


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A 100-byte PNG whose header claims ``width × height`` grey pixels and that holds one row of them."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = zlib.compress(b"\x00" * (width + 1))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", row) + _chunk(b"IEND", b""))
    return path


def _pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int64)


def test_rgb_file_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=(12, 17, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.mode == "RGB" and image.size == (17, 12)
    np.testing.assert_array_equal(np.asarray(image), array)
    assert load_image(str(tmp_path / "a.png")).tobytes() == image.tobytes()


def test_huge_image_refused_from_its_header(tmp_path: Path) -> None:
    path = _png_header_only(tmp_path / "bomb.png", 10_000, 10_000)
    with pytest.raises(MediaError, match=r"bomb\.png.*10000×10000") as info:
        load_image(path)
    assert f"{DEFAULT_MAX_PIXELS:,}" in str(info.value)
    # without our bound, Pillow's own (2 × MAX_IMAGE_PIXELS) still refuses a 400-megapixel claim, as a MediaError
    path = _png_header_only(tmp_path / "bigger.png", 20_000, 20_000)
    with pytest.raises(MediaError, match=r"bigger\.png"):
        load_image(path, max_pixels=None)


def test_pixel_limit_is_the_callers(tmp_path: Path) -> None:
    Image.new("RGB", (100, 60), (1, 2, 3)).save(tmp_path / "small.png")
    with pytest.raises(MediaError, match=r"small\.png.*100×60 = 6,000 pixels.*5,999"):
        load_image(tmp_path / "small.png", max_pixels=5_999)
    assert load_image(tmp_path / "small.png", max_pixels=6_000).size == (100, 60)
    assert load_image(tmp_path / "small.png", max_pixels=None).size == (100, 60)
    with pytest.raises(MediaError, match="in-memory image"):
        load_image(Image.new("RGB", (100, 60)), max_pixels=10)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_names_the_file(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / f"cut.{fmt.lower()}"
    Image.fromarray(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)).save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=rf"cut\.{fmt.lower()}: image cannot be decoded"):
        load_image(path)


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("id,text\n1,hello\n")
    with pytest.raises(MediaError, match=r"notes\.jpg: not an image file"):
        load_image(tmp_path / "notes.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.png"):
        load_image(tmp_path / "empty.png")


def test_missing_file_and_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError, match="nowhere.png"):
        load_image(tmp_path / "nowhere.png")
    with pytest.raises(MediaError, match=r"uint8.*float32 \[4, 4, 3\]"):
        load_image(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(MediaError, match=r"\[4, 4, 2\]"):
        load_image(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(MediaError, match="got int"):
        load_image(3)  # type: ignore[arg-type]
    # every failure is one catchable class for per-file counting
    assert issubclass(MediaError, MMAffectError) and issubclass(DataFileNotFoundError, MMAffectError)


def test_grey_and_bilevel() -> None:
    grey = load_image(Image.new("L", (3, 2), 77))
    assert grey.mode == "RGB" and (_pixels(grey) == 77).all()
    bilevel = load_image(Image.new("1", (3, 2), 1))
    assert (_pixels(bilevel) == 255).all()


def test_cmyk_file(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (4, 4), (0, 0, 0, 0))
    cmyk.paste((0, 255, 255, 0), (0, 0, 2, 4))  # left half: no cyan, full magenta and yellow = red
    cmyk.save(tmp_path / "print.tif")
    image = load_image(tmp_path / "print.tif")
    assert image.mode == "RGB"
    np.testing.assert_array_equal(_pixels(image)[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(_pixels(image)[0, 3], [255, 255, 255])


def test_alpha_composited_over_background(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (0, 0, 255, 255)  # opaque blue
    rgba[0, 1] = (255, 0, 0, 0)  # fully transparent red
    rgba[0, 2] = (0, 0, 0, 128)  # half-transparent black
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "logo.png")
    image = _pixels(load_image(tmp_path / "logo.png"))
    np.testing.assert_array_equal(image[0, 0], [0, 0, 255])
    np.testing.assert_array_equal(image[0, 1], [255, 255, 255])
    # out = α·colour + (1 − α)·background = (128/255)·0 + (127/255)·255 = 127
    assert np.abs(image[0, 2] - 127).max() <= 1
    on_black = _pixels(load_image(tmp_path / "logo.png", background=(0, 0, 0)))
    np.testing.assert_array_equal(on_black[0, 1], [0, 0, 0])
    grey_alpha = load_image(Image.new("LA", (2, 2), (10, 0)))
    assert (_pixels(grey_alpha) == 255).all()


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    palette = Image.new("P", (2, 1))
    palette.putpalette([200, 10, 20] + [30, 40, 50] + [0, 0, 0] * 254)
    palette.putpixel((0, 0), 0)
    palette.putpixel((1, 0), 1)
    np.testing.assert_array_equal(_pixels(load_image(palette)), [[[200, 10, 20], [30, 40, 50]]])
    palette.info["transparency"] = 1
    palette.save(tmp_path / "pal.png")
    loaded = _pixels(load_image(tmp_path / "pal.png"))
    np.testing.assert_array_equal(loaded, [[[200, 10, 20], [255, 255, 255]]])


def test_sixteen_bit_grey_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 65535, 300]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "depth.png")
    source = Image.open(tmp_path / "depth.png")
    assert source.mode.startswith("I")
    image = _pixels(load_image(tmp_path / "depth.png"))
    np.testing.assert_array_equal(image[0, :, 0], [0, 100, 255, 1])  # round(v / 257)
    assert (image == image[..., :1]).all()


def test_float_mode() -> None:
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F")
    np.testing.assert_array_equal(_pixels(load_image(unit))[0, :, 0], [0, 128, 255])
    wide = Image.fromarray(np.array([[-5.0, 100.0, 300.0]], dtype=np.float32), mode="F")
    np.testing.assert_array_equal(_pixels(to_rgb(wide))[0, :, 0], [0, 100, 255])


def test_exif_orientation_applied(tmp_path: Path) -> None:
    array = np.zeros((10, 20, 3), dtype=np.uint8)
    array[:, :10] = (255, 0, 0)  # left half red, right half blue
    array[:, 10:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer rotates 90° clockwise
    Image.fromarray(array).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "phone.jpg")
    assert image.size == (10, 20)  # width and height swapped
    pixels = _pixels(image)
    assert pixels[2, 5, 0] > 200 and pixels[2, 5, 2] < 60  # the red half is now on top
    assert pixels[17, 5, 2] > 200 and pixels[17, 5, 0] < 60


def test_first_frame_of_an_animation(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (4, 4), colour) for colour in [(255, 0, 0), (0, 255, 0)]]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    pixels = _pixels(load_image(tmp_path / "anim.gif"))
    assert pixels[0, 0, 0] > 200 and pixels[0, 0, 1] < 60


def test_arrays_and_independent_copies() -> None:
    array = np.full((3, 4, 3), 9, dtype=np.uint8)
    image = load_image(array)
    array[:] = 0
    assert (_pixels(image) == 9).all()
    source = Image.new("RGB", (2, 2), (5, 6, 7))
    copy = load_image(source)
    source.putpixel((0, 0), (0, 0, 0))
    np.testing.assert_array_equal(_pixels(copy)[0, 0], [5, 6, 7])
    assert _pixels(load_image(np.full((2, 2), 40, dtype=np.uint8))).max() == 40
