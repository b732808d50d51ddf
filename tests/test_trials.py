"""Trials: each fault schedule run K times, a pass rate per schedule and pass^k per scenario."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from math import comb
from pathlib import Path

import httpx
import pytest

from chaoskit.cli.main import main
from chaoskit.core.agent import Task
from chaoskit.core.errors import InvalidScenario, UsageError
from chaoskit.engine import EngineSettings, explore
from chaoskit.engine.merge import merge_runs
from chaoskit.engine.parts import merge_parts
from chaoskit.engine.passk import pass_curve, pass_hat_k
from chaoskit.engine.trials import DETERMINISTIC_AFTER
from chaoskit.report.github import step_summary
from chaoskit.report.html import load_results, render_html
from chaoskit.report.junit import junit_xml
from chaoskit.results import RunResult, ScenarioResult, ScheduleTrials, Shard
from chaoskit.scenarios import Scenario, load_scenario, scenario
from tests.test_report import PAYLOADS, make_example, make_result, make_scenario
from tests.test_report_browser import (
    CHROMIUM,
    REPORT_DOM_TAGS,
    DevTools,
    browser,  # noqa: F401 (the fixture)
    open_report,
)

pytest_plugins = ["pytester"]

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
TRIALS = EngineSettings(examples=30, database=False, seed=3, wall_guard=5.0, trials=4)


class OneRunInFour:
    """Retries a timed-out refund with the same idempotency key, except on one run in four
    (its own counter, outside chaoskit's control), when each retry mints a fresh key."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, task: Task) -> str:
        self.runs += 1
        fresh = self.fresh()
        order_id = re.search(r"\b(ord_\w+)", task.message).group(1)  # type: ignore[union-attr]
        crm = httpx.get(f"{task.urls['crm']}/v1/orders/{order_id}", headers=task.auth("crm"))
        order = crm.json()
        for attempt in range(3):
            key = f"refund-{order_id}-{attempt}" if fresh else f"refund-{order_id}"
            try:
                response = httpx.post(
                    f"{task.urls['payments']}/v1/refunds",
                    data={"charge": order["charge_id"], "amount": int(order["amount"]) // 2},
                    headers={**task.auth("payments"), "Idempotency-Key": key},
                )
            except httpx.TimeoutException:
                time.sleep(2**attempt)
                continue
            if response.status_code == 200:
                return f"Refund {response.json()['id']} submitted."
        return "I could not refund your order."

    def fresh(self) -> bool:
        return self.runs % 4 == 0


class Steady(OneRunInFour):
    """The same agent, deterministic: never a fresh key."""

    def fresh(self) -> bool:
        return False


@pytest.fixture(scope="module")
def refund_timeout() -> Scenario:
    return load_scenario(SCENARIOS / "refund_timeout_after_commit.toml")


@pytest.fixture(scope="module")
def flaky_result(refund_timeout: Scenario) -> ScenarioResult:
    return explore(refund_timeout, OneRunInFour(), agent_name="flaky", config=TRIALS)


def test_pass_hat_k_is_the_unbiased_estimator_c_choose_k_over_n_choose_k() -> None:
    assert pass_hat_k(4, 3, 1) == 0.75
    assert pass_hat_k(4, 3, 2) == 0.5  # C(3,2)/C(4,2) = 3/6
    assert pass_hat_k(4, 3, 3) == 0.25
    assert pass_hat_k(4, 3, 4) == 0.0
    assert pass_hat_k(5, 5, 5) == 1.0
    with pytest.raises(ValueError, match="1 <= k <= trials"):
        pass_hat_k(3, 3, 4)


def test_pass_curve_averages_the_estimator_over_schedules() -> None:
    schedules = [
        ScheduleTrials(world_seed=0, trials=4, passed=4, ran=4),
        ScheduleTrials(world_seed=1, trials=4, passed=3, ran=4),
        ScheduleTrials(world_seed=2, trials=4, passed=2, ran=4),
    ]
    assert pass_curve(schedules, 4) == pytest.approx(
        ((1 + 0.75 + 0.5) / 3, (1 + 0.5 + 1 / 6) / 3, (1 + 0.25 + 0) / 3, 1 / 3)
    )


def test_a_flaky_agent_under_four_trials_gets_a_pass_rate_not_a_flaky_error(
    flaky_result: ScenarioResult,
) -> None:
    result = flaky_result
    assert result.error is None, result.error
    assert result.status == "violated"  # no min_pass_k: any failing trial fails it
    assert result.trials == 4
    assert result.pass_k is not None and 0 < result.pass_k < 1
    assert not result.deterministic
    assert len(result.schedules) == 30


def test_each_schedule_the_timeout_hit_fails_on_exactly_its_fresh_key_trial(
    flaky_result: ScenarioResult,
) -> None:
    hit = [s for s in flaky_result.schedules if s.faults]
    missed = [s for s in flaky_result.schedules if not s.faults]
    assert hit and missed
    assert {(s.passed, s.ran) for s in hit} == {(3, 4)}
    assert {(s.passed, s.ran) for s in missed} == {(4, 4)}


def test_pass_k_matches_a_hand_computation(flaky_result: ScenarioResult) -> None:
    schedules = flaky_result.schedules
    hit = sum(1 for s in schedules if s.faults)
    n = len(schedules)
    # A hit schedule passes 3 of 4 trials: pass^k = C(3,k)/C(4,k); a missed one passes all.
    by_hand = tuple(((n - hit) + hit * comb(3, k) / comb(4, k)) / n for k in range(1, 5))
    assert flaky_result.pass_curve == pytest.approx(by_hand)
    assert flaky_result.pass_k == pytest.approx((n - hit) / n)


def test_the_failing_trials_are_kept_with_their_stories(flaky_result: ScenarioResult) -> None:
    trials = flaky_result.counterexample_trials
    assert len(trials) == 4
    assert [t.failed for t in trials].count(True) == 1
    failing = flaky_result.counterexample
    assert failing is not None and failing.failed
    assert failing in trials
    violated = {v.invariant for v in failing.verdicts if v.status == "violated"}
    assert "idempotency_key_stable" in violated
    # shrunk under the rule "failing while one trial fails": one timeout, on the first refund
    assert [(f.kind, f.call) for f in failing.faults][:1] == [("timeout_after_commit", 2)]
    assert len(failing.faults) == 1


@pytest.mark.parametrize(("threshold", "status"), [(0.2, "held"), (0.95, "violated")])
def test_min_pass_k_decides_the_outcome_both_ways(
    refund_timeout: Scenario, threshold: float, status: str
) -> None:
    scenario = refund_timeout.model_copy(update={"min_pass_k": threshold})
    result = explore(scenario, OneRunInFour(), agent_name="flaky", config=TRIALS)
    assert result.pass_k is not None and 0.2 < result.pass_k < 0.95
    assert result.min_pass_k == threshold
    assert result.status == status
    assert result.counterexample is not None  # kept either way: the failing trial's story


def test_a_deterministic_agent_is_not_rerun_needlessly(refund_timeout: Scenario) -> None:
    agent = Steady()
    result = explore(refund_timeout, agent, agent_name="steady", config=TRIALS)
    assert result.status == "held"
    assert result.deterministic
    assert result.pass_k == 1.0
    ran = [s.ran for s in result.schedules]
    assert 4 in ran and 1 in ran
    assert all(s.passed == s.trials == 4 for s in result.schedules)
    faulted_before_skip = 0
    for s in result.schedules:
        if s.ran == 1:
            break
        faulted_before_skip += bool(s.faults)
    assert faulted_before_skip == DETERMINISTIC_AFTER
    assert agent.runs < 30 * 4


def test_a_scenario_s_own_trials_win_over_the_run_s(refund_timeout: Scenario) -> None:
    scenario = refund_timeout.model_copy(update={"trials": 2})
    config = EngineSettings(examples=5, database=False, seed=1, wall_guard=5.0, trials=4)
    result = explore(scenario, OneRunInFour(), agent_name="flaky", config=config)
    assert result.trials == 2
    assert all(s.trials == 2 for s in result.schedules)


# --- the options: scenario field, plugin, CLI, shards -----------------------------------------

#: The flaky agent, for the CLI and the plugin (module:callable).
flaky = OneRunInFour()

SCENARIO = """
name = "{name}"
task = "Half of my order {{order.id}} never arrived. Please refund half of it."
backends = ["payments", "crm"]
{extra}

[[faults]]
kind = "timeout_after_commit"
target = "payments: POST /v1/refunds"
explore = true

[[invariants]]
name = "idempotency_key_stable"
route = "payments: POST /v1/refunds"
intent_params = ["charge"]
"""


def test_trials_and_min_pass_k_are_scenario_fields_checked_like_the_others() -> None:
    built = scenario(
        name="refund", task="Refund order {order.id}", trials=4, min_pass_k=0.9, backends=["crm"]
    )
    assert (built.trials, built.min_pass_k) == (4, 0.9)
    with pytest.raises(InvalidScenario, match=r"field 'trials': .*greater than or equal to 1"):
        scenario(name="refund", task="Refund order {order.id}", trials=0)
    with pytest.raises(InvalidScenario, match=r"field 'min_pass_k': .*less than or equal to 1"):
        scenario(name="refund", task="Refund order {order.id}", min_pass_k=90)
    with pytest.raises(InvalidScenario, match=r"unknown field 'trial'\. Did you mean 'trials'\?"):
        scenario(name="refund", task="Refund order {order.id}", trial=4)


def test_chaoskit_run_trials_reports_pass_k_and_records_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "refund.toml").write_text(SCENARIO.format(name="refund", extra=""))
    flaky.runs = 0
    report = tmp_path / "out" / "chaoskit.html"
    args = ["--examples", "20", "--seed", "2", "--trials", "4", "--report", str(report)]
    status = main(["run", "--agent", "tests.test_trials:flaky", *args, str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 1
    assert "4 trials per schedule" in out
    assert re.search(r"VIOLATED +refund \[tests.test_trials:flaky\] .*, pass\^4 0\.\d\d", out)
    assert re.search(r"pass\^4 = 0\.\d\d over 20 schedules × 4 trials \(pass\^1 = 0\.\d\d\)", out)
    assert "trials 4 of 4 failed" not in out and "trial 4 of 4 failed (3 passed)" in out
    assert "Flaky" not in out
    assert "reproduce: chaoskit run --agent tests.test_trials:flaky --seed 2 --trials 4 " in out
    run = load_results(tmp_path / "out" / "chaoskit.json")
    assert run.schema_version == 4 and run.trials == 4
    assert run.scenarios[0].trials == 4 and run.scenarios[0].pass_k is not None


def test_a_deterministic_agent_s_run_says_its_trials_were_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "refund.toml").write_text(SCENARIO.format(name="refund", extra="trials = 4"))
    report = tmp_path / "out" / "chaoskit.html"
    args = ["--examples", "40", "--seed", "2", "--report", str(report)]
    assert main(["run", "--agent", "tests.test_trials:steady", *args, str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "pass^4 1.00, trials skipped: deterministic agent" in out


steady = Steady()


def test_sharded_trials_merge_into_what_one_run_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for name in ("refund-a", "refund-b", "refund-c"):
        (folder / f"{name}.toml").write_text(SCENARIO.format(name=name, extra=""))

    def run(out: str, *extra: str) -> None:
        flaky.runs = 0
        report = tmp_path / out / "chaoskit.html"
        args = ["--examples", "12", "--seed", "4", "--trials", "4", "--report", str(report)]
        main(["run", "--agent", "tests.test_trials:flaky", *args, *extra, str(folder)])

    run("whole")
    for index in (1, 2):
        run(f"s{index}", "--shard", f"{index}/2")
    merged_json = tmp_path / "merged.json"
    shards = [str(tmp_path / f"s{i}" / "chaoskit.json") for i in (1, 2)]
    main(["merge", *shards, "-o", str(tmp_path / "m.html"), "--json", str(merged_json)])
    whole, merged = load_results(tmp_path / "whole" / "chaoskit.json"), load_results(merged_json)
    assert merged.trials == whole.trials == 4
    assert len(merged.scenarios) == 3
    for alone, part in zip(whole.scenarios, merged.scenarios, strict=True):
        assert part.scenario == alone.scenario
        assert part.pass_k == alone.pass_k and part.pass_curve == alone.pass_curve
        assert part.schedules == alone.schedules
        assert len(part.counterexample_trials) == 4


def test_shards_run_with_different_trials_are_not_one_run() -> None:
    def shard(index: int, trials: int) -> RunResult:
        return RunResult(
            chaoskit_version="1.0",
            python_version="3.11",
            agent="a:b",
            seed=0,
            examples_per_scenario=10,
            trials=trials,
            shard=Shard(index=index, total=2, agent="a:b"),
        )

    with pytest.raises(UsageError, match=r"differ in trials per schedule \(a: 4; b: 1\)"):
        merge_runs([("a", shard(1, 4)), ("b", shard(2, 1))])


def test_results_of_schema_3_still_read(tmp_path: Path) -> None:
    old = RunResult(
        chaoskit_version="1.0", python_version="3.11", agent="a:b", seed=0, examples_per_scenario=1
    ).model_dump(exclude={"trials"})
    old["schema_version"] = 3
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    assert load_results(path).trials == 1


PLUGIN_AGENT = """
from tests_trials_agent import OneRunInFour

flaky = OneRunInFour()
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    source = Path(__file__).read_text(encoding="utf-8")
    agent = source[source.index("class OneRunInFour") : source.index("class Steady")]
    pytester.makepyfile(
        tests_trials_agent="import re, time\nimport httpx\nfrom chaoskit import Task\n\n" + agent,
        myagent=PLUGIN_AGENT,
    )
    pytester.makeconftest("")
    pytester.syspathinsert()
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "refund.toml").write_text(
        SCENARIO.format(name="refund", extra="")
    )
    return pytester


@pytest.mark.parametrize("how", ["option", "ini"])
def test_the_plugin_runs_trials_from_the_option_or_its_ini_twin(
    project: pytest.Pytester, how: str
) -> None:
    args = ["-p", "no:cacheprovider", "--chaos-agent=myagent:flaky", "--chaos-examples=15"]
    args += ["--chaos-seed=3"]
    if how == "option":
        args.append("--chaos-trials=4")
    else:
        project.makeini("[pytest]\nchaos_trials = 4\n")
    result = project.runpytest(*args)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "chaoskit * 15 examples per scenario, 4 trials per schedule, seed 3",
            "*pass^4 = 0.* over 15 schedules × 4 trials*",
            "*trial 4 of 4 failed (3 passed)*",
        ]
    )
    result.stdout.no_fnmatch_line("*Flaky*")
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    assert data["trials"] == 4 and data["scenarios"][0]["trials"] == 4
    assert 0 < data["scenarios"][0]["pass_k"] < 1


def test_a_bad_chaos_trials_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--chaos-agent=myagent:flaky", "--chaos-trials=0")
    result.stderr.fnmatch_lines(["*chaoskit: --chaos-trials must be at least 1, got 0.*"])


# --- reports ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trial_run(flaky_result: ScenarioResult) -> RunResult:
    return RunResult(
        chaoskit_version="1.0",
        python_version="3.11",
        agent="flaky",
        seed=3,
        examples_per_scenario=30,
        trials=4,
        scenarios=(flaky_result,),
    )


def test_junit_carries_pass_k_and_trials(trial_run: RunResult) -> None:
    root = ET.fromstring(junit_xml(trial_run))
    case = root.find("./testsuite/testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iterfind("./properties/property")}
    assert props == {"trials": "4", "pass_k": f"{trial_run.scenarios[0].pass_k:.4f}"}
    failure = case.find("failure")
    assert failure is not None and "(pass^4 0." in (failure.get("message") or "")
    assert "pass^4 = 0." in (failure.text or "")


def test_the_github_summary_has_a_pass_k_column(trial_run: RunResult) -> None:
    summary = step_summary(trial_run)
    assert "4 trials per schedule" in summary
    assert "| scenario | agent | status | pass^k | " in summary
    assert f"| pass^4 {trial_run.scenarios[0].pass_k:.2f} |" in summary


# The trials part of the page, read back from the live DOM; then the first passing tab opened.
TRIALS_PROBE = """(() => {
  const tabs = [...document.querySelectorAll(".trials .tab")];
  const before = {
    cell: (document.querySelector("td.cell.trials .word") || {}).textContent,
    rates: (document.querySelector("td.cell.trials .count") || {}).textContent,
    points: (document.querySelector("svg.pass-plot polyline") || {getAttribute: () => ""})
      .getAttribute("points").trim().split(" ").length,
    dots: [...document.querySelectorAll("svg.pass-plot circle title")].map(t => t.textContent),
    tabs: tabs.map(t => [t.textContent, t.getAttribute("aria-selected")]),
    story: [...document.querySelectorAll(".trial-panel .story h3")].map(h => h.textContent),
    facts: [...document.querySelectorAll(".facts div")].map(d => d.textContent.trim()),
  };
  tabs.find(t => t.classList.contains("tab-passed")).click();
  const after = [...document.querySelectorAll(".trial-panel .story h3")].map(h => h.textContent);
  return JSON.stringify({before, after});
})()"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_the_report_plots_pass_k_and_shows_each_trial_as_a_tab(
    browser: DevTools,  # noqa: F811 (the fixture imported above)
    trial_run: RunResult,
    tmp_path: Path,
) -> None:
    result = trial_run.scenarios[0]
    found = open_report(browser, render_html(trial_run), tmp_path)
    assert found["errors"] == [] and found["csp"] == []
    assert found["clipped"] == []
    session = browser.call("Target.getTargets")["targetInfos"]
    target = next(t for t in session if t["url"].endswith("report.html"))
    attached = browser.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
    probe = browser.call(
        "Runtime.evaluate", attached["sessionId"], expression=TRIALS_PROBE, returnByValue=True
    )
    trials = json.loads(probe["result"]["value"])
    before = trials["before"]
    assert before["cell"] == f"pass^4 {result.pass_k:.2f}"
    hit = sum(1 for s in result.schedules if s.faults)
    assert before["rates"] == f"{len(result.schedules) - hit}×4/4 · {hit}×3/4"
    assert before["points"] == 4
    assert any(
        fact.startswith("trials / schedule") and fact.endswith("4") for fact in before["facts"]
    )
    assert before["dots"] == [f"pass^{k} = {v:.2f}" for k, v in enumerate(result.pass_curve, 1)]
    assert before["tabs"] == [
        ["trial 1 ✓ passed", "false"],
        ["trial 2 ✓ passed", "false"],
        ["trial 3 ✓ passed", "false"],
        ["trial 4 ✗ failed", "true"],
    ]
    assert before["story"] == ["Minimal counterexample"]
    assert trials["after"] == ["Trial 1 passed on the same schedule"]


def test_deliveries_are_part_of_the_schedule_drawn_up_front() -> None:
    from chaoskit.examples.agents import crashes

    crash = load_scenario(SCENARIOS / "refund_agent_crash.toml")
    crash = crash.model_copy(
        update={"delivery": crash.delivery.model_copy(update={"duplicate": True})}
    )
    config = EngineSettings(examples=20, database=False, seed=1, wall_guard=5.0, trials=3)
    naive = explore(crash, crashes.naive, agent_name="naive", config=config)
    hardened = explore(crash, crashes.hardened, agent_name="hardened", config=config)
    assert naive.error is None and naive.status == "violated"
    assert hardened.error is None and hardened.status == "held" and hardened.pass_k == 1.0
    assert naive.counterexample is not None
    delivered = [d for d in naive.counterexample.decisions if d.kind == "delivery"]
    assert delivered and all(d.rule in (None, "duplicate") for d in delivered)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_the_injection_corpus_in_trials_adds_nothing_to_the_live_dom(
    browser: DevTools,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    short = [p for p in PAYLOADS if len(p) < 10_000]
    scenarios = []
    for index, payload in enumerate(short):
        base = make_scenario(payload, index=index, examples=20)
        assert base.counterexample is not None
        passing = make_example(payload, failing=False)
        scenarios.append(
            base.model_copy(
                update={
                    "trials": 3,
                    "pass_k": 0.5,
                    "pass_curve": (0.8, 0.6, 0.5),
                    "min_pass_k": 0.9,
                    "schedules": (
                        ScheduleTrials(world_seed=1, trials=3, passed=2, ran=3),
                        ScheduleTrials(world_seed=2, trials=3, passed=3, ran=1),
                    ),
                    "counterexample_trials": (passing, base.counterexample, passing),
                }
            )
        )
    run = make_result(PAYLOADS[0]).model_copy(update={"scenarios": tuple(scenarios)})
    found = open_report(browser, render_html(run), tmp_path)
    assert found["errors"] == [] and found["csp"] == []
    allowed = REPORT_DOM_TAGS | {"polyline", "b", "p", "div"}
    assert set(found["tags"]) <= allowed, set(found["tags"]) - allowed
    assert found["handlers"] == [] and found["urls"] == []


def test_replay_of_a_trials_run_runs_the_minimal_schedule_in_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "refund.toml").write_text(SCENARIO.format(name="refund", extra="trials = 4"))
    flaky.runs = 0
    report = tmp_path / "out" / "chaoskit.html"
    args = ["--examples", "10", "--seed", "2", "--report", str(report), str(tmp_path)]
    assert main(["run", "--agent", "tests.test_trials:flaky", *args]) == 1
    capsys.readouterr()
    results = str(tmp_path / "out" / "chaoskit.json")
    flaky.runs = 0
    assert main(["replay", results]) == 1
    out = capsys.readouterr().out
    assert "chaoskit: 1 of 4 trials failed on it." in out
    assert "chaoskit: still fails on the recorded schedule" in out
    assert main(["replay", results, "--agent", "tests.test_trials:steady"]) == 0
    assert "chaoskit: 0 of 4 trials failed on it." in capsys.readouterr().out


def test_the_parts_of_a_split_scenario_merge_their_trials(refund_timeout: Scenario) -> None:
    """One scenario searched on two xdist workers: pass^k over both parts' schedules, and
    min_pass_k decided on the merged measure, not on either part's."""
    parts = []
    for index in (1, 2):
        config = EngineSettings(
            examples=30, database=False, seed=3, wall_guard=5.0, trials=4, part=(index, 2)
        )
        agent = OneRunInFour()
        parts.append(explore(refund_timeout, agent, agent_name="flaky", config=config))
    merged = merge_parts([p.model_copy(update={"part": (i, 2)}) for i, p in enumerate(parts, 1)])
    schedules = parts[0].schedules + parts[1].schedules
    assert len(schedules) == 30 and merged.schedules == schedules
    assert merged.pass_curve == pytest.approx(pass_curve(schedules, 4))
    assert merged.pass_k == merged.pass_curve[-1] and merged.status == "violated"
    assert len(merged.counterexample_trials) == 4
    assert merged.counterexample in merged.counterexample_trials
    threshold = merged.pass_k - 0.01
    lenient = [p.model_copy(update={"min_pass_k": threshold}) for p in parts]
    again = merge_parts([p.model_copy(update={"part": (i, 2)}) for i, p in enumerate(lenient, 1)])
    assert again.status == "held" and again.pass_k == merged.pass_k


def test_trials_under_xdist_split_one_scenario_and_merge_its_schedules(
    project: pytest.Pytester,
) -> None:
    args = ["-p", "no:cacheprovider", "--chaos-agent=myagent:flaky", "--chaos-examples=16"]
    result = project.runpytest(*args, "--chaos-seed=3", "--chaos-trials=4", "-n", "2")
    assert result.ret == 1
    data = json.loads((project.path / "reports" / "chaoskit.json").read_text())
    (refund,) = data["scenarios"]
    assert refund["parts"] == 2 and refund["trials"] == 4
    assert len(refund["schedules"]) == 16
    assert 0 < refund["pass_k"] < 1
    assert len(refund["counterexample_trials"]) == 4


def test_a_nondeterministic_real_model_on_loopback_gets_a_pass_rate_between_0_and_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The raw-openai-SDK agent through passthrough to a model that repeats the refund on
    about half its answers, by a generator of its own: trials measure it."""
    from chaoskit.examples.agents import llm
    from tests.loopback_model import loopback_model
    from tests.test_passthrough import live_refund

    with loopback_model(seed=7, repeat=0.5) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        live = live_refund(server.host, trials=4)
        config = EngineSettings(examples=8, database=False, seed=1, wall_guard=10.0)
        result = explore(live, llm.openai_naive, agent_name="openai_naive", config=config)
    assert result.error is None and not result.deterministic
    assert result.trials == 4 and len(result.schedules) == 8
    passed = sum(s.passed for s in result.schedules)
    assert 0 < passed < 8 * 4  # a pass rate strictly between 0 and 1
    by_hand = [
        sum(comb(s.passed, k) / comb(4, k) for s in result.schedules) / 8 for k in (1, 2, 3, 4)
    ]
    assert result.pass_curve == pytest.approx(by_hand)
    assert result.pass_curve[0] == pytest.approx(passed / 32)
    assert result.status == "violated" and len(result.counterexample_trials) == 4
