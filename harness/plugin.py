"""mailha's pytest plugin: options, the claim marker, the run store and cluster fixtures.

Options share their names with environment variables (``--mailha-keep`` / ``MAILHA_KEEP``).
Every session writes one run directory (see harness.store) holding the history, checker
results, claim evidence, container logs and ``junit.xml``; at the end it renders the report.
A session of unit tests only (``pytest tests``) keeps its run directory in a scratch place
that is removed at the end, so ``reports/latest`` stays on the last certification.
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from . import claims as claims_mod
from . import thresholds as thresholds_mod
from .history import History
from .progress import Progress
from .session import Checks, Evidence  # noqa: F401  (re-exported: fixtures below)
from .store import REPORTS, RunDir

OPTIONS = [
    # (option, env, kwargs)
    ("--mailha-keep", "MAILHA_KEEP", dict(action="store_true", help="leave clusters running after the session (remove with 'mailha down')")),
    ("--mailha-override", "MAILHA_OVERRIDE", dict(action="append", metavar="[DESIGN:]FILE",
                                                  help="compose override file for the clusters (repeatable; DESIGN: limits it to one design)")),
    ("--mailha-reports", "MAILHA_REPORTS", dict(metavar="DIR", help="where run directories are written (default reports/)")),
    ("--mailha-seed", "MAILHA_SEED", dict(type=int, metavar="N", help="seed for workloads and fault schedules (default: random, recorded)")),
    ("--mailha-threshold", "MAILHA_THRESHOLDS", dict(action="append", metavar="NAME=VALUE",
                                                     help="override a claim threshold (see harness/thresholds.py)")),
    ("--mailha-label", "MAILHA_LABEL", dict(metavar="NAME", help="label of the run directory (default: the suites run)")),
    ("--mailha-no-report", "MAILHA_NO_REPORT", dict(action="store_true", help="do not render the HTML report")),
]


def pytest_addoption(parser):
    g = parser.getgroup("mailha", "mailha certification")
    for opt, env, kw in OPTIONS:
        kw = dict(kw)
        kw["help"] = kw.get("help", "") + f" [env {env}]"
        g.addoption(opt, dest=opt[2:].replace("-", "_"), **kw)


def opt(config, name: str):
    """An option's value, falling back to its environment variable."""
    for o, env, kw in OPTIONS:
        if o == f"--mailha-{name}":
            v = config.getoption(o[2:].replace("-", "_"))
            if v not in (None, False, []):
                return v
            ev = os.environ.get(env)
            if ev is None or ev == "":
                return v
            if kw.get("action") == "store_true":
                return ev not in ("0", "false", "no")
            if kw.get("action") == "append":
                return [x for x in ev.replace(",", " ").split() if x] if name != "threshold" else ev.split(",")
            if kw.get("type") is int:
                return int(ev)
            return ev
    raise KeyError(name)


class Session:
    """Per-session state shared by the fixtures (one per pytest process)."""

    def __init__(self, config):
        self.config = config
        label = opt(config, "label") or _label_from_args(config.args)
        seed = opt(config, "seed")
        if seed is None:
            seed = int.from_bytes(os.urandom(3), "big")
        self.seed = seed
        try:
            self.thresholds = thresholds_mod.parse([t for t in (opt(config, "threshold") or [])])
        except ValueError as e:
            raise pytest.UsageError(str(e))
        # a session of unit tests only starts no cluster: its run directory is scratch, kept out
        # of reports/ so that reports/latest still points at the last certification
        self.scratch = label == "unit" and not opt(config, "reports")
        base = Path(tempfile.mkdtemp(prefix="mailha-unit-")) if self.scratch else Path(opt(config, "reports") or REPORTS)
        self.run = RunDir.create(label, options={"args": list(config.args), "thresholds": self.thresholds,
                                                 "overrides": opt(config, "override") or [],
                                                 "keep": bool(opt(config, "keep"))},
                                 seed=seed, base=base)
        self.history = History(self.run.file("history.jsonl"))
        self.run.update_meta(t0_monotonic=self.history.t0, wall_t0=time.time())
        if not config.args or any("suites" in a for a in config.args) or config.args == ["tests", "suites"]:
            self.record_host_facts()
        self.clusters: dict = {}        # design -> (key, Cluster)
        self.swept = False
        self.progress = Progress(prefix="mailha")
        self.started = time.monotonic()

    def sweep_once(self) -> None:
        """Remove runs whose owner process died (a killed pytest); only once per session."""
        if self.swept:
            return
        self.swept = True
        from . import docker
        from .cluster import sweep

        if docker.ping(timeout=10):
            sweep(progress=self.progress)

    def record_host_facts(self) -> None:
        """Docker version and the backends this host forces (shown in the report's run facts)."""
        from . import doctor

        try:
            self.run.update_meta(host_facts=doctor.gather(try_pull=False).to_dict())
        except Exception as e:  # no engine: the suites will say so; unit tests do not care
            self.run.update_meta(host_facts={"error": str(e)})

    def overrides_for(self, design: str) -> list[str]:
        out = []
        for o in opt(self.config, "override") or []:
            d, sep, f = o.partition(":")
            if sep and not os.path.exists(o) and d in claims_mod.catalogue().designs:
                if d == design:
                    out.append(f)
            else:
                out.append(o)
        return out


def _label_from_args(args) -> str:
    """``mirror``, ``mirror-proxy``, ``unit``, or ``all`` for the whole test tree."""
    names = []
    for a in args:
        parts = Path(a.split("::")[0]).parts
        if "suites" in parts and parts.index("suites") + 1 < len(parts):
            names.append(parts[parts.index("suites") + 1])
        elif "suites" in parts:
            return "all"
        elif parts and parts[0] == "tests":
            names.append("unit")
    names = sorted(set(names))
    return "-".join(names)[:40] if names else "all"


_SESSION: Session | None = None


def _sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    global _SESSION
    config.addinivalue_line("markers", "claim(design, claim, ...): seed claims this test evidences")
    if getattr(config, "workerinput", None) is not None:
        return  # xdist workers: not supported for cluster suites; the controller owns the run
    if config.option.collectonly or config.option.help:
        return
    _SESSION = Session(config)
    if not getattr(config.option, "xmlpath", None) and not _SESSION.scratch:
        config.option.xmlpath = str(_SESSION.run.file("junit.xml"))
    signal.signal(signal.SIGTERM, _sigterm)  # SIGTERM tears down like Ctrl-C
    # a shell starts background jobs with SIGINT ignored, and Python keeps it ignored: an
    # interrupt must always tear the clusters down
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(session, config, items):
    errors = []
    for item in items:
        for m in item.iter_markers("claim"):
            try:
                claims_mod.validate_marker(m.args)
            except (KeyError, ValueError) as e:
                errors.append(f"{item.nodeid}: {e.args[0] if e.args else e}")
    if errors:
        raise pytest.UsageError("unknown claims in markers:\n  " + "\n  ".join(errors))
    # a session that will start containers first removes what killed sessions left behind
    if _SESSION is not None and any("suites" in Path(str(item.path)).parts for item in items):
        _SESSION.sweep_once()


def skip_unless_named(config, items, here: str, reason: str, under: str | None = None,
                      keep: tuple[str, ...] = ()) -> None:
    """For a suite's conftest: skip the tests of ``under`` (a path inside the suite; default the
    whole suite ``here``) unless ``here`` was named on the command line (``pytest suites/x``,
    ``mailha certify x``): what a bare ``pytest`` / the README's test command has no time for.
    ``keep``: test names (the function's name) that always run."""
    if any(here in str(a).replace("\\", "/") for a in config.args):
        return
    for item in items:
        if (under or here) in str(item.path).replace("\\", "/") and item.originalname not in keep:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A strict expected failure caused by ``ExpectedDisagreement`` is recorded in the history, so
    the report counts that test's other claims as measured (see harness.claims.counted)."""
    outcome = yield
    rep = outcome.get_result()
    s = _SESSION
    if s is None or call.when != "call" or call.excinfo is None or not getattr(rep, "wasxfail", None):
        return
    from .certification import ExpectedDisagreement

    if call.excinfo.errisinstance(ExpectedDisagreement):
        v = {"name": item.nodeid, "text": str(call.excinfo.value)[:1000]}
        s.history.invoke("harness-test", "expected-disagreement", v, test=item.nodeid)
        s.history.ok("harness-test", "expected-disagreement", v, test=item.nodeid)


def session_state() -> Session:
    if _SESSION is None:
        pytest.skip("mailha session state is not available (collect-only or xdist worker)")
    return _SESSION


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mailha_session() -> Session:
    return session_state()


@pytest.fixture(scope="session")
def mailha_run(mailha_session) -> RunDir:
    return mailha_session.run


@pytest.fixture(scope="session")
def history(mailha_session) -> History:
    return mailha_session.history


@pytest.fixture(scope="session")
def thresholds(mailha_session) -> dict:
    return mailha_session.thresholds


@pytest.fixture(scope="session")
def seed(mailha_session) -> int:
    return mailha_session.seed


@pytest.fixture(autouse=True)
def _history_context(request):
    """Tag every event recorded during a test with its node id and design."""
    s = _SESSION
    if s is None:
        yield
        return
    design = None
    for m in request.node.iter_markers("claim"):
        design = m.args[0]
        break
    m = request.node.get_closest_marker("design")
    if m:
        design = m.args[0]
    s.history.context.update(test=request.node.nodeid, design=design)
    declared = [[m.args[0], c] for m in request.node.iter_markers("claim") for c in m.args[1:]]
    s.history.invoke("harness-test", "test", {"name": request.node.nodeid, "claims": declared})
    yield
    s.history.ok("harness-test", "test", {"name": request.node.nodeid})
    s.history.context.update(test=None, design=None)


@pytest.fixture(scope="session")
def cluster_for(mailha_session, request):
    """``cluster_for(design, overrides=())`` -> a running Cluster, shared while the config matches.

    Two clusters of one design cannot coexist (fixed subnets), so asking for another
    configuration of a design takes the current one down first. ``mark_dirty`` forces a
    fresh cluster on the next request (after a fault that could not be healed).
    """
    from .cluster import Cluster
    from .cluster import owner_label

    s = mailha_session

    def get(design: str, overrides: list | tuple = ()) -> Cluster:
        s.sweep_once()  # what killed runs left behind
        ovs = [*s.overrides_for(design), *[str(o) for o in overrides]]
        key = (design, tuple(ovs))
        cur = s.clusters.get(design)
        if cur and cur[0] == key and not getattr(cur[1], "dirty", False):
            return cur[1]
        if cur:
            cur[1].down()
            del s.clusters[design]
        c = Cluster(design, overrides=ovs, run_dir=s.run.path, owner=owner_label(),
                    run_id=f"{s.run.run_id}-{design}"[:60] + ("" if not overrides else f"-v{len(s.clusters)}{abs(hash(key)) % 1000:03d}"),
                    progress=s.progress)
        t = time.monotonic()
        s.history.invoke("harness-cluster", "cluster-up", {"design": design, "overrides": ovs, "run_id": c.run_id})
        try:
            c.up()
        except BaseException as e:
            s.history.fail("harness-cluster", "cluster-up", {"design": design}, error=str(e)[:300])
            raise
        s.history.ok("harness-cluster", "cluster-up", {"design": design, "seconds": round(time.monotonic() - t, 2),
                                                "timings": c.timings})
        s.clusters[design] = (key, c)
        return c

    yield get
    if not opt(s.config, "keep"):
        for design, (key, c) in list(s.clusters.items()):
            try:
                c.down()
            except Exception as e:  # teardown must try every cluster
                s.progress.note(f"teardown of {design} failed: {e}")
        s.clusters.clear()


@pytest.fixture
def evidence(mailha_session, request) -> Evidence:
    ev = Evidence(mailha_session, request.node.nodeid)
    yield ev
    allure_evidence(request.config, ev.records)


# -- Allure results (optional: `pip install -e .[allure]`, then `pytest --alluredir=DIR`) --------
def allure_evidence(config, records: list[dict]) -> int:
    """Put what a test evidenced into its Allure result: each claim as a label ``claim`` =
    ``design.claim`` (a deliberately broken cluster's as ``broken_variant`` = ``variant: design.claim``,
    so it never groups with the design's own), its measurement and each number as parameters
    ``design.claim measured`` / ``design.claim NAME`` (excluded from Allure's history id: a number
    that changes between runs does not make a new test). Does nothing unless allure-pytest is
    installed and --alluredir given; returns how many records it attached."""
    if not records or not getattr(getattr(config, "option", None), "allure_report_dir", None):
        return 0
    try:
        import allure
    except ImportError:
        return 0
    labelled = set()
    for r in records:
        key = f"{r['design']}.{r['claim']}"
        label = ("broken_variant", f"{r['variant']}: {key}") if r.get("variant") else ("claim", key)
        if label not in labelled:
            labelled.add(label)
            allure.dynamic.label(*label)
        name = label[1]
        allure.dynamic.parameter(f"{name} measured", r["measured"], excluded=True)
        for k, v in (r.get("numbers") or {}).items():
            if isinstance(v, dict) and "value" not in v:   # a breakdown, e.g. per node
                value = ", ".join(f"{kk} {_num(vv)}" for kk, vv in v.items())
            else:
                value = _fmt_number(k, v).partition("=")[2]
            allure.dynamic.parameter(f"{name} {k}", value, excluded=True)
    return len(records)


@pytest.fixture
def certifier(cluster_for, mailha_session, checks, evidence, request):
    """``certifier(design)`` -> a Certifier on the design's reference cluster (plus any
    --mailha-override); ``certifier(design, variant=NAME)`` on the cluster with the broken override
    ``compose/overrides/<design>/<NAME>.yml``, whose results never count for the matrix. Asked for
    per test, so a cluster a test left damaged is replaced, not inherited."""
    from .certification import Certifier

    def make(design: str, variant: str | None = None):
        cluster = cluster_for(design, overrides=[f"{design}/{variant}.yml"] if variant else ())
        return Certifier(design=design, cluster=cluster, session=mailha_session, checks=checks,
                         evidence=evidence, nodeid=request.node.nodeid, variant=variant)
    return make


@pytest.fixture
def checks(mailha_session, request) -> Checks:
    return Checks(mailha_session, request.node.nodeid)


# -- end of session -------------------------------------------------------------------------------
def pytest_sessionfinish(session, exitstatus):
    s = _SESSION
    if s is None:
        return
    # clusters not released by fixtures (interrupted runs) are removed here
    if not opt(s.config, "keep"):
        for design, (key, c) in list(s.clusters.items()):
            try:
                c.down()
            except Exception:
                pass
        s.clusters.clear()
    s.history.close()
    s.run.update_meta(duration_s=round(time.monotonic() - s.started, 1), pytest_exit=int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    s = _SESSION
    if s is None or getattr(config, "workerinput", None) is not None:
        return
    if s.scratch:
        shutil.rmtree(s.run.path.parent, ignore_errors=True)
        return
    # after junitxml has written its file: summary and report
    try:
        from .report import finish_run
    except ImportError:
        return
    if not opt(config, "no-report"):
        try:
            finish_run(s.run, screenshot=True)  # report-1024.png when a browser is there; never fails
        except Exception as e:  # a report failure must not hide the test outcome
            Progress().note(f"report rendering failed: {e!r}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    s = _SESSION
    if s is None:
        return
    recs = s.run.read_json("claims.json", [])
    tr = terminalreporter
    if recs:
        tr.section("mailha: measured figures")
        for r in recs:
            nums = ", ".join(_fmt_number(k, v) for k, v in (r.get("numbers") or {}).items())
            tr.write_line(f"{r['design']}.{r['claim']}: measured {r['measured']}" + (f" — {nums}" if nums else ""))
    if not s.scratch:
        tr.write_line(f"mailha run directory: {s.run.path}")


def _fmt_number(k, v) -> str:
    if isinstance(v, dict):
        val = v.get("value")
        unit = v.get("unit", "")
        thr = v.get("threshold")
        op = v.get("op", "<=")
        s = f"{k}={_num(val)}{unit}"
        if thr is not None:
            s += f" ({op} {_num(thr)}{unit})"
        return s
    return f"{k}={_num(v)}"


def _num(v):
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)
