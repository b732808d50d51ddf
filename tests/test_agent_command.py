"""An agent in another process: a command run per example against the world served on loopback.

The agents here are small Python scripts run by this interpreter (no network: the served
fakes are on loopback); the Node pair is in test_node_agents.py and the service form in
test_service_agent.py.
"""

from __future__ import annotations

import json
import select
import shlex
import sys
import textwrap
from pathlib import Path

import pytest

from chaoskit import Budget, Claim, EngineSettings, Principal, Reply, Task, command_agent
from chaoskit import explore as chaoskit_explore
from chaoskit.core.errors import UsageError
from chaoskit.engine.external import resolve_agent
from chaoskit.engine.runner import AgentFailed
from chaoskit.results import ScenarioResult
from chaoskit.scenarios import resolve_scenario

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
PYTHON = shlex.quote(sys.executable)

#: A refund agent on the standard library only; NAIVE mints a fresh key per attempt.
REFUND_AGENT = """
import json, re, sys, urllib.error, urllib.parse, urllib.request, uuid

NAIVE = {naive}
task = json.load(sys.stdin)
urls, keys = task["urls"], task["credentials"]
order_id = re.search(r"ord_\\w+", task["message"])[0]
ask = urllib.request.Request(
    f"{{urls['crm']}}/v1/orders/{{order_id}}", headers={{"Authorization": "Bearer " + keys["crm"]}}
)
order = json.load(urllib.request.urlopen(ask, timeout=2))
form = {{"charge": order["charge_id"], "amount": order["amount"] // 2}}
for attempt in range(3):
    key = str(uuid.uuid4()) if NAIVE else f"refund-{{order['charge_id']}}"
    refund = urllib.request.Request(
        f"{{urls['payments']}}/v1/refunds",
        data=urllib.parse.urlencode(form).encode(),
        headers={{"Authorization": "Bearer " + keys["payments"], "Idempotency-Key": key}},
    )
    try:
        made = json.load(urllib.request.urlopen(refund, timeout=0.8))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        print(f"attempt {{attempt}}: {{error}}", file=sys.stderr)
        continue
    claim = {{"intent": "refund", "status": "done", "ref": made["id"]}}
    print(json.dumps({{"reply": f"Refund {{made['id']}} submitted.", "claims": [claim]}}))
    break
else:
    claim = {{"intent": "refund", "status": "escalated"}}
    print(json.dumps({{"reply": "I could not confirm the refund; a colleague will check.",
                      "claims": [claim]}}))
"""


def _script(folder: Path, name: str, source: str) -> str:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return f"{PYTHON} {shlex.quote(str(path))}"


def _task(**budget: float) -> Task:
    return Task(
        message="Refund order ord_1 please.",
        principal=Principal(user_id="usr_1", token="tok_1", scope=("acct_1", "acct_2")),
        urls={"payments": "http://127.0.0.1:9", "crm": "http://127.0.0.1:10"},
        credentials={"payments": "sk_test_1", "crm": "tok_1"},
        budget=Budget(tool_calls=5, **budget),
    )


def _explore(agent: object, *, examples: int = 12) -> ScenarioResult:
    scenario = resolve_scenario("refund-timeout-after-commit")
    config = EngineSettings(examples=examples, seed=0, wall_guard=20)
    name = getattr(agent, "name", "tests:agent")
    return chaoskit_explore(scenario, agent, agent_name=name, config=config)  # type: ignore[arg-type]


# -- the protocol, without a world ----------------------------------------------------------


def test_the_command_gets_the_task_on_stdin_and_in_its_environment(tmp_path: Path) -> None:
    echo = _script(
        tmp_path,
        "echo.py",
        """
        import json, os, sys
        task = json.load(sys.stdin)
        env = {k: v for k, v in os.environ.items() if k.startswith("CHAOSKIT_")}
        print(json.dumps({"reply": json.dumps({"task": task, "env": env}), "claims": []}))
        """,
    )
    reply = command_agent(echo)(_task())
    seen = json.loads(reply.text)
    assert seen["task"] == {
        "message": "Refund order ord_1 please.",
        "principal": {"user_id": "usr_1", "token": "tok_1", "scope": ["acct_1", "acct_2"]},
        "urls": {"payments": "http://127.0.0.1:9", "crm": "http://127.0.0.1:10"},
        "credentials": {"payments": "sk_test_1", "crm": "tok_1"},
        "budget": Budget(tool_calls=5).model_dump(mode="json"),
        "id": "task",
        "delivery": 1,
        "history": [],
    }
    assert seen["env"] == {
        "CHAOSKIT_TASK_MESSAGE": "Refund order ord_1 please.",
        "CHAOSKIT_USER_ID": "usr_1",
        "CHAOSKIT_USER_TOKEN": "tok_1",
        "CHAOSKIT_USER_SCOPE": "acct_1,acct_2",
        "CHAOSKIT_TASK_ID": "task",
        "CHAOSKIT_TASK_DELIVERY": "1",
        "CHAOSKIT_PAYMENTS_URL": "http://127.0.0.1:9",
        "CHAOSKIT_CRM_URL": "http://127.0.0.1:10",
        "CHAOSKIT_PAYMENTS_TOKEN": "sk_test_1",
        "CHAOSKIT_CRM_TOKEN": "tok_1",
    }


def test_a_json_reply_becomes_a_reply_with_its_claims(tmp_path: Path) -> None:
    agent = command_agent(
        _script(
            tmp_path,
            "claims.py",
            """
            import json
            claim = {"intent": "refund", "status": "done", "ref": "re_1"}
            print(json.dumps({"reply": "Refund re_1 submitted.", "claims": [claim]}))
            """,
        )
    )
    assert agent(_task()) == Reply(
        text="Refund re_1 submitted.", claims=(Claim(intent="refund", status="done", ref="re_1"),)
    )


def test_plain_text_on_stdout_is_the_reply(tmp_path: Path) -> None:
    agent = command_agent(_script(tmp_path, "text.py", "print('I refunded half of it.')\n"))
    assert agent(_task()) == Reply(text="I refunded half of it.")


@pytest.mark.parametrize(
    ("printed", "problem"),
    [
        ('{"reply": "ok", ', "it starts with '{' but is not JSON"),
        ('{"text": "ok"}', 'it has no "reply" string'),
        ('{"reply": "ok", "claim": []}', "unknown field(s) 'claim'"),
        ('{"reply": "ok", "claims": [{"intent": "refund", "status": "sent"}]}', "claims.0.status"),
    ],
)
def test_json_that_is_not_a_reply_is_a_bad_reply_finding_that_teaches(
    tmp_path: Path, printed: str, problem: str
) -> None:
    agent = command_agent(_script(tmp_path, "bad.py", f"print({printed!r})\n"))
    with pytest.raises(AgentFailed) as failed:
        agent(_task())
    assert failed.value.kind == "bad_reply"
    assert problem in failed.value.message
    assert 'Answer with plain text, or with JSON {"reply": "..."' in failed.value.message


def test_a_command_that_exits_non_zero_is_a_finding_with_its_last_stderr_lines(
    tmp_path: Path,
) -> None:
    crash = _script(
        tmp_path,
        "crash.py",
        """
        import sys
        for n in range(10):
            print(f"line {n}", file=sys.stderr)
        sys.exit(3)
        """,
    )
    with pytest.raises(AgentFailed) as failed:
        command_agent(crash)(_task())
    assert failed.value.kind == "agent_raised"
    assert f"The agent command {crash!r} exited with status 3: line 5 | line 6 | " in str(
        failed.value
    )
    assert "line 9. An agent should report failures in its reply" in str(failed.value)
    assert "line 4" not in str(failed.value)


def test_an_error_named_above_a_long_stack_leads_the_finding(tmp_path: Path) -> None:
    node_like = _script(
        tmp_path,
        "node_like.py",
        """
        import sys
        print("RateLimitError: 429 Too Many Requests", file=sys.stderr)
        for n in range(8):
            print(f"    at frame{n} (agent.js:{n})", file=sys.stderr)
        print("Node.js v20", file=sys.stderr)
        sys.exit(1)
        """,
    )
    with pytest.raises(AgentFailed) as failed:
        command_agent(node_like)(_task())
    assert "exited with status 1: RateLimitError: 429 Too Many Requests | … | at frame4" in str(
        failed.value
    )


def test_a_command_past_the_wall_limit_is_killed_with_every_process_it_started(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    stuck = _script(
        tmp_path,
        "stuck.py",
        f"""
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(60)
        """,
    )
    with pytest.raises(AgentFailed) as failed:
        command_agent(stuck)(_task(wall_seconds=0.5))
    assert failed.value.kind == "agent_hung"
    assert "ran for 0.5 s of real time without finishing and was killed" in str(failed.value)
    started = [int(pid) for pid in pids.read_text().split()]
    for _ in range(100):  # SIGKILL lands at once, but a process takes a moment to be torn down
        if not [pid for pid in started if _running(pid)]:
            break
        select.select([], [], [], 0.05)
    assert not [pid for pid in started if _running(pid)]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed grandchild waits for whoever adopted it to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_command_that_is_not_found_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError) as error:
        command_agent("pyhton3 agent.py")
    assert str(error.value).startswith(
        "chaoskit: cannot run the agent command 'pyhton3 agent.py': 'pyhton3' is not on PATH."
    )
    assert "Did you mean 'python3'?" in str(error.value)


def test_a_script_the_command_names_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"names 'agent\.js', which does not exist"):
        command_agent(f"{PYTHON} agent.js", cwd=tmp_path)


def test_results_name_a_command_agent_so_that_run_and_replay_read_it_back(tmp_path: Path) -> None:
    agent = command_agent(f"{PYTHON} -c 'print(1)'")
    assert agent.name == f"cmd: {PYTHON} -c 'print(1)'"
    again = resolve_agent(agent.name)
    assert isinstance(again, type(agent)) and again.argv == agent.argv


# -- against the served world ----------------------------------------------------------------


def test_a_naive_command_agent_is_caught_with_a_one_fault_minimal_schedule(tmp_path: Path) -> None:
    agent = command_agent(_script(tmp_path, "naive.py", REFUND_AGENT.format(naive=True)))
    result = _explore(agent)
    assert result.status == "violated", result.error
    example = result.counterexample
    assert example is not None
    assert [(f.kind, f.route) for f in example.faults] == [
        ("timeout_after_commit", "POST /v1/refunds")
    ]
    violated = {v.invariant for v in example.verdicts if v.status == "violated"}
    assert {"at_most_one_effect_per_intent", "idempotency_key_stable"} <= violated
    assert [r.fields["charge"] for r in example.ledgers["payments"]].count(
        example.ledgers["payments"][0].fields["charge"]
    ) == 2
    assert example.findings == ()  # its start was chaoskit's; the server's threads are not its
    assert result.reproduction is not None
    assert result.reproduction.startswith(f"chaoskit run --agent-cmd {shlex.quote(agent.command)}")


def test_a_hardened_command_agent_holds(tmp_path: Path) -> None:
    agent = command_agent(_script(tmp_path, "hardened.py", REFUND_AGENT.format(naive=False)))
    result = _explore(agent)
    assert result.status == "held", result.counterexample
    assert result.not_exercised == ()  # "held", not "not exercised": the timeouts reached it


def test_an_agent_that_crashes_in_a_world_is_a_finding_not_a_crash_of_the_run(
    tmp_path: Path,
) -> None:
    agent = command_agent(_script(tmp_path, "boom.py", "raise SystemExit('no refund for you')\n"))
    result = _explore(agent, examples=3)
    assert result.status == "violated"
    assert result.counterexample is not None
    [finding] = result.counterexample.findings
    assert finding.kind == "agent_raised"
    assert "exited with status 1: no refund for you" in finding.message


def test_an_in_process_agent_still_may_not_start_a_process() -> None:
    import subprocess

    def starts_one(task: Task) -> str:
        subprocess.run(["true"], check=False)
        return "done"

    result = _explore(starts_one, examples=2)
    assert result.counterexample is not None
    assert "process_spawned" in {f.kind for f in result.counterexample.findings}


# -- the plugin and the command line ---------------------------------------------------------


def test_the_plugin_runs_scenario_files_against_a_command(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    naive = _script(tmp_path, "naive.py", REFUND_AGENT.format(naive=True))
    builtin = ROOT / "scenarios" / "refund_timeout_after_commit.toml"
    pytester.makefile(".toml", refund=builtin.read_text())
    result = pytester.runpytest(
        f"--chaos-agent-cmd={naive}", "--chaos-scenarios=refund.toml", "--chaos-examples=8",
        "--chaos-seed=0", "refund.toml",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*VIOLATED against cmd: {naive}*",
            "*timeout_after_commit*",
            f"*reproduce: chaoskit run --agent-cmd {shlex.quote(naive)} --seed 0*",
        ]
    )


def test_the_plugin_says_once_that_a_command_is_not_found(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nchaos_agent_cmd = nodee agent.js\n")
    result = pytester.runpytest()
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*chaoskit: cannot run the agent command 'nodee agent.js'*"])
    assert str(result.stderr).count("cannot run the agent command") == 1


def test_the_plugin_refuses_two_agents(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--chaos-agent=a:b", "--chaos-agent-cmd=true")
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ["*--chaos-agent and --chaos-agent-cmd were both given; choose one agent*"]
    )


def test_chaoskit_run_takes_a_command_and_replay_reads_it_back(tmp_path: Path) -> None:
    from chaoskit.cli.main import main

    naive = _script(tmp_path, "naive.py", REFUND_AGENT.format(naive=True))
    builtin = ROOT / "scenarios" / "refund_timeout_after_commit.toml"
    report = tmp_path / "report.html"
    args = ["--examples", "8", "--seed", "0", "--report", str(report), str(builtin)]
    assert main(["run", "--agent-cmd", naive, *args]) == 1
    results = json.loads(report.with_suffix(".json").read_text())
    assert results["scenarios"][0]["agent"] == f"cmd: {naive}"
    assert main(["replay", str(report.with_suffix(".json"))]) == 1  # still fails, recorded agent


def test_the_chaos_marker_takes_a_command_by_the_name_results_give_it(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    naive = _script(tmp_path, "naive.py", REFUND_AGENT.format(naive=True))
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.chaos(agent={f"cmd: {naive}"!r}, examples=8)
        def test_refunds(chaos):
            result = chaos.run("refund-timeout-after-commit")
            assert result.agent == {f"cmd: {naive}"!r}
            assert result.status == "violated"
        """
    )
    pytester.runpytest("--chaos-seed=0").assert_outcomes(passed=1)
