"""The compliance report opened in a real browser: Debian's headless Chromium through Playwright
(harness/report/browser.py), no cluster needed.

At 1024 px the page does not scroll sideways, every matrix cell reads as text with its agreement
label, and the page asks for nothing but itself (every request is routed: anything but the
file:// page or a data: URI is refused and fails the test). A screenshot of the header and matrix
is kept in the rendered run directory (report-1024.png) and copied into this session's run
directory (screenshots/), so CI's run leaves it.

Without chromium or the playwright package the tests are skipped, with the reason; under CI
(CI=true) they fail instead, since scripts/setup installs both.
"""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

from harness.report import browser, finish_run
from harness.report.util import AGREE
from harness.store import RunDir

from test_report import junit_xml, make_run, record

FIXTURE = Path(__file__).parent / "fixtures" / "mirror_run"
LABEL = {cls: text for cls, _sym, text in AGREE.values()}   # "c-ok" -> "agrees", ...



def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def keep(shot: Path, request, name: str) -> None:
    """A copy of the screenshot in this session's run directory (reports/<run>/screenshots/)."""
    run = request.getfixturevalue("mailha_run")
    dst = Path(run.path) / "screenshots" / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, dst)


def assert_readable(seen: dict) -> None:
    assert seen["blocked"] == [], f"the report asked the network for {seen['blocked']}"
    assert all(u.split("#")[0] == seen["url"] or u.startswith("data:") for u in seen["requests"]), seen["requests"]
    assert seen["inner_width"] == 1024
    assert seen["scroll_width"] <= seen["inner_width"], \
        f"the page scrolls sideways at 1024 px ({seen['scroll_width']} px wide)"
    assert len(seen["cells"]) == 5 * 8          # 7 seed rows + the prose row, × 5 designs
    for c in seen["cells"]:
        label = LABEL[c["cls"].removeprefix("c-")]
        assert c["text"] and label in c["text"], f"a {c['cls']} cell does not say {label!r}: {c['text']!r}"
        assert not c["overflow"] and c["width"] > 60, f"a cell's text does not fit it: {c}"


def test_the_fixture_report_in_chromium_at_1024_px(chromium, tmp_path, request):
    run = RunDir(shutil.copytree(FIXTURE, tmp_path / "run"))
    finish_run(run, screenshot=False)
    seen = browser.open_report(run.path / "index.html", run.path / browser.SCREENSHOT)
    assert_readable(seen)
    texts = " | ".join(c["text"] for c in seen["cells"])
    assert "disagrees" in texts and "not certified" in texts and "unknown" in texts
    shot = run.path / "report-1024.png"
    w, h = png_size(shot)
    assert w == 1024 and h >= browser.HEIGHT
    keep(shot, request, "report-fixture-1024.png")


def test_a_report_with_long_unbroken_texts_still_fits_1024_px(chromium, tmp_path, request):
    """Test ids, error texts and notes come from outside: a 300-character token must wrap, not widen the page."""
    long = "x" * 300
    test = f"suites/proxy/test_{'y' * 120}.py::test_{'z' * 120}[{'v' * 60}]"
    run = make_run(tmp_path / "r", evidence=[
        record("proxy", "processing_redundancy", "No", test=test, note=long,
               numbers={"gap": {"value": 1.5, "unit": "s", "threshold": 2, "op": "<="}, "hosts": {long: 3}}),
        record("proxy", "data_redundancy", "Yes", test=test),
        record("mirror", "smtp", "Yes", note=long)],
        junit=junit_xml([(test.split("::")[0][:-3].replace("/", "."), test.split("::")[1],
                          "failed:" + long), ("suites.mirror.test_a", "test_a", "passed")]))
    finish_run(run, screenshot=False)
    seen = browser.open_report(run.path / "index.html", run.path / "report-1024.png")
    assert_readable(seen)
    keep(run.path / "report-1024.png", request, "report-long-texts-1024.png")


def test_a_request_to_the_network_is_caught(chromium, tmp_path):
    """The check is not vacuous: a page that loads an image and a stylesheet from elsewhere is caught
    (the requests are refused by the route before any connection is made)."""
    page = tmp_path / "index.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="https://mailha.invalid/s.css"></head>'
                    '<body><img src="http://mailha.invalid/x.png"><img src="data:image/gif;base64,'
                    'R0lGODlhAQABAAAAACw="></body></html>')
    seen = browser.open_report(page)
    assert sorted(seen["blocked"]) == ["http://mailha.invalid/x.png", "https://mailha.invalid/s.css"]


def test_finish_run_keeps_a_screenshot_when_asked(chromium, tmp_path):
    run = RunDir(shutil.copytree(FIXTURE, tmp_path / "run"))
    s = finish_run(run, screenshot=True)
    assert s["screenshot"] == {"path": str(run.path / "report-1024.png")}
    assert png_size(run.path / "report-1024.png")[0] == 1024
    assert "screenshot" not in (run.path / "summary.json").read_text()


def test_without_a_browser_the_report_says_why_and_stands(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILHA_CHROMIUM", str(tmp_path / "no-such-chromium"))
    run = RunDir(shutil.copytree(FIXTURE, tmp_path / "run"))
    s = finish_run(run, screenshot=True)
    assert (run.path / "index.html").exists() and not (run.path / "report-1024.png").exists()
    why = s["screenshot"]["skipped"]
    assert ("no-such-chromium is not an executable" in why or "playwright package is not installed" in why)
    assert why.count(". ") == 0 and "\n" not in why
    monkeypatch.delenv("MAILHA_SCREENSHOT", raising=False)
    assert "screenshot" not in finish_run(run)      # not asked, not tried
