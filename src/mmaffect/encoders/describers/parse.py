"""Parsing a describer's output into the four description fields (arXiv 2606.09148).

Explicit alignment through text turns each image into a description with four fields, so that one
text encoder reads ``text [SEP] ocr [SEP] visual_scene [SEP] cross_modal ...``:

- ``ocr``: text written in the image;
- ``visual_scene``: what the image shows;
- ``cross_modal``: how the image relates to the accompanying text;
- ``reasoning``: what the combination implies (e.g. irony, hate, sentiment cues).

:func:`parse_description` turns whatever a model wrote into these fields and never raises.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Mapping, Sequence

FIELDS = ("ocr", "visual_scene", "cross_modal", "reasoning")

_ALIASES = {
    "ocr": "ocr", "ocr_text": "ocr", "text_in_image": "ocr", "image_text": "ocr", "written_text": "ocr",
    "visible_text": "ocr",
    "visual_scene": "visual_scene", "scene": "visual_scene", "visual": "visual_scene", "description": "visual_scene",
    "image_description": "visual_scene", "visual_description": "visual_scene", "caption": "visual_scene",
    "cross_modal": "cross_modal", "crossmodal": "cross_modal", "cross_modal_relation": "cross_modal",
    "relation": "cross_modal", "image_text_relation": "cross_modal", "cross_modality": "cross_modal",
    "reasoning": "reasoning", "rationale": "reasoning", "explanation": "reasoning", "inference": "reasoning",
}
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|python)?[ \t]*\n?(.*?)(?:```|$)", re.S)
# a key, its separator, then a double- or single-quoted string that is closed
_QUOTED_FIELD = re.compile(
    r"""["']?(?P<key>[A-Za-z][A-Za-z _-]{0,40}?)["']?\s*:\s*(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)')""",
    re.S)
_PROSE_FIELD = re.compile(r"^\s*[-*#]*\s*\**(?P<key>[A-Za-z][A-Za-z _-]{0,40}?)\**\s*:\s*\**\s*(?P<value>.+?)\s*$")


def empty_description() -> dict[str, str]:
    return {f: "" for f in FIELDS}


def _canonical_key(key: Any) -> str | None:
    name = re.sub(r"[\s\-]+", "_", str(key).strip().lower())
    return _ALIASES.get(name)


def as_text(value: Any) -> str:
    """A field value as one string: lists joined by ', ', mappings as 'k: v; ...', None as ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {as_text(v)}" for k, v in value.items() if as_text(v))
    if isinstance(value, (list, tuple, set)):
        return ", ".join(t for t in (as_text(v) for v in value) if t)
    return str(value).strip()


def fields_from_mapping(obj: Mapping) -> dict[str, str] | None:
    """The four fields of a parsed object (nested one level, e.g. ``{"description": {...}}``); None if none."""
    out = empty_description()
    found = False
    for key, value in obj.items():
        name = _canonical_key(key)
        if isinstance(value, Mapping) and (name is None or any(_canonical_key(k) for k in value)):
            inner = fields_from_mapping(value)
            if inner is not None:
                for f, v in inner.items():
                    if v and not out[f]:
                        out[f] = v
                found = True
                continue
        if name is not None:
            text = as_text(value)
            out[name] = f"{out[name]}; {text}" if out[name] and text else (out[name] or text)
            found = True
    return out if found else None


def _load_object(candidate: str) -> Any:
    """``candidate`` as JSON, else as a Python literal, else after light repairs; None if all fail."""
    attempts = [candidate]
    repaired = candidate.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")
    repaired = re.sub(r",\s*([}\]])", r"\1", repaired)  # trailing commas
    attempts.append(repaired)
    for text in attempts:
        try:
            return json.loads(text)
        except (json.JSONDecodeError, ValueError, RecursionError):
            pass
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
        py = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", text)))
        try:
            return ast.literal_eval(py)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    return None


def _candidates(text: str) -> list[str]:
    """Substrings that may hold the JSON object: fenced blocks, then the outermost braces."""
    out = [m.group(1).strip() for m in _FENCE.finditer(text) if m.group(1).strip()]
    for source in [*out, text]:
        start = source.find("{")
        if start >= 0:
            end = source.rfind("}")
            out.append(source[start:end + 1] if end > start else source[start:])
    out.append(text)
    return out


def _unescape(value: str) -> str:
    try:
        return json.loads(f'"{value}"')
    except (json.JSONDecodeError, ValueError):
        return value.replace('\\"', '"').replace("\\'", "'").replace("\\n", "\n")


def _closed_fields(text: str) -> dict[str, str] | None:
    """Fields whose quoted value is complete, for truncated or otherwise unparsable JSON."""
    out = empty_description()
    found = False
    for m in _QUOTED_FIELD.finditer(text):
        name = _canonical_key(m.group("key"))
        if name is None or out[name]:
            continue
        raw = m.group("dq") if m.group("dq") is not None else m.group("sq")
        out[name] = _unescape(raw).strip()
        found = True
    return out if found else None


def _prose_fields(text: str) -> dict[str, str] | None:
    """``Field: value`` lines (e.g. ``OCR: none`` / ``Visual scene: a dog``), when at least one is a known field."""
    out = empty_description()
    found = False
    current: str | None = None
    for line in text.splitlines():
        m = _PROSE_FIELD.match(line)
        name = _canonical_key(m.group("key")) if m else None
        if name is not None and m is not None:
            current, found = name, True
            out[name] = m.group("value").strip().strip('"').strip()
        elif current is not None and line.strip():
            out[current] = f"{out[current]} {line.strip()}".strip()
    return out if found else None


def parse_description(text: Any) -> dict[str, str]:
    """The fields ``ocr``, ``visual_scene``, ``cross_modal``, ``reasoning`` of a describer's output.

    Never raises. Accepts JSON (bare, in a fenced block, or with prose around it), Python-literal dicts
    (single quotes), JSON with trailing commas or curly quotes, truncated JSON (the fields whose string
    value was completed are kept), ``Field: value`` lines, a mapping, and plain prose (-> ``visual_scene``).
    Non-string values become strings (lists joined by commas). Empty or non-text input -> empty fields.
    """
    try:
        if isinstance(text, Mapping):
            return fields_from_mapping(text) or empty_description()
        if text is None:
            return empty_description()
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        text = str(text).strip()
        if not text:
            return empty_description()
        for candidate in _candidates(text):
            obj = _load_object(candidate)
            if isinstance(obj, list) and obj and isinstance(obj[0], Mapping):
                obj = obj[0]
            if isinstance(obj, str) and obj.strip().startswith("{") and obj.strip() != text:
                return parse_description(obj)  # JSON encoded twice
            if isinstance(obj, Mapping):
                fields = fields_from_mapping(obj)
                if fields is not None:
                    return fields
                values = as_text(list(obj.values()))
                if values:
                    return {**empty_description(), "visual_scene": values}
        recovered = [r for r in (_closed_fields(text), _prose_fields(text)) if r is not None]
        if recovered:
            return max(recovered, key=lambda r: sum(bool(v) for v in r.values()))
        prose = _FENCE.sub(lambda m: m.group(1), text).strip()
        if prose.startswith("{"):  # an object cut before its first complete value carries no description
            return empty_description()
        return {**empty_description(), "visual_scene": prose}
    except Exception:  # noqa: BLE001 - the contract is to never raise on model output
        return empty_description()


def description_text(description: Mapping[str, Any], fields: Sequence[str] = FIELDS, sep: str = " [SEP] ") -> str:
    """The non-empty ``fields`` of a description joined by ``sep`` (for a text encoder)."""
    return sep.join(v for v in (as_text(description.get(f)) for f in fields) if v)
