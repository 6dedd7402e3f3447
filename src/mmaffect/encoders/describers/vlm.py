"""The ``vlm`` describer: a ``transformers`` image-text-to-text model prompted for a JSON description."""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

from mmaffect.encoders.describers.base import Describer
from mmaffect.encoders.describers.parse import parse_description

DEFAULT_PROMPT = (
    "Describe this image for a model that will only read text. Answer with one JSON object and nothing "
    'else, with exactly these string fields: "ocr" (all text written in the image, or ""), '
    '"visual_scene" (objects, people, facial expressions, setting), "cross_modal" (how the image relates '
    'to the post text: {text}) and "reasoning" (what the combination of image and text implies about '
    "the author's attitude)."
)


class VLMDescriber(Describer):
    """Any ``transformers`` image-text-to-text model prompted for the JSON description.

    The prompt goes through the processor's chat template when it has one (an image entry then the
    text), else it is ``<image token>\\n<prompt>``. Greedy decoding of at most ``max_new_tokens``;
    the new tokens are decoded and parsed with :func:`parse_description` (the raw output is kept under
    ``raw``). ``{text}`` in the prompt is replaced by the sample's post text when given.
    """

    needs = "images"
    reads_post_text = True

    def __init__(self, model: str, *, max_new_tokens: int = 256, prompt: str = DEFAULT_PROMPT,
                 batch_size: int = 4, device: str | None = None, dtype: str | None = None,
                 chunk_size: int = 32) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from mmaffect.encoders.text import resolve_model_path

        self.name = model
        path = resolve_model_path(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.processor = AutoProcessor.from_pretrained(path)
        kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
        self.model = AutoModelForImageTextToText.from_pretrained(path, **kwargs).to(self.device).eval()
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
            if tokenizer.pad_token is None and tokenizer.eos_token is not None:
                tokenizer.pad_token = tokenizer.eos_token
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt
        self.batch_size = batch_size
        self.chunk_size = chunk_size

    def _prompt_text(self, post_text: str | None) -> str:
        prompt = self.prompt.replace("{text}", json.dumps(post_text or ""))
        if getattr(self.processor, "chat_template", None):
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
            return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        image_token = getattr(self.processor, "image_token", None) or "<image>"
        return f"{image_token}\n{prompt}"

    def _open(self, image: Any) -> Any:
        from PIL import Image

        if isinstance(image, (str, os.PathLike)):
            with Image.open(image) as img:
                return img.convert("RGB")
        return image.convert("RGB") if hasattr(image, "convert") else image

    def generate(self, images: Sequence[Any], post_texts: Sequence[str | None] | None = None) -> list[str]:
        """The raw generated text for each image."""
        import torch

        post_texts = list(post_texts) if post_texts is not None else [None] * len(images)
        outputs: list[str] = []
        for start in range(0, len(images), self.batch_size):
            batch_images = [self._open(im) for im in images[start:start + self.batch_size]]
            prompts = [self._prompt_text(t) for t in post_texts[start:start + self.batch_size]]
            inputs = self.processor(images=batch_images, text=prompts, return_tensors="pt", padding=True)
            inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
            with torch.no_grad():
                generated = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
            new_tokens = generated[:, inputs["input_ids"].shape[1]:]
            outputs.extend(self.processor.batch_decode(new_tokens, skip_special_tokens=True))
        return outputs

    def describe(self, ids: Sequence[str], inputs: Sequence[Any],
                 post_texts: Sequence[str | None] | None = None) -> list[dict[str, str]]:
        raw = self.generate(inputs, post_texts)
        return [{**parse_description(r), "raw": r} for r in raw]

    def fingerprint(self) -> dict[str, Any]:
        return {"describer": "vlm", "model": self.name, "max_new_tokens": self.max_new_tokens, "prompt": self.prompt}
