"""OCR: rendered text read back in reading order, the score threshold, line grouping, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL.Image", reason="needs the [image] extra")
pytest.importorskip("rapidocr_onnxruntime", reason="needs the [image] extra")

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from mmaffect.encoders.ocr import OcrBox, OcrReader, OcrResult, group_lines  # noqa: E402
from mmaffect.errors import ConfigError, MediaError  # noqa: E402


@pytest.fixture(scope="module")
def reader() -> OcrReader:
    return OcrReader(threads=1)


def _font(size: int = 48):
    try:
        return ImageFont.load_default(size=size)  # Pillow ≥ 10.1 with FreeType: a scalable font
    except TypeError:  # pragma: no cover - old Pillow
        pytest.skip("this Pillow has no scalable default font")


def _render(lines: list[tuple[tuple[int, int], str]], mode: str = "RGB", size=(820, 300)) -> Image.Image:
    background = (255, 255, 255) if mode == "RGB" else (0, 0, 0, 0)
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    for position, text in lines:
        draw.text(position, text, fill=(0, 0, 0) if mode == "RGB" else (0, 0, 0, 255), font=_font())
    return image


def _squash(text: str) -> str:
    """Lower case without spaces: PP-OCR's recogniser may drop the space between capitalised words."""
    return "".join(text.split()).lower()


def _box(text: str, left: float, top: float, right: float, bottom: float, score: float = 0.9) -> OcrBox:
    return OcrBox(text, score, (left, top, right, bottom))


def test_reads_rendered_text_in_reading_order(reader: OcrReader, tmp_path: Path) -> None:
    image = _render([((40, 40), "GOOD MORNING"), ((40, 170), "see you soon"), ((560, 45), "friend")])
    image.save(tmp_path / "card.png")
    result = reader.read(tmp_path / "card.png")
    assert [_squash(line.text) for line in result.lines] == ["goodmorningfriend", "seeyousoon"]
    assert result.text == "\n".join(line.text for line in result.lines)
    assert all(reader.min_score <= line.score <= 1.0 for line in result.lines)
    again = reader.read(image)  # the same pixels as a PIL image: the same text and scores
    assert again == result


def test_transparent_background_composited_over_white(reader: OcrReader) -> None:
    result = reader.read(_render([((30, 30), "hello there")], mode="RGBA", size=(420, 120)))
    assert _squash(result.text) == "hellothere"


def test_blank_image_reads_nothing(reader: OcrReader) -> None:
    result = reader.read(np.full((120, 300, 3), 255, dtype=np.uint8))
    assert result.text == "" and result.lines == () and result.score is None


def test_bad_file_names_it(reader: OcrReader, tmp_path: Path) -> None:
    (tmp_path / "meme.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(MediaError, match=r"meme\.jpg"):
        reader.read(tmp_path / "meme.jpg")


def test_score_threshold_keeps_boxes_at_or_above_it(reader: OcrReader, monkeypatch: pytest.MonkeyPatch) -> None:
    boxes = [_box("kept", 0, 0, 40, 10, 0.5), _box("dropped", 50, 0, 90, 10, 0.49), _box("", 0, 20, 9, 30, 0.99),
             _box("also", 0, 40, 40, 50, 0.97)]
    monkeypatch.setattr(reader, "boxes", lambda image: boxes)
    assert reader.read("unused").text == "kept\nalso"


def test_line_grouping() -> None:
    boxes = [
        _box("world", 120, 12, 200, 40),  # same line as "hello", slightly lower
        _box("second", 10, 60, 90, 85),
        _box("hello", 10, 10, 100, 38),
        _box("line", 100, 58, 150, 86),
        _box("tiny", 300, 30, 320, 36),  # inside the first line's band: joins it
    ]
    lines = group_lines(boxes)
    assert [line.text for line in lines] == ["hello world tiny", "second line"]
    assert group_lines([]) == ()
    # character-weighted line score: (5·0.8 + 1·0.2) / 6
    line = group_lines([_box("abcde", 0, 0, 50, 10, 0.8), _box("f", 60, 0, 70, 10, 0.2)])[0]
    assert line.score == pytest.approx((5 * 0.8 + 0.2) / 6)
    assert OcrResult(()).text == ""


def test_settings_refused() -> None:
    with pytest.raises(ConfigError, match="min_score"):
        OcrReader(min_score=1.5)
    with pytest.raises(ConfigError, match="threads"):
        OcrReader(threads=0)
