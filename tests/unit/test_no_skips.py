"""CI's guard: with IMAGEREPO_TEST_REQUIRE_SERVICES=1 every kind of skip fails the run, with its
reason printed; without it a skip stays a skip."""

from __future__ import annotations

import pytest

from tests.no_skips import VARIABLE

SKIPPING = {
    "test_inside": """
        import pytest
        def test_it():
            pytest.skip("no frobnicator here")
    """,
    "test_mark": """
        import pytest
        @pytest.mark.skipif(True, reason="no frobnicator here")
        def test_it():
            pass
    """,
    "test_fixture": """
        import pytest
        @pytest.fixture
        def service():
            pytest.skip("no frobnicator here")
        def test_it(service):
            pass
    """,
    "test_module_importorskip": """
        import pytest
        pytest.importorskip("no_frobnicator_here")
        def test_it():
            pass
    """,
    "test_module_skip": """
        import pytest
        pytest.skip("no frobnicator here", allow_module_level=True)
        def test_it():
            pass
    """,
    "test_xfail": """
        import pytest
        @pytest.mark.xfail(reason="no frobnicator here")
        def test_it():
            assert False
    """,
}


def _run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_case=source, test_other="def test_fine():\n    pass\n")
    return pytester.runpytest("-p", "tests.no_skips", "-p", "no:cacheprovider", "-rA")


@pytest.mark.parametrize("name", sorted(SKIPPING))
def test_any_skip_fails_the_run_when_services_are_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(VARIABLE, "1")
    result = _run(pytester, SKIPPING[name])
    assert result.ret != 0
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) == outcomes.get("xfailed", 0) == 0, outcomes
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 1, outcomes
    assert "frobnicator" in result.stdout.str()  # the reason is printed
    assert f"{VARIABLE}=1 forbids that" in result.stdout.str()


@pytest.mark.parametrize("name", sorted(SKIPPING))
def test_a_skip_is_a_plain_skip_otherwise(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    result = _run(pytester, SKIPPING[name])
    assert result.ret == 0
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) + outcomes.get("xfailed", 0) == 1, outcomes
    assert outcomes.get("passed") == 1, outcomes


def test_passing_tests_pass_either_way(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "1")
    pytester.makepyfile("def test_it():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest("-p", "tests.no_skips", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
