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
    "summary q ol pre code blockquote mark button svg g line text rect polygon circle"
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


def open_report(devtools: DevTools, page: str, tmp_path: Path) -> dict[str, Any]:
    """Load ``page`` from a file, let it draw, and return the probe's findings."""
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    target = devtools.call("Target.createTarget", url="about:blank")["targetId"]
    session = devtools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        devtools.call(f"{domain}.enable", session)
    devtools.call("Page.addScriptToEvaluateOnNewDocument", session, source=WATCH)
    devtools.call("Page.navigate", session, url=path.as_uri())
    devtools.wait_for("Page.loadEventFired")
    devtools.call("Runtime.evaluate", session, expression=OPEN_ALL, awaitPromise=True)
    probe = devtools.call("Runtime.evaluate", session, expression=PROBE, returnByValue=True)
    found: dict[str, Any] = json.loads(probe["result"]["value"])
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
    assert "<script>alert(1)</script>" in found["title"]
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


def test_the_csp_blocks_markup_slipped_into_a_page(browser: DevTools, tmp_path: Path) -> None:
    """The negative control: inline handlers are refused and reported, not run."""
    page = render_html(make_result()).replace(
        "<main", '<img src="data:," onerror="document.title=\'pwned\'"><main', 1
    )
    found = open_report(browser, page, tmp_path)
    assert found["title"] != "pwned"
    assert found["csp"], "the CSP violation was not reported"
    assert any("Content Security Policy" in error for error in found["errors"]), found["errors"]
