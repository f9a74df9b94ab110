"""The pytest plugin end to end, through pytest's own pytester (in subprocesses: numpy does not reload in-process): a numpy kernel of the vllm profile
judged per catalog case of a marker's filter, the JUnit properties, the HTML report, and the golden
gate failing the session on a new case and on a changed bit even where every test passed."""
from pathlib import Path

import pytest

import ulpgate

pytest_plugins = "pytester"


def _installed_entry_point():
    from importlib.metadata import entry_points

    eps = entry_points()
    group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
    return any(ep.name == "ulpgate" for ep in group)


# The installed package registers the plugin through its pytest11 entry point; a source tree on
# PYTHONPATH loads it by name.
PLUGIN = [] if _installed_entry_point() else ["-p", "ulpgate.pytest_plugin"]

FILTER = "quant.token/vllm/e4m3fn/*"

TESTS = f'''
import sys
import pytest
sys.path.insert(0, {str(Path(__file__).parent)!r})  # the numpy kernels of test_ulpgate.py
from test_ulpgate import vllm_token_quant

@pytest.mark.ulpgate("{FILTER}")
def test_vllm_token_quant(ulpgate_case, ulpgate_judge):
    ulpgate_judge(ulpgate_case, vllm_token_quant)
'''


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(test_kernels=TESTS)
    return pytester


def golden_of(kernel, directory):
    s = ulpgate.Session(FILTER, "host-w32", "pytest")
    for c in s.cases:
        s.judge(c, kernel)
    s.update_golden(directory)


def test_the_installed_package_registers_the_plugin():
    import ulpgate.pytest_plugin  # noqa: F401  (importable either way)

    assert _installed_entry_point() == (not PLUGIN)


def test_the_marker_makes_one_passing_test_per_case_with_junit_properties(suite, tmp_path):
    n = len(ulpgate.cases(FILTER))
    assert n >= 2
    junit, html = tmp_path / "junit.xml", tmp_path / "report.html"
    r = suite.runpytest_subprocess(*PLUGIN, f"--junitxml={junit}", f"--ulpgate-html={html}")
    r.assert_outcomes(passed=n)
    xml = junit.read_text()
    verdicts = xml.count('name="ulpgate.verdict" value="exact"') + xml.count('name="ulpgate.verdict" value="within-budget"')
    assert verdicts == n
    assert 'name="ulpgate.backend" value="plugin:pytest@host-w32"' in xml
    assert "<html" in html.read_text() and "ulpgate pytest@host-w32" in html.read_text()


def test_a_wrong_kernel_fails_its_tests_with_the_story(suite):
    suite.makepyfile(test_kernels=TESTS.replace("vllm_token_quant)", "wrong)") + '''
def wrong(call):
    vllm_token_quant(call)
    call.outputs["codes"].numpy()[0, 1] ^= 1
''')
    r = suite.runpytest_subprocess(*PLUGIN)
    r.assert_outcomes(failed=len(ulpgate.cases(FILTER)))
    r.stdout.fnmatch_lines(["*over-budget*1 code over budget*"])


def test_the_golden_gate_passes_and_fails_the_session(suite, tmp_path):
    from test_ulpgate import vllm_token_quant

    golden = tmp_path / "golden"
    golden_of(vllm_token_quant, golden)
    r = suite.runpytest_subprocess(*PLUGIN, f"--ulpgate-golden={golden}")
    assert r.ret == 0
    r.stdout.fnmatch_lines(["*ulpgate golden gate: passed*", "*identical*"])

    # A golden file without one of the cases: every test passes, the session fails on `new`.
    rows = (golden / "quant.csv").read_text().splitlines()
    kept = [line for line in rows if not line.startswith(ulpgate.cases(FILTER)[0] + ",")]
    (golden / "quant.csv").write_text("\n".join(kept) + "\n")
    r = suite.runpytest_subprocess(*PLUGIN, f"--ulpgate-golden={golden}")
    assert r.ret == 1
    r.stdout.fnmatch_lines(["*ulpgate golden gate: FAILED*", "*1 new*"])
    r = suite.runpytest_subprocess(*PLUGIN, f"--ulpgate-golden={golden}", "--ulpgate-allow-new")
    assert r.ret == 0


def test_a_missing_golden_directory_fails_the_session_with_the_reason(suite, tmp_path):
    r = suite.runpytest_subprocess(*PLUGIN, f"--ulpgate-golden={tmp_path / 'nowhere'}")
    assert r.ret == 1
    r.stdout.fnmatch_lines(["*no golden file*"])
