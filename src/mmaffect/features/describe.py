"""Image describers: an image (or what stands for it) -> a structured text description.

Explicit alignment through text (arXiv 2606.09148) turns each image into a description with four
fields, so that one text encoder reads ``text [SEP] ocr [SEP] visual_scene [SEP] cross_modal ...``:

- ``ocr``: text written in the image;
- ``visual_scene``: what the image shows;
- ``cross_modal``: how the image relates to the accompanying text;
- ``reasoning``: what the combination implies (e.g. irony, hate, sentiment cues).

Describers share one interface, ``Describer.describe(ids, inputs) -> list[dict]`` (one dict with the
four fields per sample), and are registered in :data:`DESCRIBERS`:

- ``vlm``: any ``transformers`` image-text-to-text model (``AutoProcessor`` +
  ``AutoModelForImageTextToText``) prompted to answer with that JSON; its output goes through
  :func:`parse_description`, which never raises;
- ``file``: precomputed descriptions, a JSONL file keyed by ``id``;
- ``attributes``: attribute words shipped with a dataset (MMSD's five words per image) as the scene.

:func:`describe_dataset` runs a describer over a dataset with a progress bar, caching to a JSONL
file that is rewritten atomically (temporary file + rename) after every chunk and resumed from.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping, Sequence

from mmaffect.io import atomic_write_json, atomic_write_text
from mmaffect.registry import Registry

FIELDS = ("ocr", "visual_scene", "cross_modal", "reasoning")

DEFAULT_PROMPT = (
    "Describe this image for a model that will only read text. Answer with one JSON object and nothing "
    'else, with exactly these string fields: "ocr" (all text written in the image, or ""), '
    '"visual_scene" (objects, people, facial expressions, setting), "cross_modal" (how the image relates '
    'to the post text: {text}) and "reasoning" (what the combination of image and text implies about '
    "the author's attitude)."
)

# ----------------------------------------------------------------------------------------- parsing

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


def _as_text(value: Any) -> str:
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
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items() if _as_text(v))
    if isinstance(value, (list, tuple, set)):
        return ", ".join(t for t in (_as_text(v) for v in value) if t)
    return str(value).strip()


def _from_mapping(obj: Mapping) -> dict[str, str] | None:
    """The four fields of a parsed object (nested one level, e.g. ``{"description": {...}}``); None if none."""
    out = empty_description()
    found = False
    for key, value in obj.items():
        name = _canonical_key(key)
        if isinstance(value, Mapping) and (name is None or any(_canonical_key(k) for k in value)):
            inner = _from_mapping(value)
            if inner is not None:
                for f, v in inner.items():
                    if v and not out[f]:
                        out[f] = v
                found = True
                continue
        if name is not None:
            text = _as_text(value)
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
            return _from_mapping(text) or empty_description()
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
                fields = _from_mapping(obj)
                if fields is not None:
                    return fields
                values = _as_text(list(obj.values()))
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
    return sep.join(v for v in (_as_text(description.get(f)) for f in fields) if v)


# ----------------------------------------------------------------------------------------- describers

class Describer:
    """``describe(ids, inputs) -> list[dict]`` with the :data:`FIELDS` of each sample.

    ``needs`` says what ``inputs`` holds: ``images`` (PIL images or paths), ``text`` (a text field such
    as attribute words, named by ``field``) or ``nothing`` (looked up by id).
    """

    needs: ClassVar[Literal["images", "text", "nothing"]] = "nothing"
    field: str | None = None
    chunk_size: int = 256

    def describe(self, ids: Sequence[str], inputs: Sequence[Any]) -> list[dict[str, str]]:  # pragma: no cover
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this describer's output (stored beside the cache)."""
        return {"describer": type(self).__name__}


class AttributesDescriber(Describer):
    """Attribute words (e.g. MMSD's five predicted words per image) as the ``visual_scene``."""

    needs = "text"

    def __init__(self, field: str = "attributes", chunk_size: int = 4096) -> None:
        self.field = field
        self.chunk_size = chunk_size

    def describe(self, ids: Sequence[str], inputs: Sequence[Any]) -> list[dict[str, str]]:
        return [{**empty_description(), "visual_scene": _as_text(words)} for words in inputs]

    def fingerprint(self) -> dict[str, Any]:
        return {"describer": "attributes", "field": self.field}


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
                fields = _from_mapping({k: v for k, v in row.items() if k != "id"})
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


class VLMDescriber(Describer):
    """Any ``transformers`` image-text-to-text model prompted for the JSON description.

    The prompt goes through the processor's chat template when it has one (an image entry then the
    text), else it is ``<image token>\\n<prompt>``. Greedy decoding of at most ``max_new_tokens``;
    the new tokens are decoded and parsed with :func:`parse_description` (the raw output is kept under
    ``raw``). ``{text}`` in the prompt is replaced by the sample's post text when given.
    """

    needs = "images"

    def __init__(self, model: str, *, max_new_tokens: int = 256, prompt: str = DEFAULT_PROMPT,
                 batch_size: int = 4, device: str | None = None, dtype: str | None = None,
                 chunk_size: int = 32) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from mmaffect.features.text import resolve_model_path

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


DESCRIBERS: Registry[type[Describer]] = Registry("describer")
DESCRIBERS.add("vlm", "mmaffect.features.describe:VLMDescriber",
               description="transformers image-text-to-text model prompted for a JSON description", extra="text")
DESCRIBERS.add("file", "mmaffect.features.describe:FileDescriber",
               description="precomputed descriptions, JSONL keyed by id")
DESCRIBERS.add("attributes", "mmaffect.features.describe:AttributesDescriber",
               description="attribute words of a text field (e.g. MMSD's) as the visual scene")


def build_describer(name: str, **options: Any) -> Describer:
    """Describer ``name`` from :data:`DESCRIBERS` with ``options`` (``None`` values dropped)."""
    import inspect

    cls = DESCRIBERS.get(name)
    given = {k: v for k, v in options.items() if v is not None}
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise ValueError(f"describer {name!r} takes no option(s) {unknown}; it takes "
                         f"{sorted(k for k in params if k != 'self')}")
    needed = [k for k, p in params.items() if k != "self" and p.default is p.empty and k not in given]
    if needed:
        raise ValueError(f"describer {name!r} needs {', '.join(needed)} (e.g. --model for vlm, "
                         f"--descriptions for file)")
    return cls(**given)


# ----------------------------------------------------------------------------------------- cache

def read_cache(path: str | Path) -> dict[str, dict[str, str]]:
    """The cached descriptions (id -> fields); a missing file is an empty cache."""
    path = Path(path)
    if not path.is_file():
        return {}
    out: dict[str, dict[str, str]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out[str(row.pop("id"))] = row
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise ValueError(f"{path}:{lineno}: not a description cache line") from None
    return out


def write_cache(path: str | Path, rows: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the cache atomically: a temporary file beside ``path``, fsync, rename."""
    atomic_write_text(path, "".join(json.dumps({"id": sample_id, **fields}, ensure_ascii=False) + "\n"
                                    for sample_id, fields in rows.items()))


def _check_fingerprint(cache: str | Path, fingerprint: dict[str, Any]) -> None:
    """Record which describer fills ``cache`` (``<cache>.meta.json``); refuse to mix two describers."""
    meta = Path(f"{cache}.meta.json")
    if meta.is_file():
        try:
            recorded = json.loads(meta.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            recorded = None
        if recorded != json.loads(json.dumps(fingerprint)):
            raise ValueError(f"{cache} was written by another describer ({recorded}); resuming it with "
                             f"{fingerprint} would mix descriptions: choose another cache file or delete it")
        return
    meta.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(meta, fingerprint, ensure_ascii=False)


def describe_samples(describer: Describer, ids: Sequence[str], inputs: Sequence[Any], cache: str | Path, *,
                     post_texts: Sequence[str | None] | None = None, progress: bool = True,
                     label: str = "describe") -> dict[str, dict[str, str]]:
    """Describe ``ids`` (skipping those already in ``cache``), rewriting the cache after every chunk."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    _check_fingerprint(cache, describer.fingerprint())
    rows = read_cache(cache)
    todo = [i for i, sample_id in enumerate(ids) if str(sample_id) not in rows]
    done_before = len(ids) - len(todo)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  disable=not progress) as bar:
        task = bar.add_task(label, total=len(ids), completed=done_before)
        for start in range(0, len(todo), max(describer.chunk_size, 1)):
            chunk = todo[start:start + describer.chunk_size]
            chunk_ids = [str(ids[i]) for i in chunk]
            chunk_inputs = [inputs[i] for i in chunk]
            if isinstance(describer, VLMDescriber) and post_texts is not None:
                described = describer.describe(chunk_ids, chunk_inputs, [post_texts[i] for i in chunk])
            else:
                described = describer.describe(chunk_ids, chunk_inputs)
            for sample_id, fields in zip(chunk_ids, described):
                row = {f: _as_text(fields.get(f)) for f in FIELDS}
                if "raw" in fields:
                    row["raw"] = fields["raw"]
                rows[sample_id] = row
            write_cache(cache, rows)
            bar.update(task, advance=len(chunk))
    return {str(i): rows[str(i)] for i in ids}


def describe_dataset(bundle: Any, describer: Describer, cache: str | Path, *, images_dir: str | Path | None = None,
                     progress: bool = True, with_post_text: bool = True) -> Any:
    """Describe every split of ``bundle`` and return a copy with the four fields as text fields.

    Inputs per describer: ``images`` -> ``texts["image"]`` (joined to ``images_dir`` when given; every
    file must exist, else an error pointing to ``--describer file``); ``text`` -> ``texts[describer.field]``;
    ``nothing`` -> ids only. The returned bundle's splits gain ``texts[f]`` for ``f`` in :data:`FIELDS`.
    """
    from mmaffect.data.bundle import DatasetBundle, SplitData
    from mmaffect.data.tasks import check_images_exist

    new_splits = {}
    for split_name, split in bundle.splits.items():
        where = f"{bundle.name}/{split_name}"
        if describer.needs == "images":
            if "image" not in split.texts:
                raise KeyError(f"{where}: no image paths (texts['image']); the vlm describer needs images - "
                               f"use --describer file with precomputed descriptions")
            paths = [str(Path(images_dir) / p) if images_dir and not Path(p).is_absolute() else p
                     for p in split.texts["image"]]
            check_images_exist(paths, dataset=where)
            inputs: Sequence[Any] = paths
        elif describer.needs == "text":
            field = describer.field or "attributes"
            if field not in split.texts:
                raise KeyError(f"{where}: no text field {field!r} for the attributes describer "
                               f"(has {sorted(split.texts)})")
            inputs = split.texts[field]
        else:
            inputs = [None] * len(split)
        described = describe_samples(describer, split.ids, inputs, cache,
                                     post_texts=split.raw_text if with_post_text else None,
                                     progress=progress, label=f"describe {split_name}")
        texts = dict(split.texts)
        for f in FIELDS:
            texts[f] = [described[str(i)][f] for i in split.ids]
        new_splits[split_name] = SplitData(split.features, split.lengths, split.labels, split.ids, split.raw_text,
                                           split.extras, texts)
    return DatasetBundle(bundle.name, bundle.task, new_splits,
                         {**bundle.provenance, "descriptions": {"cache": str(cache), **describer.fingerprint()}})


def load_for_description(data: str, *, data_root: str | None = None, images_dir: str | None = None) -> Any:
    """A dataset to describe: a manifest (``.csv``/``.tsv``/``.jsonl``) or anything ``load_dataset`` reads."""
    from mmaffect.data.registry import load_dataset
    from mmaffect.data.tasks import MANIFEST_SUFFIXES, read_manifest

    path = Path(data)
    if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
        return read_manifest(path, images_dir=images_dir)
    return load_dataset(data, data_root=data_root)


def describe_command(data: str, describer: str, cache: str | Path, *, out: str | Path | None = None,
                     data_root: str | None = None, images_dir: str | None = None, progress: bool = True,
                     **options: Any) -> Any:
    """``mmaffect describe``: describe a dataset into ``cache``; with ``out``, write a native copy whose
    splits carry the fields ``ocr``, ``visual_scene``, ``cross_modal``, ``reasoning`` as text fields
    (encode them with ``mmaffect extract OUT --field raw_text+visual_scene`` ...)."""
    from mmaffect.data.native import write_native

    if out is not None and Path(out).resolve() == Path(data).resolve():
        raise ValueError(f"--out {out} is the dataset being described; write the described copy elsewhere")
    bundle = load_for_description(data, data_root=data_root, images_dir=images_dir)
    described = describe_dataset(bundle, build_describer(describer, **options), cache, images_dir=images_dir,
                                 progress=progress)
    if out is not None:
        write_native(described, Path(out))
    return described
