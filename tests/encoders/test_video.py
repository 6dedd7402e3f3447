"""Video frames (PyAV): sampling rate, size bound, grey uint8, and the bad-media cases."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av")

from media_files import tone, write_video, write_wav  # noqa: E402

from mmaffect.encoders.video import load_video_frames  # noqa: E402
from mmaffect.errors import MediaError  # noqa: E402


def test_frames_at_the_chosen_rate(tmp_path):
    path = write_video(tmp_path / "v.mp4", 50, fps=25)  # 2 s
    video = load_video_frames(path, fps=5)
    assert video.frames.dtype == np.uint8 and video.frames.shape == (10, 120, 160)
    np.testing.assert_allclose(video.times, np.arange(10) * 0.2, atol=1e-6)
    every = load_video_frames(path, fps=100)  # above the native rate: every frame once
    assert len(every) == 50


def test_frame_content_is_the_grey_image(tmp_path):
    path = write_video(tmp_path / "v.mp4", 5, fps=5, draw=lambda i: np.full((120, 160), 40 * i + 20, np.uint8))
    video = load_video_frames(path, fps=5)
    means = video.frames.reshape(len(video), -1).mean(axis=1)
    np.testing.assert_allclose(means, [20, 60, 100, 140, 180], atol=4)


def test_frame_size_bound(tmp_path):
    video = load_video_frames(write_video(tmp_path / "v.mp4", 5, size=(320, 240)), max_side=80)
    assert video.frames.shape[1:] == (60, 80)


def test_no_video_track(tmp_path):
    with pytest.raises(MediaError, match="no video track"):
        load_video_frames(write_wav(tmp_path / "a.wav", tone(0.5)))


def test_undecodable(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(MediaError, match="broken.mp4"):
        load_video_frames(path)


def test_too_long_or_truncated(tmp_path):
    path = write_video(tmp_path / "long.mp4", 100, fps=25)  # 4 s
    with pytest.raises(MediaError, match="long.mp4.*above the limit of 1 s"):
        load_video_frames(path, max_seconds=1)
    video = load_video_frames(path, fps=5, max_seconds=1, truncate=True)
    assert video.truncated and video.times.max() <= 1.0 and len(video) == 6
