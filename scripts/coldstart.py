"""Cold start, measured: the CPython import time of the package, and Pyodide start to first answered request.

Prints the median of several fresh processes for each; `--runs N` sets how many.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT = (
    "import sys, time\n"
    "start = time.perf_counter()\n"
    "import {module}\n"
    "print(json.dumps([time.perf_counter() - start, 'stripe' in sys.modules]))\n"
)


def cpython_import(module: str, runs: int) -> tuple[float, bool]:
    """Median seconds to import `module` in a fresh interpreter, and whether stripe came with it."""
    times = []
    stripe = False
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", "import json\n" + IMPORT.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            cwd=ROOT,
        )
        seconds, loaded = json.loads(done.stdout)
        times.append(seconds)
        stripe = stripe or loaded
    return statistics.median(times), stripe


def pyodide_first_request(runs: int) -> dict[str, float]:
    """Median milliseconds of each phase from Pyodide start to the first answered checkout."""
    phases: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run(
            [str(ROOT / "scripts" / "pyodide-test"), "--runtime", "node", "--mode", "coldstart"],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
            cwd=ROOT,
        )
        result = json.loads(next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{")))
        for name, value in result.items():
            if name.endswith("_ms"):
                phases.setdefault(name, []).append(value)
    return {name: statistics.median(values) for name, values in phases.items()}


def main() -> None:
    """Measure and print both numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"CPython {sys.version.split()[0]}, median of {args.runs} fresh processes:")
    for module in ("handlers", "handlers.edge", "handlers.app", "stripe"):
        seconds, stripe = cpython_import(module, args.runs)
        note = "" if module == "stripe" else f" (stripe imported: {'yes' if stripe else 'no'})"
        print(f"  import {module:<14} {seconds * 1000:7.1f} ms{note}")
    runs = max(1, args.runs // 2)
    phases = pyodide_first_request(runs)
    print(f"Pyodide (Node), median of {runs} runs, start to first answered POST /api/stripe/create-checkout:")
    print(f"  total            {phases['total_ms']:7.0f} ms")
    print(f"    loadPyodide     {phases['boot_ms']:7.0f} ms")
    print(f"    load wheels     {phases['wheels_ms']:7.0f} ms")
    print(f"    import + build + first request {phases['first_request_ms']:5.0f} ms")
    print(f"      import handlers.app  {phases['import_ms']:7.0f} ms")
    print(f"      create_edge          {phases['build_ms']:7.0f} ms")
    print(f"      first answer         {phases['answer_ms']:7.0f} ms")
    handlers_ms = phases["wheels_ms"] + phases["first_request_ms"]
    print(f"  the handlers' share (wheels + import + build + answer): {handlers_ms:.0f} ms")


if __name__ == "__main__":
    main()
