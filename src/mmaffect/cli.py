"""The ``mmaffect`` command line: train, evaluate, predict, list, convert, extract, decompose, describe."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_SEEDS = [1111, 1112, 1113]


def _add_data_args(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--data", default=default, required=default is None,
                   help="dataset name (see `mmaffect list`), native dataset directory, or MMSA/MulT pickle")
    p.add_argument("--data-root", default=None, help="folder holding the named real datasets ($MMAFFECT_DATA_ROOT)")


def build_parser() -> argparse.ArgumentParser:
    from mmaffect.api import DEFAULT_DATASET, DEFAULT_MODEL

    parser = argparse.ArgumentParser(prog="mmaffect", description=__doc__)
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("train", help="train a model for several seeds and write a results folder")
    p.add_argument("--model", default=DEFAULT_MODEL)
    _add_data_args(p, DEFAULT_DATASET)
    p.add_argument("--config", default=None, help="YAML with sections model/objectives/optim/data")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=3e-4 --set model.hidden=128")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help=f"default: from config ({DEFAULT_SEEDS})")
    p.add_argument("--modalities", nargs="+", default=None, help="use only these modalities")
    p.add_argument("--out", default=None, help="results folder (default runs/<model>_<dataset>_<time>)")
    p.add_argument("--devices", type=int, default=None)
    p.add_argument("--strategy", default=None, help="Lightning strategy, e.g. ddp")
    p.add_argument("--progress", action="store_true", help="show a progress bar per epoch")

    p = sub.add_parser("evaluate", help="metrics of a checkpoint on a split")
    p.add_argument("checkpoint")
    _add_data_args(p)
    p.add_argument("--split", default="test")

    p = sub.add_parser("predict", help="write predictions of a checkpoint to CSV")
    p.add_argument("checkpoint")
    _add_data_args(p)
    p.add_argument("--split", default="test")
    p.add_argument("--out", default="predictions.csv")

    p = sub.add_parser("robustness", help="metrics with each modality missing or under Gaussian noise")
    p.add_argument("checkpoint")
    _add_data_args(p)
    p.add_argument("--split", default="test")
    p.add_argument("--levels", type=float, nargs="+", default=[0.25, 0.5, 1.0, 2.0])
    p.add_argument("--out", default=None, help="folder for robustness.{json,md,png} (default: beside the checkpoint)")

    p = sub.add_parser("diagnose", help="alignment diagnostics of a checkpoint (CKA, cosine, σ1/√M, ...)")
    p.add_argument("checkpoint")
    _add_data_args(p)
    p.add_argument("--split", default="test")
    p.add_argument("--out", default=None, help="folder for diagnostics.{json,png} (default: beside the checkpoint)")

    p = sub.add_parser("report", help="turn a run or benchmark folder into report.md and report.html")
    p.add_argument("results_dir")

    sub.add_parser("list", help="list models, datasets and objectives")

    p = sub.add_parser("benchmark", help="run a grid of models × datasets × seeds and write one table")
    p.add_argument("spec", nargs="?", default=None, help="benchmark YAML (see mmaffect.training.benchmark)")
    p.add_argument("--models", nargs="+", default=[])
    p.add_argument("--datasets", nargs="+", default=[])
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=None)
    p.add_argument("--jobs", type=int, default=1, help="cells trained in parallel processes")

    p = sub.add_parser("convert", help="convert an MMSA/MulT pickle or a CSV/TSV/JSONL manifest to the native format")
    p.add_argument("source")
    p.add_argument("out_dir")
    p.add_argument("--name", default=None)

    p = sub.add_parser("extract", help="add a text-embedding modality (or, with --encoder-kind clip, image and "
                                       "text token matrices of a CLIP model)")
    p.add_argument("dataset", help="native dataset directory (created from a pickle with --from)")
    p.add_argument("--from", dest="source", default=None, help="pickle or dataset name to convert first")
    p.add_argument("--data-root", default=None)
    p.add_argument("--encoder", default=None,
                   help="sentence-transformers / transformers path or name (text default: all-MiniLM-L6-v2; "
                        "clip: a CLIPModel path or name)")
    p.add_argument("--name", default=None, help="name of the new modality (text default: text_minilm; "
                                                "clip: prefix of <name>_image and <name>_text, default clip)")
    p.add_argument("--pooling", choices=["mean", "tokens"], default="mean")
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

    p = sub.add_parser("decompose", help="add the joint low-rank + sparse decomposition (rd) as modalities")
    p.add_argument("dataset", help="native dataset directory")
    p.add_argument("--modalities", nargs="+", default=None, help="the M >= 2 modalities (default: all)")
    p.add_argument("--rows", type=int, default=49, help="rows n (real rows repeated or truncated)")
    p.add_argument("--columns", type=int, default=64, help="columns c (groups of dimensions averaged)")
    p.add_argument("--row-fit", choices=["repeat", "pad"], default="repeat")
    p.add_argument("--preset", choices=["fast", "paper"], default="fast")
    p.add_argument("--lam", type=float, default=None)
    p.add_argument("--max-iter", type=int, default=None)
    p.add_argument("--svt-compat", action="store_true", help="threshold L at 1/mu as the official code")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--replace", action="store_true",
                   help="remove a decomposition already in the dataset and compute it again")

    p = sub.add_parser("describe", help="describe images as text (ocr, visual_scene, cross_modal, reasoning)")
    p.add_argument("data", help="dataset name, native dataset directory, or manifest (.csv/.tsv/.jsonl)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--describer", choices=["vlm", "file", "attributes"], required=True)
    p.add_argument("--cache", required=True, help="JSONL cache of descriptions (written atomically, resumed)")
    p.add_argument("--out", default=None, help="write a native copy with the description fields as text fields")
    p.add_argument("--model", default=None, help="vlm: transformers image-text-to-text model (path or name)")
    p.add_argument("--descriptions", dest="path", default=None, help="file: JSONL of precomputed descriptions")
    p.add_argument("--field", default=None, help="attributes: the text field with the attribute words")
    p.add_argument("--images-dir", default=None, help="folder the image paths are relative to")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--prompt", default=None, help="vlm prompt ({text} is replaced by the post text)")
    return parser


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["train", *argv]  # `mmaffect` alone trains the default model on the default data
    args = parser.parse_args(argv)
    command = args.command
    try:
        return _dispatch(command, args)
    except (ValueError, KeyError, FileNotFoundError, ImportError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"mmaffect {command}: error: {message}", file=sys.stderr)
        return 2


def _dispatch(command: str, args: argparse.Namespace) -> int:
    from mmaffect import api

    if command == "train":
        overrides = list(args.overrides)
        if args.modalities:
            overrides.append(f"data.modalities={json.dumps(args.modalities)}")
        run = api.train(args.model, args.data, data_root=args.data_root, config_file=args.config,
                        overrides=overrides, seeds=args.seeds, out_dir=args.out, devices=args.devices,
                        strategy=args.strategy, progress=args.progress)
        if run is not None:
            _print_summary(run.summary)
            print(f"results: {run.directory}")
        return 0
    if command == "evaluate":
        metrics = api.evaluate(args.checkpoint, args.data, split=args.split, data_root=args.data_root)
        _print_metrics(f"{args.checkpoint} on {args.data} ({args.split})", metrics)
        print(json.dumps(metrics))
        return 0
    if command == "predict":
        result = api.predict(args.checkpoint, args.data, split=args.split, data_root=args.data_root, out=args.out)
        print(f"wrote {len(result.ids)} predictions to {args.out}")
        return 0
    if command in ("robustness", "diagnose"):
        from mmaffect.training.checkpoint import find_checkpoint_dir

        out = Path(args.out) if args.out else find_checkpoint_dir(args.checkpoint)
        if command == "robustness":
            api.robustness(args.checkpoint, args.data, split=args.split, levels=tuple(args.levels),
                           data_root=args.data_root, out_dir=out)
            print((out / "robustness.md").read_text())
            print(f"wrote {out / 'robustness.json'} and {out / 'robustness.png'}")
        else:
            report = api.diagnose(args.checkpoint, args.data, split=args.split, data_root=args.data_root, out_dir=out)
            print(json.dumps(report, indent=2))
            print(f"wrote {out / 'diagnostics.json'} and {out / 'diagnostics.png'}")
        return 0
    if command == "report":
        from mmaffect.training.report import build_report

        path = build_report(args.results_dir)
        print(f"wrote {path} and {path.with_suffix('.html')}")
        return 0
    if command == "list":
        from mmaffect.data.registry import DATASETS
        from mmaffect.models.base import MODELS
        from mmaffect.objectives.registry import OBJECTIVES

        for title, registry in (("models", MODELS), ("datasets", DATASETS), ("objectives", OBJECTIVES)):
            print(f"{title}:")
            for name in registry.names():
                print(f"  {name:28s} {registry.describe(name)}")
        return 0
    if command == "benchmark":
        from mmaffect.training.benchmark import BenchmarkSpec, load_spec, run_benchmark

        spec = load_spec(args.spec) if args.spec else BenchmarkSpec()
        update = {k: v for k, v in {"models": args.models, "datasets": args.datasets, "seeds": args.seeds,
                                    "data_root": args.data_root, "out": args.out}.items() if v}
        if args.overrides:
            update["set"] = [*spec.set, *args.overrides]
        spec = spec.model_copy(update=update)
        if not spec.cells():
            raise ValueError("nothing to run: give a spec file with `runs`, or --models and --datasets")
        out = run_benchmark(spec, jobs=args.jobs)
        print((out / "table.md").read_text())
        print(f"table: {out / 'table.md'}  plots: {out / 'metrics.png'}")
        return 0
    if command == "convert":
        from mmaffect.jobs.convert import convert_dataset

        bundle = convert_dataset(args.source, args.out_dir, name=args.name)
        print(f"wrote {bundle.name} ({', '.join(f'{k}: {len(v)}' for k, v in bundle.splits.items())}) to {args.out_dir}")
        return 0
    if command == "extract" and args.encoder_kind == "clip":
        from mmaffect.jobs.extract_clip import extract_image_text

        if not args.encoder:
            raise ValueError("--encoder-kind clip needs --encoder (a CLIPModel path or name)")
        extract_image_text(Path(args.dataset), encoder=args.encoder, images_dir=args.images_dir,
                           name=args.name or "clip", field=args.field, rows=args.rows, columns=args.columns,
                           batch_size=args.batch_size, skip_missing=args.skip_missing, source=args.source,
                           data_root=args.data_root)
        return 0
    if command == "extract":
        from mmaffect.jobs.extract import extract_text_modality

        extract_text_modality(Path(args.dataset), encoder=args.encoder or "all-MiniLM-L6-v2",
                              name=args.name or "text_minilm", pooling=args.pooling,
                              max_tokens=args.max_tokens, batch_size=args.batch_size, source=args.source,
                              data_root=args.data_root, field=args.field)
        return 0
    if command == "decompose":
        from mmaffect.jobs.decompose import decompose_dataset

        report = decompose_dataset(Path(args.dataset), modalities=args.modalities, rows=args.rows,
                                   columns=args.columns, row_fit=args.row_fit, preset=args.preset, lam=args.lam,
                                   max_iter=args.max_iter, svt_compat=args.svt_compat, batch_size=args.batch_size,
                                   device=args.device, replace=args.replace)
        if report:
            print(json.dumps(report["splits"], indent=2))
            print(f"added {', '.join(report['outputs'])} to {args.dataset}")
        return 0
    if command == "describe":
        from mmaffect.jobs.describe import describe_data

        options = {"model": args.model, "path": args.path, "field": args.field, "max_new_tokens": args.max_new_tokens,
                   "batch_size": args.batch_size, "prompt": args.prompt}
        described = describe_data(args.data, args.describer, args.cache, out=args.out, data_root=args.data_root,
                                     images_dir=args.images_dir, **options)
        sizes = ", ".join(f"{k}: {len(v)}" for k, v in described.splits.items())
        print(f"described {described.name} ({sizes}) into {args.cache}" + (f"; dataset: {args.out}" if args.out else ""))
        return 0
    raise ValueError(f"unknown command {command!r}")


if __name__ == "__main__":
    sys.exit(main())
