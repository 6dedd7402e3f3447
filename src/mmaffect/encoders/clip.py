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

:func:`mmaffect.jobs.extract_clip.extract_image_text` adds the two matrices to a native dataset.
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

        from mmaffect.encoders.text import resolve_model_path

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
