"""The report in a real browser: headless Chromium, driven over the DevTools protocol.

The page must draw its matrix and timelines with no console error, no CSP violation and no
dialog, and the injection corpus must not add a single element or handler to the live DOM.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from chaoskit.engine import EngineSettings, explore, run_scenarios
from chaoskit.report.html import render_html
from chaoskit.results import Finding, InvalidInput, RunResult
from chaoskit.scenarios import load_scenario
from chaoskit.world.trace import GuardEvent
from tests.test_engine import retries_with_new_keys, retries_with_one_key
from tests.test_report import PAYLOADS, REPORT_TAGS, make_result, make_scenario

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "refund_timeout_after_commit.toml"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium is not installed (.ci/run installs Debian's chromium; so can you)",
)

# Records CSP violations from the first moment of every document (CDP scripts bypass the CSP).
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""

# Open every collapsed section (samples are drawn on first opening), then let them draw.
OPEN_ALL = """
document.querySelectorAll("details").forEach(d => { d.open = true; });
new Promise(resolve => setTimeout(resolve, 100));
"""

# What the test reads back from the live page.
PROBE = """(() => {
  const all = [...document.querySelectorAll("*")];
  return JSON.stringify({
    csp: window.__csp,
    cells: document.querySelectorAll("table.matrix td.cell").length,
    violatedCells: document.querySelectorAll("table.matrix td.cell.st-violated").length,
    heldCells: document.querySelectorAll("table.matrix td.cell.st-held").length,
    timelines: document.querySelectorAll("svg.timeline").length,
    svgShapes: document.querySelectorAll("svg.timeline line, svg.timeline rect, "
      + "svg.timeline polygon, svg.timeline circle").length,
    faultMarks: document.querySelectorAll("svg.timeline polygon.fault").length,
    marks: [...document.querySelectorAll("blockquote mark")].map(m => m.textContent),
    tags: [...new Set(all.map(e => e.tagName.toLowerCase()))],
    handlers: all.flatMap(e => [...e.attributes].map(a => a.name))
      .filter(n => n.startsWith("on")),
    urls: all.flatMap(e => [...e.attributes])
      .filter(a => /^(href|src|srcset|action|formaction|data|xlink:href|poster)$/i.test(a.name))
      .map(a => a.value).filter(v => !/^#sc-[0-9]+$/.test(v)),
    title: document.title,
    agentsTitle: (document.querySelector(".facts .many") || {}).title,
    gate: document.getElementById("gate").className,
    gateWord: document.querySelector("#gate .gate-word").textContent,
    interrupted: document.querySelectorAll("#interrupted").length,
    invalid: [...document.querySelectorAll("#invalid .invalid-list li")].map(li => li.textContent),
    faultItems: [...document.querySelectorAll("ol.faults li")].map(li => li.textContent),
    stories: [...document.querySelectorAll(".story h3")].map(h => h.textContent),
    notes: [...document.querySelectorAll("svg.timeline text")].map(t => t.textContent),
  });
})()"""

# The elements the script draws, on top of the page's own.
_DRAWN_TAGS = (
    "nav label input select option section h2 h3 h4 h5 table thead tbody tr th td a details "
    "summary q ol pre code blockquote mark button svg g line text tspan rect polygon circle"
)
REPORT_DOM_TAGS = REPORT_TAGS | set(_DRAWN_TAGS.split())


class DevTools:
    """A minimal Chrome DevTools Protocol client over the browser's websocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == ident:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=deadline - time.monotonic())))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """Headless Chromium with no network of its own, and a DevTools connection to it."""
    assert CHROMIUM is not None, "CI must install chromium (see .ci/run)"
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with connect(_devtools_url(profile, process), max_size=None, open_timeout=20) as ws:
            yield DevTools(ws)
    finally:
        process.terminate()
        process.wait(timeout=20)


def _devtools_url(profile: Path, process: subprocess.Popen[bytes]) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "chromium exited before DevTools was ready"
        lines = port_file.read_text().split("\n") if port_file.exists() else []
        if len(lines) >= 2 and lines[1]:
            return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.05)
    raise AssertionError("chromium did not write DevToolsActivePort in 30 s")


# Filters, used as a reader would: tick "only violations", then pick an invariant.
FILTER = """(() => {
  const visible = () => [
    document.querySelectorAll("table.matrix tr.row:not([hidden])").length,
    document.querySelectorAll("details.card:not([hidden])").length,
  ];
  const before = visible();
  const only = document.getElementById("f-violations");
  only.click();
  const violations = visible();
  only.click();
  const invariant = document.getElementById("f-invariant");
  invariant.value = "0";
  invariant.dispatchEvent(new Event("change"));
  const columns = document.querySelectorAll("table.matrix th.inv:not([hidden])").length;
  return JSON.stringify({before, violations, columns});
})()"""


# How the page fits its window: the matrix's widths, its heads, the agents' labels, and every
# label of every picture measured against the picture that holds it.
FIT = """(() => {
  const matrix = document.getElementById("matrix");
  const box = matrix.parentElement;
  const labels = [...document.querySelectorAll("svg text")].map(t => {
    const svg = t.ownerSVGElement, b = t.getBBox();
    return {text: t.textContent.slice(0, 80), left: b.x, right: b.x + b.width,
            width: svg.width.baseVal.value, lines: t.querySelectorAll("tspan").length};
  });
  return JSON.stringify({
    window: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    matrixScroll: box.scrollWidth, matrixClient: box.clientWidth,
    matrixRight: matrix.getBoundingClientRect().right,
    heads: [...matrix.querySelectorAll("th.inv")].map(th => [th.textContent, th.title]),
    agentLabels: [...matrix.querySelectorAll(".rowhead .agent")].map(a => [a.textContent, a.title]),
    labels: labels,
    clipped: labels.filter(l => l.left < 0 || l.right > l.width + 0.5),
    evidence: [...document.querySelectorAll(".evidence li")].map(li => li.textContent),
  });
})()"""


def open_report(
    devtools: DevTools, page: str, tmp_path: Path, *, width: int = 1280
) -> dict[str, Any]:
    """Load ``page`` from a file in a window ``width`` pixels wide, let it draw, and return
    the probe's findings."""
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    target = devtools.call("Target.createTarget", url="about:blank")["targetId"]
    session = devtools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        devtools.call(f"{domain}.enable", session)
    devtools.call(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=width,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    devtools.call("Page.addScriptToEvaluateOnNewDocument", session, source=WATCH)
    devtools.call("Page.navigate", session, url=path.as_uri())
    devtools.wait_for("Page.loadEventFired")
    devtools.call("Runtime.evaluate", session, expression=OPEN_ALL, awaitPromise=True)
    probe = devtools.call("Runtime.evaluate", session, expression=PROBE, returnByValue=True)
    found: dict[str, Any] = json.loads(probe["result"]["value"])
    fit = devtools.call("Runtime.evaluate", session, expression=FIT, returnByValue=True)
    found.update(json.loads(fit["result"]["value"]))
    filters = devtools.call("Runtime.evaluate", session, expression=FILTER, returnByValue=True)
    found["filters"] = json.loads(filters["result"]["value"])
    found["errors"] = _errors(devtools.events)
    return found


def _errors(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions, CSP reports and dialogs seen so far."""
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            errors.append(json.dumps(params.get("args"))[:500])
        elif method == "Log.entryAdded" and params["entry"]["level"] in {"error", "warning"}:
            errors.append(params["entry"]["text"][:500])
        elif method == "Page.javascriptDialogOpening":
            errors.append("dialog: " + params.get("message", ""))
    return errors


@pytest.fixture(scope="module")
def engine_run() -> RunResult:
    """A real run: the naive agent is caught, the hardened one holds."""
    scenario = load_scenario(SCENARIO)
    config = EngineSettings(examples=30, database=False, seed=0, wall_guard=5.0)
    naive = run_scenarios([scenario], retries_with_new_keys, agent_name="naive", config=config)
    hardened = run_scenarios([scenario], retries_with_one_key, agent_name="hardened", config=config)
    return naive.model_copy(update={"scenarios": naive.scenarios + hardened.scenarios})


def test_a_real_run_renders_its_matrix_and_timeline_cleanly(
    browser: DevTools, engine_run: RunResult, tmp_path: Path
) -> None:
    assert [s.status for s in engine_run.scenarios] == ["violated", "held"]
    found = open_report(browser, render_html(engine_run), tmp_path)
    assert found["errors"] == [] and found["csp"] == []
    naive, hardened = engine_run.scenarios
    invariants = len(naive.invariants)
    assert found["cells"] == 2 * invariants
    # The page shows exactly the verdicts the results hold: counted from the model, not assumed.
    violated = sum(s.status == "violated" for s in naive.invariants)
    held = sum(s.status == "held" for r in (naive, hardened) for s in r.invariants)
    assert violated >= 1
    assert found["violatedCells"] == violated and found["heldCells"] == held
    assert found["timelines"] >= 1
    assert found["svgShapes"] >= 10 and found["faultMarks"] >= 1
    refund = engine_run.scenarios[0].counterexample
    assert refund is not None and refund.reply is not None
    assert found["marks"] and all(m in refund.reply.text for m in found["marks"])
    assert found["filters"] == {"before": [2, 2], "violations": [1, 1], "columns": 1}


def test_the_injection_corpus_adds_nothing_to_the_live_dom(
    browser: DevTools, tmp_path: Path
) -> None:
    short = [p for p in PAYLOADS if len(p) < 10_000]
    scenarios = tuple(make_scenario(p, index=i, examples=20) for i, p in enumerate(short))
    invalid = tuple(InvalidInput(source=f"bad{p}.toml", message=f"bad: {p}") for p in short)
    result = make_result(PAYLOADS[0]).model_copy(
        update={"scenarios": scenarios, "invalid": invalid}
    )
    found = open_report(browser, render_html(result), tmp_path)
    assert found["errors"] == [] and found["csp"] == []
    assert set(found["tags"]) <= REPORT_DOM_TAGS, set(found["tags"]) - REPORT_DOM_TAGS
    assert found["handlers"] == [] and found["urls"] == []
    # Invariant names carry the payload, so each scenario brings three columns of its own.
    assert found["cells"] == len(short) * 3 * len(short)
    assert found["timelines"] == 3 * len(short)  # the counterexample and two samples each
    # Many agents: the title counts them, the header's tooltip names each, as text.
    assert found["title"] == f"chaoskit FAIL \u00b7 {len(short)} agents"
    assert "naive<script>alert(1)</script>" in found["agentsTitle"].split("\n")
    # Every invalid input is listed, its payload drawn as text; the gate fails.
    assert len(found["invalid"]) == len(short)
    assert "bad<script>alert(1)</script>.toml" in found["invalid"][0]
    assert "bad: <script>alert(1)</script>" in found["invalid"][0]
    assert found["gate"] == "gate fail" and found["gateWord"] == "FAIL"


def test_an_interrupted_run_shows_its_gate_and_why(browser: DevTools, tmp_path: Path) -> None:
    cut = make_scenario().model_copy(update={"status": "interrupted", "interrupted": True})
    result = make_result().model_copy(update={"scenarios": (cut,), "interrupted": True})
    found = open_report(browser, render_html(result), tmp_path)
    assert found["errors"] == [] and found["csp"] == []
    assert found["gate"] == "gate interrupted" and found["gateWord"] == "INTERRUPTED"
    assert found["interrupted"] == 1
    assert found["title"].startswith("chaoskit INTERRUPTED")


def test_a_storm_is_drawn_as_one_decision_and_other_failures_get_stories(
    browser: DevTools, tmp_path: Path
) -> None:
    from chaoskit.examples.agents import orchestrator
    from chaoskit.scenarios import resolve_scenario

    config = EngineSettings(examples=20, database=False, seed=0, wall_guard=10.0)
    storm = explore(
        resolve_scenario("refund-5xx-storm"), orchestrator.naive, agent_name="o", config=config
    )
    assert storm.counterexample is not None
    hit = len(storm.counterexample.faults)
    refused = GuardEvent(
        seq=len(storm.counterexample.trace),
        at=0.0,
        what="dns",
        target="api.example.org:443",
        library="aiohttp",
        message="refused",
    )
    other = storm.counterexample.model_copy(
        update={
            "findings": (Finding(kind="threads_left", message="left one"),),
            "trace": (*storm.counterexample.trace, refused),
        }
    )
    storm = storm.model_copy(update={"failures": (other,)})
    found = open_report(
        browser, render_html(make_result().model_copy(update={"scenarios": (storm,)})), tmp_path
    )
    assert found["errors"] == [] and found["csp"] == []
    assert hit > 1 and len(found["faultItems"]) == 2  # one line per story, not one per call
    assert f"storming {hit} calls" in found["faultItems"][0]
    assert any(t.startswith("Another failure: ") and "threads_left" in t for t in found["stories"])
    assert any("refused: dns api.example.org:443 (aiohttp)" in n for n in found["notes"])
    # The timeline draws the storm's first call, then one row for all the others (per story).
    first, after, last = storm.counterexample.faults[0], storm.counterexample.faults[1].call, None
    last = storm.counterexample.faults[-1].call
    folded = [n for n in found["notes"] if "more calls to payments POST /v1/refunds" in n]
    assert len(folded) == 2 and folded[0] == folded[1]
    assert folded[0].startswith(f"#{after}\u2013#{last} \u21bb {hit - 1} more calls to ")
    assert "each \u26a1 server_error \u2192 503 api_error" in folded[0]
    calls = [n for n in found["notes"] if "POST /v1/refunds" in n]
    assert len(calls) < 20, calls  # 30 calls would be 90 lines
    assert any(n.startswith(f"#{first.call} \u26a1 server_error") for n in found["notes"])
    # Evidence: the calls each violated verdict names are one line per verdict, not ten.
    verdicts = sum(v.status == "violated" for v in storm.counterexample.verdicts)
    assert len(found["evidence"]) == 2 * verdicts
    assert all(" alike, the last: call #" in line for line in found["evidence"])


def test_the_csp_blocks_markup_slipped_into_a_page(browser: DevTools, tmp_path: Path) -> None:
    """The negative control: inline handlers are refused and reported, not run."""
    page = render_html(make_result()).replace(
        "<main", '<img src="data:," onerror="document.title=\'pwned\'"><main', 1
    )
    found = open_report(browser, page, tmp_path)
    assert found["title"] != "pwned"
    assert found["csp"], "the CSP violation was not reported"
    assert any("Content Security Policy" in error for error in found["errors"]), found["errors"]


AGENTS_MODULE = "myshop.support.agents.orchestrator"
EXPECTED = ("expect: 1 refund.created charge={order.charge_id}", "expect: 0 email.sent")


def every_invariant_run() -> RunResult:
    """Every built-in scenario against a naive and a hardened agent, each judged by all 14
    invariants and two expectations: the widest matrix the built-in catalogue can make."""
    from chaoskit.invariants import REGISTRY
    from chaoskit.results import InvariantSummary
    from chaoskit.scenarios import builtin_scenarios

    runs = []
    for agent in ("naive", "hardened"):
        for i, file in enumerate(builtin_scenarios()):
            summaries = tuple(
                InvariantSummary(invariant=name, status="violated", held=197, violated=3)
                if agent == "naive" and j % 4 == i % 4
                else InvariantSummary(invariant=name, status="held", held=200)
                for j, name in enumerate([*REGISTRY, *EXPECTED])
            )
            run = make_scenario(index=i).model_copy(
                update={
                    "scenario": file.stem.replace("_", "-"),
                    "agent": f"{AGENTS_MODULE}:{agent}",
                    "invariants": summaries,
                }
            )
            runs.append(run)
    return make_result().model_copy(update={"scenarios": tuple(runs)})


def test_the_matrix_of_all_fourteen_invariants_fits_a_1280_pixel_window(
    browser: DevTools, tmp_path: Path
) -> None:
    from chaoskit.invariants import REGISTRY

    found = open_report(browser, render_html(every_invariant_run()), tmp_path, width=1280)
    assert found["errors"] == [] and found["csp"] == []
    assert found["window"] == 1280
    # Fourteen invariant columns, named in full; the expectations share one column.
    assert [text for text, _ in found["heads"]] == [*REGISTRY, "expect"]
    assert [title for title, _ in found["heads"][:14]] == list(REGISTRY)
    assert found["matrixScroll"] <= found["matrixClient"], found
    assert found["matrixRight"] <= 1280 and found["pageWidth"] <= 1280


def test_a_narrower_window_does_make_the_matrix_scroll(browser: DevTools, tmp_path: Path) -> None:
    """The negative control: the measure above can fail."""
    found = open_report(browser, render_html(every_invariant_run()), tmp_path, width=900)
    assert found["matrixScroll"] > found["matrixClient"]


def test_agents_that_differ_by_one_word_keep_that_word_and_their_full_name(
    browser: DevTools, tmp_path: Path
) -> None:
    found = open_report(browser, render_html(every_invariant_run()), tmp_path)
    assert set(map(tuple, found["agentLabels"])) == {
        ("orchestrator:naive", f"{AGENTS_MODULE}:naive"),
        ("orchestrator:hardened", f"{AGENTS_MODULE}:hardened"),
    }


def test_no_label_of_a_timeline_or_chart_is_clipped(
    browser: DevTools, engine_run: RunResult, tmp_path: Path
) -> None:
    # Wide characters take two columns; a word longer than a line must still be cut to fit.
    text = "返金を二重に" * 12 + " " + "x" * 300
    scenarios = (*engine_run.scenarios, make_scenario(text, index=1))
    result = engine_run.model_copy(update={"scenarios": scenarios})
    found = open_report(browser, render_html(result), tmp_path)
    assert found["errors"] == [] and found["csp"] == []
    assert len(found["labels"]) > 100
    assert found["clipped"] == []
    assert max(label["lines"] for label in found["labels"]) >= 2  # long notes wrap
    assert any(label["right"] > 600 for label in found["labels"])  # and are long


def committing_storm(calls: int) -> RunResult:
    """A 5xx storm after commit: one decision, ``calls`` calls, every one of them committed."""
    from chaoskit.results import Decision, Example, FiredFault
    from chaoskit.world.trace import CommitEvent, FaultEvent, RequestEvent, ResponseEvent

    rule = "server_error @ payments: POST /v1/refunds"
    events: list[Any] = []
    for call in range(1, calls + 1):
        at = float(call - 1)
        for cls, fields in (
            (RequestEvent, {"client": "httpx", "backend": "payments", "method": "POST",
                            "path": "/v1/refunds", "route": "POST /v1/refunds"}),
            (CommitEvent, {"backend": "payments", "effect": "refund.created",
                           "object_id": f"re_{call}", "ledger_seq": call - 1}),
            (FaultEvent, {"fault": "server_error", "rule": rule}),
            (ResponseEvent, {"status": 500, "error_code": "api_error"}),
        ):  # fmt: skip
            events.append(cls(seq=len(events), at=at, call=call, **fields))
    faults = tuple(
        FiredFault(call=c, at=float(c - 1), backend="payments", route="POST /v1/refunds",
                   kind="server_error", rule=rule)
        for c in range(1, calls + 1)
    )  # fmt: skip
    example: Example = make_scenario().counterexample.model_copy(  # type: ignore[union-attr]
        update={
            "trace": tuple(events),
            "faults": faults,
            "decisions": (Decision(call=1, rule=rule),),
        }
    )
    scenario = make_scenario().model_copy(update={"counterexample": example, "samples": ()})
    return make_result().model_copy(update={"scenarios": (scenario,)})


def test_a_storm_folded_in_the_timeline_still_counts_what_it_committed(
    browser: DevTools, tmp_path: Path
) -> None:
    found = open_report(browser, render_html(committing_storm(12)), tmp_path)
    assert found["errors"] == [] and found["csp"] == []
    (folded,) = [n for n in found["notes"] if "\u21bb" in n]
    assert folded.startswith("#2\u2013#12 \u21bb 11 more calls to payments POST /v1/refunds")
    assert "\u2192 500 api_error, 11 commits among them, t=1 s to 11 s" in folded
    (commit,) = [n for n in found["notes"] if "commit refund.created" in n]
    assert commit.startswith("#1 commit refund.created re_1")


def test_a_crash_and_redelivery_is_drawn_as_bands_with_a_crash_mark(
    browser: DevTools, tmp_path: Path
) -> None:
    from chaoskit.examples.agents import crashes
    from chaoskit.examples.catalogue import load_builtin

    config = EngineSettings(examples=20, database=False, seed=0)
    result = run_scenarios(
        [load_builtin("refund_agent_crash")], crashes.naive, agent_name="naive", config=config
    )
    example = result.scenarios[0].counterexample
    assert example is not None and len(example.deliveries) == 2
    found = open_report(browser, render_html(result), tmp_path)
    assert found["errors"] == [] and found["csp"] == []
    crash = example.deliveries[0].crashed_at
    notes = found["notes"]  # each note's text, then its title again
    assert "\u25b6 delivery 1\u25b6 delivery 1" in notes
    assert any(n.startswith(f"\u25b6 delivery 2 after a crash at call #{crash}") for n in notes)
    killed = f"\u2620 delivery 1 killed at call #{crash} (agent_crash)"
    assert any(n.startswith(killed) for n in notes)
    assert any(item.startswith("delivery 2 after a crash") for item in found["faultItems"])


def test_deliveries_run_at_once_are_drawn_as_lanes_of_their_own(
    browser: DevTools, tmp_path: Path
) -> None:
    from chaoskit.examples.agents import workers
    from chaoskit.examples.catalogue import load_builtin

    config = EngineSettings(examples=60, database=False, seed=0)
    scenario = load_builtin("refund_concurrent_workers")
    result = run_scenarios([scenario], workers.naive, agent_name="workers", config=config)
    assert result.scenarios[0].status == "violated"
    found = open_report(browser, render_html(result), tmp_path)
    assert found["errors"] == [] and found["csp"] == [] and found["clipped"] == []
    # A label's text is shown once and again in its title (the whole of it, for a cut one).
    texts = {label["text"] for label in found["labels"]}
    assert {"delivery 1" * 2, "delivery 2" * 2} <= texts  # the two lanes' heads
    assert "delivery 2 starts (concurrent)" * 2 in texts
    assert "delivery 1 takes its turn again" * 2 in texts
