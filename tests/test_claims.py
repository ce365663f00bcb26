"""The seed's claims as data and the verdict logic: claimed vs measured per cell."""
from __future__ import annotations

import pytest

from harness import claims
from harness.claims import agreement, catalogue, combine, validate_marker, verdicts

DESIGNS = ["mirror", "functional_split", "shared_storage", "proxy", "high_end"]
ROWS = ["processing_redundancy", "data_redundancy", "load_sharing", "smtp", "pop", "imap", "webmail"]


def ev(design, claim, measured, test="t::a", outcome="passed"):
    return {"design": design, "claim": claim, "measured": measured, "test": test, "numbers": {}, "outcome": outcome}


def cell(cells, design, claim):
    return next(c for c in cells if c["design"] == design and c["claim"] == claim)


# -- the data --------------------------------------------------------------------------------
def test_designs_in_the_seeds_order_and_every_row_for_every_design():
    cat = catalogue()
    assert cat.design_ids() == DESIGNS
    assert cat.row_ids() == ROWS
    for d in DESIGNS:
        for r in ROWS:
            assert cat.get(d, r).value in claims.ORDER


@pytest.mark.parametrize("design,row,value,as_written", [
    ("mirror", "processing_redundancy", "Some", "Some"),
    ("mirror", "load_sharing", "Some", "Some"),
    ("proxy", "processing_redundancy", "No", "No (but can be added by splitting to functionally split or shared storage clusters)"),
    ("functional_split", "data_redundancy", "No", "No (but can be added using mirroring)"),
    ("shared_storage", "data_redundancy", "Yes", "Yes (by adding mirroring in NAS/SAN)"),
    ("high_end", "data_redundancy", "Yes", "Yes (SAN/NAS)"),
    ("proxy", "webmail", "Yes", "Yes"),
])
def test_table_values_as_the_seed_writes_them(design, row, value, as_written):
    c = catalogue().get(design, row)
    assert (c.value, c.as_written) == (value, as_written)


def test_basic_features_are_grouped_like_the_seed():
    cat = catalogue()
    assert [cat.get("mirror", r).group for r in ROWS] == [""] * 3 + ["Use of basic mail features"] * 4


def test_prose_claims_quote_the_seed_and_have_titles():
    cat = catalogue()
    c = cat.get("mirror", "failover_no_interruption")
    assert c.kind == "prose" and c.value == "Yes"
    assert "no interruption of service" in c.as_written
    assert c.label == "Failover with no interruption of service"
    assert "99.9% uptime" in cat.get("high_end", "uptime_999").as_written
    assert cat.get("functional_split", "filters_accept_when_store_down").as_written.startswith("Mail will continue")


def test_bare_yaml_yes_and_no_are_read_as_claims_not_booleans(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("designs: {mirror: {numeral: I, title: M}}\n"
                 "rows: {smtp: {label: SMTP, claims: {mirror: {value: Yes}}},"
                 " pop: {label: POP, claims: {mirror: {value: No}}}}\n")
    cat = claims.catalogue(p)
    assert cat.get("mirror", "smtp").value == "Yes"
    assert cat.get("mirror", "pop").value == "No"
    assert cat.get("mirror", "pop").as_written == "No"


def test_a_value_outside_yes_some_no_is_rejected(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("designs: {mirror: {}}\nrows: {smtp: {label: SMTP, claims: {mirror: {value: Maybe}}}}\n")
    with pytest.raises(ValueError, match="Maybe"):
        claims.catalogue(p)


# -- markers ---------------------------------------------------------------------------------
def test_marker_names_known_claims():
    assert validate_marker(("mirror", "data_redundancy", "auto_resync")) == [
        ("mirror", "data_redundancy"), ("mirror", "auto_resync")]


@pytest.mark.parametrize("args,err,text", [
    (("mirror", "no_such_claim"), KeyError, "unknown claim 'no_such_claim' for design 'mirror'"),
    (("mirrror", "smtp"), KeyError, "unknown design 'mirrror'"),
    (("proxy", "auto_resync"), KeyError, "unknown claim 'auto_resync' for design 'proxy'"),
    (("mirror",), ValueError, "needs a design and at least one claim"),
])
def test_marker_with_an_unknown_name_is_an_error(args, err, text):
    with pytest.raises(err) as e:
        validate_marker(args)
    assert text in str(e.value)


# -- combining and agreeing ------------------------------------------------------------------
@pytest.mark.parametrize("claimed,measured,partial,expect", [
    ("Yes", "Yes", False, "agree"),
    ("Some", "Some", False, "agree"),
    ("No", "No", False, "confirmed"),
    ("Some", "Yes", False, "exceeds"),
    ("No", "Some", False, "review"),
    ("Yes", "Some", False, "disagree"),
    ("Some", "No", False, "disagree"),
    ("Yes", "unknown", False, "unknown"),
    ("Yes", None, False, "not certified"),
    ("Yes", "Yes", True, "unknown"),       # partly undecided evidence cannot agree
    ("Some", "Yes", True, "unknown"),
    ("Yes", "No", True, "disagree"),       # a violation seen once is a violation
])
def test_agreement(claimed, measured, partial, expect):
    assert agreement(claimed, measured, partial) == expect


@pytest.mark.parametrize("measured,expect", [
    (["Yes"], ("Yes", False)),
    (["Yes", "Some"], ("Some", False)),
    (["Yes", "No", "Some"], ("No", False)),
    (["Yes", "unknown"], ("Yes", True)),
    (["unknown", "unknown"], ("unknown", False)),
])
def test_combine_takes_the_weakest_known_value(measured, expect):
    assert combine(measured) == expect


def test_no_evidence_is_never_green():
    cells = verdicts([])
    assert len(cells) == len(catalogue().claims)
    assert {c["agreement"] for c in cells} == {"not certified"}
    assert all(c["measured"] is None for c in cells)


def test_cells_of_the_given_designs_only():
    cells = verdicts([], designs=["proxy"])
    assert {c["design"] for c in cells} == {"proxy"}
    assert {c["claim"] for c in cells} >= set(ROWS) | {"backend_failure_disadvantage"}


def test_claimed_vs_measured_cells():
    cells = verdicts([
        ev("mirror", "processing_redundancy", "Yes"),             # claimed Some
        ev("mirror", "data_redundancy", "Yes", "t::a"),
        ev("mirror", "data_redundancy", "Some", "t::b"),           # second test weaker
        ev("mirror", "failover_no_interruption", "No"),
        ev("mirror", "users_unaware", "unknown"),
        ev("mirror", "auto_resync", "Yes", "t::a"),
        ev("mirror", "auto_resync", "unknown", "t::b"),            # partial evidence
        ev("proxy", "processing_redundancy", "No"),               # a "No" claim, certified
    ])
    assert cell(cells, "mirror", "processing_redundancy")["agreement"] == "exceeds"
    dr = cell(cells, "mirror", "data_redundancy")
    assert (dr["measured"], dr["agreement"], len(dr["evidence"])) == ("Some", "disagree", 2)
    assert "measured Some" in dr["reason"]
    assert cell(cells, "mirror", "failover_no_interruption")["agreement"] == "disagree"
    assert cell(cells, "mirror", "users_unaware")["agreement"] == "unknown"
    ar = cell(cells, "mirror", "auto_resync")
    assert (ar["measured"], ar["partial"], ar["agreement"]) == ("Yes", True, "unknown")
    assert "1 of 2 measurements could not decide" in ar["reason"]
    assert cell(cells, "proxy", "processing_redundancy")["agreement"] == "confirmed"
    assert cell(cells, "mirror", "smtp")["agreement"] == "not certified"


# -- evidence counts by the outcome of the test that recorded it (issue 10, path 2) ----------
@pytest.mark.parametrize("claimed,measured,outcome,expect", [
    ("Yes", "Yes", "passed", "Yes"),
    ("Some", "Yes", "passed", "Yes"),
    ("Yes", "Yes", "failed", "unknown"),      # written before the test's own asserts failed
    ("Yes", "Yes", "error", "unknown"),
    ("Some", "Yes", "failed", "unknown"),     # cannot exceed either
    ("Yes", "Yes", None, "unknown"),          # outcome unknown (no junit.xml, a driver that did not say)
    ("Yes", "Yes", "whatever", "unknown"),    # not an outcome: unknown
    ("Yes", "Yes", "xfailed", "unknown"),
    ("Yes", "No", "failed", "No"),            # a violation seen is a violation
    ("Yes", "Some", "error", "Some"),
    ("Yes", "No", "xfailed", "No"),           # the claim not kept, as a strict expected failure says
    ("Yes", "No", None, "No"),
    ("No", "No", "failed", "unknown"),        # a failed test cannot confirm a limitation either
    ("Yes", "unknown", "passed", "unknown"),
    ("Yes", "Yes", "skipped", None),          # a skipped test's record does not count
    ("Yes", "No", "skipped", None),
])
def test_counted(claimed, measured, outcome, expect):
    assert claims.counted(claimed, measured, outcome) == expect


def test_a_failed_or_errored_test_shows_a_violation_but_never_makes_a_cell_agree():
    cells = verdicts([
        ev("mirror", "smtp", "Yes", outcome="failed"),                        # alone: unknown, not agree
        ev("mirror", "processing_redundancy", "Yes", outcome="error"),        # claimed Some: not exceeds
        ev("mirror", "imap", "Yes", "t::a", outcome="passed"),
        ev("mirror", "imap", "Yes", "t::b", outcome="failed"),                # a passed test + a failed one: unknown
        ev("mirror", "pop", "No", outcome="failed"),                          # the violation it saw counts
        ev("mirror", "webmail", "Yes", outcome="passed"),
    ])
    smtp = cell(cells, "mirror", "smtp")
    assert (smtp["measured"], smtp["agreement"]) == ("unknown", "unknown")
    assert smtp["evidence"][0]["counts_as"] == "unknown" and smtp["evidence"][0]["measured"] == "Yes"
    assert "1 from a test that failed: such a measurement can show a violation" in smtp["reason"]
    assert cell(cells, "mirror", "processing_redundancy")["agreement"] == "unknown"
    imap = cell(cells, "mirror", "imap")
    assert (imap["measured"], imap["partial"], imap["agreement"]) == ("Yes", True, "unknown")
    assert cell(cells, "mirror", "pop")["agreement"] == "disagree"
    assert cell(cells, "mirror", "webmail")["agreement"] == "agree"


def test_evidence_without_a_test_outcome_cannot_agree():
    raw = {"design": "mirror", "claim": "smtp", "measured": "Yes", "test": "t::a"}   # no "outcome"
    assert cell(verdicts([raw]), "mirror", "smtp")["agreement"] == "unknown"
    assert cell(verdicts([{**raw, "measured": "No"}]), "mirror", "smtp")["agreement"] == "disagree"


def test_a_strict_expected_failure_shows_the_claim_not_kept():
    """A design that cannot keep a claim: the test is a strict xfail that records the measurement
    below the claim with its reason; the cell disagrees (the report stays true)."""
    cells = verdicts([
        ev("mirror", "data_redundancy", "No", outcome="xfailed") | {"note": "dsync lost 2 messages after a partition"},
        ev("mirror", "auto_resync", "Yes", outcome="xfailed"),
    ])
    dr = cell(cells, "mirror", "data_redundancy")
    assert (dr["measured"], dr["agreement"]) == ("No", "disagree")
    assert dr["evidence"][0]["note"].startswith("dsync lost")
    assert cell(cells, "mirror", "auto_resync")["agreement"] == "unknown"


def test_a_skipped_tests_evidence_does_not_count():
    cells = verdicts([
        ev("mirror", "smtp", "Yes", outcome="skipped"),
        ev("mirror", "imap", "No", "t::a", outcome="skipped"),
        ev("mirror", "imap", "Yes", "t::b", outcome="passed"),
    ])
    smtp = cell(cells, "mirror", "smtp")
    assert (smtp["measured"], smtp["agreement"]) == (None, "not certified")
    assert "skipped tests" in smtp["reason"] and len(smtp["evidence"]) == 1   # still shown
    imap = cell(cells, "mirror", "imap")
    assert (imap["measured"], imap["agreement"]) == ("Yes", "agree")
    assert "1 from skipped tests not counted" in imap["reason"]


# -- a claimed "No" (issue 10, path 9) -----------------------------------------------------------
def test_a_claimed_no_is_confirmed_or_flagged_for_review_never_plain_green():
    cells = verdicts([
        ev("proxy", "processing_redundancy", "No"),                             # the disclosed limitation seen
        ev("proxy", "data_redundancy", "Yes"),                                  # better than the sheet says
        ev("functional_split", "data_redundancy", "No", "t::a"),
        ev("functional_split", "data_redundancy", "unknown", "t::b"),           # partial, but No was seen
        ev("functional_split", "processing_redundancy", "Yes", "t::a"),         # claimed Yes: unaffected
    ])
    pr = cell(cells, "proxy", "processing_redundancy")
    assert pr["agreement"] == "confirmed" and "limitation the sheet discloses is confirmed" in pr["reason"]
    dr = cell(cells, "proxy", "data_redundancy")
    assert dr["agreement"] == "review" and "review" in dr["reason"]
    assert cell(cells, "functional_split", "data_redundancy")["agreement"] == "confirmed"
    assert cell(cells, "functional_split", "processing_redundancy")["agreement"] == "agree"
    assert claims.agreement("No", "Yes", partial=True) == "unknown"
    assert claims.AGREEMENTS == ("agree", "exceeds", "confirmed", "review", "disagree", "unknown", "not certified")


# -- architectures named but never described (issue 11, item 7) ------------------------------
def test_the_sixth_architecture_is_named_only():
    named = catalogue().named_only
    assert [n["title"] for n in named] == ["Unlimited User Cluster"]
    assert "named but never described" in named[0]["note"] and "nothing to certify" in named[0]["note"]
    assert "Unlimited User Cluster" not in {d.get("title") for d in catalogue().designs.values()}


def test_a_named_only_entry_needs_a_title_and_a_note(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("designs: {mirror: {}}\nrows: {}\nnamed_only: [{title: X}]\n")
    with pytest.raises(ValueError, match=r"named_only\[0\] needs a title and a note"):
        claims.catalogue(p)


def test_a_test_that_failed_only_by_its_expected_disagreement_counts_every_claim():
    """Its other claims held (ExpectedDisagreement is raised only then): they count like a pass;
    a plain xfail or failure still cannot make a cell agree."""
    from harness.claims import counted

    assert counted("Yes", "Yes", "expected-disagreement") == "Yes"
    assert counted("Yes", "No", "expected-disagreement") == "No"
    assert counted("Yes", "Yes", "xfailed") == "unknown"


def test_the_summary_reads_the_plugins_expected_disagreement_record(tmp_path):
    from harness.history import History
    from harness.report import summary
    from harness.report.data import load_run
    from harness.store import RunDir

    rd = RunDir.create("mirror", base=tmp_path)
    h = History(rd.file("history.jsonl"))
    t = "suites/mirror/test_failover.py::test_x[kill-active]"
    h.invoke("harness-test", "expected-disagreement", {"name": t}, test=t)
    h.ok("harness-test", "expected-disagreement", {"name": t}, test=t)
    h.close()
    for claim, m in (("single_active", "Yes"), ("users_unaware", "No")):
        rd.append_json("claims.json", {"design": "mirror", "claim": claim, "test": t, "measured": m,
                                       "numbers": {}, "note": "", "checks": [], "t": 1.0})
    (rd.path / "junit.xml").write_text(
        '<testsuites><testsuite name="pytest" tests="1"><testcase classname="suites.mirror.test_failover" '
        'name="test_x[kill-active]"><skipped type="pytest.xfail" message="why"/></testcase></testsuite></testsuites>')
    cells = {c["claim"]: c for c in summary.build([load_run(rd.path)])["cells"] if c["design"] == "mirror"}
    assert cells["single_active"]["agreement"] == "agree"
    assert cells["users_unaware"]["agreement"] == "disagree"
