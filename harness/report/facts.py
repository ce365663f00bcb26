"""Run facts: when, where, with what (Docker, backends and why), seed, versions, thresholds,
and the command that reproduces the run. ``view(run, prefix)`` gathers them;
``templates/facts.html.j2`` draws them."""
from __future__ import annotations

import datetime as _dt
import shlex

from ..thresholds import THRESHOLDS
from .data import Run
from .util import num

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


def view(run: Run, prefix: str) -> dict:
    """The facts of one run; file links are relative to the report (``prefix`` + path in the run)."""
    m = run.meta
    hf = m.get("host_facts") or {}
    host = m.get("host") or {}
    opts = m.get("options") or {}
    th = opts.get("thresholds") or {}
    thresholds = [{"name": k, "value": th.get(k, t.default), "unit": t.unit, "default": t.default,
                   "changed": th.get(k, t.default) != t.default, "meaning": t.meaning} for k, t in THRESHOLDS.items()]
    clusters = []
    for c in run.clusters:
        files = [(prefix + c.rel + "/compose.yml", "compose.yml as run")] if c.has_compose else []
        files += [(prefix + rel, rel.rsplit("/", 1)[-1]) for rel in c.logs]
        clusters.append({
            "id": c.id, "design": c.design, "files": files,
            "images": ", ".join(f"{s}: {(i or {}).get('image')} ({str((i or {}).get('id') or '?')[:19]})"
                                for s, i in c.images.items() if isinstance(i, dict)),
            "versions": "; ".join(f"{s}: " + ", ".join(f"{p} {v}" for p, v in pk.items())
                                  for s, pk in c.versions.items() if isinstance(pk, dict) and pk)})
    return {
        "run_id": run.run_id, "meta": m, "host_facts": hf, "git": m.get("git") or {},
        "host": ", ".join(str(x) for x in (host.get("hostname"), host.get("platform"),
                                           f"{host.get('cpus')} CPUs" if host.get("cpus") else None,
                                           f"Python {host.get('python')}" if host.get("python") else None) if x),
        "docker": (f"engine {hf.get('engine') or 'not reachable'}, Compose {hf.get('compose') or 'missing'}"
                   if hf and not hf.get("error") else hf.get("error") or "not recorded for this run"),
        "command": shlex.join(str(x) for x in (m.get("command") or [])),
        "reproduce": reproduce(m),
        "analyze": shlex.join(["mailha", "analyze", str(run.path)]),
        "options": "pytest arguments: " + (shlex.join(str(a) for a in opts.get("args") or []) or "none")
                   + ("; clusters kept after the run" if opts.get("keep") else ""),
        "overrides": ", ".join(str(o) for o in opts.get("overrides") or []) or "none",
        "backends": [(k, b) for k, b in (hf.get("backends") or {}).items() if isinstance(b, dict)],
        "host_problems": " ".join(hf.get("problems") or []),
        "thresholds": thresholds,
        "clusters": clusters,
        "files": [(prefix + f, f, what) for f, what in RUN_FILES
                  if (run.path / f).exists() or f in ("summary.json", "claims-junit.xml")],
        "problems": run.problems,
    }


def run_facts(run: Run, prefix: str) -> str:
    from .templating import macro

    return macro("facts.html.j2", "run_facts")(view(run, prefix))
