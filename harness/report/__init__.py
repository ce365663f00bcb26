"""The compliance report of a run directory: summary.json, claims-junit.xml and index.html.

``finish_run(run)`` is called by the pytest plugin at the end of every session (after
pytest has written junit.xml) and by ``mailha report``; ``merge(paths, out)`` combines
several runs (e.g. one per design from nightly CI) into one matrix. Modules: ``data``
(reading a run), ``summary`` (verdicts, exit code), ``junit``, ``matrix``, ``charts``
(inline SVG), ``evidence``, ``facts``, ``page`` (the self-contained HTML, from the Jinja2
templates in ``templates/`` via ``templating``), ``browser`` (the page in headless Chromium).

Each of them can also keep a screenshot of the page at 1024 px (``report-1024.png``) when a
browser is available (``browser.unavailable()`` is None): with ``screenshot=True``, or by
default when the environment has ``MAILHA_SCREENSHOT=1``. Never required: without a browser
the summary says why there is none (``summary["screenshot"]``, not written to summary.json).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from .. import __version__
from ..errors import UserError
from ..store import REPORTS, RunDir, new_run_id, open_run
from .data import Run, load_run
from .junit import write_claims_junit
from .summary import build

__all__ = ["finish_run", "merge", "render_dir", "write_outputs"]


def _screenshot_wanted(screenshot: bool | None) -> bool:
    if screenshot is not None:
        return screenshot
    return os.environ.get("MAILHA_SCREENSHOT", "").lower() in ("1", "true", "yes")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_outputs(out: Path, runs: list[Run], prefixes: dict[str, str], extra: dict | None = None,
                  screenshot: bool | None = None) -> dict:
    """summary.json first (CI reads it), then claims-junit.xml, then index.html (then, if wanted,
    report-1024.png: ``summary["screenshot"]`` is {"path"} or {"skipped": why})."""
    from . import page

    summary = build(runs)
    if extra:
        summary.update(extra)
    _write_text(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    write_claims_junit(summary, out / "claims-junit.xml")
    _write_text(out / "index.html", page.render(summary, runs, prefixes))
    if _screenshot_wanted(screenshot):
        from .browser import try_screenshot

        summary["screenshot"] = try_screenshot(out)
    return summary


def finish_run(run: RunDir, screenshot: bool | None = None) -> dict:
    """Write summary.json, claims-junit.xml and index.html into the run directory; returns the summary.
    ``screenshot``: also keep report-1024.png when a browser is available (None: ``MAILHA_SCREENSHOT``)."""
    r = load_run(run, key="r0")
    return write_outputs(Path(run.path), [r], {"r0": ""}, screenshot=screenshot)


def _meta(rd: RunDir) -> dict:
    try:
        meta = rd.read_json("meta.json", {})
    except ValueError:
        return {}  # a damaged meta.json: the report says so (data.load_run)
    return meta if isinstance(meta, dict) else {}


def _sources(rd: RunDir) -> list[Path]:
    """A run directory, or the runs a merged directory was made from."""
    merged = _meta(rd).get("merged")
    if isinstance(merged, list):
        return [Path(p) for p in merged]
    return [rd.path]


def merge(paths: list[str | Path], out: str | Path | None = None, screenshot: bool | None = None) -> tuple[Path, dict]:
    """Combine several runs into one report in ``out`` (default: a new ``reports/<id>-merged``)."""
    if not paths:
        raise UserError("--merge needs at least one run directory.")
    sources: list[Path] = []
    for p in paths:
        for s in _sources(open_run(p)):
            s = Path(s).resolve()
            if not (s / "meta.json").exists():
                raise UserError(f"{s} (listed in a merged report) is no longer a mailha run directory.")
            if s not in sources:
                sources.append(s)
    out_dir = Path(out) if out else REPORTS / new_run_id("merged")
    if (out_dir / "meta.json").exists():
        if "merged" not in _meta(RunDir(out_dir)):
            raise UserError(f"{out_dir} is a run directory, not a merged report; choose another --out.")
    if out_dir.resolve() in sources:
        raise UserError(f"--out {out_dir} is one of the runs being merged; choose another directory.")
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [load_run(s, key=f"r{i}") for i, s in enumerate(sources)]
    prefixes = {r.key: os.path.relpath(r.path, out_dir.resolve()).replace(os.sep, "/") + "/" for r in runs}
    RunDir(out_dir).write_json("meta.json", {
        "run_id": out_dir.name, "label": "merged", "merged": [str(s) for s in sources],
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "harness_version": __version__,
    })
    summary = write_outputs(out_dir, runs, prefixes, {"merged_from": [str(s) for s in sources]}, screenshot)
    return out_dir, summary


def render_dir(path: str | Path, screenshot: bool | None = None) -> tuple[Path, dict]:
    """Re-render a stored run (or a merged report) from its files."""
    rd = open_run(path)
    if isinstance(_meta(rd).get("merged"), list):
        return merge([rd.path], rd.path, screenshot)
    return rd.path, finish_run(rd, screenshot)
