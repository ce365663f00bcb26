"""Allure results (optional extra ``allure``): each claim a test evidences becomes a label, its
measurement and numbers parameters (harness.plugin.allure_evidence, called when the ``evidence``
fixture is torn down). Checked with a fake ``allure`` module; with the real allure-pytest
when it is installed. No cluster needed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from harness.plugin import allure_evidence

GAP = {"value": 3.2628, "unit": "s", "threshold": 2.0, "op": "<="}


def rec(design="mirror", claim="failover_no_interruption", measured="No", numbers=None, **kw):
    return {"design": design, "claim": claim, "test": "t", "measured": measured, "numbers": numbers or {}, **kw}


def config(alluredir: str | None = "/tmp/a"):
    return types.SimpleNamespace(option=types.SimpleNamespace(allure_report_dir=alluredir))


@pytest.fixture
def fake_allure(monkeypatch):
    """An ``allure`` module that records what it is told."""
    calls: list[tuple] = []
    dynamic = types.SimpleNamespace(
        label=lambda name, *values: calls.append(("label", name, *values)),
        parameter=lambda name, value, excluded=None, mode=None: calls.append(("parameter", name, value, excluded)))
    monkeypatch.setitem(sys.modules, "allure", types.SimpleNamespace(dynamic=dynamic))
    return calls


def test_each_claim_is_a_label_and_its_numbers_are_parameters(fake_allure):
    n = allure_evidence(config(), [rec(numbers={"failover_gap_imap": GAP, "probes": 120,
                                                "per_node": {"mirror-a": 3, "mirror-b": 0.5}}),
                                   rec(claim="auto_resync", measured="Yes")])
    assert n == 2
    assert [c for c in fake_allure if c[0] == "label"] == [
        ("label", "claim", "mirror.failover_no_interruption"), ("label", "claim", "mirror.auto_resync")]
    params = {c[1]: c[2] for c in fake_allure if c[0] == "parameter"}
    assert params == {
        "mirror.failover_no_interruption measured": "No",
        "mirror.failover_no_interruption failover_gap_imap": "3.26s (<= 2s)",
        "mirror.failover_no_interruption probes": "120",
        "mirror.failover_no_interruption per_node": "mirror-a 3, mirror-b 0.5",
        "mirror.auto_resync measured": "Yes",
    }
    # numbers change between runs: they must not make Allure see a new test each time
    assert all(c[3] is True for c in fake_allure if c[0] == "parameter")


def test_a_claim_measured_twice_is_one_label(fake_allure):
    allure_evidence(config(), [rec(), rec(measured="Yes")])
    assert [c for c in fake_allure if c[0] == "label"] == [("label", "claim", "mirror.failover_no_interruption")]


def test_a_broken_variant_is_labelled_apart_from_the_designs_claims(fake_allure):
    allure_evidence(config(), [rec(design="proxy", claim="smtp", variant="no-health-check")])
    assert ("label", "broken_variant", "no-health-check: proxy.smtp") in fake_allure
    assert not any(c[:2] == ("label", "claim") for c in fake_allure)
    assert ("parameter", "no-health-check: proxy.smtp measured", "No", True) in fake_allure


def test_nothing_without_alluredir_or_without_allure(fake_allure, monkeypatch):
    assert allure_evidence(config(None), [rec()]) == 0
    assert allure_evidence(types.SimpleNamespace(), [rec()]) == 0
    assert allure_evidence(config(), []) == 0
    assert fake_allure == []
    monkeypatch.setitem(sys.modules, "allure", None)      # import allure -> ImportError
    assert allure_evidence(config(), [rec()]) == 0


INNER_TEST = '''
def test_failover(evidence):
    evidence.record("mirror", "failover_no_interruption", "No",
                    numbers={"failover_gap_imap": {"value": 3.2628, "unit": "s", "threshold": 2.0, "op": "<="}})
    evidence.record("mirror", "auto_resync", "Yes")
'''


def run_inner(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TEST))
    e = {**os.environ, **(env or {})}
    e.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "harness.plugin",
                           "--mailha-reports", str(tmp_path / "reports"), *args, "test_inner.py"],
                          cwd=tmp_path, env=e, capture_output=True, text=True, timeout=120)


def test_the_evidence_fixture_attaches_what_the_test_recorded(tmp_path):
    """Through pytest: a fake allure and a stand-in for allure-pytest's --alluredir option."""
    fake = tmp_path / "fake"
    (fake / "allure").mkdir(parents=True)
    (fake / "allure" / "__init__.py").write_text(textwrap.dedent('''
        import json, os, types
        def _log(*call):
            with open(os.environ["FAKE_ALLURE_LOG"], "a") as fh:
                fh.write(json.dumps(call) + "\\n")
        dynamic = types.SimpleNamespace(label=lambda name, *v: _log("label", name, *v),
                                        parameter=lambda name, value, excluded=None, mode=None:
                                            _log("parameter", name, value, excluded))
    '''))
    (fake / "fake_alluredir.py").write_text(
        'def pytest_addoption(parser):\n    parser.addoption("--alluredir", dest="allure_report_dir")\n')
    log = tmp_path / "allure.log"
    p = run_inner(tmp_path, "-p", "no:allure_pytest", "-p", "fake_alluredir", "--alluredir", str(tmp_path / "a"),
                  env={"PYTHONPATH": str(fake), "FAKE_ALLURE_LOG": str(log)})
    assert p.returncode == 0, p.stdout + p.stderr
    calls = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    assert ("label", "claim", "mirror.failover_no_interruption") in calls
    assert ("label", "claim", "mirror.auto_resync") in calls
    assert ("parameter", "mirror.failover_no_interruption failover_gap_imap", "3.26s (<= 2s)", True) in calls


def test_allure_pytest_writes_the_claims_as_labels(tmp_path):
    """With the real plugin (the ``allure`` extra), the result file carries the labels and parameters."""
    pytest.importorskip("allure_pytest", reason="allure-pytest is not installed (pip install -e .[allure])")
    out = tmp_path / "allure-results"
    p = run_inner(tmp_path, "--alluredir", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    results = [json.loads(f.read_text()) for f in out.glob("*-result.json")]
    assert len(results) == 1 and results[0]["status"] == "passed"
    labels = {(x["name"], x["value"]) for x in results[0]["labels"]}
    assert {("claim", "mirror.failover_no_interruption"), ("claim", "mirror.auto_resync")} <= labels
    params = {x["name"]: x["value"] for x in results[0]["parameters"]}
    assert params["mirror.failover_no_interruption measured"] == "'No'"          # allure's own repr
    assert params["mirror.failover_no_interruption failover_gap_imap"] == "'3.26s (<= 2s)'"
