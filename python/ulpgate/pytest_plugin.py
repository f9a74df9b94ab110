"""The pytest plugin (entry point `pytest11: ulpgate`): judge kernels in ordinary pytest tests, gate
the session against golden files, write the HTML report.

    @pytest.mark.ulpgate("quant.group/vllm/*")      # one test per catalog case of the filter
    def test_my_quant(ulpgate_case, ulpgate_judge):
        ulpgate_judge(ulpgate_case, my_kernel)       # fails with the suite's story

    pytest --ulpgate-arch sm90 --ulpgate-golden golden/sm90 --ulpgate-html report.html --junitxml junit.xml

Each judged case adds its verdict, max ULP, digest and backend to the test's properties (pytest's
JUnit XML carries them). With --ulpgate-golden the session ends with the golden gate over every
case judged: a drift, a regression, a missing file or a new case (unless --ulpgate-allow-new)
fails the session, with the gate's report in the terminal summary.
"""
import pytest

import ulpgate

def pytest_addoption(parser):
    g = parser.getgroup("ulpgate", "ulpgate: judge low-precision kernels against exact references")
    g.addoption("--ulpgate-arch", default="host-w32",
                help="the arch cases are judged for (host-w32, sm90, ...): sm90 hands kernels CUDA memory")
    g.addoption("--ulpgate-golden", default=None, metavar="DIR",
                help="gate every case judged against DIR/<family>.csv (golden/<arch>) at the end of the session")
    g.addoption("--ulpgate-allow-new", action="store_true", help="cases without a golden row pass the gate")
    g.addoption("--ulpgate-html", default=None, metavar="FILE", help="write the suite's HTML report of the session")


def pytest_configure(config):
    config.addinivalue_line("markers", "ulpgate(filter): parametrize ulpgate_case with the catalog cases of a filter")
    config._ulpgate = None


def _session(config):
    if config._ulpgate is None:
        config._ulpgate = ulpgate.Session("", config.getoption("--ulpgate-arch"), "pytest")
    return config._ulpgate


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("ulpgate")
    if marker is None or "ulpgate_case" not in metafunc.fixturenames:
        return
    arch = metafunc.config.getoption("--ulpgate-arch")
    ids = ulpgate.cases(marker.args[0] if marker.args else "*", arch)
    metafunc.parametrize("ulpgate_case", ids, ids=str)


@pytest.fixture
def ulpgate_session(request):
    """The session's ulpgate.Session (the arch of --ulpgate-arch)."""
    return _session(request.config)


@pytest.fixture
def ulpgate_judge(request):
    """judge(case_id, kernel, model=None) -> ulpgate.Result; fails the test with the suite's story
    unless the case passed."""
    session = _session(request.config)

    def judge(case_id, kernel, model=None):
        r = session.judge(case_id, kernel, model)
        props = request.node.user_properties
        props += [("ulpgate.case", r.case_id), ("ulpgate.backend", r.backend), ("ulpgate.verdict", r.verdict),
                  ("ulpgate.max_ulp", r.max_ulp), ("ulpgate.digest", f"{r.digest:016x}")]
        if not r.passed:
            pytest.fail(f"{r.case_id}: {r.verdict}: {r.story}", pytrace=False)
        return r

    return judge


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    s = config._ulpgate
    if s is None or not s.results:
        return
    golden = config.getoption("--ulpgate-golden")
    html = config.getoption("--ulpgate-html")
    if html:
        s.report_html(html, golden)
    if not golden:
        return
    try:
        text, failed = s.gate(golden, config.getoption("--ulpgate-allow-new")), False
    except (AssertionError, ValueError) as e:
        text, failed = str(e), True
    config._ulpgate_gate = (text, failed)
    if failed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    gate = getattr(config, "_ulpgate_gate", None)
    if gate:
        text, failed = gate
        terminalreporter.write_sep("=", "ulpgate golden gate: " + ("FAILED" if failed else "passed"), red=failed,
                                   green=not failed)
        terminalreporter.write_line(text.rstrip())
