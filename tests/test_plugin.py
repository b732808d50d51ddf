"""The pytest plugin, run as users run it (pytester)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

AGENTS = """
import re, time, uuid
import httpx


def _order(task):
    order_id = re.search(r"\\b(ord_\\w+)", task.message).group(1)
    response = httpx.get(f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm"))
    return response.json()


def _refund(task, key):
    order = _order(task)
    for attempt in range(3):
        try:
            r = httpx.post(
                f"{task.urls['payments']}/v1/refunds",
                data={"charge": order["charge_id"], "amount": order["amount"] // 2},
                headers={**task.auth("payments"), "Idempotency-Key": key or str(uuid.uuid4())},
            )
            if r.status_code == 200:
                return f"Refund {r.json()['id']} submitted."
        except httpx.TimeoutException:
            time.sleep(2 ** attempt)
    return "I could not refund your order."


def naive(task):
    return _refund(task, None)


def hardened(task):
    return _refund(task, "refund-" + task.message.split()[4])


def idle(task):
    _order(task)
    return "Please contact support."
"""


REFUND = """
name = "refund-timeout-after-commit"
task = "Half of my order {order.id} never arrived. Please refund half of it."
backends = ["payments", "crm"]
tags = ["payments", "idempotency"]

[[faults]]
kind = "timeout_after_commit"
target = "payments: POST /v1/refunds"
explore = true

[[invariants]]
name = "at_most_one_effect_per_intent"
effect = "refund.created"
key = "charge"

[[sometimes]]
name = "the timeout hit the refund"
fault = "timeout_after_commit"
target = "payments: POST /v1/refunds"
"""

EXPECT = """
[[expect]]
effect = "refund.created"
count = 1
where = { charge = "{order.charge_id}" }
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's project: an agent module and a scenarios folder with the built-in refund file."""
    pytester.makepyfile(myagent=AGENTS)
    # A root conftest puts the project root on sys.path, in xdist's workers too.
    pytester.makeconftest("")
    pytester.syspathinsert()
    scenarios = pytester.path / "scenarios"
    scenarios.mkdir()
    (scenarios / "refund.toml").write_text(REFUND + EXPECT)
    loose = REFUND.replace("refund-timeout-after-commit", "refund-loose")
    (scenarios / "refund_loose.toml").write_text(loose.replace('"idempotency"', '"loose"'))
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("-p", "no:cacheprovider", "--chaos-examples=25", *args)


def test_scenario_files_are_collected_as_items_with_readable_ids(project: pytest.Pytester) -> None:
    result = run(project, "--chaos-agent=myagent:hardened", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "scenarios/refund.toml::refund-timeout-after-commit",
            "scenarios/refund_loose.toml::refund-loose",
        ]
    )


def test_k_and_m_select_scenarios(project: pytest.Pytester) -> None:
    by_name = run(project, "--chaos-agent=myagent:hardened", "--collect-only", "-q", "-k", "loose")
    by_name.stdout.fnmatch_lines(["scenarios/refund_loose.toml::refund-loose", "*1/2 tests*"])
    by_tag = run(
        project, "--chaos-agent=myagent:hardened", "--collect-only", "-q", "-m", "idempotency"
    )
    by_tag.stdout.fnmatch_lines(
        ["scenarios/refund.toml::refund-timeout-after-commit", "*1/2 tests*"]
    )


def test_the_header_prints_the_seed_and_the_command_that_reproduces_it(
    project: pytest.Pytester,
) -> None:
    result = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=5", "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "chaoskit * agent myagent:hardened, 25 examples per scenario, seed 5",
            "*pytest --chaos-seed=5*",
        ]
    )


def test_a_held_run_exits_0_with_a_summary_and_a_report(project: pytest.Pytester) -> None:
    result = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=1")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*= chaoskit =*",
            "held *scenarios/refund_loose.toml::refund-loose ?myagent:hardened? 25 examples*",
            "chaoskit: report written to *",
        ]
    )
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert sorted(s["scenario"] for s in data["scenarios"]) == [
        "refund-loose",
        "refund-timeout-after-commit",
    ]


def test_a_violation_exits_1_with_the_invariant_schedule_and_reproduction(
    project: pytest.Pytester,
) -> None:
    result = run(project, "--chaos-agent=myagent:naive", "--chaos-seed=1", "-k", "loose")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*chaoskit: scenario 'refund-loose' VIOLATED against myagent:naive*",
            "*violated: at_most_one_effect_per_intent: 2 refund.created effects for one intent*",
            "*minimal fault schedule (1 fault):",
            "*call *payments POST /v1/refunds  timeout_after_commit",
            "*reproduce: chaoskit run --agent myagent:naive --seed 1 *",
        ]
    )


def test_a_scenario_never_exercised_exits_1(project: pytest.Pytester) -> None:
    result = run(project, "--chaos-agent=myagent:idle", "-k", "loose")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*NOT EXERCISED*", "*never fired*"])


def test_an_agent_that_cannot_be_imported_is_a_usage_error(project: pytest.Pytester) -> None:
    result = run(project, "--chaos-agent=myagent:hardend")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*chaoskit: 'myagent' has no attribute 'hardend'. Did you mean 'hardened'?*"]
    )


def test_a_bad_scenario_file_fails_only_its_own_item(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "broken.toml").write_text(
        'name = "broken"\ntask = "{order.nope}"\n'
    )
    result = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=1")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*broken.toml, task: template field {order.nope} is not in the world*"]
    )


def test_the_chaos_fixture_passes_and_fails_a_python_test(project: pytest.Pytester) -> None:
    scenario = project.path / "scenarios" / "refund_loose.toml"
    project.makepyfile(
        test_agent=f"""
        import pytest
        import myagent

        def test_hardened_survives(chaos):
            result = chaos.check({str(scenario)!r}, agent=myagent.hardened)
            assert result.status == "held"

        @pytest.mark.chaos(agent="myagent:naive")
        def test_naive_is_caught(chaos):
            chaos.check({str(scenario)!r})
        """
    )
    result = project.runpytest(
        "-p", "no:cacheprovider", "--chaos-examples=25", "--chaos-seed=1", "test_agent.py"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*scenario 'refund-loose' VIOLATED against myagent:naive*"])


def test_xdist_workers_merge_into_one_report(project: pytest.Pytester) -> None:
    result = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=1", "-n", "2")
    assert result.ret == 0
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert sorted(s["scenario"] for s in data["scenarios"]) == [
        "refund-loose",
        "refund-timeout-after-commit",
    ]
    assert (project.path / "reports" / "chaoskit.html").stat().st_size > 0


def test_the_packaged_scenarios_folder_is_a_valid_default(tmp_path: Path) -> None:
    target = tmp_path / "scenarios"
    shutil.copytree(
        ROOT / "scenarios", target, ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    from chaoskit.scenarios import load_scenarios

    loaded, errors = load_scenarios([target])
    assert loaded and not errors


def test_ctrl_c_still_writes_a_report_of_what_finished(project: pytest.Pytester) -> None:
    project.makepyfile(
        stopping="""
        import os, signal
        import myagent

        pressed = []

        def agent(task):
            if task.message.startswith("STOP") and not pressed:
                pressed.append(True)
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, once, in the middle of a run
            return myagent.hardened(task)
        """
    )
    stop = REFUND.replace("refund-timeout-after-commit", "stop").replace("Half of my", "STOP my")
    (project.path / "scenarios" / "stop.toml").write_text(stop)
    # In a subprocess: in-process, pytester hands the KeyboardInterrupt on to this session.
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos-examples=25", "--chaos-agent=stopping:agent",
        "--chaos-seed=1", "-k", "not loose",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    finished, *cut = [(s["scenario"], s["status"], s["interrupted"]) for s in data["scenarios"]]
    assert finished == ("refund-timeout-after-commit", "held", False)
    # The scenario Ctrl-C stopped is listed when the engine hands over what finished of it.
    assert cut in ([], [("stop", "interrupted", True)])
    assert data["interrupted"] is True
    assert gate_word(project) == "INTERRUPTED"
    result.stdout.fnmatch_lines(["chaoskit: INTERRUPTED by Ctrl-C: 1 held*"])


def gate_word(project: pytest.Pytester) -> str:
    page = (project.path / "reports" / "chaoskit.html").read_text()
    return page.split('<div class="gate-word">', 1)[1].split("<", 1)[0]


INTERRUPT_THE_SECOND = """
import chaoskit.engine
from chaoskit.core.errors import RunInterrupted

_explore = chaoskit.engine.explore
_started = []


def explore(scenario, agent, **kwargs):
    # What the engine does on Ctrl-C: RunInterrupted carries what finished of the scenario.
    _started.append(scenario.name)
    result = _explore(scenario, agent, **kwargs)
    if len(_started) == 2:
        raise RunInterrupted(result.model_copy(update={"examples": 3}))
    return result


chaoskit.engine.explore = explore
"""


def test_ctrl_c_keeps_the_cut_scenarios_examples_and_marks_the_report(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(INTERRUPT_THE_SECOND)
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos-examples=25", "--chaos-agent=myagent:hardened",
        "--chaos-seed=1",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert data["interrupted"] is True
    statuses = {(s["status"], s["interrupted"], s["examples"]) for s in data["scenarios"]}
    assert statuses == {("held", False, 25), ("interrupted", True, 3)}
    assert gate_word(project) == "INTERRUPTED"
    result.stdout.fnmatch_lines(
        [
            "INTERRUPTED * 3 examples, * faults fired",
            "chaoskit: INTERRUPTED by Ctrl-C: 1 held, 1 interrupted; *",
        ]
    )


def test_a_bad_scenario_file_is_listed_in_the_report_and_fails_its_gate(
    project: pytest.Pytester,
) -> None:
    (project.path / "scenarios" / "broken.toml").write_text(
        'name = "broken"\ntask = "{order.nope}"\n'
    )
    result = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=1", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert [s["status"] for s in data["scenarios"]] == ["held", "held"]
    (invalid,) = data["invalid"]
    assert Path(invalid["source"]).name == "broken.toml"
    assert "template field {order.nope} is not in the world" in invalid["message"]
    assert gate_word(project) == "FAIL"
    result.stdout.fnmatch_lines(
        [
            "invalid *broken.toml, task: template field {order.nope} is not in the world*",
            "chaoskit: FAIL: 2 held; 1 invalid input, not run: fix it (listed above)",
        ]
    )


def test_a_scenario_the_chaos_fixture_cannot_load_is_listed_too(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent="""
        def test_typo(chaos):
            chaos.check("refund-timeout-after-comit", agent="myagent:hardened")
        """
    )
    result = project.runpytest("-p", "no:cacheprovider", "--chaos-seed=1", "test_agent.py")
    result.assert_outcomes(failed=1)
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    (invalid,) = data["invalid"]
    assert invalid["source"] == "refund-timeout-after-comit"
    assert "Did you mean 'refund-timeout-after-commit'?" in invalid["message"]


def test_seed_0_the_ci_default_is_accepted(project: pytest.Pytester) -> None:
    result = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=0", "-k", "loose")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["chaoskit * seed 0", "*pytest --chaos-seed=0*"])
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert (data["seed"], data["database"]) == (0, False)
    negative = run(project, "--chaos-agent=myagent:hardened", "--chaos-seed=-1")
    assert negative.ret == pytest.ExitCode.USAGE_ERROR
    negative.stderr.fnmatch_lines(["*chaoskit: --chaos-seed must be at least 0, got -1.*"])


def test_the_same_seed_gives_the_same_results_json_but_its_timing(
    project: pytest.Pytester,
) -> None:
    def results() -> dict[str, object]:
        outcome = run(project, "--chaos-agent=myagent:naive", "--chaos-seed=4", "-k", "loose")
        assert outcome.ret == 1
        data: dict[str, object] = json.loads(
            (project.path / "reports" / "chaoskit.json").read_text()
        )
        assert data.pop("timing")
        return data

    first = results()
    assert first == results()
    assert first["database"] is False


def test_without_a_seed_the_example_database_is_used_and_recorded(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    # In a subprocess: its example database is the project's own (.hypothesis/ in its folder).
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos-examples=10", "--chaos-agent=myagent:hardened",
        "-k", "loose",
    )  # fmt: skip
    assert result.ret == 0
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert data["database"] is True


def test_the_wall_limit_is_an_option_and_a_busy_agent_is_stopped_by_it(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(busy="def spins(task):\n    while True:\n        pass\n")
    result = run(project, "--chaos-agent=busy:spins", "--chaos-wall-seconds=0.2", "-k", "loose")
    assert result.ret == 1
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    (loose,) = data["scenarios"]
    messages = [f["message"] for f in loose["counterexample"]["findings"]]
    assert any("0.2 s of real time" in m for m in messages), messages
    refused = run(project, "--chaos-agent=busy:spins", "--chaos-wall-seconds=0")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*chaoskit: --chaos-wall-seconds must be more than 0*"])


def test_a_worker_killed_by_the_agent_fails_the_report_instead_of_a_pass(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_exits="""
import os
from myagent import hardened

def exits(task):
    os._exit(3)

def test_exits(chaos):
    chaos.check("scenarios/refund_loose.toml", agent=exits)

def test_holds(chaos):
    chaos.check("scenarios/refund_loose.toml", agent=hardened)
"""
    )
    result = run(project, "--chaos-seed=1", "-n", "2", "test_exits.py")
    assert result.ret == 1
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert [s["status"] for s in data["scenarios"]] == ["held"]  # the other result is kept
    (lost,) = data["invalid"]
    assert lost["source"] == "test_exits.py::test_exits"
    assert "crashed" in lost["message"]
    assert gate_word(project) == "FAIL"
