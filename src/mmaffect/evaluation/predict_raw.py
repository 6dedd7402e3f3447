"""Prediction on raw files: a checkpoint's own recipes turn new audio, video, images or text into its inputs.

For every modality the checkpoint was trained on, ``checkpoint.json`` holds the recipe that made it
(copied from the dataset at training). :func:`predict_raw_files` rebuilds each encoder from its recipe
(:func:`mmaffect.jobs.recipes.encoder_for_recipe`; an installed encoder that cannot reproduce it — other
version, weights or parameters — is an :class:`~mmaffect.errors.EncoderError` naming the difference),
encodes one sample (``audio`` / ``video`` / ``image`` / ``text``) or every row of a manifest
(``id`` and any of ``audio``, ``video``, ``image``, ``text``; paths relative to the manifest's folder),
builds an in-memory split and runs the one inference loop
(:func:`mmaffect.evaluation.inference.predict_split`).

Text modalities read the sample's text; a sample without text gets its Whisper transcript (the one of
the checkpoint's ``transcript`` recipe when it has one, else Whisper-base with its defaults), and the
transcript used is returned. Audio encoders read an audio file, or the audio track of a video.
A manifest row whose file fails is reported (id, error) and left out; a single sample that fails raises.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmaffect.data.bundle import SplitData
from mmaffect.errors import CheckpointError, DataError, MediaError
from mmaffect.evaluation.inference import predict_split

MEDIA_KEYS = ("audio", "video", "image")


@dataclass
class RawPredictions:
    """Per sample: id, the transcript used (or None), the score (``[C]`` probabilities or a value); failures."""

    ids: list[str]
    transcripts: list[str | None]
    scores: np.ndarray
    label_names: list[str]
    failures: dict[str, str] = field(default_factory=dict)

    def label(self, i: int) -> str | float:
        """The predicted class name (classification) or the score (regression) of sample ``i``."""
        if self.scores.ndim == 2:
            k = int(np.argmax(self.scores[i]))
            return self.label_names[k] if k < len(self.label_names) else str(k)
        return float(self.scores[i])

    def lines(self) -> list[str]:
        """Human-readable lines: id, transcript, label and probabilities (or score)."""
        out = []
        for i, sample_id in enumerate(self.ids):
            if self.transcripts[i] is not None:
                out.append(f"{sample_id}: transcript: {self.transcripts[i]!r}")
            if self.scores.ndim == 2:
                names = self.label_names or [str(k) for k in range(self.scores.shape[1])]
                probs = ", ".join(f"{n} {p:.3f}" for n, p in sorted(zip(names, self.scores[i]), key=lambda x: -x[1]))
                out.append(f"{sample_id}: label {self.label(i)}  ({probs})")
            else:
                out.append(f"{sample_id}: score {float(self.scores[i]):.4f}")
        out += [f"{sample_id}: failed: {error}" for sample_id, error in self.failures.items()]
        return out


def read_raw_manifest(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV/TSV/JSONL manifest of new samples, media paths joined to its folder (never leaving it)."""
    from mmaffect.data.images import media_path

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such manifest")
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ","))
    samples = []
    for lineno, row in enumerate(rows, 2):
        where = f"{path}:{lineno}"
        sample = {"id": str(row.get("id") or f"row{lineno - 1}")}
        for key in MEDIA_KEYS:
            if row.get(key):
                sample[key] = str(path.parent / media_path(str(row[key]).strip(), path.parent, where))
        if row.get("text"):
            sample["text"] = str(row["text"])
        samples.append(sample)
    return samples


def _media_input(sample: dict[str, str], column: str) -> str:
    """The file a media recipe reads from a sample: its column, or a video's audio track for audio recipes."""
    if column in sample:
        return sample[column]
    if column == "audio" and "video" in sample:
        return sample["video"]
    raise MediaError(f"sample {sample['id']!r}: the checkpoint needs a {column} input "
                     f"(give --{column}{' or --video' if column == 'audio' else ''})")


def predict_raw_files(checkpoint: Any, *, audio: str | Path | None = None, video: str | Path | None = None,
                      image: str | Path | None = None, text: str | None = None, manifest: str | Path | None = None,
                      out: str | Path | None = None) -> RawPredictions:
    """Predictions of ``checkpoint`` on raw inputs (see the module docstring)."""
    from mmaffect.jobs.recipes import encoder_for_recipe

    if manifest is not None:
        samples = read_raw_manifest(manifest)
    else:
        sample = {"id": Path(str(audio or video or image)).name if (audio or video or image) else "text"}
        sample.update({k: str(v) for k, v in (("audio", audio), ("video", video), ("image", image)) if v})
        if text is not None:
            sample["text"] = text
        if len(sample) == 1:
            raise DataError("predict: give --audio, --video, --image, --text or --manifest")
        samples = [sample]
    recipes = checkpoint.description.get("recipes") or {}
    missing = [m for m in checkpoint.modalities if m not in recipes]
    if missing:
        raise CheckpointError(f"checkpoint modalities {missing} have no recipe (their features were not made by "
                              f"`mmaffect extract` on raw media), so raw files cannot be turned into them; "
                              f"predict on a dataset with these modalities instead")
    encoders = {m: encoder_for_recipe(m, recipes[m]) for m in checkpoint.modalities}
    transcriber = _transcriber(encoders, recipes) if any(
        recipes[m].get("encoder") == "text" for m in encoders) and any("text" not in s for s in samples) else None
    rows: dict[str, list[np.ndarray]] = {m: [] for m in encoders}
    kept, transcripts, failures = [], [], {}
    for sample in samples:
        try:
            features, transcript = _encode_sample(sample, encoders, recipes, transcriber)
        except (MediaError, FileNotFoundError) as err:
            if manifest is None:
                raise
            failures[sample["id"]] = str(err)
            continue
        for m, value in features.items():
            rows[m].append(value)
        kept.append(sample["id"])
        transcripts.append(transcript)
    task = checkpoint.task
    if not kept:
        return RawPredictions([], [], np.zeros((0,)), list(task.label_names), failures)
    feats, lengths = {}, {}
    for m, values in rows.items():
        steps = max(len(v) for v in values)
        feats[m] = np.zeros((len(values), steps, values[0].shape[-1]), np.float32)
        for i, v in enumerate(values):
            feats[m][i, :len(v)] = v
        lengths[m] = np.array([len(v) for v in values], np.int64)
    labels = np.zeros(len(kept), np.int64 if task.kind == "classification" else np.float32)
    split = SplitData(feats, lengths, labels, kept, [t or "" for t in transcripts])
    result = predict_split(checkpoint.predictor, split, task)
    predictions = RawPredictions(kept, transcripts, result.scores, list(task.label_names), failures)
    if out is not None:
        from mmaffect.io import atomic_write_text

        atomic_write_text(Path(out), "\n".join(predictions.lines()) + "\n")
    return predictions


def _transcriber(encoders: dict[str, Any], recipes: dict[str, Any]) -> Any:
    """A Whisper encoder for samples without text: the checkpoint's transcript recipe, its Whisper modality, or a default."""
    from mmaffect.jobs.recipes import encoder_for_recipe

    if "transcript" in recipes:
        return encoder_for_recipe("transcript", recipes["transcript"]).encoder
    whisper = next((e for e in encoders.values() if getattr(e, "settings", None) and e.settings.encoder == "whisper"),
                   None)
    if whisper is not None:
        return whisper.encoder
    from mmaffect.encoders.whisper import WhisperEncoder

    return WhisperEncoder()


def _encode_sample(sample: dict[str, str], encoders: dict[str, Any], recipes: dict[str, Any],
                   transcriber: Any) -> tuple[dict[str, np.ndarray], str | None]:
    """Every modality of one sample, and the transcript used for its text (None when the text was given)."""
    features: dict[str, np.ndarray] = {}
    transcript: str | None = None
    decoded_cache: dict[tuple[str, str], Any] = {}
    for m, encoder in encoders.items():
        if recipes[m].get("encoder") != "text":
            path = _media_input(sample, encoder.settings.column)
            s = encoder.settings
            key = (path, s.column, s.encoder == "face", s.max_seconds, s.truncate, s.fps)
            if key not in decoded_cache:
                decoded_cache[key] = encoder.decode(path)
            features[m] = encoder.encode(decoded_cache[key], path).features
    for m, encoder in encoders.items():
        if recipes[m].get("encoder") == "text":
            text = sample.get("text")
            if text is None:
                if transcript is None:
                    from mmaffect.encoders.audio import load_audio

                    signal = load_audio(_media_input(sample, "audio"), max_seconds=600.0, truncate=True)
                    transcript = transcriber.transcribe(signal.samples).text
                text = transcript
            feats, lengths = encoder.encode([text])
            features[m] = np.asarray(feats[0][:max(int(lengths[0]), 1)], np.float32)
    return features, transcript
