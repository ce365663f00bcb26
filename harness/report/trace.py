"""``mailha trace RUN_DIR TOKEN``: everything a run recorded about one message, in time order.

A lost, duplicated or resurrected message is named by its token (the checkers' examples, the
report). Its timeline is put together from what the run directory keeps:

- **history**: every operation whose invocation or completion mentions the token (the send and
  its acknowledgement, reads that returned it, deletions), with its process;
- **logs**: every container log line that mentions the token (its Message-ID and Subject carry
  it: Postfix's cleanup, Dovecot's LMTP, the ``mail_log`` plugin's save / expunge / copy lines,
  dsync), and every Postfix line of a queue id that such a line or the SMTP acknowledgement
  ("queued as …") named (the delivery attempts, relays included);
- **faults**: every nemesis operation (apply, heal) from 30 s before the first of those lines to
  30 s after the last, for context.

Times are seconds since the run's start (``t`` of the history; a log line's wall-clock stamp
minus the run's ``wall_t0``). Without ``wall_t0`` the log lines keep their wall time and are
listed after the history. Nothing is found: an empty timeline, said as such.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..history import is_nemesis, load
from .evidence import log_lines, strip_time

#: faults shown around the message's own lines
CONTEXT_S = 30.0
_QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]{8,20})")
_QUEUE_ID = re.compile(r"postfix/[\w/-]+\[\d+\]: ([0-9A-F]{8,12}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{12,20}):")


@dataclass(frozen=True)
class Row:
    t: float | None
    source: str
    text: str

    def to_dict(self) -> dict:
        return {"t": self.t, "source": self.source, "text": self.text}


def mentions(token: str):
    """A matcher for the token as a whole word (``mh-x-s1n1`` is not in ``mh-x-s1n10``)."""
    return re.compile(rf"(?<![0-9A-Za-z_-]){re.escape(token)}(?![0-9A-Za-z_-])").search


def _history(path: Path, token: str) -> tuple[list[Row], list[Row]]:
    """(rows that mention the token, nemesis rows)."""
    has = mentions(token)
    mine, faults = [], []
    events = load(path) if path.is_file() else []
    for e in events:
        val = json.dumps(e.value, sort_keys=True) if e.value is not None else ""
        err = f" error={e.error}" if e.error else ""
        text = f"{e.type} {e.f} {val}{err}"
        if has(text):
            mine.append(Row(e.t, f"history {e.proc}", text))
        elif is_nemesis(e.proc) and e.type != "invoke":
            faults.append(Row(e.t, f"history {e.proc}", text))
    return mine, faults


def _logs(run_dir: Path, token: str, w0: float | None, queue_ids: set[str]) -> list[Row]:
    has = mentions(token)
    rows = []
    for log in sorted(run_dir.glob("clusters/*/logs/*.log")):
        lines = log_lines(log)
        ids = queue_ids | {m.group(1) for _, line in lines if has(line) and (m := _QUEUE_ID.search(line))}
        for ts, line in lines:
            if has(line) or ((m := _QUEUE_ID.search(line)) and m.group(1) in ids):
                t = round(ts - w0, 3) if ts is not None and w0 is not None else ts
                rows.append(Row(t, log.stem, strip_time(line).strip()))
    return rows


def trace(run_dir: str | Path, token: str) -> dict:
    """``{token, rows: [Row], found: {history, logs}}`` for one message of a stored run."""
    run_dir = Path(run_dir)
    try:
        meta = json.loads((run_dir / "meta.json").read_text())
    except (OSError, ValueError):
        meta = {}
    w0 = meta.get("wall_t0") if isinstance(meta.get("wall_t0"), (int, float)) else None
    mine, faults = _history(run_dir / "history.jsonl", token)
    queue_ids = {m.group(1) for r in mine for m in _QUEUED_AS.finditer(r.text)}
    logs = _logs(run_dir, token, w0, queue_ids)
    own = [r.t for r in (mine + logs if w0 is not None else mine) if isinstance(r.t, (int, float))]
    if own:
        lo, hi = min(own) - CONTEXT_S, max(own) + CONTEXT_S
        context = [r for r in faults if isinstance(r.t, (int, float)) and lo <= r.t <= hi]
    else:
        context = []
    timed = mine + context + (logs if w0 is not None else [])
    rows = sorted(timed, key=lambda r: (r.t if isinstance(r.t, (int, float)) else float("inf"), r.source))
    if w0 is None:
        rows += sorted(logs, key=lambda r: (r.t or 0.0, r.source))
    return {"token": token, "rows": rows, "found": {"history": len(mine), "logs": len(logs)},
            "wall_clock_logs": w0 is None}


def format_rows(result: dict) -> str:
    if not result["rows"]:
        return f"nothing in this run mentions {result['token']}."
    out = []
    for r in result["rows"]:
        t = f"{r.t:10.3f}" if isinstance(r.t, (int, float)) else f"{'?':>10}"
        out.append(f"{t}  {r.source:<26}  {r.text}")
    f = result["found"]
    out.append(f"{f['history']} history events and {f['logs']} log lines mention {result['token']}"
               + (" (log times are wall-clock: the run has no wall_t0)" if result["wall_clock_logs"] else "")
               + "; nemesis operations within 30 s of them are shown for context.")
    return "\n".join(out)
