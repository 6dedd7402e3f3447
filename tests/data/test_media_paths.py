"""The one gate for media paths: inside the root is accepted however it is written, outside is refused."""

from __future__ import annotations

import pytest

from mmaffect.data.images import escapes, media_path
from mmaffect.errors import DataError


def test_absolute_path_inside_root_stays_inside(tmp_path):
    inside = tmp_path / "clips" / "a.wav"
    assert not escapes(str(inside), tmp_path)
    assert media_path(str(inside), tmp_path, "m.csv, line 2") == str(inside)


@pytest.mark.parametrize("value, words", [("/etc/passwd", "is absolute"), ("../x.wav", "leads out of"),
                                          ("a/../../x.wav", "leads out of")])
def test_paths_outside_root_are_refused_by_name(tmp_path, value, words):
    assert escapes(value, tmp_path)
    with pytest.raises(DataError, match=words):
        media_path(value, tmp_path, "m.csv, line 2")
    assert media_path(value, tmp_path, "m.csv, line 2", allow_outside=True) == value


def test_sibling_folder_with_the_same_prefix_is_outside(tmp_path):
    root = tmp_path / "data"
    assert escapes(str(tmp_path / "data2" / "a.png"), root)
