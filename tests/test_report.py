"""The compliance report: summary and exit codes, claims JUnit, the HTML page, analyze, merge.

Everything runs on tests/fixtures/mirror_run (a stored mirror run, see make_mirror_run.py)
or on small run directories built here; copies are made so the fixture never changes.
"""
from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import cli
from harness.claims import catalogue
from harness.errors import EXIT_HARNESS, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VIOLATED
from harness.history import History
from harness.report import finish_run, merge
from harness.store import RunDir

FIXTURE = Path(__file__).parent / "fixtures" / "mirror_run"
T_FAIL = "suites/mirror/test_failover.py::test_kill_primary_failover"
INJECT = '<script>alert("pwned")</script>'


def copy_fixture(dst: Path) -> RunDir:
    shutil.copytree(FIXTURE, dst)
    return RunDir(dst)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    run = copy_fixture(tmp_path_factory.mktemp("r") / "run")
    summary = finish_run(run)
    return run, summary, (run.path / "index.html").read_text(encoding="utf-8")


def cell(summary, design, claim):
    return next(c for c in summary["cells"] if c["design"] == design and c["claim"] == claim)


# -- small run directories ------------------------------------------------------------------
def junit_xml(cases: list[tuple[str, str, str]]) -> str:
    """[(classname, name, outcome[:message])] -> a pytest-like junit.xml."""
    out = ['<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">']
    for cls, name, outcome in cases:
        kind, _, msg = outcome.partition(":")
        inner = {"passed": "", "failed": f'<failure message="{msg}">trace</failure>',
                 "error": f'<error message="failed on setup with &quot;{msg}&quot;">trace</error>',
                 "skipped": f'<skipped type="pytest.skip" message="{msg}">x</skipped>'}[kind]
        out.append(f'<testcase classname="{cls}" name="{name}" time="1.0">{inner}</testcase>')
    out.append("</testsuite></testsuites>")
    return "".join(out)


def make_run(path: Path, *, evidence=(), junit: str | None = "", history=None, meta=None, checks=()) -> RunDir:
    """A run directory: ``history(h)`` records events; junit None = no junit.xml (killed run)."""
    path.mkdir(parents=True)
    run = RunDir(path)
    run.write_json("meta.json", {"run_id": path.name, "label": "t", "started": "2026-11-25T10:00:00+00:00",
                                 "seed": 1, "duration_s": 10.0, "pytest_exit": 0, **(meta or {})})
    h = History(path / "history.jsonl", t0=0.0)
    if history:
        history(h)
    h.close()
    if evidence:
        run.write_json("claims.json", list(evidence))
    if checks:
        run.write_json("checks.json", list(checks))
    if junit is not None:
        (path / "junit.xml").write_text(junit or junit_xml([("suites.mirror.test_a", "test_a", "passed")]))
    return run


def record(design, claim, measured, test="suites/mirror/test_a.py::test_a", numbers=None, note=""):
    return {"design": design, "claim": claim, "test": test, "measured": measured, "numbers": numbers or {}, "note": note}


# -- the fixture run --------------------------------------------------------------------------
def test_fixture_summary(rendered):
    run, s, _ = rendered
    assert json.loads((run.path / "summary.json").read_text())["exit_code"] == s["exit_code"] == EXIT_VIOLATED
    assert s["designs_in_run"] == ["mirror"]
    # the failed test_kill_primary_failover also recorded Yes for processing_redundancy, no_spof, single_active,
    # pop and webmail before its assert failed: those cannot agree (issue 10 path 2), so they are unknown
    assert s["counts"] == {"agree": 6, "exceeds": 0, "confirmed": 0, "review": 0, "disagree": 1, "unknown": 6,
                           "not certified": 1}
    assert s["tests"] == {"total": 6, "passed": 4, "failed": 1, "error": 0, "skipped": 1, "xfailed": 0, "junit": True}
    assert s["checks"] == {"total": 12, "pass": 10, "fail": 2, "unknown": 0}
    assert s["faults"] == {"total": 2, "applied": 2, "not_applied": 0, "not_healed": 0}
    texts = [r["text"] for r in s["reasons"]]
    assert any("mirror.failover_no_interruption (claimed Yes, measured No)" in t for t in texts)
    assert any(T_FAIL in t for t in texts) and any("mirror.users_unaware" in t for t in texts)


def test_fixture_cells(rendered):
    _, s, _ = rendered
    pr = cell(s, "mirror", "processing_redundancy")   # claimed Some; Yes recorded by a test that then failed
    assert (pr["measured"], pr["agreement"]) == ("unknown", "unknown") and pr["evidence"][0]["counts_as"] == "unknown"
    assert "1 from a test that failed: such a measurement can show a violation" in pr["reason"]
    assert cell(s, "mirror", "load_sharing")["measured"] == "Some"
    fni = cell(s, "mirror", "failover_no_interruption")
    assert fni["agreement"] == "disagree" and fni["evidence"][0]["outcome"] == "failed"
    assert cell(s, "mirror", "users_unaware")["agreement"] == "unknown"
    wd = cell(s, "mirror", "watchdog")
    assert wd["agreement"] == "not certified" and not wd["design_not_run"]
    assert "skipped" in wd["reason"] and "Toxiproxy" in wd["skipped_tests"][0]["reason"]
    other = [c for c in s["cells"] if c["design"] != "mirror"]
    assert other and all(c["agreement"] == "not certified" and c["design_not_run"] for c in other)


def test_broken_variants_are_shown_but_never_counted(rendered):
    _, s, html = rendered
    assert {(v["claim"], v["measured"], v["caught"]) for v in s["variants"]} == {
        ("data_redundancy", "No", "caught"), ("read_either", "No", "caught")}
    # the matrix keeps the reference cluster's measurement
    assert cell(s, "mirror", "data_redundancy")["agreement"] == "agree"
    assert all(ev.get("variant") is None for c in s["cells"] for ev in c["evidence"])
    section = html[html.index("Broken variants: can the suite fail?"):]
    assert "no-replication" in section[:3000] and "✓</span> caught" in section[:3000]
    # the variant's test links the logs of the variant's cluster only, the others the reference cluster's
    block = html[html.index('<article class="test" id="test-test_broken_variant'):]
    block = block[:block.index("</article>")]
    assert "clusters/20261125t093000-mirror-3fa1-mirror-v1417/logs/mirror-a.log" in block
    assert "clusters/20261125t093000-mirror-3fa1-mirror/" not in block
    block = html[html.index('<article class="test" id="test-test_kill_primary_failover'):]
    block = block[:block.index("</article>")]
    assert "-mirror-v1417/" not in block and "clusters/20261125t093000-mirror-3fa1-mirror/logs/mirror-b.log" in block


# -- exit codes -------------------------------------------------------------------------------
def test_all_agree_is_exit_0(tmp_path):
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "smtp", "Yes"),
                                                       record("mirror", "load_sharing", "Yes")]))
    assert s["exit_code"] == EXIT_OK and s["reasons"] == []
    assert cell(s, "mirror", "load_sharing")["agreement"] == "exceeds"


def test_unknown_only_is_exit_4(tmp_path):
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "smtp", "Yes"),
                                                       record("mirror", "users_unaware", "unknown")]))
    assert s["exit_code"] == EXIT_UNKNOWN


def test_violated_claim_is_exit_1_even_when_its_test_passed(tmp_path):
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "data_redundancy", "No")]))
    assert s["exit_code"] == EXIT_VIOLATED


def test_failed_test_is_exit_1(tmp_path):
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "smtp", "Yes")],
                            junit=junit_xml([("suites.mirror.test_a", "test_a", "failed:AssertionError: 2 lost")])))
    assert s["exit_code"] == EXIT_VIOLATED


@pytest.mark.parametrize("case", ["setup-error", "fault-error", "cluster-up", "not-applied", "not-healed", "no-junit",
                                  "interrupted"])
def test_harness_errors_are_exit_3(tmp_path, case):
    junit, history, meta = "", None, {}
    if case == "setup-error":
        junit = junit_xml([("suites.mirror.test_a", "test_a", "error:HostError: docker is down")])
    elif case == "fault-error":
        junit = junit_xml([("suites.mirror.test_a", "test_a", "failed:harness.errors.FaultError: partition not applied")])
    elif case == "cluster-up":
        def history(h):
            h.invoke("harness", "cluster-up", {"design": "mirror"}, t=1.0)
            h.fail("harness", "cluster-up", {"design": "mirror"}, error="mirror-a did not answer", t=9.0)
    elif case in ("not-applied", "not-healed"):
        def history(h):
            h.invoke("nemesis", "fault", {"id": "f1", "fault": "partition", "target": "crossover"}, t=1.0, design="mirror")
            if case == "not-applied":
                h.fail("nemesis", "fault", None, error="iptables: permission denied", t=1.1, design="mirror")
            else:
                h.ok("nemesis", "fault", {"id": "f1", "confirmed": True}, t=1.1, design="mirror")
    elif case == "no-junit":
        junit = None
    elif case == "interrupted":
        meta = {"pytest_exit": 2}
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "smtp", "Yes")], junit=junit, history=history,
                            meta=meta))
    assert s["exit_code"] == EXIT_HARNESS, s["reasons"]


def test_a_run_that_measured_nothing_says_so(tmp_path):
    run = make_run(tmp_path / "r")
    s = finish_run(run)
    html = (run.path / "index.html").read_text()
    assert s["exit_code"] == EXIT_OK and "No claim was measured in this run" in html
    assert "All certified claims hold" not in html


def test_a_violation_outranks_a_harness_error(tmp_path):
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "data_redundancy", "No")], junit=None))
    assert s["exit_code"] == EXIT_VIOLATED
    assert {r["exit_code"] for r in s["reasons"]} == {EXIT_VIOLATED, EXIT_HARNESS}


def test_no_tests_collected_is_a_usage_error(tmp_path):
    s = finish_run(make_run(tmp_path / "r", junit=junit_xml([]), meta={"pytest_exit": 5}))
    assert s["exit_code"] == EXIT_USAGE


def test_declared_claims_without_a_measurement(tmp_path):
    """With the claims of a test's markers in its history marker, a failed test that recorded
    nothing leaves its claim unknown (never certified), and a skipped test is named."""
    def history(h):
        for name, claims in (("suites/mirror/test_a.py::test_a", [["mirror", "auto_resync"]]),
                             ("suites/mirror/test_b.py::test_b", [["mirror", "watchdog"]])):
            h.invoke("harness", "test", {"name": name, "claims": claims}, t=1.0, test=name, design="mirror")
            h.ok("harness", "test", {"name": name}, t=2.0, test=name, design="mirror")
    s = finish_run(make_run(tmp_path / "r", history=history, junit=junit_xml([
        ("suites.mirror.test_a", "test_a", "failed:AssertionError: resync took 300 s"),
        ("suites.mirror.test_b", "test_b", "skipped:needs netem")])))
    ar = cell(s, "mirror", "auto_resync")
    assert ar["agreement"] == "unknown" and "resync took 300 s" in ar["evidence"][0]["note"]
    assert ar["evidence"][0]["synthetic"] is True
    assert cell(s, "mirror", "watchdog")["skipped_tests"][0]["reason"] == "needs netem"
    assert s["exit_code"] == EXIT_VIOLATED  # the failed test


def test_evidence_for_an_unknown_claim_is_reported_not_counted(tmp_path):
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "teleportation", "Yes")]))
    assert any("mirror.teleportation" in p for p in s["problems"])
    assert s["counts"]["agree"] == 0


# -- partial runs -----------------------------------------------------------------------------
def test_a_killed_run_still_renders(tmp_path):
    """meta.json only from the start, a history cut mid-line, no junit, no checks."""
    path = tmp_path / "killed"
    path.mkdir()
    (path / "meta.json").write_text(json.dumps({"run_id": "killed", "started": "2026-11-25T10:00:00+00:00"}))
    (path / "history.jsonl").write_text(
        '{"i":0,"t":1.0,"type":"invoke","proc":"probe-imap","f":"probe","value":{"proto":"imap"},"design":"mirror"}\n'
        '{"i":1,"t":1.1,"type":"ok","proc":"probe-imap","f":"probe","node":"mirror-a","design":"mirror"}\n'
        '{"i":2,"t":1.2,"type":"invoke","proc":"probe-im')
    s = finish_run(RunDir(path))
    assert s["exit_code"] == EXIT_HARNESS and s["tests"]["junit"] is False
    assert any("1 unreadable line" in p for p in s["problems"])
    html = (path / "index.html").read_text()
    assert "did not finish" in html and "Availability timeline" in html


def test_a_damaged_meta_json_is_reported_not_fatal(tmp_path, capsys):
    run = make_run(tmp_path / "r", evidence=[record("mirror", "smtp", "Yes")])
    (run.path / "meta.json").write_text('{"run_id": "r", "sta')
    assert cli.main(["report", str(run.path)]) == EXIT_OK
    s = json.loads((run.path / "summary.json").read_text())
    assert any("meta.json could not be read" in p for p in s["problems"])


def test_an_empty_run_renders(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    (path / "meta.json").write_text("{}")
    s = finish_run(RunDir(path))
    assert s["designs_in_run"] == [] and s["counts"]["not certified"] == 0
    assert (path / "index.html").read_text().count("not certified in this run") >= 5
    assert ET.parse(path / "claims-junit.xml").getroot().get("skipped") == str(len(catalogue().claims))


# -- claims-junit.xml --------------------------------------------------------------------------
def test_claims_junit(rendered):
    run, s, _ = rendered
    root = ET.parse(run.path / "claims-junit.xml").getroot()
    cases = {(tc.get("classname"), tc.get("name")): tc for tc in root.iter("testcase")}
    assert len(cases) == len(s["cells"]) == len(catalogue().claims)
    assert root.get("failures") == "1" and root.get("tests") == str(len(cases))
    fni = cases[("mirror", "failover_no_interruption")]
    assert fni.find("failure").get("message") == "claimed Yes, measured No"
    out = fni.find("system-out").text
    assert "failover_gap_imap = 3.2628 s (held against <= 2.0 s)" in out and T_FAIL in out
    assert cases[("mirror", "users_unaware")].find("skipped").get("message").startswith("unknown")
    assert cases[("mirror", "read_either")].find("failure") is None
    assert cases[("mirror", "read_either")].find("skipped") is None
    assert "not certified in this run" in cases[("proxy", "smtp")].find("skipped").get("message")
    assert "not certified" in cases[("mirror", "watchdog")].find("skipped").get("message")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["exit_code"] == "1" and props["designs_in_run"] == "mirror"


# -- the HTML ---------------------------------------------------------------------------------
def assert_self_contained(html: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I), "link to an external resource"
    assert not re.search(r"<script", html, re.I), "a script"
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", html, re.I), "external CSS"
    assert not re.search(r"<link\b", html, re.I) and not re.search(r"<i?frame\b", html, re.I)


def test_html_is_self_contained(rendered):
    _, _, html = rendered
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert_self_contained(html)
    assert "<style>" in html and "<svg" in html


def test_html_matrix_first_with_every_design_in_the_seeds_order(rendered):
    _, _, html = rendered
    cat = catalogue()
    matrix = html[html.index('id="matrix"'):]
    assert html.index('id="matrix"') < html.index('id="design-mirror"') < html.index('id="tests"') < html.index('id="facts"')
    head = matrix[:matrix.index("</thead>")]
    positions = [head.index(f'<span class="dtitle">{d["title"]}') for d in cat.designs.values()]
    assert positions == sorted(positions)
    assert head.count("not certified in this run") == 4 and head.count("certified in this run") == 5
    body = matrix[:matrix.index("</table>")]
    for label in ("Provides processing redundancy", "Provides data redundancy", "Provides load sharing",
                  "SMTP", "POP", "IMAP", "Webmail", "Prose claims"):
        assert label in body


def test_html_cells_carry_a_text_label_not_only_colour(rendered):
    _, _, html = rendered
    body = html[html.index('id="matrix"'):html.index("</table>")]
    cells = re.findall(r'<td class="cell c-(\w+)[^"]*".*?</td>', body, re.S)
    assert len(cells) == 5 * 8
    for text in ("✗</span> 1 disagrees", "?</span> 3 unknown", "✓</span> agrees", "?</span> unknown",
                 "–</span> not certified"):
        assert text in body, text
    mirror_fni = re.search(r'href="#cell-mirror-failover_no_interruption"', html)
    assert mirror_fni and 'id="cell-mirror-failover_no_interruption"' in html
    # the qualifier as written
    assert "(but can be added by splitting to functionally split or shared storage clusters)" in body


def test_html_evidence_numbers_thresholds_and_links(rendered):
    run, _, html = rendered
    card = html[html.index('id="cell-mirror-failover_no_interruption"'):]
    card = card[:card.index("</article>")]
    assert "failover gap imap" in card and "3.26 s" in card and "≤ 2 s" in card and "✗ outside" in card
    assert re.search(r'href="#test-[^"]+"', card)
    assert 'href="clusters/20261125t093000-mirror-3fa1-mirror/logs/mirror-a.log"' in card
    assert "availability: fail" in card  # the stored check, linked
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert f'id="{anchor}"' in html, anchor
    for link in re.findall(r'href="(clusters/[^"#]+)"', html):
        assert (run.path / link).exists(), link


def test_html_timeline_faults_and_run_facts(rendered):
    _, _, html = rendered
    assert "f1 kill mirror-a" in html and "f2 stop mirror-a" in html
    for lane in ("SMTP", "IMAP", "POP3", "Webmail (HTTP)", "VIP holder", "mail sent"):
        assert f">{lane}</text>" in html
    assert "Probe latency" in html and "Replication lag" in html and "lag_p99_s = 2 s" in html
    facts = html[html.index('id="facts"'):]
    for text in ("2026-11-25 09:30:00 UTC", "2 min 45 s", "ci-runner-7", "engine 20.10.24+dfsg1", "glusterfs-fuse",
                 "no NFS client in this kernel", "424242", "597e801d3c1f", "mailha 0.1.0",
                 ".venv/bin/python -m pytest suites/mirror --mailha-seed 424242", "no_interruption_s"):
        assert text in facts, text
    # prose claims quoted, with what was measured
    assert "with no interruption of service" in html and "High End Cluster with 99.9% uptime" in html


def test_html_escapes_what_comes_from_the_history_and_logs(tmp_path):
    run = copy_fixture(tmp_path / "run")
    h = History(run.path / "history.jsonl", t0=0.0)
    h.invoke("probe-imap", "probe", {"proto": "imap"}, t=130.0, test=T_FAIL, design="mirror")
    h.fail("probe-imap", "probe", None, error=INJECT, t=130.1, test=T_FAIL, design="mirror")
    h.close()
    recs = json.loads((run.path / "claims.json").read_text())
    recs[0]["note"] = INJECT
    (run.path / "claims.json").write_text(json.dumps(recs))
    log = next((run.path / "clusters").glob("*/logs/mirror-a.log"))
    log.write_text(log.read_text() + "2026-11-25T09:30:40.000000Z dovecot: " + INJECT + "\n")
    finish_run(run)
    html = (run.path / "index.html").read_text()
    assert INJECT not in html and "<script" not in html
    assert html.count("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;") >= 3  # errors table, note, log excerpt
    assert_self_contained(html)
    ET.parse(run.path / "claims-junit.xml")  # still valid XML


# -- analyze ----------------------------------------------------------------------------------
def test_analyze_reproduces_the_fixture(tmp_path, capsys):
    run = copy_fixture(tmp_path / "run")
    rc = cli.main(["analyze", str(run.path)])
    out = capsys.readouterr().out
    assert rc == EXIT_OK and out.count("same ") == 12 and "12 same, 0 different" in out, \
        "a checker's output changed: regenerate the fixture with tests/fixtures/make_mirror_run.py\n" + out


def test_analyze_names_a_verdict_that_does_not_reproduce(tmp_path, capsys):
    from harness.report.analyze import analyze

    run = copy_fixture(tmp_path / "run")
    # start from what the checkers answer today, so only the two edits below differ
    checks = [{**o.check, "result": o.result} for o in analyze(run)]
    checks = json.loads(json.dumps(checks))
    checks[2]["result"]["valid"] = "pass"                         # availability really fails
    checks[1]["result"]["p99"] = 0.5                              # lag p99 really is 0.87
    (run.path / "checks.json").write_text(json.dumps(checks))
    assert cli.main(["analyze", str(run.path)]) == EXIT_VIOLATED
    out = capsys.readouterr().out
    assert "DIFFERENT  availability" in out and "valid: stored pass, now fail" in out
    assert "DIFFERENT  lag" in out and "p99: stored 0.5, now 0.87" in out
    assert "10 same, 2 different" in out


def test_analyze_a_checker_that_is_gone(tmp_path, capsys):
    run = copy_fixture(tmp_path / "run")
    checks = json.loads((run.path / "checks.json").read_text())
    checks[0]["checker"] = "no_such_checker"
    (run.path / "checks.json").write_text(json.dumps(checks))
    assert cli.main(["analyze", str(run.path)]) == EXIT_VIOLATED
    assert "ERROR      no_such_checker" in capsys.readouterr().out


@pytest.mark.parametrize("cmd", [["analyze"], ["report"], ["report", "--merge"]])
def test_bad_run_directory_is_a_usage_error(tmp_path, capsys, cmd):
    assert cli.main([*cmd, str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "is not a mailha run directory" in err and err.count("\n") == 1


# -- report and merge ------------------------------------------------------------------------
def test_report_re_renders_a_run(tmp_path, capsys):
    run = copy_fixture(tmp_path / "run")
    assert cli.main(["report", str(run.path)]) == EXIT_VIOLATED
    assert (run.path / "index.html").exists() and (run.path / "summary.json").exists()
    assert "1 disagree" in capsys.readouterr().out


def test_merge_combines_runs_into_one_matrix(tmp_path, capsys):
    mirror = copy_fixture(tmp_path / "mirror")
    # a second mirror run evidences the same claim (weaker) and a proxy run adds a column
    again = make_run(tmp_path / "mirror2", evidence=[record("mirror", "auto_resync", "No",
                                                            test="suites/mirror/test_resync.py::test_again")],
                     junit=junit_xml([("suites.mirror.test_resync", "test_again", "passed")]))
    proxy = make_run(tmp_path / "proxy", evidence=[
        record("proxy", "processing_redundancy", "No", test="suites/proxy/test_backend.py::test_kill_backend"),
        record("proxy", "backend_failure_disadvantage", "Yes", test="suites/proxy/test_backend.py::test_kill_backend")],
        junit=junit_xml([("suites.proxy.test_backend", "test_kill_backend", "passed")]))
    out = tmp_path / "merged"
    assert cli.main(["report", "--merge", str(mirror.path), str(again.path), str(proxy.path), "--out", str(out)]) \
        == EXIT_VIOLATED
    s = json.loads((out / "summary.json").read_text())
    assert s["designs_in_run"] == ["mirror", "proxy"] and s["merged"] is True
    assert len(s["run_ids"]) == 3
    ar = cell(s, "mirror", "auto_resync")
    assert ar["measured"] == "No" and ar["agreement"] == "disagree"
    assert {e["run"] for e in ar["evidence"]} == {"20261125t093000-mirror-3fa1", "mirror2"}
    assert cell(s, "proxy", "processing_redundancy")["agreement"] == "confirmed"   # claimed No, measured No
    assert cell(s, "high_end", "smtp")["design_not_run"] is True
    html = (out / "index.html").read_text()
    assert_self_contained(html)
    card = html[html.index('id="cell-mirror-auto_resync"'):]
    card = card[:card.index("</article>")]
    links = re.findall(r'href="#(test-[^"]+)"', card)
    assert len(set(links)) == 2 and all(f'id="{a}"' in html for a in links)
    assert 'href="../mirror/clusters/20261125t093000-mirror-3fa1-mirror/logs/mirror-a.log"' in html
    assert html.count("not certified in this run") >= 3
    # a merged report re-renders from the runs it lists
    assert cli.main(["report", str(out)]) == EXIT_VIOLATED
    assert json.loads((out / "summary.json").read_text())["run_ids"] == s["run_ids"]


def test_merge_refuses_to_overwrite_a_run(tmp_path, capsys):
    a = make_run(tmp_path / "a", evidence=[record("mirror", "smtp", "Yes")])
    b = make_run(tmp_path / "b", evidence=[record("mirror", "smtp", "Yes")])
    assert cli.main(["report", "--merge", str(a.path), "--out", str(b.path)]) == EXIT_USAGE
    assert "not a merged report" in capsys.readouterr().err
    out, s = merge([a.path, a.path], tmp_path / "m")  # the same run twice counts once
    assert s["run_ids"] == ["a"] and s["exit_code"] == EXIT_OK


def test_a_finished_chaos_run_needs_no_junit_but_an_unfinished_one_is_a_harness_error(tmp_path):
    ev = [{**record("mirror", "smtp", "Yes"), "outcome": "passed"}]  # a chaos run has no junit: it says the outcome
    done = finish_run(make_run(tmp_path / "a", evidence=ev, junit=None, meta={"kind": "chaos", "duration_s": 310.0}))
    assert done["exit_code"] == 0, done["reasons"]
    killed = finish_run(make_run(tmp_path / "b", evidence=ev, junit=None, meta={"kind": "chaos", "duration_s": None}))
    assert killed["exit_code"] == EXIT_HARNESS


# -- a cell counts each record by its test's outcome (issue 10, path 2) ------------------------
T_A = "suites/mirror/test_a.py::test_a"


def xfail_junit(cls: str, name: str, reason: str) -> str:
    """What pytest writes for an expected failure (strict or not): skipped with type pytest.xfail."""
    return ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
            f'<testcase classname="{cls}" name="{name}" time="1.0"><skipped type="pytest.xfail" message="{reason}" />'
            '</testcase></testsuite></testsuites>')


def test_a_cell_stays_unknown_when_the_test_that_measured_it_failed(tmp_path):
    """The evidence (smtp Yes, load sharing Yes) is written before the test's own assert fails."""
    run = make_run(tmp_path / "r", evidence=[record("mirror", "smtp", "Yes"), record("mirror", "load_sharing", "Yes")],
                   junit=junit_xml([("suites.mirror.test_a", "test_a", "failed:AssertionError: 2 messages lost")]))
    s = finish_run(run)
    for claim in ("smtp", "load_sharing"):   # neither agree nor exceed
        c = cell(s, "mirror", claim)
        assert (c["measured"], c["agreement"]) == ("unknown", "unknown"), claim
        assert c["evidence"][0]["outcome"] == "failed" and c["evidence"][0]["counts_as"] == "unknown"
    assert s["counts"]["agree"] == s["counts"]["exceeds"] == 0 and s["exit_code"] == EXIT_VIOLATED
    html = (run.path / "index.html").read_text()
    card = html[html.index('id="cell-mirror-smtp"'):]
    assert "Counts as unknown: the test failed" in card[:card.index("</article>")]
    out = ET.parse(run.path / "claims-junit.xml").getroot()
    smtp = next(tc for tc in out.iter("testcase") if tc.get("name") == "smtp")
    assert smtp.find("skipped") is not None and "(failed) — counts as unknown" in smtp.find("system-out").text


def test_an_errored_test_can_show_a_violation_but_not_a_pass(tmp_path):
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "smtp", "Yes"), record("mirror", "imap", "No")],
                            junit=junit_xml([("suites.mirror.test_a", "test_a", "error:HostError: docker is down")])))
    assert cell(s, "mirror", "smtp")["agreement"] == "unknown"
    assert cell(s, "mirror", "imap")["agreement"] == "disagree"
    assert s["exit_code"] == EXIT_VIOLATED and {r["exit_code"] for r in s["reasons"]} >= {EXIT_VIOLATED, EXIT_HARNESS}


def test_a_strict_expected_failure_is_shown_as_the_claim_not_kept(tmp_path):
    """The design cannot keep a claim: the test is a strict xfail recording the measurement below it.
    pytest stays green; the report says disagree, with the reason, and the test is no failed test."""
    reason = "Dovecot 2.3.19 dsync loses mail under partition after restart"
    run = make_run(tmp_path / "r", evidence=[record("mirror", "data_redundancy", "No", note=reason),
                                             record("mirror", "smtp", "Yes")],
                   junit=xfail_junit("suites.mirror.test_a", "test_a", reason))
    s = finish_run(run)
    dr = cell(s, "mirror", "data_redundancy")
    assert (dr["measured"], dr["agreement"]) == ("No", "disagree") and dr["evidence"][0]["outcome"] == "xfailed"
    assert cell(s, "mirror", "smtp")["agreement"] == "unknown"       # an expected failure cannot make a cell agree
    assert s["tests"]["xfailed"] == 1 and s["tests"]["failed"] == 0 and s["tests"]["skipped"] == 0
    texts = [r["text"] for r in s["reasons"]]
    assert any("mirror.data_redundancy (claimed Yes, measured No)" in t for t in texts)
    assert not any("test failed" in t or "tests failed" in t for t in texts)
    assert s["exit_code"] == EXIT_VIOLATED
    html = (run.path / "index.html").read_text()
    assert "expected failure" in html and reason in html


def test_evidence_from_a_skipped_test_does_not_count(tmp_path):
    s = finish_run(make_run(tmp_path / "r", evidence=[record("mirror", "smtp", "Yes"), record("mirror", "imap", "No")],
                            junit=junit_xml([("suites.mirror.test_a", "test_a", "skipped:needs netem")])))
    for claim in ("smtp", "imap"):
        c = cell(s, "mirror", claim)
        assert (c["measured"], c["agreement"]) == (None, "not certified"), claim
    assert s["exit_code"] == EXIT_OK   # nothing violated, nothing measured


def test_a_record_without_a_known_outcome_cannot_agree(tmp_path):
    """A chaos run has no junit.xml: the runner's own outcome on each record counts; none = unknown.
    When junit.xml lists the test, its outcome wins over the record's own."""
    chaos = {"kind": "chaos", "duration_s": 300.0}
    s = finish_run(make_run(tmp_path / "a", evidence=[record("mirror", "smtp", "Yes")], junit=None, meta=chaos))
    assert cell(s, "mirror", "smtp")["agreement"] == "unknown" and s["exit_code"] == EXIT_UNKNOWN
    s = finish_run(make_run(tmp_path / "b", evidence=[{**record("mirror", "smtp", "Yes"), "outcome": "error"}],
                            junit=None, meta=chaos))
    assert cell(s, "mirror", "smtp")["evidence"][0]["outcome"] == "error"
    assert cell(s, "mirror", "smtp")["agreement"] == "unknown"
    s = finish_run(make_run(tmp_path / "c", evidence=[{**record("mirror", "smtp", "Yes"), "outcome": "passed"}],
                            junit=junit_xml([("suites.mirror.test_a", "test_a", "failed:AssertionError: lost")])))
    assert cell(s, "mirror", "smtp")["agreement"] == "unknown"


# -- a claimed "No" (issue 10, path 9) ------------------------------------------------------------
P_K = "suites/proxy/test_backend.py::test_kill_backend"


def test_a_confirmed_limitation_and_a_no_to_review(tmp_path):
    run = make_run(tmp_path / "r", evidence=[record("proxy", "processing_redundancy", "No", test=P_K),
                                             record("proxy", "data_redundancy", "Yes", test=P_K),
                                             record("proxy", "smtp", "Yes", test=P_K)],
                   junit=junit_xml([("suites.proxy.test_backend", "test_kill_backend", "passed")]))
    s = finish_run(run)
    assert cell(s, "proxy", "processing_redundancy")["agreement"] == "confirmed"
    assert cell(s, "proxy", "data_redundancy")["agreement"] == "review"
    assert s["counts"]["confirmed"] == 1 and s["counts"]["review"] == 1 and s["counts"]["agree"] == 1
    # review is no failure of the command, but it is listed, never silently green
    assert s["exit_code"] == EXIT_OK
    assert [r for r in s["reasons"] if r["exit_code"] == EXIT_OK] == [{
        "exit_code": 0, "text": "1 claim to review (measured better than a disclosed No): "
                                "proxy.data_redundancy (claimed No, measured Yes)"}]
    cases = {tc.get("name"): tc for tc in ET.parse(run.path / "claims-junit.xml").getroot().iter("testcase")
             if tc.get("classname") == "proxy"}
    assert cases["processing_redundancy"].find("skipped") is None and cases["processing_redundancy"].find("failure") is None
    assert cases["data_redundancy"].find("skipped").get("type") == "review"
    html = (run.path / "index.html").read_text()
    body = html[html.index('id="matrix"'):html.index("</table>")]
    assert re.search(r'<td class="cell c-cf"[^>]*title="Provides processing redundancy', body)
    assert re.search(r'<td class="cell c-rv"[^>]*title="Provides data redundancy', body)
    assert "✓</span> limitation confirmed" in body and "!</span> exceeds a No: review" in body
    assert "td.c-cf" in html and "td.c-rv" in html   # styled, in the page itself
    legend = html[html.index('id="legend"'):]
    assert "limitation confirmed" in legend and "exceeds a No: review" in legend


def test_cli_report_counts_confirmed_and_review(tmp_path, capsys):
    run = make_run(tmp_path / "r", evidence=[record("proxy", "processing_redundancy", "No", test=P_K)],
                   junit=junit_xml([("suites.proxy.test_backend", "test_kill_backend", "passed")]))
    assert cli.main(["report", str(run.path)]) == EXIT_OK
    assert "1 confirm a limitation, 0 to review" in capsys.readouterr().out


# -- the matrix names what it cannot certify (issue 11, item 7) ---------------------------------
def test_the_unlimited_user_cluster_is_named_under_the_matrix(rendered):
    _, s, html = rendered
    section = html[html.index('id="matrix"'):html.index('id="design-mirror"')]
    after = section[section.index("</table>"):]
    line = re.search(r'<p class="namedonly"><b>Unlimited User Cluster</b>: ([^<]+)</p>', after)
    assert line and "named but never described" in line.group(1) and "nothing to certify" in line.group(1)
    assert s["named_only"] == catalogue().named_only
    # designs without a suite yet stay columns, not certified
    head = section[:section.index("</thead>")]
    for d in ("functional_split", "shared_storage", "high_end"):
        assert f'<span class="dtitle">{catalogue().designs[d]["title"]}' in head
        assert all(c["agreement"] == "not certified" for c in s["cells"] if c["design"] == d)


def test_a_chaos_run_whose_heal_failed_is_judged_and_exits_3_with_that_reason_first(tmp_path):
    """Issue 11: a failed heal must not lose the run's verdicts; it is the first reason, exit 3."""
    from harness.report import summary
    from harness.report.data import load_run
    from harness.store import RunDir

    rd = RunDir.create("chaos-mirror", base=tmp_path)
    rd.update_meta(kind="chaos", design="mirror", duration_s=12.0,
                   harness_errors=["fault: heal c3: heal of stop on mirror-b failed: did not answer"])
    rd.append_json("claims.json", {"design": "mirror", "claim": "single_active", "test": "chaos",
                                   "measured": "No", "numbers": {}, "note": "", "checks": [], "t": 1.0,
                                   "outcome": "error"})
    s = summary.build([load_run(rd.path)])
    assert s["exit_code"] == 3
    assert "heal of stop on mirror-b failed" in s["reasons"][0]["text"]
    assert any(c["claim"] == "single_active" and c["agreement"] == "disagree" for c in s["cells"])


def test_a_screenshot_kept_in_the_run_directory_is_linked_from_its_evidence():
    from harness.report.evidence import numbers_table
    html = numbers_table({"browser_screenshot": {"value": "screenshots/webmail-mirror.png", "unit": "", "threshold": None},
                          "elsewhere": {"value": "/etc/x.png", "unit": "", "threshold": None}})
    assert '<a href="screenshots/webmail-mirror.png">screenshots/webmail-mirror.png</a>' in html
    assert 'href="/etc/x.png"' not in html  # only files inside the run directory
