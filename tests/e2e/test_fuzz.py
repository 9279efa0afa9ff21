"""The gateway fuzzed from its own OpenAPI document with schemathesis (examples and generated requests for every
operation, as an admin): no 5xx, and every response matches the schema it is documented with."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

# left out: signing out (the fuzzer's own token), erasure and privacy requests (they fan out to every service and
# would erase what other tests read), revoking API keys, and the evaluation run (a long job, tested on its own)
EXCLUDED = "logout|erasure|/v1/privacy|api-keys/|evaluations"


def test_no_server_error_and_responses_match_their_schema(stack: Stack) -> None:
    st = Path(sys.executable).parent / "st"
    run = subprocess.run(
        [
            str(st),
            "run",
            f"{stack.gateway}/openapi.json",
            "--header",
            f"Authorization: Bearer {stack.token()}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "15",
            "--exclude-path-regex",
            EXCLUDED,
            "--request-timeout",
            "30",
            "--seed",
            "20261123",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:]
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert tested is not None and int(tested.group(1)) >= 40, run.stdout[-3000:]  # every operation but the few left out
