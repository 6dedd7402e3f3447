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
ENCODERS.add("whisper", "mmaffect.encoders.whisper:WhisperEncoder", extra="media",
             description="Whisper-base (CTranslate2) encoder frames [50/s, 512] and transcripts")
ENCODERS.add("egemaps", "mmaffect.encoders.egemaps:EgemapsEncoder", extra="media",
             description="openSMILE eGeMAPSv02: 25 descriptors at 100/s, or the 88 functionals (egemaps-functionals)")
ENCODERS.add("face", "mmaffect.encoders.face:FaceEncoder", extra="media",
             description="Haar face + FER2013 mini-Xception: 7 expression probabilities and 128-d features per frame")
ENCODERS.add("efficientnet-lite0", "mmaffect.encoders.efficientnet:EfficientNetLite0Encoder", extra="media",
             description="EfficientNet-Lite0 ImageNet tokens [49, 1280] (or mean-pooled) of an image")

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
