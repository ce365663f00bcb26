"""What the README's test command leaves out: a suite's tests are skipped unless the suite is named on
the command line, but for the tests it keeps (design III keeps its steady test). No Docker."""
from pathlib import Path
from types import SimpleNamespace

from harness.plugin import skip_unless_named


class Item(SimpleNamespace):
    def add_marker(self, m):
        self.markers.append(m)


def items():
    return [Item(path=Path("/r/suites/shared_storage/test_basic.py"), originalname=n, markers=[])
            for n in ("test_every_protocol", "test_scale")] + \
           [Item(path=Path("/r/suites/mirror/test_basic.py"), originalname="test_every_protocol", markers=[])]


def test_a_bare_run_skips_the_suite_but_what_it_keeps():
    its = items()
    skip_unless_named(SimpleNamespace(args=["tests", "suites"]), its, "suites/shared_storage", "not named",
                      keep=("test_every_protocol",))
    assert [bool(i.markers) for i in its] == [False, True, False]
    assert its[1].markers[0].kwargs["reason"] == "not named"


def test_naming_the_suite_runs_all_of_it():
    its = items()
    skip_unless_named(SimpleNamespace(args=["suites/shared_storage"]), its, "suites/shared_storage", "not named")
    assert not any(i.markers for i in its)
