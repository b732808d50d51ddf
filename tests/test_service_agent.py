"""A refund agent running as a FastAPI service (examples/service) in a uvicorn process of its
own, called by chaoskit with each task through the service form.

Skipped only outside CI when fastapi or uvicorn is missing; in CI (``CI`` set) the test extra
installs them, and these tests must run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

if not os.environ.get("CI"):
    pytest.importorskip("fastapi", reason="fastapi is not installed (the test extra has it)")
    pytest.importorskip("uvicorn", reason="uvicorn is not installed (the test extra has it)")

from chaoskit import EngineSettings, explore, service_agent
from chaoskit.results import ScenarioResult
from chaoskit.scenarios import resolve_scenario

SERVICE = Path(__file__).resolve().parents[1] / "examples" / "service"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    """The service, started as its users would start it, before any world; stopped after."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "refund_service:app", "--app-dir", str(SERVICE),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "REFUND_TIMEOUT_SECONDS": "0.8"},
    )  # fmt: skip
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):  # up to 30 s on a busy machine; it usually takes under one
        assert process.poll() is None, "the service exited before it listened"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the service did not listen in 30 s")


def _explore(url: str) -> ScenarioResult:
    agent = service_agent(url)
    return explore(
        resolve_scenario("refund-timeout-after-commit"),
        agent,
        agent_name=agent.name,
        config=EngineSettings(examples=15, seed=0, wall_guard=20),
    )


def test_the_naive_service_is_caught_refunding_twice(service: str) -> None:
    result = _explore(f"{service}/naive")
    assert result.status == "violated"
    example = result.counterexample
    assert example is not None
    assert [f.kind for f in example.faults] == ["timeout_after_commit"]
    violated = {v.invariant for v in example.verdicts if v.status == "violated"}
    assert "at_most_one_effect_per_intent" in violated
    assert example.findings == ()
    assert result.reproduction is not None
    assert result.reproduction.startswith(f"chaoskit run --agent-url {service}/naive")


def test_the_hardened_service_holds(service: str) -> None:
    result = _explore(f"{service}/hardened")
    assert result.status == "held", result.counterexample
    assert result.not_exercised == ()


def test_a_service_that_is_not_running_is_a_finding_that_says_so() -> None:
    result = _explore(f"http://127.0.0.1:{_free_port()}/task")
    assert result.counterexample is not None
    [finding] = result.counterexample.findings
    assert finding.kind == "agent_raised"
    assert "refused the connection: is it running?" in finding.message


def test_a_service_answering_an_error_is_a_finding_with_its_answer(service: str) -> None:
    result = _explore(f"{service}/nowhere")
    assert result.counterexample is not None
    [finding] = result.counterexample.findings
    assert f"The agent service at {service}/nowhere answered 404 Not Found" in finding.message


def test_a_service_url_off_this_machine_is_a_usage_error() -> None:
    from chaoskit.core.errors import UsageError

    with pytest.raises(UsageError, match="is not on this machine"):
        service_agent("http://agents.example.com/task")
    with pytest.raises(UsageError, match="is not an http:// URL"):
        service_agent("127.0.0.1:8000/task")
