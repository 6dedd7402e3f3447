"""Image-text token matrices from a CLIP-style ``transformers`` model (inputs of ``rd``).

For an image ``I`` and a text ``t`` (arXiv 2506.07086, section 4.1; Radford et al., ICML 2021):

- image: the vision transformer's patch tokens (the class token dropped) after the final layer norm
  and the visual projection, ``V = LN(h_{1..P}) W_v`` ``[P, d]`` (P = 49 for ViT-B/32 at 224 px);
- text: the text transformer's token states (final layer norm) after the text projection,
  ``T = h_{1..ℓ} W_t`` ``[ℓ, d]``, over the ``ℓ`` real tokens;

both brought to a common ``[n, c]`` (:func:`mmaffect.ops.token_matrix.to_token_matrix`: groups of
``d/c`` projected dimensions averaged, rows repeated cyclically or truncated to ``n``; RD uses
n = 49, c = 64). Images are read with PIL and preprocessed by the model's CLIP image processor (PIL /
numpy backend, no torchvision).

:func:`extract_image_text` adds the two matrices to a native dataset as modalities ``<name>_image`` and
``<name>_text`` (batched, progress bar, resumable). A missing or unreadable image is an error naming
the file, or with ``skip_missing`` a counted skip: the sample's image matrix is all zero with length 0
(masked out), and the count and ids are reported and kept in ``<dataset>/<name>_image.skipped.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch


class ImageReadError(FileNotFoundError):
    """An image of the dataset is missing or cannot be decoded."""


def _image_processor(path: str) -> Any:
    try:
        from transformers import CLIPImageProcessorPil as processor_class  # transformers >= 5
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor as processor_class
    return processor_class.from_pretrained(path)


def read_image(path: str | Path) -> Any:
    """The RGB PIL image at ``path``; :class:`ImageReadError` naming the file if it is missing or unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ImageReadError(f"image cannot be read: {path} ({type(err).__name__}: {err})") from None


class ClipTokenEncoder:
    """``encode(images, texts) -> (image [B, n, c], text [B, n, c], text lengths [B])`` from a CLIP model."""

    def __init__(self, name_or_path: str, *, rows: int = 49, columns: int = 64, max_tokens: int = 77,
                 row_fit: str = "repeat", device: str | None = None) -> None:
        from transformers import AutoTokenizer, CLIPModel

        from mmaffect.features.text import resolve_model_path

        self.path = resolve_model_path(name_or_path)
        self.rows, self.columns, self.max_tokens, self.row_fit = rows, columns, max_tokens, row_fit
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = CLIPModel.from_pretrained(self.path).to(self.device).eval()
        self.processor = _image_processor(self.path)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        limit = int(self.model.config.text_config.max_position_embeddings)
        self.max_tokens = min(max_tokens, limit)

    @torch.no_grad()
    def image_tokens(self, images: Sequence[Any]) -> torch.Tensor:
        """Projected patch tokens ``[B, P, d]``."""
        pixels = self.processor(images=list(images), return_tensors="pt")["pixel_values"].to(self.device)
        vision = self.model.vision_model(pixel_values=pixels.to(self.model.dtype))
        patches = self.model.vision_model.post_layernorm(vision.last_hidden_state[:, 1:])
        return self.model.visual_projection(patches).float()

    @torch.no_grad()
    def text_tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected token states ``[B, T, d]`` and the real lengths ``[B]``."""
        enc = self.tokenizer([t or "" for t in texts], padding=True, truncation=True, max_length=self.max_tokens,
                             return_tensors="pt")
        ids, mask = enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)
        states = self.model.text_model(input_ids=ids, attention_mask=mask).last_hidden_state
        return self.model.text_projection(states).float(), mask.sum(1)

    def encode(self, images: Sequence[Any], texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(image, text)`` matrices ``[B, n, c]`` each; ``images[i] = None`` gives a zero image matrix."""
        from mmaffect.ops.token_matrix import to_token_matrix

        n, c, fit = self.rows, self.columns, self.row_fit
        text, lengths = self.text_tokens(texts)
        text_m = to_token_matrix(text, lengths, n, c, fit)  # type: ignore[arg-type]
        image_m = torch.zeros(len(texts), n, c)
        present = [i for i, img in enumerate(images) if img is not None]
        if present:
            patches = self.image_tokens([images[i] for i in present])
            image_m[present] = to_token_matrix(patches, None, n, c, fit).cpu()  # type: ignore[arg-type]
        return image_m.numpy(), text_m.cpu().numpy()


def image_paths(split: Any, images_dir: str | Path | None, where: str) -> list[str]:
    """``texts["image"]`` of a split, joined to ``images_dir`` when relative."""
    if "image" not in split.texts:
        raise KeyError(f"{where}: no image paths (text field 'image'); this dataset has fields "
                       f"{sorted(split.texts) or 'none'}")
    root = Path(images_dir) if images_dir else None
    if root is not None and not root.is_dir():
        raise FileNotFoundError(f"images directory {root} does not exist")
    return [str(root / p) if root is not None and not Path(p).is_absolute() else str(p) for p in split.texts["image"]]


def extract_image_text(dataset_dir: str | Path, *, encoder: str, images_dir: str | Path | None = None,
                       name: str = "clip", field: str = "raw_text", rows: int = 49, columns: int = 64,
                       max_tokens: int = 77, batch_size: int = 32, skip_missing: bool = False,
                       source: str | None = None, data_root: str | None = None,
                       progress: bool = True) -> dict[str, int]:
    """Add ``<name>_image`` and ``<name>_text`` ``[N, n, c]`` to the native dataset at ``dataset_dir``.

    Returns ``{split: number of skipped images}``.
    """
    from mmaffect.data.native import add_modality, read_native
    from mmaffect.features.extract import _ensure_native, _progress
    from mmaffect.features.fields import field_texts
    from mmaffect.features.resumable import NoProgress, ResumableArrays, remove_if_empty, write_json_atomic

    dataset_dir = Path(dataset_dir)
    _ensure_native(dataset_dir, source, data_root)
    bundle = read_native(dataset_dir)
    image_name, text_name = f"{name}_image", f"{name}_text"
    if image_name in bundle.modalities and text_name in bundle.modalities:
        print(f"{dataset_dir}: modalities {image_name!r} and {text_name!r} already present; nothing to do")
        return {}
    if image_name in bundle.modalities or text_name in bundle.modalities:
        raise ValueError(f"{dataset_dir}: only one of {image_name!r}, {text_name!r} is present; choose another --name")
    inputs = {}
    for split_name, split in bundle.splits.items():
        where = f"{dataset_dir}, split {split_name!r}"
        inputs[split_name] = (image_paths(split, images_dir, where), field_texts(split, field, where=where))
    clip = ClipTokenEncoder(encoder, rows=rows, columns=columns, max_tokens=max_tokens)
    settings = {"encoder": str(clip.path), "field": field, "rows": rows, "columns": columns,
                "max_tokens": clip.max_tokens, "images_dir": str(images_dir), "skip_missing": skip_missing}
    partial = dataset_dir / ".partial"
    writers: dict[str, ResumableArrays] = {}
    skipped: dict[str, list[str]] = {}
    with _progress() if progress else NoProgress() as bar:
        for split_name, split in bundle.splits.items():
            paths, texts = inputs[split_name]
            n = len(split)
            shapes = {image_name: (n, rows, columns), text_name: (n, rows, columns), f"{image_name}.lengths": (n,)}
            writer = writers[split_name] = ResumableArrays(partial, name, split_name, shapes, settings,
                                                           {f"{image_name}.lengths": np.int64})
            skipped[split_name] = list(writer.notes.get("skipped", []))
            task = bar.add_task(f"{name} {split_name}", total=n, completed=writer.done)
            for start in range(writer.done, n, batch_size):
                stop = min(start + batch_size, n)
                images = []
                for i in range(start, stop):
                    try:
                        images.append(read_image(paths[i]))
                    except ImageReadError as err:
                        if not skip_missing:
                            raise ImageReadError(f"{err} (split {split_name!r}, sample {split.ids[i]!r}); pass "
                                                 f"--skip-missing to leave such samples without an image") from None
                        images.append(None)
                        skipped[split_name].append(split.ids[i])
                image_m, text_m = clip.encode(images, texts[start:stop])
                lengths = np.array([rows if img is not None else 0 for img in images], dtype=np.int64)
                writer.write(start, {image_name: image_m, text_name: text_m, f"{image_name}.lengths": lengths},
                             {"skipped": skipped[split_name]})
                bar.update(task, completed=stop)
    arrays = {s: np.asarray(w.arrays[image_name]) for s, w in writers.items()}
    add_modality(dataset_dir, image_name, arrays,
                 {s: np.asarray(w.arrays[f"{image_name}.lengths"]) for s, w in writers.items()})
    add_modality(dataset_dir, text_name, {s: np.asarray(w.arrays[text_name]) for s, w in writers.items()},
                 {s: np.full(len(bundle.splits[s]), rows, dtype=np.int64) for s in writers})
    counts = {s: len(ids) for s, ids in skipped.items()}
    if any(counts.values()):
        write_json_atomic(dataset_dir / f"{image_name}.skipped.json", skipped)
    for w in writers.values():
        w.remove()
    remove_if_empty(partial)
    total = sum(counts.values())
    print(f"added {image_name!r} and {text_name!r} ({rows}×{columns}) to {dataset_dir}"
          + (f"; skipped {total} missing/unreadable images ({', '.join(f'{s}: {c}' for s, c in counts.items())}), "
             f"listed in {dataset_dir / f'{image_name}.skipped.json'}" if total else ""))
    return counts
