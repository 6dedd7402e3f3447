"""Cost of the media encoders on CPU: seconds of audio per wall second (Whisper frames, Whisper
transcripts, eGeMAPS, Whisper + eGeMAPS together), face-path frames per second, peak memory.

    python benchmarks/bench_media_extraction.py ../shared/data/ravdess --clips 120 --workers 2 \
        --video ../shared/data/mosi_utterance/Oz06ZWiO20M_6.mp4

Each of ``--workers`` processes runs one encoder thread on its share of the clips (decoding included);
the rate is total audio seconds / wall seconds. Also measured on ``--compare`` clips: the ``padded``
Whisper window (Whisper's own 30 s input) against the default ``clip`` window (mean cosine of their
frames), and int8 against float32 weights. Peak memory is the largest resident set of any process
(``resource.getrusage``). The load average is recorded: other work on the machine slows every rate.
Results: ``benchmarks/results/media_extraction.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

_STATE: dict = {}


def _init(kind: str, window: str, compute_type: str) -> None:
    from mmaffect.runtime import configure_threads

    configure_threads(1)
    if kind in ("whisper", "transcript", "whisper+egemaps"):
        from mmaffect.encoders.whisper import WhisperEncoder
        _STATE["whisper"] = WhisperEncoder(threads=1, window=window, compute_type=compute_type)
    if kind in ("egemaps", "whisper+egemaps"):
        from mmaffect.encoders.egemaps import EgemapsEncoder
        _STATE["egemaps"] = EgemapsEncoder()


def _work(job: tuple[str, list[str]]) -> tuple[float, float, int]:
    """Run one encoder over some files; return (audio seconds, CPU seconds, peak RSS kB)."""
    from mmaffect.encoders.audio import load_audio

    kind, paths = job
    seconds = 0.0
    cpu = time.process_time()
    for path in paths:
        audio = load_audio(path)
        seconds += audio.duration
        if kind in ("whisper", "whisper+egemaps"):
            _STATE["whisper"].encode(audio.samples)
        if kind == "transcript":
            _STATE["whisper"].transcribe(audio.samples)
        if kind in ("egemaps", "whisper+egemaps"):
            _STATE["egemaps"].low_level(audio.samples)
            _STATE["egemaps"].functionals(audio.samples)
    return seconds, time.process_time() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def audio_rate(kind: str, paths: list[str], workers: int, window: str = "clip", compute_type: str = "int8") -> dict:
    shares = [(kind, paths[i::workers]) for i in range(workers)]
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(kind, window, compute_type)) as pool:
        list(pool.map(_work, [(kind, paths[:1])] * workers))  # load and warm every worker
        start = time.perf_counter()
        done = list(pool.map(_work, shares))
        wall = time.perf_counter() - start
    audio = sum(d[0] for d in done)
    return {"encoder": kind, "window": window, "compute_type": compute_type, "clips": len(paths),
            "audio_seconds": round(audio, 1), "wall_seconds": round(wall, 2),
            "audio_seconds_per_wall_second": round(audio / wall, 2),
            "audio_seconds_per_cpu_second": round(audio / sum(d[1] for d in done), 2),
            "peak_rss_mb": round(max(d[2] for d in done) / 1024, 1)}


def compare_windows(paths: list[str]) -> dict:
    """Frames of the clip window against Whisper's padded window; int8 against float32 (one thread)."""
    from mmaffect.encoders.audio import load_audio
    from mmaffect.encoders.whisper import WhisperEncoder

    signals = [load_audio(p).samples for p in paths]
    result: dict = {"clips": len(paths)}
    frames = {}
    for window in ("clip", "padded"):
        for compute_type in ("int8", "float32"):
            encoder = WhisperEncoder(threads=1, window=window, compute_type=compute_type)
            encoder.encode(signals[0])
            cpu = time.process_time()
            frames[window, compute_type] = [encoder.encode(s) for s in signals]
            result[f"cpu_seconds_per_clip_{window}_{compute_type}"] = round((time.process_time() - cpu) / len(paths), 3)

    def cosine(a: list[np.ndarray], b: list[np.ndarray]) -> float:
        values = [((x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)).mean() for x, y in zip(a, b)]
        return round(float(np.mean(values)), 4)

    def pooled_cosine(a: list[np.ndarray], b: list[np.ndarray]) -> float:
        values = [float(x.mean(0) @ y.mean(0) / np.linalg.norm(x.mean(0)) / np.linalg.norm(y.mean(0))) for x, y in zip(a, b)]
        return round(float(np.mean(values)), 4)

    result["frame_cosine_clip_vs_padded_int8"] = cosine(frames["clip", "int8"], frames["padded", "int8"])
    result["mean_pooled_cosine_clip_vs_padded_int8"] = pooled_cosine(frames["clip", "int8"], frames["padded", "int8"])
    result["frame_cosine_int8_vs_float32_padded"] = cosine(frames["padded", "int8"], frames["padded", "float32"])
    return result


def face_rate(video: Path, repeats: int) -> dict:
    from mmaffect.encoders.face import FaceEncoder
    from mmaffect.encoders.video import load_video_frames
    from mmaffect.runtime import configure_threads

    configure_threads(1)
    encoder = FaceEncoder()
    start = time.perf_counter()
    frames = found = 0
    for _ in range(repeats):
        out = encoder.encode_video(video, fps=30.0)
        frames += len(out.mask)
        found += int(out.mask.sum())
    wall = time.perf_counter() - start
    return {"video": str(video), "frames": frames, "frames_with_face": found, "wall_seconds": round(wall, 2),
            "frames_per_wall_second_one_process": round(frames / wall, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ravdess", type=Path, help="the ravdess folder (manifest.csv, audio/)")
    parser.add_argument("--clips", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--compare", type=int, default=8, help="clips for the window / weight-type comparison")
    parser.add_argument("--transcript-clips", type=int, default=20)
    parser.add_argument("--video", type=Path, default=None, help="a video with a face for the face path")
    parser.add_argument("--video-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/media_extraction.json"))
    args = parser.parse_args(argv)

    from mmaffect.io import atomic_write_json

    rows = [r for r in csv.DictReader(open(args.ravdess / "manifest.csv", newline="")) if r["split"] == "test"]
    paths = [str(args.ravdess / r["audio"]) for r in rows][: args.clips]
    result: dict = {"command": "python benchmarks/bench_media_extraction.py " + " ".join(sys.argv[1:]),
                    "workers": args.workers, "load_average_before": list(os.getloadavg()), "rates": []}
    for kind in ("whisper", "egemaps", "whisper+egemaps"):
        result["rates"].append(audio_rate(kind, paths, args.workers))
        print(json.dumps(result["rates"][-1]), flush=True)
    result["rates"].append(audio_rate("transcript", paths[: args.transcript_clips], args.workers))
    print(json.dumps(result["rates"][-1]), flush=True)
    result["whisper_windows"] = compare_windows(paths[: args.compare])
    print(json.dumps(result["whisper_windows"]), flush=True)
    if args.video is not None:
        result["face"] = face_rate(args.video, args.video_repeats)
        print(json.dumps(result["face"]), flush=True)
    result["peak_rss_mb_main"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["load_average_after"] = list(os.getloadavg())
    atomic_write_json(args.out, result, indent=2)
    return result


if __name__ == "__main__":
    main()
