"""The registries of the encoder library: encoders (media in, arrays out) and describers (image in, text out).

Targets are ``"module:attribute"`` strings imported on first use (:class:`mmaffect.registry.Registry`),
so a missing optional dependency breaks only the entry that needs it.
"""

from __future__ import annotations

from typing import Any

from mmaffect.registry import Registry

ENCODERS: Registry[Any] = Registry("encoder")
ENCODERS.add("text", "mmaffect.encoders.text:TextEncoder",
             description="sentence-transformers / transformers text embeddings (sentence or token level)",
             extra="text")
ENCODERS.add("clip", "mmaffect.encoders.clip:ClipTokenEncoder",
             description="CLIP image patch tokens and text token states as [n, c] matrices", extra="text")

DESCRIBERS: Registry[Any] = Registry("describer")
DESCRIBERS.add("vlm", "mmaffect.encoders.describers.vlm:VLMDescriber",
               description="transformers image-text-to-text model prompted for a JSON description", extra="text")
DESCRIBERS.add("file", "mmaffect.encoders.describers.file:FileDescriber",
               description="precomputed descriptions, JSONL keyed by id")
DESCRIBERS.add("attributes", "mmaffect.encoders.describers.attributes:AttributesDescriber",
               description="attribute words of a text field (e.g. MMSD's) as the visual scene")
DESCRIBERS.add("template", "mmaffect.encoders.describers.template:TemplateDescriber",
               description="no VLM: ImageNet labels, OCR, faces, expression over time, transcript and prosody "
                           "in template sentences", extra="media")
