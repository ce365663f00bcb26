"""Run facts: when, where, with what (Docker, backends and why), seed, versions, thresholds,
and the command that reproduces the run."""
from __future__ import annotations

import datetime as _dt
import shlex

from ..thresholds import THRESHOLDS
from .data import Run
from .util import dur, e, href, num

RUN_FILES = [("meta.json", "run facts as recorded"), ("history.jsonl", "every operation, probe and fault"),
             ("checks.json", "checker results"), ("claims.json", "claim evidence recorded by tests"),
             ("variants.json", "results against deliberately broken clusters"),
             ("junit.xml", "pytest's JUnit report"), ("summary.json", "verdicts and exit code"),
             ("claims-junit.xml", "one JUnit testcase per claim")]


def when(iso: str | None) -> str:
    if not iso:
        return "–"
    try:
        t = _dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc)
        return t.strftime("%Y-%m-%d %H:%M:%S UTC")
    return t.strftime("%Y-%m-%d %H:%M:%S")


def reproduce(meta: dict) -> str:
    """The command that runs the same suites with the same seed, thresholds and overrides."""
    opts = meta.get("options") or {}
    seed = meta.get("seed")
    th = opts.get("thresholds") or {}
    changed = [f"{k}={num(v)}" for k, v in th.items() if k in THRESHOLDS and v != THRESHOLDS[k].default]
    overrides = opts.get("overrides") or []
    label = str(meta.get("label") or "")
    if label.startswith("certify-"):
        # certify-<design|all>-<token> (older runs: certify-<design>); design names have no hyphen
        cmd = ["mailha", "certify", label.removeprefix("certify-").split("-")[0]]
        for o in overrides:
            cmd += ["--override", str(o)]
        for t in changed:
            cmd += ["--threshold", t]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        return shlex.join(cmd)
    cmd = [".venv/bin/python", "-m", "pytest", *[str(a) for a in (opts.get("args") or [])]]
    for o in overrides:
        cmd += ["--mailha-override", str(o)]
    for t in changed:
        cmd += ["--mailha-threshold", t]
    if seed is not None:
        cmd += ["--mailha-seed", str(seed)]
    return shlex.join(cmd)


def _kv(rows: list[tuple[str, str]]) -> str:
    return '<table class="kv"><tbody>' + "".join(f'<tr><th scope="row">{e(k)}</th><td>{v}</td></tr>' for k, v in rows) + "</tbody></table>"


def run_facts(run: Run, prefix: str) -> str:
    m = run.meta
    hf = m.get("host_facts") or {}
    host = m.get("host") or {}
    git = m.get("git") or {}
    opts = m.get("options") or {}
    rows = [
        ("run", f"<code>{e(run.run_id)}</code>" + (f" (label {e(m.get('label'))})" if m.get("label") else "")),
        ("started", e(when(m.get("started")))),
        ("duration", e(dur(m.get("duration_s"))) if m.get("duration_s") is not None
         else '<span class="t-bad">the session did not finish (no duration recorded)</span>'),
        ("host", e(", ".join(str(x) for x in (host.get("hostname"), host.get("platform"),
                                                  f"{host.get('cpus')} CPUs" if host.get("cpus") else None,
                                                  f"Python {host.get('python')}" if host.get("python") else None) if x))),
        ("Docker", e(f"engine {hf.get('engine') or 'not reachable'}, Compose {hf.get('compose') or 'missing'}")
         if hf and not hf.get("error") else e(hf.get("error") or "not recorded for this run")),
        ("kernel", e(hf.get("kernel") or "–")),
        ("seed", f"<code>{e(m.get('seed'))}</code>"),
        ("harness", e(f"mailha {m.get('harness_version', '?')}")),
        ("git commit", f"<code>{e(git.get('commit') or 'unknown')}</code>"
         + (' <span class="t-unk">(working tree had uncommitted changes)</span>' if git.get("dirty") else "")),
        ("command as run", f"<code>{e(shlex.join(str(x) for x in (m.get('command') or [])))}</code>"
         + (f' <span class="muted">in {e(m.get("cwd"))}</span>' if m.get("cwd") else "")),
        ("reproduce", f"<code>{e(reproduce(m))}</code>"),
        ("re-check offline", f"<code>{e(shlex.join(['mailha', 'analyze', str(run.path)]))}</code> "
                             '<span class="muted">re-runs every stored check on the stored history, no cluster needed</span>'),
        ("options", e("pytest arguments: " + (shlex.join(str(a) for a in opts.get("args") or []) or "none")
                      + ("; clusters kept after the run" if opts.get("keep") else ""))),
        ("compose overrides", e(", ".join(str(o) for o in opts.get("overrides") or []) or "none")),
    ]
    parts = [_kv(rows)]
    backends = hf.get("backends") or {}
    if backends:
        brows = "".join(f'<tr><th scope="row">{e(k.replace("_", " "))}</th><td><b>{e(b.get("use") or "unavailable")}</b></td>'
                        f'<td>{e(b.get("why"))}</td></tr>' for k, b in backends.items() if isinstance(b, dict))
        parts.append('<h4>Backends used on this host, and why</h4><table class="grid"><thead><tr><th>role</th><th>used</th>'
                     '<th>why</th></tr></thead><tbody>' + brows + "</tbody></table>")
    if hf.get("problems"):
        parts.append('<p class="msg t-bad">Host problems: ' + e(" ".join(hf["problems"])) + "</p>")
    th = opts.get("thresholds") or {}
    trows = []
    for k, t in THRESHOLDS.items():
        v = th.get(k, t.default)
        changed = v != t.default
        trows.append(f'<tr{" class=changed" if changed else ""}><th scope="row"><code>{e(k)}</code></th>'
                     f'<td class="v">{e(num(v))}{(" " + e(t.unit)) if t.unit else ""}</td>'
                     f'<td class="v">{"<b>set for this run</b> (default " + e(num(t.default)) + ")" if changed else "default"}</td>'
                     f'<td>{e(t.meaning)}</td></tr>')
    parts.append('<h4>Thresholds the claims were held against</h4><table class="grid"><thead><tr><th>name</th><th>value</th>'
                 '<th></th><th>meaning</th></tr></thead><tbody>' + "".join(trows) + "</tbody></table>")
    if run.clusters:
        crows = []
        for c in run.clusters:
            imgs = ", ".join(f"{s}: {(i or {}).get('image')} ({str((i or {}).get('id') or '?')[:19]})"
                             for s, i in c.images.items() if isinstance(i, dict))
            vers = "; ".join(f"{s}: " + ", ".join(f"{p} {v}" for p, v in pk.items())
                             for s, pk in c.versions.items() if isinstance(pk, dict) and pk)
            links = " ".join(f'<a href="{href(prefix + rel)}">{e(rel.rsplit("/", 1)[-1])}</a>' for rel in c.logs)
            if c.has_compose:
                links = f'<a href="{href(prefix + c.rel + "/compose.yml")}">compose.yml as run</a> ' + links
            crows.append(f'<tr><td class="wrap"><code>{e(c.id)}</code><br>{e(c.design or "?")}</td><td class="wrap">{e(imgs) or "–"}</td>'
                         f'<td class="wrap">{e(vers) or "–"}</td><td class="wrap">{links or "–"}</td></tr>')
        parts.append('<h4>Clusters</h4><table class="grid"><thead><tr><th>cluster</th><th>images</th><th>package versions</th>'
                     '<th>files</th></tr></thead><tbody>' + "".join(crows) + "</tbody></table>")
    files = " · ".join(f'<a href="{href(prefix + f)}" title="{e(what)}">{e(f)}</a>' for f, what in RUN_FILES
                       if (run.path / f).exists() or f in ("summary.json", "claims-junit.xml"))
    parts.append(f'<p class="files"><span class="k">run files</span> {files}</p>')
    if run.problems:
        parts.append('<ul class="problems">' + "".join(f"<li>{e(p)}</li>" for p in run.problems) + "</ul>")
    return "".join(parts)
