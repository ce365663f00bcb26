"""JUnit XML: reading pytest's ``junit.xml`` and writing ``claims-junit.xml``.

``claims-junit.xml`` has one testcase per claim: classname = design, name = claim id; a
``failure`` when the measurement disagrees with the claim, ``skipped`` when it is unknown, not
certified or to review (measured above a claimed "No"); agree, exceeds and confirmed pass.
Numbers and thresholds go to ``system-out`` (per-testcase ``properties`` are not clean
xunit2, see pytest PR #7773); run facts are suite-level properties.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

HARNESS_MARKERS = ("FaultError", "HostError", "harness.errors.")
RANK = {"passed": 0, "skipped": 1, "xfailed": 1, "error": 2, "failed": 3}


@dataclass
class TestResult:
    nodeid: str
    classname: str
    name: str
    outcome: str          # passed / failed / error / skipped / xfailed (a strict or plain expected failure)
    time: float = 0.0
    message: str = ""
    detail: str = ""
    phase: str = ""       # for errors: setup / teardown (from pytest's message)

    @property
    def harness_caused(self) -> bool:
        """Errors in fixtures, and failures raised by the harness (fault not applied, host broken)."""
        if self.outcome == "error":
            return True
        return self.outcome == "failed" and any(m in self.message or m in self.detail[-2000:] for m in HARNESS_MARKERS)


def junit_names(nodeid: str) -> tuple[str, str]:
    """pytest's (classname, name) for a node id (``mangle_test_address`` in _pytest/junitxml)."""
    path, _, rest = nodeid.partition("::")
    names = [path, *[n for n in rest.split("::") if n]] if rest else [path]
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    if len(names) == 1:
        return "", names[0]
    return ".".join(names[:-1]), names[-1]


def read_pytest_junit(path: Path, known: list[str] = ()) -> tuple[list[TestResult], str | None]:
    """Test outcomes from pytest's junit.xml; node ids restored from the known ids when they match."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        return [], f"junit.xml could not be parsed ({e}); test outcomes are missing"
    by_names = {junit_names(n): n for n in known}
    out: list[TestResult] = []
    seen: dict[str, TestResult] = {}
    for tc in root.iter("testcase"):
        cls, name = tc.get("classname", ""), tc.get("name", "")
        nodeid = by_names.get((cls, name)) or (cls.replace(".", "/") + ".py::" + name if cls else name)
        outcome, message, detail, phase = "passed", "", "", ""
        for child in tc:
            new = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(child.tag)
            if new is None:
                continue
            if new == "skipped" and child.get("type") == "pytest.xfail":
                new = "xfailed"  # pytest writes an expected failure as skipped with this type
            if child.tag == "error":
                m = re.search(r"failed on (setup|teardown)", child.get("message", "") or "")
                phase = m.group(1) if m else "call"
            # a failure stays the outcome when teardown also errors
            if RANK[new] > RANK[outcome]:
                outcome, message, detail = new, child.get("message", "") or "", child.text or ""
        try:
            t = float(tc.get("time", "0") or 0)
        except ValueError:
            t = 0.0
        if nodeid in seen:  # older pytest wrote a second testcase for a teardown error
            prev = seen[nodeid]
            if RANK[outcome] > RANK[prev.outcome]:
                prev.outcome, prev.message, prev.detail, prev.phase = outcome, message, detail, phase
            continue
        r = TestResult(nodeid, cls, name, outcome, t, message, detail, phase)
        seen[nodeid] = r
        out.append(r)
    return out, None


# -- claims-junit.xml -------------------------------------------------------------------------
def _num_line(name: str, n) -> str:
    if isinstance(n, dict):
        s = f"{name} = {n.get('value')}{(' ' + n['unit']) if n.get('unit') else ''}"
        if n.get("threshold") is not None:
            s += f" (held against {n.get('op', '<=')} {n['threshold']}{(' ' + n['unit']) if n.get('unit') else ''})"
        return s
    return f"{name} = {n}"


def claims_junit(summary: dict) -> ET.Element:
    cells = summary.get("cells", [])
    counts = {"tests": len(cells), "failures": 0, "errors": 0, "skipped": 0}
    suites = ET.Element("testsuites", name="mailha claims")
    suite = ET.SubElement(suites, "testsuite", name="mailha claims: " + ", ".join(summary.get("run_ids", [])),
                          timestamp=str(summary.get("started") or ""), hostname=str(summary.get("host") or ""))
    props = ET.SubElement(suite, "properties")
    for k in ("run_ids", "seeds", "commits", "designs_in_run", "exit_code"):
        v = summary.get(k)
        ET.SubElement(props, "property", name=k, value=", ".join(map(str, v)) if isinstance(v, list) else str(v))
    for c in cells:
        tc = ET.SubElement(suite, "testcase", classname=c["design"], name=c["claim"], time="0")
        lines = [f"claim: {c['label']} ({'seed table row' if c['kind'] == 'row' else 'prose claim'})",
                 f"claimed: {c['claimed']}" + (f" — {c['as_written']!r}" if c['kind'] == 'prose' else
                                                (f" ({c['as_written']})" if c['as_written'] != c['claimed'] else "")),
                 f"measured: {c['measured'] if c['measured'] is not None else 'not certified'}"
                 + (" (partial)" if c.get("partial") else ""),
                 f"agreement: {c['agreement']} ({c['reason']})", f"what mailha measures: {c.get('measure') or '-'}"]
        for ev in c.get("evidence", []):
            counts_as = ev.get("counts_as", ev.get("measured"))
            lines.append(f"- {ev.get('test')} [run {ev.get('run')}]: measured {ev.get('measured')}"
                         + (f" ({ev['outcome']})" if ev.get("outcome") else " (no test outcome)")
                         + ("" if counts_as == ev.get("measured") else
                            " — not counted (skipped test)" if counts_as is None else f" — counts as {counts_as}")
                         + (f": {ev['note']}" if ev.get("note") else ""))
            for k, n in (ev.get("numbers") or {}).items():
                lines.append("    " + _num_line(k, n))
        a = c["agreement"]
        if a == "disagree":
            counts["failures"] += 1
            claimed = c["claimed"] if c["kind"] == "prose" else c["as_written"]
            f = ET.SubElement(tc, "failure", type="disagree", message=f"claimed {claimed}, measured {c['measured']}")
            f.text = c["reason"]
        elif a in ("unknown", "not certified", "review"):
            counts["skipped"] += 1  # never reported as passing
            why = "not certified in this run" if c.get("design_not_run") else c["reason"]
            ET.SubElement(tc, "skipped", type=a.replace(" ", "-"), message=f"{a}: {why}")
        out = ET.SubElement(tc, "system-out")
        out.text = "\n".join(lines) + "\n"
    for k, v in counts.items():
        suite.set(k, str(v))
        suites.set(k, str(v))
    return suites


def write_claims_junit(summary: dict, path: Path) -> Path:
    tree = ET.ElementTree(claims_junit(summary))
    ET.indent(tree)
    tmp = path.with_suffix(".xml.tmp")
    tree.write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path
