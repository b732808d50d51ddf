"""Model cassettes: the real model's traffic recorded once, replayed with no network.

Recorded against the nondeterministic loopback model (tests/loopback_model.py), replayed with
that server stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.cli.main import main
from chaoskit.core.errors import UsageError
from chaoskit.engine import EngineSettings, explore
from chaoskit.examples.agents import llm
from chaoskit.fakes.model import Cassette, PassthroughModel
from chaoskit.fakes.model.cassette import canonical_request, request_key
from chaoskit.results import ScenarioResult
from chaoskit.scenarios import Scenario
from chaoskit.world.faults import FaultRule, RateLimit, Target
from chaoskit.world.trace import FaultEvent
from chaoskit.world.world import World
from tests.loopback_model import LoopbackModel, loopback_model
from tests.test_passthrough import TASK, live_refund, run_once, statuses

pytest_plugins = ["pytester"]

CONFIG = EngineSettings(examples=6, seed=0, database=False)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackModel]:
    """A model that repeats the refund on about half the conversations."""
    with loopback_model(seed=11, repeat=0.5) as running:
        monkeypatch.setenv("OPENAI_BASE_URL", running.base_url)
        yield running


def explored(chosen: Scenario, cassette: Cassette | None) -> ScenarioResult:
    config = EngineSettings(
        examples=CONFIG.examples, seed=0, database=False, model_cassette=cassette
    )
    return explore(chosen, llm.openai_naive, agent_name="naive", config=config)


def verdicts(result: ScenarioResult) -> Any:
    counter = result.counterexample
    return (
        result.status,
        result.error,
        [(i.invariant, i.status, i.held, i.violated) for i in result.invariants],
        None if counter is None else [(v.invariant, v.status) for v in counter.verdicts],
    )


# -- the file --------------------------------------------------------------------------------


def chat(body: dict[str, Any], **headers: str) -> httpx.Request:
    return httpx.Request(
        "POST", "https://api.openai.com/v1/chat/completions", json=body, headers=headers
    )


def test_a_request_is_keyed_by_what_it_asks_not_by_who_asks_or_its_headers() -> None:
    asked = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "tools": []}
    one = chat({**asked, "user": "u-1"}, authorization="Bearer sk-one")
    two = chat({**dict(reversed(asked.items())), "user": "u-2"}, authorization="Bearer sk-two")
    other = chat({**asked, "temperature": 0.2})
    keys = [
        request_key(canonical_request(r.method, r.url.path, r.content)) for r in (one, two, other)
    ]
    assert keys[0] == keys[1]
    assert keys[2] != keys[0]


def test_a_cassette_keeps_no_secret_and_reads_as_json(tmp_path: Path) -> None:
    path = tmp_path / "cassette.json"
    cassette = Cassette.record(path)
    request = chat({"model": "gpt-4o", "messages": []}, authorization="Bearer sk-live-SECRET")
    request.headers["x-api-key"] = "sk-ant-SECRET"
    cassette.add(request, httpx.Response(200, json={"id": "x"}, headers={"set-cookie": "c=1"}))
    text = path.read_text()
    assert "SECRET" not in text and "c=1" not in text
    saved = json.loads(text)
    assert saved["version"] == 1
    assert saved["interactions"][0]["request"]["path"] == "/v1/chat/completions"
    assert saved["interactions"][0]["response"]["body"] == {"id": "x"}


def test_a_recording_is_valid_json_after_every_interaction(tmp_path: Path) -> None:
    path = tmp_path / "cassette.json"
    cassette = Cassette.record(path)
    for n in range(3):
        cassette.add(chat({"model": "gpt-4o", "n": n}), httpx.Response(200, json={"n": n}))
        saved = json.loads(path.read_text())  # an interrupted run keeps what it recorded
        assert [i["response"]["body"]["n"] for i in saved["interactions"]] == list(range(n + 1))
    appended = path.read_text()
    cassette.save()  # the whole file written at once reads exactly the same
    assert path.read_text() == appended


def test_identical_requests_are_answered_in_recorded_order(tmp_path: Path) -> None:
    path = tmp_path / "cassette.json"
    recording = Cassette.record(path)
    request = chat({"model": "gpt-4o", "messages": []})
    for n in (1, 2):
        recording.add(request, httpx.Response(200, json={"n": n}))
    replaying = Cassette.replay(path)
    answers = [replaying.answer(request) for _ in range(3)]
    assert [a.json()["n"] for a in answers if a is not None] == [1, 2, 1]
    assert replaying.answer(chat({"model": "gpt-4o", "messages": [1]})) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no model cassette at"),
        ("{not json", "is not valid JSON"),
        ('{"interactions": []}', "format version None"),
        ('{"version": 1, "interactions": [{"request": {}}]}', "has no response"),
    ],
)
def test_a_missing_or_broken_cassette_says_how_to_make_one(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "cassette.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError) as caught:
        Cassette.replay(path)
    assert expected in str(caught.value)
    assert "--chaos-record-model" in str(caught.value)


# -- record, then replay with the server stopped ---------------------------------------------


def test_replay_with_the_server_stopped_gives_identical_verdicts(
    server: LoopbackModel, tmp_path: Path
) -> None:
    path = tmp_path / "model.json"
    chosen = live_refund(server.host)
    recorded = explored(chosen, Cassette.record(path))
    server.stop()
    with pytest.raises(httpx.ConnectError):  # really stopped: nothing could answer live
        httpx.post(f"{server.base_url}/chat/completions", json={})
    replayed = explored(chosen, Cassette.replay(path))
    assert verdicts(replayed) == verdicts(recorded)
    assert recorded.examples == replayed.examples >= 2


def test_a_changed_prompt_under_replay_is_the_asked_something_new_finding(
    server: LoopbackModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.json"
    chosen = live_refund(server.host)
    run_once(chosen, cassette=Cassette.record(path))
    server.stop()
    monkeypatch.setattr(llm, "SYSTEM", llm.SYSTEM + " Always apologise first.")
    example = run_once(chosen, cassette=Cassette.replay(path))
    # The cause first; the naive agent then raised on the error it was answered with.
    assert [f.kind for f in example.findings] == ["model_cassette", "agent_raised"]
    message = example.findings[0].message
    assert "asked the model something new" in message
    assert f"--chaos-record-model={path}" in message


def test_an_unchanged_agent_under_replay_has_no_finding(
    server: LoopbackModel, tmp_path: Path
) -> None:
    path = tmp_path / "model.json"
    chosen = live_refund(server.host)
    live = run_once(chosen, cassette=Cassette.record(path))
    server.stop()
    example = run_once(chosen, cassette=Cassette.replay(path))
    assert example.findings == ()
    assert statuses(example) == statuses(live)
    assert example.usage == live.usage


def test_faults_still_fire_on_replayed_model_calls(server: LoopbackModel, tmp_path: Path) -> None:
    # A fault changes what the agent asks next (a 429's wait moves the clock, and the tool
    # results with it), so a cassette answers the fault schedules it was recorded under: in
    # CI, record and replay with the same seed.
    path = tmp_path / "model.json"
    chosen = live_refund(server.host)
    rule = FaultRule(
        fault=RateLimit(retry_after=1),
        target=Target.parse("model: POST /v1/chat/completions"),
        calls=(1,),
    )
    live = run_once(chosen, faults=(rule,), cassette=Cassette.record(path))
    server.stop()
    example = run_once(chosen, faults=(rule,), cassette=Cassette.replay(path))
    assert [e.fault for e in example.trace if isinstance(e, FaultEvent)] == ["rate_limit"]
    assert example.findings == ()  # the SDK's retry was answered from the cassette
    assert example.trace == live.trace


def test_replaying_never_sends(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    Cassette.record(path).save()

    def sent(request: httpx.Request, timeout: float | None) -> httpx.Response:
        raise AssertionError("a replaying passthrough model sent a request")

    model = PassthroughModel(["api.openai.com"], send=sent, cassette=Cassette.replay(path))
    with World([model]):
        answer = httpx.post("https://api.openai.com/v1/chat/completions", json={"model": "m"})
    assert answer.status_code == 400
    assert "asked the model something new" in answer.json()["error"]["message"]
    assert model.misses() == 1


# -- the command line ------------------------------------------------------------------------


def test_chaoskit_run_records_then_replays_with_the_same_results(
    server: LoopbackModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_file = tmp_path / "live.toml"
    scenario_file.write_text(
        f'name = "live-model-refund"\ntask = "{TASK}"\nbackends = ["payments", "crm"]\n'
        f'model = "passthrough"\nallow_hosts = ["{server.host}"]\n\n'
        '[[invariants]]\nname = "at_most_one_effect_per_intent"\n'
        'effect = "refund.created"\nkey = "charge"\n'
    )
    cassette = tmp_path / "model.json"
    common = ["run", "--agent", "chaoskit.examples.agents.llm:openai_naive", str(scenario_file)]
    common += ["--examples", "4", "--seed", "0"]
    first = tmp_path / "first.json"
    main(
        [
            *common,
            "--record-model",
            str(cassette),
            "--json",
            str(first),
            "--report",
            str(tmp_path / "a.html"),
        ]
    )
    said = capsys.readouterr().out
    assert "WARNING: model traffic LEAVES this machine" in said and server.host in said
    server.stop()
    second = tmp_path / "second.json"
    main(
        [
            *common,
            "--replay-model",
            str(cassette),
            "--json",
            str(second),
            "--report",
            str(tmp_path / "b.html"),
        ]
    )
    said = capsys.readouterr().out
    assert "LEAVES" not in said and "nothing leaves" in said
    runs = [json.loads(p.read_text())["scenarios"][0] for p in (first, second)]
    assert [r["invariants"] for r in runs[1:]] == [runs[0]["invariants"]]
    assert runs[0]["status"] == runs[1]["status"]
    assert runs[0]["model"] == "passthrough"
    assert json.loads(first.read_text())["model_mode"] == "live"


# -- the pytest plugin -----------------------------------------------------------------------


def scenario_file(folder: Path, host: str) -> None:
    (folder / "scenarios").mkdir(exist_ok=True)
    (folder / "scenarios" / "live.toml").write_text(
        f'name = "live-model-refund"\ntask = "{TASK}"\nbackends = ["payments", "crm"]\n'
        f'model = "passthrough"\nallow_hosts = ["{host}"]\n\n'
        '[[invariants]]\nname = "at_most_one_effect_per_intent"\n'
        'effect = "refund.created"\nkey = "charge"\n'
    )


AGENT = "--chaos-agent=chaoskit.examples.agents.llm:openai_naive"


def test_the_pytest_header_says_loudly_where_model_traffic_goes(pytester: pytest.Pytester) -> None:
    scenario_file(pytester.path, "127.0.0.1:9")
    result = pytester.runpytest(AGENT, "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "*WARNING: model traffic LEAVES this machine for real: scenario 'live-model-refund'*"
            "127.0.0.1:9*"
        ]
    )


def test_recording_and_replaying_at_once_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        AGENT, "--chaos-record-model=a.json", "--chaos-replay-model=a.json", "--collect-only"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-record-model and --chaos-replay-model were both*"])


def test_recording_on_xdist_workers_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(AGENT, "-n", "2", "--chaos-record-model=a.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*record without -n*"])


def test_replaying_a_missing_cassette_says_how_to_record_it(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(AGENT, "--chaos-replay-model=none.json", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no model cassette at*--chaos-record-model=*none.json*"])


def test_the_plugin_records_then_replays_with_the_server_stopped(
    pytester: pytest.Pytester, server: LoopbackModel
) -> None:
    scenario_file(pytester.path, server.host)
    args = [AGENT, "--chaos-examples=4", "--chaos-seed=0", "-p", "no:cacheprovider"]
    recorded = pytester.runpytest(*args, "--chaos-record-model=model.json", "--chaos-json=a.json")
    recorded.stdout.fnmatch_lines(["*passthrough model calls are recorded to the cassette*"])
    server.stop()
    replayed = pytester.runpytest(*args, "--chaos-replay-model=model.json", "--chaos-json=b.json")
    replayed.stdout.fnmatch_lines(["*passthrough model calls are answered from the cassette*"])
    assert "LEAVES" not in replayed.stdout.str()
    runs = [
        json.loads((pytester.path / f).read_text())["scenarios"][0] for f in ("a.json", "b.json")
    ]
    assert runs[1]["invariants"] == runs[0]["invariants"]
    assert replayed.ret == recorded.ret
