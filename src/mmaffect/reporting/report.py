"""``mmaffect report RESULTS_DIR``: a run or benchmark folder becomes ``report.md`` and ``report.html``
with its tables and figures (the figures are linked, not copied)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from mmaffect.errors import DataFileNotFoundError
from mmaffect.io import atomic_write_text


def _run_section(directory: Path, root: Path) -> list[str]:
    summary = json.loads((directory / "summary.json").read_text())
    rel = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    lines = [f"## {summary['model']} on {summary['dataset']}", ""]
    md = (directory / "summary.md").read_text().split("\n", 2)[-1] if (directory / "summary.md").is_file() else ""
    lines += [md.strip(), ""]
    if "train_samples_per_second" in summary:
        lines += [f"Training speed: {summary['train_samples_per_second']:.0f} samples/s; "
                  f"model selection on validation `{summary.get('monitor', '?')}`.", ""]
    alignment = summary.get("test_alignment")
    if alignment:
        lines += [f"Test alignment σ₁/√M: {alignment['alignment']['mean']:.3f} ± {alignment['alignment']['std']:.3f}", ""]
    for figure in ("learning_curve.png",):
        if (directory / figure).is_file():
            lines += [f"![{figure}]({rel(directory / figure)})", ""]
    for seed_dir in sorted(directory.glob("seed_*")):
        for name in ("robustness", "diagnostics"):
            if (seed_dir / f"{name}.png").is_file():
                lines += [f"### {name} ({seed_dir.name})", ""]
                if (seed_dir / f"{name}.md").is_file():
                    lines += [(seed_dir / f"{name}.md").read_text().strip(), ""]
                lines += [f"![{name}]({rel(seed_dir / f'{name}.png')})", ""]
    return lines


def build_report(directory: str | Path) -> Path:
    """Write ``report.md`` and ``report.html`` into ``directory``; returns the Markdown path."""
    root = Path(directory)
    lines = [f"# Results: {root.name}", ""]
    if (root / "table.md").is_file():
        lines += ["Mean ± std over seeds (test split); the best value of each column in bold.", "",
                  (root / "table.md").read_text().strip(), ""]
        if (root / "metrics.png").is_file():
            lines += ["![metrics](metrics.png)", ""]
        for run in sorted(p.parent for p in root.glob("*/summary.json")):
            lines += _run_section(run, root)
    elif (root / "summary.json").is_file():
        lines += _run_section(root, root)
    else:
        raise DataFileNotFoundError(f"{root} holds neither a benchmark table (table.md) nor a run (summary.json)")
    markdown = "\n".join(lines).rstrip() + "\n"
    atomic_write_text(root / "report.md", markdown)
    atomic_write_text(root / "report.html", markdown_to_html(markdown, title=root.name))
    return root / "report.md"


def markdown_to_html(markdown: str, title: str = "report") -> str:
    """The Markdown subset this module writes (headings, tables, images, paragraphs) as a standalone page.
    Written by hand: the subset is tiny and a Markdown library would be a dependency for four constructs."""
    out: list[str] = []
    table: list[list[str]] = []

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", text)

    def flush_table() -> None:
        if not table:
            return
        head, *body = table
        out.append("<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr></thead><tbody>")
        out.extend("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body)
        out.append("</tbody></table>")
        table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                table.append(cells)
            continue
        flush_table()
        image = re.fullmatch(r"!\[(.*?)\]\((.+?)\)", line.strip())
        heading = re.match(r"(#+) (.*)", line)
        if image:
            out.append(f'<p><img alt="{html.escape(image[1])}" src="{html.escape(image[2])}"></p>')
        elif heading:
            level = len(heading[1])
            out.append(f"<h{level}>{inline(heading[2])}</h{level}>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    flush_table()
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")
