"""The seed's claims as data and the verdict logic: claimed vs measured per cell."""
from __future__ import annotations

import pytest

from harness import claims
from harness.claims import agreement, catalogue, combine, validate_marker, verdicts

DESIGNS = ["mirror", "functional_split", "shared_storage", "proxy", "high_end"]
ROWS = ["processing_redundancy", "data_redundancy", "load_sharing", "smtp", "pop", "imap", "webmail"]


def ev(design, claim, measured, test="t::a"):
    return {"design": design, "claim": claim, "measured": measured, "test": test, "numbers": {}}


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
    ("No", "No", False, "agree"),
    ("Some", "Yes", False, "exceeds"),
    ("No", "Some", False, "exceeds"),
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
    assert cell(cells, "proxy", "processing_redundancy")["agreement"] == "agree"
    assert cell(cells, "mirror", "smtp")["agreement"] == "not certified"
