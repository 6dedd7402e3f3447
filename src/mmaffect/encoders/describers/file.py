"""The ``file`` describer: precomputed descriptions from a JSONL file keyed by ``id``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from mmaffect.encoders.describers.base import Describer
from mmaffect.encoders.describers.parse import fields_from_mapping, parse_description


class FileDescriber(Describer):
    """Precomputed descriptions: a JSONL file, one ``{"id": ..., <fields>}`` object per line.

    A line holds the fields themselves, or the raw model output under ``output``/``raw``/``response``
    (parsed with :func:`parse_description`).
    """

    needs = "nothing"

    def __init__(self, path: str | Path, chunk_size: int = 4096) -> None:
        self.path = Path(path)
        self.chunk_size = chunk_size
        if not self.path.is_file():
            raise FileNotFoundError(f"descriptions file {self.path} not found (JSONL with one "
                                    f'{{"id": ..., "ocr": ..., "visual_scene": ...}} object per line)')
        self.table: dict[str, dict[str, str]] = {}
        with open(self.path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{self.path}:{lineno}: invalid JSON ({err.msg})") from None
                if not isinstance(row, dict) or "id" not in row:
                    raise ValueError(f"{self.path}:{lineno}: expected an object with an 'id'")
                fields = fields_from_mapping({k: v for k, v in row.items() if k != "id"})
                if fields is None:
                    raw = next((row[k] for k in ("output", "raw", "response", "generated_text", "text")
                                if k in row), "")
                    fields = parse_description(raw)
                self.table[str(row["id"])] = fields

    def describe(self, ids: Sequence[str], inputs: Sequence[Any]) -> list[dict[str, str]]:
        missing = [i for i in ids if str(i) not in self.table]
        if missing:
            raise KeyError(f"{self.path}: no description for {len(missing)} id(s) (first: {missing[0]!r})")
        return [dict(self.table[str(i)]) for i in ids]

    def fingerprint(self) -> dict[str, Any]:
        return {"describer": "file", "path": str(self.path)}
