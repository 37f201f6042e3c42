"""Without Chromium the browser tests skip on a developer's machine and fail under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("ci", "outcome"), [("", {"skipped": 1}), ("true", {"errors": 1})])
def test_a_missing_chromium_skips_or_fails_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str,
    outcome: dict[str, int],
) -> None:
    monkeypatch.setenv("FABCORE_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    pytester.makeconftest('pytest_plugins = ["browser_fixtures"]\n')
    pytester.makepyfile(test_page="def test_page(page):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**outcome)
    if ci:
        result.stdout.fnmatch_lines(["*browser tests need Chromium under CI: no Chromium at*"])
