"""The ``attributes`` describer: attribute words shipped with a dataset as the visual scene."""

from __future__ import annotations

from typing import Any, Sequence

from mmaffect.encoders.describers.base import Describer
from mmaffect.encoders.describers.parse import as_text, empty_description


class AttributesDescriber(Describer):
    """Attribute words (e.g. MMSD's five predicted words per image) as the ``visual_scene``."""

    needs = "text"

    def __init__(self, field: str = "attributes", chunk_size: int = 4096) -> None:
        self.field = field
        self.chunk_size = chunk_size

    def describe(self, ids: Sequence[str], inputs: Sequence[Any]) -> list[dict[str, str]]:
        return [{**empty_description(), "visual_scene": as_text(words)} for words in inputs]

    def fingerprint(self) -> dict[str, Any]:
        return {"describer": "attributes", "field": self.field}
