"""``mailha analyze``: re-run every stored check on the stored history and compare.

Like Jepsen's ``analyze``: no cluster, no Docker. A check reproduces when the checker, run
again with the same test, window and options, returns the same verdict and the same numbers.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..history import load
from ..store import RunDir

TOL = 1e-9  # floats are rounded by the checkers; this only absorbs JSON round-trip noise


@dataclass
class Outcome:
    index: int
    check: dict
    status: str                    # same / DIFFERENT / ERROR
    diffs: list[tuple[str, object, object]] = field(default_factory=list)
    error: str = ""
    result: dict | None = None


def _norm(x):
    return json.loads(json.dumps(x, default=str))


def diff(stored, now, path: str = "") -> list[tuple[str, object, object]]:
    """Differences between two JSON values as (field path, stored, now)."""
    if isinstance(stored, dict) and isinstance(now, dict):
        out = []
        for k in list(stored) + [k for k in now if k not in stored]:
            p = f"{path}.{k}" if path else str(k)
            if k not in now:
                out.append((p, stored[k], "(absent)"))
            elif k not in stored:
                out.append((p, "(absent)", now[k]))
            else:
                out += diff(stored[k], now[k], p)
        return out
    if isinstance(stored, list) and isinstance(now, list):
        if len(stored) != len(now):
            return [(f"{path} (length)", len(stored), len(now))]
        out = []
        for i, (a, b) in enumerate(zip(stored, now)):
            out += diff(a, b, f"{path}[{i}]")
        return out
    if isinstance(stored, (int, float)) and isinstance(now, (int, float)) and not isinstance(stored, bool) \
            and not isinstance(now, bool):
        return [] if math.isclose(stored, now, rel_tol=TOL, abs_tol=TOL) else [(path, stored, now)]
    return [] if stored == now else [(path, stored, now)]


def analyze(run: RunDir) -> list[Outcome]:
    """Re-run the checks of ``checks.json``; raises UserError when the run cannot be analysed."""
    from ..checkers import run_checker

    try:
        checks = run.read_json("checks.json", None)
    except ValueError as e:
        raise UserError(f"{run.path}/checks.json is not valid JSON ({e}); the stored checks cannot be re-run.") from None
    if checks is None:
        return []
    if not isinstance(checks, list):
        raise UserError(f"{run.path}/checks.json is not a list of checks.")
    hist = Path(run.path) / "history.jsonl"
    if not hist.exists():
        raise UserError(f"{run.path} has stored checks but no history.jsonl to re-run them on.")
    try:
        events = load(hist)
    except ValueError as e:
        raise UserError(f"{hist} cannot be read: {e}.") from None
    out = []
    for i, c in enumerate(checks):
        if not isinstance(c, dict) or not c.get("checker"):
            out.append(Outcome(i, c if isinstance(c, dict) else {}, "ERROR", error="not a stored check (no checker name)"))
            continue
        window = c.get("window")
        try:
            result = run_checker(str(c["checker"]), events, test=c.get("test"), design=c.get("design"),
                                 window=tuple(window) if window else None, **(c.get("options") or {}))
        except Exception as e:  # a checker that crashes on its own stored input does not reproduce
            out.append(Outcome(i, c, "ERROR", error=f"{type(e).__name__}: {e}"))
            continue
        d = diff(_norm(c.get("result") or {}), _norm(result))
        # the verdict first: it is what the report and exit codes rest on
        d.sort(key=lambda x: (x[0] != "valid", x[0]))
        out.append(Outcome(i, c, "same" if not d else "DIFFERENT", d, result=result))
    return out


def _short(v, n: int = 60) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return s if len(s) <= n else s[: n - 1] + "…"


def format_line(o: Outcome) -> str:
    c = o.check
    where = f"{c.get('checker', '?'):<13} {str(c.get('design') or '-'):<17} {c.get('test') or '(whole run)'}"
    if c.get("window"):
        where += f" [{c['window'][0]}–{c['window'][1]} s]"
    if o.status == "same":
        return f"same       {where}  valid={(o.result or {}).get('valid')}"
    if o.status == "ERROR":
        return f"ERROR      {where}  {o.error}"
    shown = "; ".join(f"{p}: stored {_short(a)}, now {_short(b)}" for p, a, b in o.diffs[:4])
    more = f"; … {len(o.diffs) - 4} more fields" if len(o.diffs) > 4 else ""
    return f"DIFFERENT  {where}  {shown}{more}"
