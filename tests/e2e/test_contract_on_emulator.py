"""The whole contract suite against the service on the project's Stripe emulator, unknown price included."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from contract_tests.cases import load_cases
from contract_tests.deployment import ROOT, local_service, new_run_id

sys.path.insert(0, str(ROOT / "scripts"))
from stripe_emulator import StripeEmulator

WEBHOOK_CASES = 2  # contract_tests/test_webhook.py: unsigned, forged
UNKNOWN_PRICE_CASE = "test_documented_case[checkout-500-unknown-price]"


def test_every_case_passes_and_none_is_skipped(tmp_path: Path) -> None:
    """Every option given and no --offline-stripe: every case runs and passes, the emulator being Stripe."""
    report = tmp_path / "report.xml"
    run_id = new_run_id()
    with StripeEmulator() as emulator, local_service(run_id, stripe_api_base=emulator.url) as target:
        command = [
            *(sys.executable, "-m", "pytest", "contract_tests", "-p", "no:cacheprovider", "-q"),
            *("--base-url", target.base_url, "--jwt-secret", target.jwt_secret or ""),
            *("--supabase-url", target.supabase_url or "", "--access-token", target.access_token or ""),
            *("--price-id", target.price_id or "", "--junitxml", str(report)),
        ]
        env = os.environ | {"CONTRACT_RUN_ID": run_id}
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        asked = [r for r in emulator.requests if r.params.get("line_items[0][price]", "").endswith(run_id)]

    assert result.returncode == 0, result.stdout[-4000:]
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")
    assert int(suite.get("tests") or 0) == len(load_cases()) + WEBHOOK_CASES
    (case,) = [case for case in suite.iter("testcase") if case.get("name") == UNKNOWN_PRICE_CASE]
    assert list(case) == [], "the unknown-price case ran and passed"
    missing = f"price_contract_missing_{run_id}"
    refused = [r.body for r in asked if r.params["line_items[0][price]"] == missing]
    assert refused == [
        {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "line_items[0][price]",
                "message": f"No such price: '{missing}'",
            }
        }
    ]
