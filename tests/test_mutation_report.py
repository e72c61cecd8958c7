"""scripts/mutation_report.py: killed and surviving mutants per module, listed equivalents left out."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mutation_report.py"


@pytest.fixture(name="report")
def _report(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script loaded as a module (scripts/ is no package), registered for this test only."""
    spec = importlib.util.spec_from_file_location("mutation_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is made.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def write_meta(results: Path, module: str, codes: dict[str, int | None], hashes: dict[str, str]) -> None:
    """A mutmut 3.8 result file for handlers/<module>.py."""
    meta = results / "handlers" / f"{module.replace('.', '/')}.py.meta"
    meta.parent.mkdir(parents=True, exist_ok=True)
    keyed = {f"handlers.{module}.{name}": code for name, code in codes.items()}
    meta.write_text(json.dumps({"exit_code_by_key": keyed, "hash_by_function_name": hashes}))


@pytest.fixture(name="results")
def _results(tmp_path: Path) -> Path:
    """Results of two modules: cors with every outcome, adapters.fetch all killed."""
    results = tmp_path / "mutants"
    codes = {
        "x_check__mutmut_1": 1,  # killed
        "x_check__mutmut_2": 36,  # timeout: the tests noticed
        "x_check__mutmut_3": 0,  # survived
        "x_check__mutmut_4": 0,  # survived, listed as equivalent
        "x_check__mutmut_5": 33,  # no test runs it
        "xǁCORSǁlabel__mutmut_1": 0,  # survived, listed for an older version of its function
        "xǁCORSǁlabel__mutmut_2": None,  # not run yet
    }
    write_meta(results, "cors", codes, {"x_check": "aaa111", "xǁCORSǁlabel": "bbb222"})
    write_meta(results, "adapters.fetch", {"x_send__mutmut_1": 1, "x_send__mutmut_2": 3}, {"x_send": "ccc"})
    return results


def run(report: ModuleType, results: Path, equivalents: str, *args: str) -> int:
    """The report's exit status for `results` with this equivalents file."""
    listed = results.parent / "equivalent.txt"
    listed.write_text(equivalents)
    code: int = report.main([*args, "--results", str(results), "--equivalents", str(listed)])
    return code


EQUIVALENTS = (
    "# a comment\n\n"
    "handlers.cors.x_check__mutmut_4 aaa111 header names are lower-cased anyway\n"
    "handlers.cors.xǁCORSǁlabel__mutmut_1 old999 was equivalent before the change\n"
)


def test_the_table_counts_each_outcome_and_leaves_listed_equivalents_out(
    report: ModuleType, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed includes timeouts; listed equivalents are counted apart; unrun mutants not at all."""
    assert run(report, results, EQUIVALENTS) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        "module                             mutants  killed survived no tests  other equiv.   score",
        "handlers.adapters.fetch                  2       2        0        0      0      0  100.0%",
        "handlers.cors                            6       2        2        1      0      1   40.0%",
        "total                                    8       4        2        1      0      1   57.1%",
    ]
    assert "  handlers.cors.x_check__mutmut_3 aaa111" in lines
    assert "  handlers.cors.x_check__mutmut_5 aaa111" in lines
    assert "  handlers.cors.xǁCORSǁlabel__mutmut_1 bbb222" in lines
    assert not any("x_check__mutmut_4 " in line for line in lines)
    assert lines[-2:] == [
        "stale in equivalent.txt: handlers.cors.xǁCORSǁlabel__mutmut_1 (was equivalent before the change):"
        " its function changed",
        "  (hash old999 -> bbb222); judge it again",
    ]


def test_fail_under_names_the_modules_below_it(
    report: ModuleType, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --fail-under, a module under the score fails the run and is named; modules can be chosen."""
    assert run(report, results, EQUIVALENTS, "--fail-under", "97") == 1
    assert capsys.readouterr().out.splitlines()[-1] == "under 97%: handlers.cors"
    assert run(report, results, EQUIVALENTS, "--fail-under", "97", "adapters.fetch") == 0


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            "handlers.cors.x_check__mutmut_4 aaa111\n",
            "expected 'mutant function-hash reason'",
            id="no-reason",
        ),
        pytest.param(EQUIVALENTS + EQUIVALENTS.splitlines()[2] + "\n", "is listed twice", id="twice"),
    ],
)
def test_a_malformed_equivalents_file_stops_the_report(
    report: ModuleType, results: Path, text: str, error: str
) -> None:
    """A line without a reason, or a mutant listed twice, is an error naming the line."""
    with pytest.raises(SystemExit, match=error):
        run(report, results, text)


def test_a_listed_mutant_that_is_no_longer_made_is_stale_and_only_chosen_modules_are_judged(
    report: ModuleType, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry whose mutant mutmut no longer makes is shown as gone; a run of other modules shows neither."""
    gone = "handlers.cors.x_check__mutmut_9 aaa111 the line it changed was deleted\n"
    assert run(report, results, EQUIVALENTS + gone) == 0
    out = capsys.readouterr().out
    assert (
        "stale in equivalent.txt: handlers.cors.x_check__mutmut_9 (the line it changed was deleted):" in out
    )
    assert "  (hash aaa111 -> gone); judge it again" in out
    assert run(report, results, EQUIVALENTS + gone, "adapters.fetch") == 0
    assert "stale" not in capsys.readouterr().out
