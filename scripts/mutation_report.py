"""Killed and surviving mutants per module, from mutmut's result files; known equivalent mutants left out.

Usage: mutation_report.py [--fail-under PERCENT] [MODULE ...]   (MODULE: webhook, adapters.fetch, ...)
Reads mutants/**/*.py.meta as mutmut 3.8 writes them, and scripts/mutants-equivalent.txt.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "mutants"
EQUIVALENT = Path(__file__).with_name("mutants-equivalent.txt")
PACKAGE = "handlers"

# mutmut's exit codes (mutmut/stats.py): what the tests did to a mutant.
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout"}
KILLED |= {255: "timeout", -11: "crashed", -9: "crashed", 37: "type check"}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests"}


@dataclass(frozen=True)
class Equivalent:
    """A mutant judged equivalent, for the version of its function with this hash."""

    name: str
    function_hash: str
    reason: str


@dataclass
class Module:
    """One module's mutants by outcome."""

    name: str
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)
    equivalent: int = 0
    unchecked: int = 0

    @property
    def counted(self) -> int:
        """Mutants that count: checked, and not listed as equivalent."""
        return self.killed + len(self.survived) + len(self.untested) + sum(self.other.values())

    def score(self) -> float | None:
        """Percent of the counted mutants the tests killed."""
        return 100.0 * self.killed / self.counted if self.counted else None


def function_of(mutant: str) -> str:
    """`handlers.cors.xǁCORSǁrefuse__mutmut_7` -> `xǁCORSǁrefuse`, the key of mutmut's function hashes."""
    return mutant.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]


def read_equivalents(path: Path = EQUIVALENT) -> dict[str, Equivalent]:
    """The listed equivalent mutants: `name function-hash reason...` per line, `#` starts a comment."""
    listed: dict[str, Equivalent] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(maxsplit=2)
        if len(parts) < 3:
            raise SystemExit(f"{path.name}:{number}: expected 'mutant function-hash reason'")
        if parts[0] in listed:
            raise SystemExit(f"{path.name}:{number}: {parts[0]} is listed twice")
        listed[parts[0]] = Equivalent(*parts)
    return listed


def read_results(
    results: Path, equivalents: dict[str, Equivalent]
) -> tuple[dict[str, Module], list[tuple[Equivalent, str]], dict[str, str]]:
    """Modules by name; listed equivalents whose function changed since (with its new hash); hashes."""
    modules: dict[str, Module] = {}
    stale: list[tuple[Equivalent, str]] = []
    hashes: dict[str, str] = {}
    for meta in sorted((results / PACKAGE).rglob("*.py.meta")):
        relative = meta.relative_to(results).with_suffix("").with_suffix("")
        name = ".".join(relative.parts)
        data = json.loads(meta.read_text("utf-8"))
        module = modules.setdefault(name, Module(name))
        functions: dict[str, str] = data.get("hash_by_function_name", {})
        for mutant, code in sorted(data.get("exit_code_by_key", {}).items()):
            now = functions.get(function_of(mutant), "")
            hashes[mutant] = now
            listed = equivalents.get(mutant)
            if listed is not None and listed.function_hash != now:
                stale.append((listed, now))
                listed = None
            if code is None:
                module.unchecked += 1
            elif listed is not None:
                module.equivalent += 1
            elif code in KILLED:
                module.killed += 1
            elif SURVIVED.get(code) == "survived":
                module.survived.append(mutant)
            elif code in SURVIVED:
                module.untested.append(mutant)
            else:
                module.other[str(code)] += 1
    return modules, stale, hashes


def wanted(module: str, names: list[str]) -> bool:
    """True when no module names are given or `module` is one of them (`webhook` or `handlers.webhook`)."""
    return not names or any(module in (name, f"{PACKAGE}.{name}") for name in names)


def main(argv: list[str]) -> int:
    """Print the table and the survivors; 1 when a module scores under --fail-under."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*")
    parser.add_argument("--fail-under", type=float, default=None, metavar="PERCENT")
    parser.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    parser.add_argument("--equivalents", type=Path, default=EQUIVALENT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print("no results: run scripts/mutate first", file=sys.stderr)
        return 2
    equivalents = read_equivalents(args.equivalents)
    found, stale, hashes = read_results(args.results, equivalents)
    modules = [m for m in found.values() if wanted(m.name, args.modules) and (m.counted or m.equivalent)]
    # Listed mutants mutmut no longer makes (their line changed or went) are stale too.
    stale += [(listed, "") for listed in equivalents.values() if listed.name not in hashes]
    stale = [(listed, now) for listed, now in stale if wanted(listed.name.rsplit(".", 1)[0], args.modules)]
    header = f"{'module':34} {'mutants':>7} {'killed':>7} {'survived':>8} {'no tests':>8} {'other':>6}"
    print(f"{header} {'equiv.':>6} {'score':>7}")
    total = Module("total")
    below = []
    for module in modules:
        total.killed += module.killed
        total.survived += module.survived
        total.untested += module.untested
        total.other += module.other
        total.equivalent += module.equivalent
        score = module.score()
        if args.fail_under is not None and score is not None and score < args.fail_under:
            below.append(module.name)
        print(row(module))
    print(row(total))
    survivors = [name for m in modules for name in (*m.survived, *m.untested)]
    if survivors:
        print("\nSurvivors (see one with `.venv/bin/mutmut show NAME`; list an equivalent one as")
        print(f"`NAME FUNCTION-HASH reason` in scripts/{EQUIVALENT.name}):")
        for name in survivors:
            print(f"  {name} {hashes[name]}")
    for listed, now in stale:
        print(f"\nstale in {args.equivalents.name}: {listed.name} ({listed.reason}): its function changed")
        print(f"  (hash {listed.function_hash} -> {now or 'gone'}); judge it again")
    if below:
        print(f"\nunder {args.fail_under:g}%: {', '.join(below)}")
        return 1
    return 0


def row(module: Module) -> str:
    """One line of the table."""
    score = module.score()
    shown = "-" if score is None else f"{score:.1f}%"
    mutants = module.counted + module.equivalent
    counts = f"{mutants:7} {module.killed:7} {len(module.survived):8} {len(module.untested):8}"
    return f"{module.name:34} {counts} {sum(module.other.values()):6} {module.equivalent:6} {shown:>7}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
