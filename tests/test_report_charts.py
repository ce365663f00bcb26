"""The availability timeline's figures: gaps, split-brain spans, broken variants, fault labels."""
import re

from harness.history import Event
from harness.report import charts
from harness.report.data import ops_of

from histories import H


def _merge(*hs: H) -> list[Event]:
    evs = sorted((e for h in hs for e in h.events), key=lambda e: e.t)
    return [Event(**{**e.__dict__, "i": i}) for i, e in enumerate(evs)]


def test_idle_time_between_two_tests_is_no_gap():
    h = H(test="t1").probes("imap", start=0, end=10, down=[(4, 5.5)])
    later = H(test="t2").probes("imap", start=100, end=110)
    st = charts.probe_stats(ops_of(_merge(h, later), "probe"))
    assert 1.5 <= st["longest"] < 1.7          # the outage, not the 90 s between the tests
    assert len(st["outages"]) == 1


def test_an_outage_at_the_start_of_a_stretch_still_counts():
    h = H(test="t1").probes("imap", start=0, end=10, down=[(0, 2)])
    st = charts.probe_stats(ops_of(h.events, "probe"))
    assert 1.9 <= st["longest"] < 2.2 and len(st["outages"]) == 1


def test_vip_runs_end_with_their_test():
    a = H(test="t1").vip(["mirror-a"], at=0).vip(["mirror-a", "mirror-b"], at=5)  # last sample: two holders
    b = H(test="t2").vip(["mirror-a"], at=60)
    segs = charts._vip_segments(ops_of(_merge(a, b), "vip-holders"))
    two = [s for s in segs if len(s[2]) == 2]
    assert two and two[0][1] - two[0][0] < 1      # not stretched over the 55 s nobody watched


def _timeline(exclude=frozenset()):
    ref = H(test="ref", design="mirror").probes("imap", start=0, end=20).vip(["mirror-a"], at=0)
    bad = (H(test="variant[no-health-check]", design="mirror")
           .probes("imap", start=30, end=50, down=[(32, 48)])
           .vip(["mirror-a"], at=30).vip(["mirror-a", "mirror-b"], at=35).vip(["mirror-a"], at=45))
    evs = _merge(ref, bad)
    sc = charts.Scale(0, 50)
    return charts.timeline_svg(evs, [], sc, [], "t", exclude_tests=exclude)


def test_broken_variants_are_drawn_but_left_out_of_the_figures():
    svg_all, st_all = _timeline()
    svg, st = _timeline(frozenset({"variant[no-health-check]"}))
    assert st_all["imap"]["ratio"] < 0.7 and st_all["vip"]["max_holders"] == 2
    assert st["imap"]["ratio"] == 1.0 and st["imap"]["longest"] < 0.2 and st["vip"]["max_holders"] == 1
    assert "100.00 % ok" in svg and "max 1 holder at once" in svg
    assert 'class="down"' in svg                   # the variant's outage is still drawn
    assert "2 holders!" in svg


def test_fault_labels_never_print_over_each_other():
    faults = [{"id": f"f{i}", "fault": "link-latency", "target": "crossover", "start": 10 + i * 0.5,
               "end": 10.2 + i * 0.5, "invoked": 10 + i * 0.5, "applied": True, "healed": True} for i in range(12)]
    sc = charts.Scale(0, 100)
    _, labels = charts._fault_layer(faults, sc, 40, 100, 18, rows=3)
    boxes = []
    for m in re.finditer(r'<text class="flabel" x="([\d.]+)" y="([\d.]+)">([^<]*)<', labels):
        x, y, text = float(m.group(1)), float(m.group(2)), m.group(3)
        boxes.append((y, x, x + charts.CHAR_W * len(text)))
    assert len(boxes) == 12
    for y in {b[0] for b in boxes}:
        row = sorted(b[1:] for b in boxes if b[0] == y)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(row, row[1:])), row
    assert any(t == "f11" for t in re.findall(r'class="flabel"[^>]*>([^<]*)<', labels))  # shortened to its id


def test_convergence_marks_and_threshold_label_never_print_over_each_other():
    marks = [{"t": 10 + i * 0.7, "label": f"in sync +{i}.5 s", "tip": "t"} for i in range(20)]
    svg = charts.scatter_svg([{"name": "mirror-a → mirror-b", "points": [(10, 0.05, "p"), (20, 1.0, "p")]}],
                             [], charts.Scale(0, 100), "lag", "seconds",
                             [{"value": 2.0, "label": "lag_p99_s = 2 s"}], marks)
    boxes = [(float(m.group(2)), float(m.group(1)), float(m.group(1)) + charts.CHAR_W * len(m.group(3)))
             for m in re.finditer(r'<text class="flabel" x="([\d.]+)" y="([\d.]+)">([^<]*)<', svg)]
    assert 0 < len(boxes) < 20                     # crowded labels are left out, their lines stay
    assert svg.count('stroke-dasharray="2 3"') == 20
    for y in {b[0] for b in boxes}:
        row = sorted(b[1:] for b in boxes if b[0] == y)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(row, row[1:])), row
    # the threshold is named in the legend column, above the series names, not on its line
    legend = re.findall(r'<text class="stat[^"]*" x="[\d.]+" y="([\d.]+)">([^<]*)<', svg)
    assert [t for _, t in legend] == ["lag_p99_s = 2 s", "mirror-a → mirror-b"]
    assert float(legend[1][0]) - float(legend[0][0]) >= 14


def test_errors_differing_only_in_object_addresses_are_one_row():
    from harness.report import evidence

    h = H()
    for i, addr in enumerate(("0x7fd7783bae0d0", "0x7fd7791c8510", "0x7fd750747a10")):
        h.probe("http", False, at=1 + i, error=f"ConnectTimeout(<HTTPConnection(host='10.231.0.200') at {addr}>)")
    h.probe("http", False, at=5, error="ConnectionRefusedError: [Errno 111] Connection refused")
    html = evidence.errors_table(h.events)
    assert html.count("<tr><td>") == 2
    assert "at 0x…" in html and '<td class="v">3</td>' in html
