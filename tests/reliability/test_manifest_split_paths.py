"""Manifests without a split column get a seeded split on request; media paths stay inside their folder."""

from __future__ import annotations

import json

import pytest

from mmaffect.cli import main
from mmaffect.data.formats.manifest import read_manifest
from mmaffect.errors import DataError


def no_split_manifest(path, n=60, speakers=7):
    path.write_text("id,text,label,speaker\n" + "".join(f"s{i},text {i},{i % 2},sp{i % speakers}\n" for i in range(n)))
    return path


def test_missing_split_column_says_how_to_ask_for_a_split(tmp_path):
    with pytest.raises(DataError, match=r"no split column.*--split-ratios 0\.8 0\.1 0\.1.*--split-by.*--seed"):
        read_manifest(no_split_manifest(tmp_path / "m.csv"), log=None)


def test_seeded_split_is_reproducible_and_sized_by_the_ratios(tmp_path):
    path = no_split_manifest(tmp_path / "m.csv", n=100)
    a = read_manifest(path, split_ratios=(0.8, 0.1, 0.1), split_seed=3, log=None)
    b = read_manifest(path, split_ratios=(0.8, 0.1, 0.1), split_seed=3, log=None)
    c = read_manifest(path, split_ratios=(0.8, 0.1, 0.1), split_seed=4, log=None)
    assert {k: len(v) for k, v in a.splits.items()} == {"train": 80, "valid": 10, "test": 10}
    assert all(a.split(s).ids == b.split(s).ids for s in a.splits)
    assert a.split("test").ids != c.split("test").ids
    assert sorted(i for s in a.splits.values() for i in s.ids) == sorted(f"s{i}" for i in range(100))
    assert a.provenance["split"]["seed"] == 3 and a.provenance["split"]["ratios"] == [0.8, 0.1, 0.1]


def test_split_by_column_keeps_every_group_in_one_split(tmp_path):
    path = no_split_manifest(tmp_path / "m.csv", n=70, speakers=7)
    bundle = read_manifest(path, split_ratios=(0.6, 0.2, 0.2), split_seed=0, group_by="speaker", log=None)
    speaker_of = {f"s{i}": f"sp{i % 7}" for i in range(70)}
    groups = {s: {speaker_of[i] for i in split.ids} for s, split in bundle.splits.items()}
    assert all(groups[a].isdisjoint(groups[b]) for a in groups for b in groups if a < b)
    assert all(groups.values())


def test_cli_convert_split_options_recorded_in_dataset_json(tmp_path):
    path = no_split_manifest(tmp_path / "m.csv")
    out = tmp_path / "native"
    assert main(["convert", str(path), str(out), "--split-ratios", "0.8", "0.1", "0.1", "--split-by", "speaker",
                 "--seed", "0"]) == 0
    recipe = json.loads((out / "dataset.json").read_text())["provenance"]["split"]
    assert recipe["group_by"] == "speaker" and recipe["seed"] == 0 and recipe["ratios"] == [0.8, 0.1, 0.1]


@pytest.mark.parametrize("column, value", [("image", "../../etc/passwd"), ("image", "/etc/passwd"),
                                           ("audio", "../outside.wav"), ("video", "/tmp/clip.mp4")])
def test_media_paths_escaping_the_folder_are_refused_by_line(tmp_path, column, value):
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "m.csv"
    path.write_text(f"id,text,label,split,{column}\na,x,pos,train,a.jpg\nb,y,neg,train,sub/b.jpg\n"
                    f"v,u,pos,valid,v.jpg\nc,z,pos,test,{value}\nd,w,neg,test,d.jpg\n")
    with pytest.raises(DataError, match=rf"m\.csv:5: media path '{value}'"):
        read_manifest(path, log=None)
    allowed = read_manifest(path, allow_outside=True, log=None)
    assert allowed.split("test").texts[column][0] == value
    assert main(["convert", str(path), str(tmp_path / "out")]) == 2
    assert main(["convert", str(path), str(tmp_path / "out"), "--allow-outside-paths"]) == 0


def test_image_paths_leading_out_of_images_dir_are_refused(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    path = tmp_path / "m.csv"
    path.write_text("id,text,label,split,image\na,x,pos,train,a.jpg\nb,y,neg,train,../m.csv\n"
                    "c,z,pos,test,c.jpg\nd,w,neg,test,d.jpg\n")
    with pytest.raises(DataError, match=r"m\.csv:3: media path '\.\./m\.csv' leads out of"):
        read_manifest(path, images_dir=images, log=None)
