"""Task-file readers on small fixture files: MMSD, TomBERT TSV, Hateful Memes, MELD, MSED, MVSA, manifests."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from mmaffect.data.native import read_native, write_native
from mmaffect.data.registry import load_dataset
from mmaffect.data.formats.common import TaskFileError
from mmaffect.data.formats.hateful_memes import read_hateful_memes
from mmaffect.data.formats.manifest import read_manifest
from mmaffect.data.formats.meld import read_meld
from mmaffect.data.formats.mmsd import read_mmsd
from mmaffect.data.formats.msed import read_msed
from mmaffect.data.formats.mvsa import mvsa_merge, read_mvsa_single
from mmaffect.data.formats.tombert import mark_target, read_tombert
from mmaffect.data.images import MissingImagesError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------- MMSD

def mmsd_fixture(root: Path) -> Path:
    d = root / "mmsd"
    write(d / "image_attributes.txt", "\n".join([
        "['1', 'person', 'glasses', 'wine', 'holding', 'hands']",
        "['2', 'zebras', 'gray', 'sticking', 'picture', 'tan']",
        "['3', 'beds', 'man', 'bed', 'looking', 'standing']",
        "['4', 'dog', 'grass', 'brown', 'running', 'field']",
        "['5', 'car', 'red', 'street', 'parked', 'city']",
        "['6', 'cake', 'table', 'white', 'sitting', 'plate']",
    ]) + "\n")
    write(d / "train.txt", "\n".join([
        "['1', 'what a great monday # not', 1]",
        "['2', 'this is a joke of a service', 1]",      # filtered ("joke")
        "['3', \"i 'm so happy for you <user>\", 0]",
        "['99', 'no attributes for this one', 0]",      # dropped (no attributes)
    ]) + "\n")
    write(d / "valid2.txt", "['4', 'love waiting in line for hours . sarcasm', 1, 0]\n")  # not filtered outside train
    write(d / "test2.txt", "['5', 'nice car', 0, 0]\n['6', 'yummy', 0, 1]\n")
    return d


def test_mmsd_reader(tmp_path):
    bundle = read_mmsd(mmsd_fixture(tmp_path))
    assert {k: len(v) for k, v in bundle.splits.items()} == {"train": 2, "valid": 1, "test": 2}
    train = bundle.split("train")
    assert train.ids == ["1", "3"] and train.labels.tolist() == [1, 0] and train.labels.dtype == np.int64
    assert train.raw_text[0] == "what a great monday # not"
    assert train.texts["attributes"] == ["person glasses wine holding hands", "beds man bed looking standing"]
    assert train.texts["image"] == ["1.jpg", "3.jpg"]
    assert bundle.split("test").texts["label2"] == ["0", "1"]
    assert train.features == {} and bundle.modalities == []
    assert bundle.task.metrics == "binary" and bundle.task.num_classes == 2
    assert bundle.task.label_names == ["not_sarcastic", "sarcastic"]
    assert bundle.provenance["dropped"]["train"] == {"without_attributes": 1, "filtered_words": 1}
    assert len(read_mmsd(tmp_path / "mmsd", filter_train=False).split("train")) == 3


def test_mmsd_malformed_line_names_file_and_line(tmp_path):
    d = mmsd_fixture(tmp_path)
    write(d / "test2.txt", "['5', 'nice car', 0, 0]\n['6', 'broken\n")
    with pytest.raises(TaskFileError, match=r"test2\.txt:2: not a Python literal"):
        read_mmsd(d)
    write(d / "test2.txt", "['5', 'nice car', 7, 0]\n")
    with pytest.raises(TaskFileError, match=r"test2\.txt:1: label must be 0 or 1"):
        read_mmsd(d)
    write(d / "test2.txt", "__import__('os').system('echo hi')\n")
    with pytest.raises(TaskFileError, match=r"test2\.txt:1"):
        read_mmsd(d)


def test_mmsd_images_dir_missing_images_points_to_descriptions(tmp_path):
    d = mmsd_fixture(tmp_path)
    images = tmp_path / "images"
    images.mkdir()
    with pytest.raises(MissingImagesError, match=r"images not found.*--describer file"):
        read_mmsd(d, images_dir=images)
    with pytest.raises(MissingImagesError, match="does not exist"):
        read_mmsd(d, images_dir=tmp_path / "nowhere")
    for i in range(1, 7):
        (images / f"{i}.jpg").write_bytes(b"x")
    bundle = read_mmsd(d, images_dir=images)
    assert bundle.split("train").texts["image"][0] == str(images / "1.jpg")


def test_mmsd_through_registry(tmp_path):
    mmsd_fixture(tmp_path)
    bundle = load_dataset("mmsd", data_root=tmp_path)
    assert len(bundle.split("train")) == 2
    with pytest.raises(FileNotFoundError, match="hateful_memes"):
        load_dataset("hateful_memes", data_root=tmp_path)


# ----------------------------------------------------------------------------------------- TomBERT

TSV_HEADER = "index\t#1 Label\t#2 ImageID\t#3 String\t#3 String\n"


def tombert_fixture(root: Path) -> Path:
    d = root / "twitter2015"
    write(d / "train.tsv", TSV_HEADER + "1\t2\t1.jpg\tRT @ x : $T$ is everything # MCM\tChuck Bass\n"
                                        "2\t1\t1.jpg\tChuck Bass is everything\t# MCM\n"  # no $T$
                                        "3\t0\t2.jpg\t$T$ shut down\tNew York City\n")
    write(d / "dev.tsv", TSV_HEADER + "1\t1\t3.jpg\tgo $T$ !\tYankees\n")
    write(d / "test.tsv", "index\t#1 ImageID\t#2 String\t#2 String\n1\t0\t4.jpg\tboo $T$\tRain\n")
    return d


def test_tombert_reader_marks_target_and_counts_skips(tmp_path):
    d = tombert_fixture(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 1 row.*no \$T\$.*lines 3"):
        bundle = read_tombert(d, name="twitter2015")
    train = bundle.split("train")
    assert train.raw_text == ["RT @ x : <t> Chuck Bass </t> is everything # MCM", "<t> New York City </t> shut down"]
    assert train.labels.tolist() == [2, 0]
    assert train.texts["target"] == ["Chuck Bass", "New York City"]
    assert train.texts["sentence"][0] == "RT @ x : Chuck Bass is everything # MCM"
    assert train.texts["image"] == ["1.jpg", "2.jpg"]
    assert bundle.provenance["skipped"] == {"train": 1, "valid": 0, "test": 0}
    assert bundle.task.metrics == "classification" and bundle.task.label_names == ["negative", "neutral", "positive"]
    assert mark_target("a $T$ b", " x ", ("[", "]")) == "a [ x ] b" and mark_target("no", "x") is None


def test_tombert_malformed(tmp_path):
    d = tombert_fixture(tmp_path)
    write(d / "dev.tsv", TSV_HEADER + "1\t1\t3.jpg\tgo $T$ !\n")
    with pytest.raises(TaskFileError, match=r"dev\.tsv:2: expected 5 tab-separated fields"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_tombert(d, name="t")
    write(d / "dev.tsv", TSV_HEADER + "1\tpositive\t3.jpg\tgo $T$ !\tx\n")
    with pytest.raises(TaskFileError, match=r"dev\.tsv:2: label 'positive' is not an integer"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_tombert(d, name="t")


# ----------------------------------------------------------------------------------------- Hateful Memes

def memes_fixture(root: Path) -> Path:
    d = root / "hateful_memes"

    def rows(n: int, off: int) -> str:
        return "".join(json.dumps({"id": str(off + i), "img": f"img/{off + i}.png", "label": i % 2,
                                   "text": f"meme {off + i}"}) + "\n" for i in range(n))
    write(d / "train.jsonl", rows(4, 0))
    write(d / "dev_seen.jsonl", rows(2, 10))
    write(d / "test_seen.jsonl", rows(2, 20))
    return d


def test_hateful_memes_reader(tmp_path):
    bundle = read_hateful_memes(memes_fixture(tmp_path))
    valid = bundle.split("valid")
    assert valid.ids == ["10", "11"] and valid.raw_text == ["meme 10", "meme 11"] and valid.labels.tolist() == [0, 1]
    assert valid.texts == {"image": ["img/10.png", "img/11.png"]}
    assert bundle.task.metrics == "binary"


def test_hateful_memes_errors(tmp_path):
    d = memes_fixture(tmp_path)
    write(d / "dev_seen.jsonl", '{"id": "1", "img": "img/1.png", "label": 0, "text": "a"}\n{"id": "2", "img": \n')
    with pytest.raises(TaskFileError, match=r"dev_seen\.jsonl:2: invalid JSON"):
        read_hateful_memes(d)
    write(d / "dev_seen.jsonl", '{"id": "1", "img": "img/1.png", "text": "a"}\n')
    with pytest.raises(TaskFileError, match=r"dev_seen\.jsonl:1: missing key\(s\) \['label'\]"):
        read_hateful_memes(d)
    memes_fixture(tmp_path)
    with pytest.raises(MissingImagesError, match="img/0.png.*--describer file"):
        read_hateful_memes(d, images_dir=d)


# ----------------------------------------------------------------------------------------- MELD, MSED, MVSA

def test_meld_reader(tmp_path):
    header = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
    row = '{i},"Oh, my God!",Ross,{e},{s},0,{i},1,1,"00:00:01,000","00:00:02,000"\n'
    for split in ("train", "dev", "test"):
        write(tmp_path / f"{split}_sent_emo.csv",
              header + row.format(i=0, e="joy", s="positive") + row.format(i=1, e="anger", s="negative"))
    bundle = read_meld(tmp_path)
    train = bundle.split("train")
    assert train.ids == ["dia0_utt0", "dia0_utt1"] and train.raw_text[0] == "Oh, my God!"
    assert train.labels.tolist() == [4, 6] and train.texts["speaker"] == ["Ross", "Ross"]
    assert bundle.task.num_classes == 7
    assert read_meld(tmp_path, target="sentiment").split("train").labels.tolist() == [1, 2]
    write(tmp_path / "dev_sent_emo.csv", header + row.format(i=0, e="bored", s="neutral"))
    with pytest.raises(TaskFileError, match=r"dev_sent_emo\.csv:2: unknown label 'bored'"):
        read_meld(tmp_path)


def test_msed_reader(tmp_path):
    header = "Image_ID,Title,Caption,Sentiment,Emotion,Desire\n"
    for split in ("train", "dev", "test"):
        write(tmp_path / split / f"{split}.csv", header + "7,Beach day,Two kids playing,positive,happiness,family\n"
                                                          "8,Storm,,negative,fear,none\n")
    bundle = read_msed(tmp_path)
    train = bundle.split("train")
    assert train.raw_text == ["Beach day\nTwo kids playing", "Storm"] and train.labels.tolist() == [0, 5]
    assert train.texts["image"] == ["7.jpg", "8.jpg"]
    assert read_msed(tmp_path, target="desire").split("test").labels.tolist() == [3, 6]
    assert read_msed(tmp_path, target="sentiment").task.num_classes == 3


def test_mvsa_single_reader(tmp_path):
    lines = ["ID\ttext,image"]
    labels = ["positive,positive", "neutral,negative", "positive,negative", "neutral,neutral"] * 5
    for i, lab in enumerate(labels, 1):
        lines.append(f"{i}\t{lab}")
        write(tmp_path / "data" / f"{i}.txt", f"post {i} \n")
    write(tmp_path / "labelResultAll.txt", "\n".join(lines) + "\n")
    bundle = read_mvsa_single(tmp_path)
    sizes = {k: len(v) for k, v in bundle.splits.items()}
    assert sum(sizes.values()) == 15 and sizes["train"] == 12
    assert bundle.provenance["conflicting_pairs_dropped"] == 5
    assert mvsa_merge("neutral", "negative") == "negative" and mvsa_merge("positive", "negative") is None
    all_ids = [i for s in bundle.splits.values() for i in s.ids]
    assert len(set(all_ids)) == 15 and "3" not in all_ids
    write(tmp_path / "labelResultAll.txt", "ID\ttext,image\n1\tpositive\n")
    with pytest.raises(TaskFileError, match=r"labelResultAll\.txt:2"):
        read_mvsa_single(tmp_path)


# ----------------------------------------------------------------------------------------- manifest

def test_manifest_csv_single_file(tmp_path):
    path = write(tmp_path / "data.csv", "id,text,image,audio,video,label,split\n"
                                        "a,good day,a.jpg,,,pos,train\n"
                                        "b,bad day,b.jpg,,,neg,train\n"
                                        "c,meh,,,,pos,dev\n"
                                        "d,fine,d.jpg,d.wav,,neg,test\n")
    bundle = read_manifest(path)
    assert bundle.name == "data" and bundle.task.label_names == ["neg", "pos"]
    assert bundle.split("train").labels.tolist() == [1, 0]
    assert bundle.split("valid").ids == ["c"]
    assert bundle.split("test").texts == {"image": ["d.jpg"], "audio": ["d.wav"]}
    assert read_manifest(path, label_names=["pos", "neg"]).split("train").labels.tolist() == [0, 1]
    with pytest.raises(MissingImagesError, match=r"a\.jpg"):
        read_manifest(path, images_dir=tmp_path)


def test_manifest_directory_jsonl_and_errors(tmp_path):
    for split in ("train", "dev", "test"):
        labels = (0, 1, 2) if split == "train" else (2,)
        write(tmp_path / "m" / f"{split}.jsonl", "".join(json.dumps({"id": f"{split}{k}", "text": "x", "label": k})
                                                          + "\n" for k in labels))
    bundle = read_manifest(tmp_path / "m")
    assert bundle.task.num_classes == 3 and bundle.task.metrics == "classification"
    write(tmp_path / "bad.csv", "id,text,label,split\na,,1,train\n")
    with pytest.raises(TaskFileError, match=r"bad\.csv:2: missing or empty 'text'"):
        read_manifest(tmp_path / "bad.csv")
    write(tmp_path / "bad.csv", "id,text,label,split\na,x,1,holdout\n")
    with pytest.raises(TaskFileError, match=r"bad\.csv:2: split 'holdout'"):
        read_manifest(tmp_path / "bad.csv")
    write(tmp_path / "bad.csv", "id,text,label,split\na,x,1,train,extra\n")
    with pytest.raises(TaskFileError, match=r"bad\.csv:2: more fields"):
        read_manifest(tmp_path / "bad.csv")


# ----------------------------------------------------------------------------------------- native round trip

def test_bundle_without_modalities_round_trips_with_texts(tmp_path):
    bundle = read_mmsd(mmsd_fixture(tmp_path))
    out = write_native(bundle, tmp_path / "native")
    back = read_native(out)
    assert back.modalities == [] and back.task == bundle.task
    for name, split in bundle.splits.items():
        got = back.split(name)
        assert got.ids == split.ids and got.raw_text == split.raw_text and got.texts == split.texts
        np.testing.assert_array_equal(got.labels, split.labels)


# ----------------------------------------------------------------------------------------- real data

@pytest.mark.realdata
def test_mmsd_real_counts(data_root):
    if not (data_root / "mmsd").is_dir():
        pytest.skip(f"{data_root / 'mmsd'} not available")
    bundle = load_dataset("mmsd", data_root=data_root)
    assert {k: len(v) for k, v in bundle.splits.items()} == {"train": 19557, "valid": 2410, "test": 2409}
    train = bundle.split("train")
    assert 0.41 < train.labels.mean() < 0.44
    assert all(len(a.split()) == 5 for a in train.texts["attributes"][:100])


def test_manifests_are_datasets_for_the_commands(tmp_path, capsys):
    from mmaffect.cli import main
    from mmaffect.data.native import read_native
    from mmaffect.data.registry import load_dataset

    rows = "".join(f"s{i},{'great' if i % 2 else 'awful'} day {i},{'pos' if i % 2 else 'neg'},"
                   f"{('train', 'valid', 'test')[i % 3]}\n" for i in range(12))
    path = write(tmp_path / "mine.csv", "id,text,label,split\n" + rows)
    bundle = load_dataset(str(path))
    assert bundle.name == "mine" and len(bundle.split("train")) == 4
    assert bundle.split("test").raw_text == ["awful day 2", "great day 5", "awful day 8", "great day 11"]
    assert main(["convert", str(path), str(tmp_path / "native")]) == 0
    back = read_native(tmp_path / "native")
    assert back.split("valid").ids == ["s1", "s4", "s7", "s10"]
    assert back.split("valid").labels.tolist() == [1, 0, 1, 0]
    for split in ("train", "valid", "test"):
        write(tmp_path / "dir" / f"{split}.jsonl", "".join(json.dumps({"id": f"{split}{k}", "text": "x", "label": k})
                                                            + "\n" for k in ("a", "b")))
    assert load_dataset(str(tmp_path / "dir")).split("test").ids == ["testa", "testb"]
    (tmp_path / "empty").mkdir()
    assert main(["convert", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    assert "train.csv/.tsv/.jsonl" in capsys.readouterr().err
