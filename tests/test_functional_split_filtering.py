"""The filtering verdicts of design II (suites/functional_split/filtering.py, a pure function of
the history's ``send`` ops) on hand-made histories: each outcome its docstring defines."""
from harness.history import History, ops

from suites.functional_split.filtering import message, verdicts


def _h(answers):
    """answers: [(filter, condition, kind, completion, code)] -> paired send ops."""
    h = History()
    for i, (flt, cond, kind, typ, code) in enumerate(answers):
        v = {"token": f"mh-t-{i}", "to": "user1@example.test", "kind": kind, "filter": flt, "condition": cond,
             "scanner": None if cond == "up" else "clamd"}
        h.invoke("filter-test", "send", v)
        done = {**v, "code": code, "seconds": 0.05, "reply": f"{code} x"} if code else v
        getattr(h, typ)("filter-test", "send", done, error=None if typ == "ok" else f"{code} x")
    return ops(h.events, "send")


REFERENCE = [("filter1", "up", "clean", "ok", 250), ("filter1", "up", "gtube", "fail", 554),
             ("filter1", "up", "eicar", "fail", 554), ("filter1", "down", "clean", "fail", 451),
             ("filter1", "down", "gtube", "fail", 451), ("filter1", "down", "eicar", "fail", 451)]


def test_refused_spam_and_deferred_mail_while_a_scanner_is_down_pass():
    assert verdicts(_h(REFERENCE))["valid"] == "pass"


def test_a_virus_accepted_while_clamd_is_down_fails_naming_it():
    bad = REFERENCE[:5] + [("filter1", "down", "eicar", "ok", 250)]
    r = verdicts(_h(bad))
    assert r["valid"] == "fail" and "eicar accepted" in r["reasons"][0]


def test_spam_refused_while_only_clamd_is_down_passes_clean_mail_accepted_fails():
    ok = REFERENCE[:4] + [("filter1", "down", "gtube", "fail", 554), ("filter1", "down", "eicar", "fail", 451)]
    assert verdicts(_h(ok))["valid"] == "pass"
    bad = REFERENCE[:3] + [("filter1", "down", "clean", "ok", 250)] + REFERENCE[4:]
    r = verdicts(_h(bad))
    assert r["valid"] == "fail" and "clamd-down: clean accepted (must be deferred)" in r["reasons"][0]


def test_spam_deferred_instead_of_refused_fails():
    bad = [REFERENCE[0], ("filter1", "up", "gtube", "fail", 451)] + REFERENCE[2:]
    assert verdicts(_h(bad))["valid"] == "fail"


def test_a_filter_that_does_not_answer_is_unknown_not_pass():
    r = verdicts(_h(REFERENCE[:5] + [("filter1", "down", "eicar", "fail", None)]))
    assert r["valid"] == "unknown"


def test_no_sends_is_unknown():
    assert verdicts([])["valid"] == "unknown"


def test_test_messages_carry_their_token_and_payload():
    gt = message("gtube", "mh-abc-1", "user1@example.test")
    ei = message("eicar", "mh-abc-2", "user1@example.test")
    assert b"X-Mailha-Token: mh-abc-1" in gt and b"GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL" in gt
    assert b"X-Mailha-Token: mh-abc-2" in ei and b"eicar.com" in ei and b"\r\n" in ei
