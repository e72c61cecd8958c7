"""Per-call cost of the compiled checkout validator against jsonschema (Contract.first_error), in us.

Every call gets a different body (no memo can answer), drawn from valid ones and from ones that fail
early (no priceId), in the middle (mode) and last (cancelUrl's format). Also times what each costs
before the first call: compiling the schema file, or importing jsonschema and building its validator.

    .venv/bin/python scripts/validator_bench.py [--bodies 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.contract import CHECKOUT_REQUEST, Contract, schema_dir  # noqa: E402
from handlers.validator import compile_schema  # noqa: E402


def bodies(kind: str, count: int) -> list[dict[str, Any]]:
    """`count` distinct checkout bodies of one kind, as json.loads gives them."""
    found = []
    for index in range(count):
        body: dict[str, Any] = {
            "priceId": f"price_{index:06d}",
            "successUrl": f"https://app.example.com/ok/{index}?session_id={{CHECKOUT_SESSION_ID}}",
            "cancelUrl": f"https://app.example.com/pricing/{index}",
            "mode": "payment" if index % 2 else "subscription",
        }
        if kind == "no-price":
            del body["priceId"]
            body["note"] = index
        elif kind == "bad-mode":
            body["mode"] = f"mode-{index}"
        elif kind == "bad-cancel-url":
            body["cancelUrl"] = f"ftp://app.example.com/{index}"
        found.append(json.loads(json.dumps(body)))
    return found


def per_call_us(check: Callable[[Any], object], instances: list[dict[str, Any]], repeat: int) -> float:
    """Best of `repeat` passes over every instance: microseconds per call."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for instance in instances:
            check(instance)
        best = min(best, time.perf_counter() - started)
    return best / len(instances) * 1e6


def fresh_process_ms(code: str) -> float:
    """Best of three: the wall time `code` takes in a fresh interpreter once the schema is read, in ms."""
    setup = "import json, time; from handlers.contract import schema_dir; "
    setup += f"s = json.loads((schema_dir() / {CHECKOUT_REQUEST!r}).read_text())"
    timer = f"{setup}; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    runs = []
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", timer], capture_output=True, text=True, check=True, cwd=ROOT
        )
        runs.append(float(done.stdout))
    return min(runs) * 1000


def main() -> None:
    """Print one table: us per call for each kind of body, both ways, and the ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bodies", type=int, default=2000, help="distinct bodies of each kind")
    parser.add_argument("--repeat", type=int, default=5, help="passes over them; the best is kept")
    args = parser.parse_args()
    contract = Contract.load()
    schema = json.loads((schema_dir() / CHECKOUT_REQUEST).read_text("utf-8"))
    compiled = compile_schema(schema)
    print("| bodies | message | jsonschema us/call | compiled us/call | speed-up |")
    print("|---|---|---|---|---|")
    for kind in ("valid", "no-price", "bad-mode", "bad-cancel-url"):
        instances = bodies(kind, args.bodies)
        messages = {compiled(each) for each in instances}
        assert messages == {contract.first_error(CHECKOUT_REQUEST, each) for each in instances}
        slow = per_call_us(lambda each: contract.first_error(CHECKOUT_REQUEST, each), instances, args.repeat)
        fast = per_call_us(compiled, instances, args.repeat)
        shown = " / ".join(str(message) for message in messages)[:40]
        print(f"| {kind} | {shown} | {slow:.2f} | {fast:.2f} | {slow / fast:.0f}x |")
    ours = fresh_process_ms("from handlers.validator import compile_schema; compile_schema(s)")
    theirs = fresh_process_ms("from jsonschema import Draft202012Validator as V; V.check_schema(s); V(s)")
    print("\nbefore the first call, in a fresh process with the schema file read (best of 3):")
    print(f"- import handlers.validator and compile the checkout schema: {ours:.1f} ms")
    print(f"- import jsonschema, check the schema and build its validator: {theirs:.1f} ms")


if __name__ == "__main__":
    main()
