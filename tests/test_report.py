"""The HTML report: one self-contained page that can never execute what it shows."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from chaoskit.core.agent import Claim, Reply
from chaoskit.core.errors import UsageError
from chaoskit.fakes import LedgerEntry
from chaoskit.report.html import (
    FAILING_TRACE_EVENTS,
    PASSING_TRACE_EVENTS,
    TEXT_LIMIT,
    _template,
    embed_json,
    load_results,
    redact,
    render_html,
    report_data,
    write_report,
)
from chaoskit.results import (
    Coverage,
    Decision,
    Evidence,
    Example,
    Finding,
    FiredFault,
    InvalidInput,
    InvariantSummary,
    RunResult,
    ScenarioResult,
    Timing,
    Verdict,
)
from chaoskit.world.trace import (
    CommitEvent,
    Event,
    ExceptionEvent,
    FaultEvent,
    RequestEvent,
    ResponseEvent,
    SleepEvent,
    UnroutedEvent,
)

ASSETS = Path(__file__).resolve().parents[1] / "chaoskit" / "report" / "assets"

# --- a synthetic result with a chosen text in every field the report shows ------------------


def _trace(t: str, calls: int) -> list[Event]:
    """A realistic failing trace: a read, then refund attempts that time out after commit."""
    events: list[Event] = []
    at = 0.0

    def add(cls: type[Any], **fields: Any) -> None:
        events.append(cls(seq=len(events), at=at, **fields))

    add(
        RequestEvent,
        call=1,
        client="httpx",
        backend="crm",
        method="GET",
        path=f"/v1/orders/ord_{t}",
        route="GET /v1/orders/{id}",
        params={f"q{t}": t},
    )
    add(ResponseEvent, call=1, status=200, request_id=f"req_{t}")
    for call in range(2, calls + 2):
        add(
            RequestEvent,
            call=call,
            client="httpx",
            backend="payments",
            method="POST",
            path=f"/v1/refunds/{t}",
            route=f"POST /v1/refunds {t}",
            idempotency_key=f"key-{t}",
            params={"charge": f"ch_{t}", "amount": "1413", f"note{t}": t},
        )
        add(
            CommitEvent,
            call=call,
            backend="payments",
            effect=f"refund.created{t}",
            object_id=f"re_{t}{call}",
            ledger_seq=call - 2,
        )
        at += 5.0
        add(FaultEvent, call=call, fault=f"timeout_after_commit{t}", rule=f"rule {t}", detail=t)
        add(ExceptionEvent, call=call, error=f"timeout{t}", message=f"timed out {t}")
        at += 2.0
        add(SleepEvent, seconds=2.0)
    add(ResponseEvent, call=calls + 1, status=429, error_code=f"rate_limit{t}", retry_after=2.0)
    add(UnroutedEvent, client="requests", method="GET", url=f"https://evil.example/{t}")
    return events


def _ledger(t: str, count: int) -> tuple[LedgerEntry, ...]:
    return tuple(
        LedgerEntry(
            seq=i,
            backend="payments",
            kind=f"refund.created{t}",
            object_id=f"re_{t}{i}",
            fields={"charge": f"ch_{t}", "amount": 1413, f"memo{t}": t},
            idempotency_key=f"key-{t}",
            principal=f"usr_{t}",
            at=5.0 * i,
            request_id=f"req_{t}",
        )
        for i in range(count)
    )


def _verdicts(t: str, failing: bool) -> tuple[Verdict, ...]:
    evidence = (
        Evidence(kind="ledger", ref=f"payments#0{t}", detail=f"refund.created re_{t}"),
        Evidence(kind="trace", ref=f"call #2{t}", detail=f"timeout after commit {t}"),
        Evidence(kind="reply", ref=f"reply{t}", detail=f"Refund submitted {t}"),
    )
    return (
        Verdict(
            invariant=f"at_most_one_effect_per_intent{t}",
            status="violated" if failing else "held",
            explanation=f"2 refund.created effects for one intent {t}",
            evidence=evidence,
        ),
        Verdict(
            invariant=f"no_unreported_failure{t}",
            status="unknown",
            explanation=f"could not tell {t}",
        ),
    )


def make_example(t: str = "", *, failing: bool = True, calls: int = 3) -> Example:
    """One example with ``t`` in every text field a report shows."""
    fault = FiredFault(
        call=2,
        at=5.0,
        backend=f"payments{t}",
        route=f"POST /v1/refunds{t}",
        kind=f"timeout_after_commit{t}",
        rule=f"rule {t}",
        detail=t,
    )
    return Example(
        world_seed=7,
        decisions=(Decision(call=2, rule=f"rule {t}"), Decision(call=3, rule=None)),
        faults=(fault,) if failing else (),
        message=f"Half of my order ord_1 never arrived. {t}",
        reply=Reply(
            text=f"Refund re_{t}3 submitted. {t}",
            claims=(Claim(intent=f"refund:{t}", status="done", ref=f"re_{t}3"),),
        ),
        verdicts=_verdicts(t, failing),
        findings=(Finding(kind="agent_raised", message=f"ValueError: {t}"),) if failing else (),
        trace=tuple(_trace(t, calls if failing else 1)),
        ledgers={"payments": _ledger(t, calls if failing else 1), f"crm{t}": ()},
        virtual_seconds=21.0,
        usage={f"tokens{t}": 1200.0},
    )


def make_scenario(
    t: str = "", *, index: int = 0, examples: int = 200, calls: int = 3
) -> ScenarioResult:
    """A violated scenario run with a counterexample, two passing samples and coverage."""
    return ScenarioResult(
        scenario=f"refund-timeout-{index}{t}",
        description=f"The refund commits, but its response times out. {t}",
        source=f"scenarios/refund_{index}.toml{t}",
        agent=f"naive{t}",
        status="violated",
        examples=examples,
        invariants=(
            InvariantSummary(
                invariant=f"at_most_one_effect_per_intent{t}",
                status="violated",
                held=examples - 4,
                violated=4,
                reason=f"2 effects {t}",
            ),
            InvariantSummary(
                invariant=f"no_unreported_failure{t}", status="unknown", unknown=examples, reason=t
            ),
            InvariantSummary(invariant=f"budget_respected{t}", status="not_exercised", reason=t),
        ),
        coverage=Coverage(
            faults={f"payments: POST /v1/refunds{t}": {f"timeout{t}": 4}},
            sometimes={f"the timeout hit the refund{t}": 4, f"missed{t}": 0},
            examples_with_faults=4,
        ),
        counterexample=make_example(t, calls=calls),
        samples=(make_example(t, failing=False), make_example(t, failing=False)),
        reproduction=f"chaoskit run --agent naive --seed 1 scenarios/x.toml {t}",
        error=f"RuntimeError: {t}" if t else None,
        not_exercised=(f"the fault never fired {t}",),
    )


def make_result(
    t: str = "", *, scenarios: int = 1, examples: int = 200, calls: int = 3
) -> RunResult:
    errored = ScenarioResult(
        scenario=f"broken{t}", agent=f"hardened{t}", status="error", error=f"InvalidScenario: {t}"
    )
    runs = tuple(
        make_scenario(t, index=i, examples=examples, calls=calls) for i in range(scenarios)
    )
    return RunResult(
        chaoskit_version=f"0.1.0{t}",
        python_version=f"3.11.7{t}",
        agent=f"naive{t}",
        seed=1,
        examples_per_scenario=examples,
        model_mode="scripted",
        scenarios=(*runs, errored),
        invalid=(
            InvalidInput(
                source=f"scenarios/bad{t}.toml",
                message=f"scenarios/bad{t}.toml, task: template field {{order.nope{t}}} …",
            ),
        ),
        timing=Timing(started=f"2025-01-01T00:00:00Z{t}", duration_seconds=12.5),
    )


# --- reading the page back -------------------------------------------------------------------

# The elements the page itself is made of before its script runs.
_PAGE_TAGS = "html head meta title style body header div h1 span dl dt dd bdi b ul li main p"
REPORT_TAGS = frozenset([*_PAGE_TAGS.split(), "noscript", "script"])


class _Page(HTMLParser):
    """Every start tag with its attributes, plus the text of each script element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.title = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in = tag
        if tag == "script":
            self.scripts.append((dict(attrs), ""))

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        elif self._in == "title":
            self.title += data


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def embedded(page: str) -> Any:
    """The JSON data the page embeds, decoded."""
    (data,) = [
        text for attrs, text in parse(page).scripts if attrs.get("type") == "application/json"
    ]
    return json.loads(data)


# --- injection corpus ------------------------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "</script><script>alert(1)</script>",
    "</SCRIPT ><script>alert(document.domain)</script>",
    "</style><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "{{7*7}}",
    "{% raw %}{{ config }}{% endraw %}",
    "{{ ''.__class__.__mro__ }}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    '" onmouseover="alert(1)',
    "' onfocus='alert(1)' autofocus='",
    "<body onload=alert(1)>",
    "<svg onload=alert(1)><circle r=9 /></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    '<a href="javascript:alert(1)">click</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<object data=javascript:alert(1)>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<base href=//evil.example/>",
    "<link rel=stylesheet href=//evil.example/x.css>",
    "<!-- ",
    "<![CDATA[<script>alert(1)</script>]]>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
    "\u202eexe.txt",
    "zero\u200bwidth\u200d\ufeffjoin",
    "\x1b[31mred\x1b[0m",
    "line\u2028separator\u2029paragraph",
    "\x00nul and \x07bell",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "x" * 1_000_000,
]


def test_the_corpus_is_large_and_varied() -> None:
    assert len(PAYLOADS) >= 30
    assert any(len(p) >= 1_000_000 for p in PAYLOADS)


def _fields(data: Any) -> dict[str, Callable[[Any], Any]]:
    """Where each shown field lands in the embedded data."""
    sc = data["run"]["scenarios"][0]
    ex = sc["counterexample"]
    return {
        "scenario name": sc["scenario"],
        "description": sc["description"],
        "agent": sc["agent"],
        "source": sc["source"],
        "reproduction": sc["reproduction"],
        "error": sc["error"],
        "not exercised": sc["not_exercised"][0],
        "invariant name": sc["invariants"][0]["invariant"],
        "invariant reason": sc["invariants"][0]["reason"],
        "coverage route": next(iter(sc["coverage"]["faults"])),
        "sometimes name": next(iter(sc["coverage"]["sometimes"])),
        "message": ex["message"],
        "reply": ex["reply"]["text"],
        "claim intent": ex["reply"]["claims"][0]["intent"],
        "claim ref": ex["reply"]["claims"][0]["ref"],
        "fault kind": ex["faults"][0]["kind"],
        "fault rule": ex["faults"][0]["rule"],
        "fault backend": ex["faults"][0]["backend"],
        "verdict explanation": ex["verdicts"][0]["explanation"],
        "evidence detail": ex["verdicts"][0]["evidence"][0]["detail"],
        "evidence ref": ex["verdicts"][0]["evidence"][0]["ref"],
        "finding": ex["findings"][0]["message"],
        "request path": ex["trace"][0]["path"],
        "request params": ex["trace"][0]["params"],
        "idempotency key": ex["trace"][2]["idempotency_key"],
        "exception": ex["trace"][5]["message"],
        "trace fault rule": ex["trace"][4]["rule"],
        "unrouted url": ex["trace"][-1]["url"],
        "ledger fields": ex["ledgers"]["payments"][0]["fields"],
        "ledger principal": ex["ledgers"]["payments"][0]["principal"],
        "ledger backend name": next(k for k in ex["ledgers"] if k != "payments"),
        "usage": ex["usage"],
        "agent (run)": data["run"]["agent"],
        "errored scenario": data["run"]["scenarios"][-1]["error"],
        "invalid input source": data["run"]["invalid"][0]["source"],
        "invalid input message": data["run"]["invalid"][0]["message"],
    }


def _check_markup(page: _Page) -> None:
    for tag, attrs in page.tags:
        assert tag in REPORT_TAGS, f"unexpected element <{tag}>"
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler attribute {name} on <{tag}>"
            assert "javascript:" not in (value or "").lower(), f"javascript: URL in <{tag}>"
    assert [a.get("type") for a, _ in page.scripts] == ["application/json", None]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: repr(p[:40]))
def test_payloads_in_every_field_stay_data(payload: str) -> None:
    page = render_html(make_result(payload, examples=40))
    _check_markup(parse(page))
    # Strings past TEXT_LIMIT are cut (after a field prefix): their head must survive.
    expected = payload if len(payload) <= TEXT_LIMIT else payload[: TEXT_LIMIT // 2]
    for field, value in _fields(embedded(page)).items():
        assert any(expected in text for text in _strings(value)), f"{field} lost the payload"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_template_syntax_in_data_is_never_evaluated() -> None:
    page = render_html(make_result("{{7*7}}"))
    assert "{{7*7}}" in parse(page).title
    assert "49" not in parse(page).title
    for value in _fields(embedded(page)).values():
        assert all("49" not in text for text in _strings(value))


def test_the_environment_autoescapes_everything() -> None:
    assert _template().environment.autoescape is True


def test_embedded_json_cannot_close_its_script_element() -> None:
    text = "</script><!-- & \u2028\u2029 </SCRIPT>"
    embedded_text = embed_json({"x": text})
    assert not re.search(r"[<>&\u2028\u2029]", embedded_text)
    assert json.loads(embedded_text) == {"x": text}


def test_the_script_never_uses_html_sinks() -> None:
    script = (ASSETS / "report.js").read_text()
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.DOTALL)
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
        "javascript:",
        "srcdoc",
        'setTimeout("',
        "DOMParser",
    ):
        assert sink not in code, sink
    assert "textContent" in code and "createElementNS" in code


# --- Content-Security-Policy -----------------------------------------------------------------


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_csp_allows_exactly_the_inline_style_and_script() -> None:
    page = render_html(make_result())
    (csp,) = [
        dict(attrs)["content"] or ""
        for tag, attrs in parse(page).tags
        if tag == "meta" and dict(attrs).get("http-equiv") == "Content-Security-Policy"
    ]
    (script,) = [t for a, t in parse(page).scripts if a.get("type") is None]
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert style is not None
    assert f"script-src '{_sha(script)}'" in csp
    assert f"style-src '{_sha(style.group(1))}'" in csp
    assert csp.startswith("default-src 'none'")
    assert "img-src data:" in csp and "unsafe" not in csp
    assert page.index("Content-Security-Policy") < page.index("<style>")


def test_the_page_loads_nothing_from_outside() -> None:
    page = render_html(make_result())
    for tag, attrs in parse(page).tags:
        for name, value in attrs:
            assert name not in {"src", "href"}, f"<{tag} {name}={value!r}>"
    assert "http://" not in page.split('id="chaoskit-data"')[0]


# --- redaction -------------------------------------------------------------------------------

SECRETS = [
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_live_51HgFakeFakeFake0000",
    "rk_test_abcdefABCDEF123456",
    "sk-proj-AbCdEf0123456789abcdefGHIJ",
    "sk-ant-api03-AbCdEf0123456789_abcdef-XYZ",
    "tok_0123456789abcdef01234567",
    "whsec_abcdefghijklmnop",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_never_reach_the_page(secret: str) -> None:
    text = f"used {secret}; Authorization: Bearer {secret}; api_key={secret}"
    page = render_html(make_result(text))
    assert secret not in page
    assert "[redacted]" in page


def test_authorization_values_and_bearer_tokens_are_redacted() -> None:
    value = {
        "headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "abc123"},
        "log": 'sent {"authorization": "Bearer abc.def.ghi"} and Bearer xyz789',
        "token": "tok_plain",
        "idempotency_key": "refund-ord_1",
    }
    assert redact(value) == {
        "headers": {"Authorization": "[redacted]", "X-Api-Key": "[redacted]"},
        "log": 'sent {"authorization": "[redacted]"} and Bearer [redacted]',
        "token": "[redacted]",
        "idempotency_key": "refund-ord_1",
    }


def test_world_tokens_are_redacted_everywhere_including_keys() -> None:
    token = "tok_" + "a1" * 12
    data = report_data(make_result(token))
    assert token not in json.dumps(data)


def test_the_results_json_keeps_the_unredacted_data(tmp_path: Path) -> None:
    result = make_result("sk_test_keepme12345678")
    write_report(result, tmp_path / "r.html", tmp_path / "r.json")
    assert load_results(tmp_path / "r.json") == result
    assert "sk_test_keepme12345678" not in (tmp_path / "r.html").read_text()


# --- size ------------------------------------------------------------------------------------


def test_fifty_scenarios_of_two_hundred_examples_stay_under_five_megabytes() -> None:
    # Each counterexample: a retry storm of 20 refund attempts (~120 trace events, 20 ledger
    # entries), plus two passing samples, per scenario.
    result = make_result(scenarios=50, examples=200, calls=20)
    page = render_html(result)  # its rendering time is a row of benchmarks/bench.py
    size = len(page.encode())
    print(f"50x200 report: {size / 1e6:.2f} MB")
    assert size < 5_000_000


def test_long_traces_are_capped_with_a_count_of_what_was_left_out() -> None:
    sc = make_scenario()
    runaway = make_example(calls=2000)
    result = make_result().model_copy(
        update={
            "scenarios": (sc.model_copy(update={"counterexample": runaway, "samples": (runaway,)}),)
        }
    )
    (scenario,) = report_data(result)["run"]["scenarios"]
    assert len(scenario["counterexample"]["trace"]) == FAILING_TRACE_EVENTS
    assert scenario["counterexample"]["trace_omitted"] == len(runaway.trace) - FAILING_TRACE_EVENTS
    assert len(scenario["samples"][0]["trace"]) == PASSING_TRACE_EVENTS


# --- writing and loading ---------------------------------------------------------------------


def test_write_report_creates_folders_and_round_trips(tmp_path: Path) -> None:
    result = make_result()
    html_path, json_path = tmp_path / "a" / "b" / "r.html", tmp_path / "c" / "r.json"
    write_report(result, html_path, json_path)
    assert html_path.read_text().startswith("<!DOCTYPE html>")
    assert load_results(json_path) == result


def test_loading_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"chaoskit: no results file at .*nope\.json"):
        load_results(tmp_path / "nope.json")


def test_loading_a_file_that_is_not_json_names_it(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("<!DOCTYPE html>")
    with pytest.raises(UsageError, match=r"chaoskit: .*report\.html is not a results JSON"):
        load_results(path)


def test_loading_another_schema_version_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    data = json.loads(make_result().model_dump_json())
    path.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(UsageError, match=r"r\.json uses results schema version 99.*upgrade"):
        load_results(path)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(UsageError, match=r"r\.json has no schema_version"):
        load_results(path)


def test_loading_a_file_that_does_not_match_the_schema_lists_the_fields(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    data = json.loads(make_result().model_dump_json())
    del data["agent"]
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match=r"r\.json does not match the results schema: agent"):
        load_results(path)


# --- agent labels: short, and never cut where two agents differ ------------------------------


def test_agents_sharing_a_module_path_are_labelled_by_what_differs() -> None:
    from chaoskit.report.html import agent_labels

    labels = agent_labels(
        [
            "chaoskit.examples.agents.orchestrator:naive",
            "chaoskit.examples.agents.orchestrator:hardened",
            "chaoskit.examples.agents.pydantic_ai_agent:hardened",
        ]
    )
    assert list(labels.values()) == [
        "orchestrator:naive",
        "orchestrator:hardened",
        "pydantic_ai_agent:hardened",
    ]


def test_one_agent_keeps_its_whole_name_when_it_fits() -> None:
    from chaoskit.report.html import agent_labels

    assert agent_labels(["myshop.agent:refund_agent"]) == {
        "myshop.agent:refund_agent": "myshop.agent:refund_agent"
    }


def test_a_long_label_loses_its_start_or_its_middle_but_stays_unique() -> None:
    from chaoskit.report.html import AGENT_LABEL_LIMIT, agent_labels

    module = "a_very_long_module_name_for_the_support_team_agents"
    tails = agent_labels([f"{module}:naive", f"{module}:hardened"])
    assert list(tails.values()) == ["…" + f"{module}:naive"[-31:], "…" + f"{module}:hardened"[-31:]]
    same_end = agent_labels([f"{module}_one:agent", f"{module}_two:agent"])
    first, second = same_end.values()
    assert first != second and "one" in first and "two" in second
    assert all(len(label) <= AGENT_LABEL_LIMIT for label in [*tails.values(), first, second])


def test_the_page_data_carries_each_runs_agent_label_and_cuts_no_secret_in_two() -> None:
    secret = "sk_test_" + "a" * 40
    run = make_result().model_copy(
        update={
            "scenarios": (
                make_scenario().model_copy(update={"agent": f"shop.agents.refunds:{secret}"}),
                make_scenario().model_copy(update={"agent": "shop.agents.refunds:naive"}),
            )
        }
    )
    data = report_data(run)
    assert [s["agent_label"] for s in data["run"]["scenarios"]] == [
        "refunds:[redacted]",
        "refunds:naive",
    ]
    assert data["stats"]["agent_prefix"] == "shop.agents"
    assert "aaaaaaaa" not in render_html(run)
