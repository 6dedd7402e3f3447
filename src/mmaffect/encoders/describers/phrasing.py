"""Template sentences of the ``template`` describer: measurements of a sample -> the four description fields.

Pure functions of the measurement dict written by :class:`~mmaffect.encoders.describers.template.TemplateDescriber`
(no model here), so the same measurements always give the same text. Wording rules:

- a probability ``p`` becomes a word: ``p ≥ 0.5`` "likely", ``0.2 ≤ p < 0.5`` "possibly", ``0.05 ≤ p < 0.2``
  "faintly"; lower ones are left out (the most probable label is always kept);
- a facial expression (FER2013 classes) is named by its adjective; valence: happy positive; angry,
  disgusted, fearful, sad negative; surprised and neutral neither;
- a face video is its per-frame most probable expression, runs shorter than ``min_run`` frames merged
  into the run before, read as "neutral, then surprised from 1.2 s";
- vocal arousal is :func:`~mmaffect.encoders.describers.prosody.arousal` of the prosody levels, and the
  reasoning names the valence × arousal quadrant (Russell 1980, "A circumplex model of affect").
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from mmaffect.encoders.describers.prosody import arousal, prosody_levels, prosody_words

PHRASING_VERSION = 2
"""Changes whenever a template sentence changes (part of the describer's fingerprint)."""

ADJECTIVES = {"angry": "angry", "disgust": "disgusted", "fear": "fearful", "happy": "happy", "sad": "sad",
              "surprise": "surprised", "neutral": "neutral"}
VALENCE = {"angry": -1, "disgust": -1, "fear": -1, "sad": -1, "happy": 1, "surprise": 0, "neutral": 0}
QUADRANTS = {(-1, 2): "a negative, aroused state such as anger or fear",
             (-1, 1): "a negative state such as displeasure or worry",
             (-1, 0): "a negative, subdued state such as sadness",
             (1, 2): "a positive, excited state such as joy",
             (1, 1): "a positive state such as pleasure",
             (1, 0): "a positive, calm state such as contentment",
             (0, 2): "an aroused state of unclear valence, such as surprise or alarm",
             (0, 1): "no strong emotion",
             (0, 0): "a calm, possibly tired or sad state"}
AROUSAL_WORDS = ("low vocal arousal (a calm or subdued voice)", "moderate vocal arousal",
                 "high vocal arousal (an excited or tense voice)")


def probability_word(p: float) -> str | None:
    """The word for a probability (rules in the module docs); None below 0.05."""
    if p >= 0.5:
        return "likely"
    if p >= 0.2:
        return "possibly"
    if p >= 0.05:
        return "faintly"
    return None


def labels_phrase(labels: Sequence[Sequence[Any]]) -> str:
    """'likely a Windsor tie, possibly a neck brace' from ``[[name, p], ...]`` (most probable first)."""
    parts = []
    for i, (name, p) in enumerate(labels):
        word = probability_word(float(p)) or ("faintly" if i == 0 else None)
        if word is not None:
            parts.append(f"{word} {name}")
    return ", ".join(parts)


def expression_phrase(probabilities: Sequence[float], classes: Sequence[str]) -> str:
    """'likely happy, faintly surprised': the expressions of one face with their probability words."""
    order = np.argsort(-np.asarray(probabilities, dtype=np.float64), kind="stable")
    parts = []
    for rank, i in enumerate(order[:3]):
        word = probability_word(float(probabilities[i])) or ("faintly" if rank == 0 else None)
        if word is not None:
            parts.append(f"{word} {ADJECTIVES.get(classes[i], classes[i])}")
    return ", ".join(parts)


def expression_runs(top: Sequence[int | None], times: Sequence[float], min_run: int = 2) -> list[tuple[int, float]]:
    """``[(class, start time), ...]``: runs of the per-frame top class (frames without a face skipped),
    runs shorter than ``min_run`` frames merged into the previous run."""
    runs: list[list[Any]] = []  # [class, start, count]
    for cls, t in zip(top, times):
        if cls is None:
            continue
        if runs and runs[-1][0] == cls:
            runs[-1][2] += 1
        else:
            runs.append([cls, float(t), 1])
    merged: list[list[Any]] = []
    for run in runs:
        if merged and (run[2] < min_run or merged[-1][0] == run[0]):
            merged[-1][2] += run[2]
            continue
        merged.append(run)
    if len(merged) > 1 and merged[0][2] < min_run:  # a short first run joins the second
        merged[1][1], merged[1][2] = merged[0][1], merged[1][2] + merged[0][2]
        merged.pop(0)
    return [(int(c), float(s)) for c, s, _ in merged]


def video_phrase(video: Mapping[str, Any], classes: Sequence[str], min_run: int = 2) -> tuple[str, int | None]:
    """The face video sentence and the dominant class (None without faces)."""
    probabilities = video.get("probabilities") or []
    times = video.get("times") or []
    top = [None if p is None else int(np.argmax(p)) for p in probabilities]
    found = [t for t in top if t is not None]
    duration = float(video.get("duration") or (times[-1] if times else 0.0))
    if not found:
        return f"A video of {duration:.1f} s in which no face is found.", None
    counts = np.bincount(found, minlength=len(classes))
    dominant = int(np.argmax(counts))
    runs = expression_runs(top, times, min_run)
    timeline = ", then ".join(ADJECTIVES[classes[c]] if k == 0 else f"{ADJECTIVES[classes[c]]} from {s:.1f} s"
                              for k, (c, s) in enumerate(runs[:5]))
    share = counts[dominant] / len(found)
    return (f"A face video of {duration:.1f} s (face seen in {len(found)} of {len(top)} frames): mostly "
            f"{ADJECTIVES[classes[dominant]]} ({share:.0%} of the frames with a face); {timeline}."), dominant


def _face_sentence(faces: Sequence[Mapping[str, Any]], whole: bool, classes: Sequence[str]) -> str:
    if whole and faces:
        return f"The image is a close-up of a face, looking {expression_phrase(faces[0]['probabilities'], classes)}."
    if not faces:
        return "No face is visible."
    count = "One face" if len(faces) == 1 else f"{len(faces)} faces"
    looks = "; ".join(f"face {i + 1} looking {expression_phrase(f['probabilities'], classes)}"
                      if len(faces) > 1 else f"looking {expression_phrase(f['probabilities'], classes)}"
                      for i, f in enumerate(faces))
    return f"{count}: {looks}."


def _quote(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return f'"{text[:limit]}{"…" if len(text) > limit else ""}"'


def render(measures: Mapping[str, Any], thresholds: Mapping[str, Sequence[float]], classes: Sequence[str],
           post_text: str | None = None, *, min_run: int = 2) -> dict[str, str]:
    """The fields ``ocr``, ``visual_scene``, ``cross_modal``, ``reasoning`` of one sample's measurements."""
    scene, ocr_parts, pairs, reasons = [], [], [], []
    valence: int | None = None
    image = measures.get("image")
    if image:
        labels = labels_phrase(image.get("labels") or [])
        scene.append(f"An image showing {labels}." if labels else "An image.")
        faces = image.get("faces") or []
        scene.append(_face_sentence(faces, bool(image.get("whole_face")), classes))
        if image.get("ocr"):
            ocr_parts.append(str(image["ocr"]))
            pairs.append(f"an image that reads {_quote(image['ocr'])}")
        if faces:
            top = int(np.argmax(faces[0]["probabilities"]))
            valence = VALENCE[classes[top]]
            pairs.append(f"a face looking {ADJECTIVES[classes[top]]}")
            reasons.append(f"the face looks {ADJECTIVES[classes[top]]}")
        elif labels:
            pairs.append(f"an image of {labels.split(', ')[0].split(' ', 1)[1]}")
    video = measures.get("video")
    if video:
        sentence, dominant = video_phrase(video, classes, min_run)
        scene.append(sentence)
        if dominant is not None:
            valence = VALENCE[classes[dominant]] if valence is None else valence
            pairs.append(f"a face that is mostly {ADJECTIVES[classes[dominant]]}")
            reasons.append(f"the face is mostly {ADJECTIVES[classes[dominant]]}")
    audio = measures.get("audio")
    vocal: int | None = None
    if audio:
        transcript = str(audio.get("transcript") or "").strip()
        duration = float(audio.get("duration") or 0.0)
        words = len(transcript.split())
        rate = f", {words / duration:.1f} words per second" if duration > 0 and words else ""
        scene.append(f"Speech of {duration:.1f} s ({words} words{rate}).")
        if transcript:
            ocr_parts.append(transcript)
        levels = prosody_levels(audio.get("prosody") or {}, thresholds)
        voice = prosody_words(levels)
        if voice:
            scene.append(voice)
        vocal = arousal(levels)
        if levels:
            extremes = (("loudness", "soft", "loud"), ("pitch", "low-pitched", "high-pitched"), ("rate", "slow", "fast"))
            cues = [low if levels.get(cue) == 0 else high for cue, low, high in extremes if levels.get(cue) in (0, 2)]
            voice_desc = " and ".join(cues) if cues else "unremarkable"
            spoken = f"the words {_quote(transcript)} spoken in a voice that is {voice_desc}" if transcript \
                else f"a voice that is {voice_desc}"
            pairs.append(spoken)
        if vocal is not None:
            reasons.append(AROUSAL_WORDS[vocal])
    for name, error in sorted((measures.get("failures") or {}).items()):
        scene.append(f"The {name} could not be read.")
    text = str(post_text or "").strip()
    if pairs:
        lead = f"The text {_quote(text)} comes with " if text else "The sample has "
        cross = lead + "; ".join(pairs) + "."
    else:
        cross = ""
    if reasons:
        quadrant = QUADRANTS.get((valence if valence is not None else 0, vocal if vocal is not None else 1))
        verdict = ""
        if valence is not None or vocal is not None:
            verdict = f" Together this suggests {quadrant}." if quadrant else ""
        reasoning = "Cues: " + "; ".join(reasons) + "." + verdict
    else:
        reasoning = ""
    return {"ocr": "\n".join(ocr_parts), "visual_scene": " ".join(scene), "cross_modal": cross,
            "reasoning": reasoning}
