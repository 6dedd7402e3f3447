"""Test accuracy per RAVDESS speaker and per emotion from a ``mmaffect predict --data ... --split test`` CSV.

    mmaffect predict RUN --data ../cache/ravdess --split test --out preds.csv
    python benchmarks/ravdess_per_speaker.py preds.csv

The speaker is the last field of the RAVDESS file name kept in the sample id (``..-21`` = actor 21).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions")
    args = parser.parse_args()
    by_speaker: dict[str, list[bool]] = defaultdict(list)
    by_label: dict[str, list[bool]] = defaultdict(list)
    with open(args.predictions, newline="") as f:
        for row in csv.DictReader(f):
            hit = row["prediction"] == row["label"]
            by_speaker[row["id"].rsplit("-", 1)[-1]].append(hit)
            by_label[row["label"]].append(hit)
    for name, groups in (("speaker", by_speaker), ("emotion", by_label)):
        print(f"{name}: " + ", ".join(f"{k} {sum(v) / len(v):.2f} ({len(v)})" for k, v in sorted(groups.items())))


if __name__ == "__main__":
    main()
