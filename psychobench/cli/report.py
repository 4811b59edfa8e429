"""``psychobench-report``: a notebook and an HTML page from the runs under a results folder.

::

    psychobench-report --dir results --out report/                 # every run
    psychobench-report --model 'tf_*' --run 'multirun/2025-*/*'    # a selection

The notebook is built from the template ``psychobench/report/templates/report.py`` (a
percent-format script: ``# %%`` code cells, ``# %% [markdown]`` cells, the cell tagged
``parameters`` holds the defaults), executed with papermill in a fresh kernel, and written as
``OUT/report.ipynb`` (with its outputs) and ``OUT/report.html`` (figures embedded), each
atomically.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

from psychobench.cli.common import command, parser
from psychobench.data.io import atomic_write_text

TEMPLATE = Path(__file__).resolve().parents[1] / "report" / "templates" / "report.py"
_CELL = re.compile(r"^# %%(?P<md> \[markdown\])?(?P<rest>.*)$")


def notebook_from_script(text: str, source: str = "<template>"):
    """A notebook (nbformat v4) from a percent-format script.  ``# %% tags=["a", "b"]`` sets
    cell tags; markdown cells drop their leading ``# ``."""
    import nbformat

    cells, kind, tags, lines = [], None, [], []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind is None:
            if body.strip():
                raise ValueError(f"{source}: text before the first '# %%' cell marker")
            return
        if kind == "markdown":
            body = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in
                             body.splitlines())
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for n, line in enumerate(text.splitlines(), 1):
        m = _CELL.match(line)
        if m:
            flush()
            kind, lines = ("markdown" if m["md"] else "code"), []
            t = re.search(r"tags=(\[.*\])", m["rest"])
            try:
                tags = json.loads(t[1]) if t else []
            except json.JSONDecodeError as e:
                raise ValueError(f"{source}:{n}: bad cell tags {t[1]!r} ({e})") from None
        else:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def build(results_dir: Path, out: Path, *, runs=None, models=None,
          title: str = "psychobench report", template: Path = TEMPLATE, show_code: bool = False,
          timeout: int = 600) -> tuple[Path, Path]:
    """Build, execute and export the report; returns (notebook path, HTML path)."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    nb = notebook_from_script(template.read_text(), str(template))
    out.mkdir(parents=True, exist_ok=True)
    params = {"results_dir": str(Path(results_dir).resolve()), "runs": runs, "models": models,
              "title": title}
    with tempfile.TemporaryDirectory(prefix="psychobench-report-") as tmp:
        src, dst = Path(tmp) / "template.ipynb", Path(tmp) / "report.ipynb"
        nbformat.write(nb, src)
        papermill.execute_notebook(str(src), str(dst), parameters=params, kernel_name="python3",
                                   cwd=tmp, progress_bar=False, execution_timeout=timeout,
                                   log_output=False)
        executed = nbformat.read(dst, as_version=4)
    ipynb = atomic_write_text(out / "report.ipynb", nbformat.writes(executed))
    exporter = HTMLExporter(exclude_input=not show_code, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    exporter.embed_images = True
    body, _ = exporter.from_notebook_node(executed, resources={"metadata": {"name": title}})
    html = atomic_write_text(out / "report.html", body)
    return ipynb, html


@command("psychobench-report")
def main(argv=None) -> int:
    ap = parser("psychobench-report", __doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("results"), help="results folder")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default DIR/report)")
    ap.add_argument("--run", action="append", help="run id shell pattern (repeatable)")
    ap.add_argument("--model", action="append", help="model name shell pattern (repeatable)")
    ap.add_argument("--title", default="psychobench report")
    ap.add_argument("--template", type=Path, default=TEMPLATE)
    ap.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    args = ap.parse_args(argv)
    if not args.dir.is_dir():
        ap.error(f"no results folder {args.dir}")
    from psychobench.results.store import run_folders

    if not run_folders(args.dir):
        ap.error(f"no finished run (summary.json) under {args.dir}")
    out = args.out or args.dir / "report"
    ipynb, html = build(args.dir, out, runs=args.run, models=args.model,
                        title=args.title, template=args.template,
                        show_code=args.show_code)
    print(f"notebook: {ipynb}\nhtml: {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
