"""JUnit XML for CI dashboards: one test case per scenario × agent (``chaoskit run --junitxml``).

A scenario that held passes; one that was violated, not exercised or interrupted fails with
the whole story as the failure text; one that could not run, and each invalid input, is an
error. A scenario run in trials carries ``trials`` and ``pass_k`` as test case properties.
Characters XML 1.0 cannot carry (control characters in an agent's reply) are replaced.

>>> write_junit(run, "reports/junit.xml")  # doctest: +SKIP
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from chaoskit.report.text import describe_failure
from chaoskit.results import InvalidInput, RunResult, ScenarioResult

__all__ = ["junit_xml", "write_junit"]

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FAILURE = {
    "violated": "invariant violated",
    "not_exercised": "not exercised",
    "interrupted": "interrupted",
}


def junit_xml(run: RunResult) -> str:
    """The run as a JUnit XML document (one ``<testsuite name="chaoskit">``)."""
    cases = [_case(result) for result in run.scenarios]
    cases += [_invalid(item) for item in run.invalid]
    suite = ET.Element("testsuite", _suite_attributes(run, cases))
    properties = ET.SubElement(suite, "properties")
    for name, value in _properties(run):
        ET.SubElement(properties, "property", name=name, value=value)
    suite.extend(cases)
    root = ET.Element("testsuites", {k: suite.get(k, "") for k in ("tests", "failures", "errors")})
    root.append(suite)
    _clean_tree(root)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(run: RunResult, path: str | Path) -> None:
    """Write :func:`junit_xml` to ``path``, creating its folder."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(junit_xml(run), encoding="utf-8")


def _suite_attributes(run: RunResult, cases: list[ET.Element]) -> dict[str, str]:
    def count(tag: str) -> int:
        return sum(case.find(tag) is not None for case in cases)

    duration = run.timing.duration_seconds if run.timing else 0.0
    return {
        "name": "chaoskit",
        "tests": str(len(cases)),
        "failures": str(count("failure")),
        "errors": str(count("error")),
        "skipped": "0",
        "time": f"{duration:.3f}",
        **({"timestamp": run.timing.started.removesuffix("Z")} if run.timing else {}),
    }


def _properties(run: RunResult) -> list[tuple[str, str]]:
    props = [
        ("chaoskit_version", run.chaoskit_version),
        ("seed", str(run.seed)),
        ("examples_per_scenario", str(run.examples_per_scenario)),
        ("gate", run.gate),
    ]
    if run.shard is not None:
        props.append(("shard", run.shard.label))
    if run.trials > 1:
        props.append(("trials", str(run.trials)))
    return props


def _case(result: ScenarioResult) -> ET.Element:
    case = ET.Element("testcase", classname=result.agent, name=result.scenario)
    if result.source:
        case.set("file", result.source)
    if result.pass_k is not None:
        properties = ET.SubElement(case, "properties")
        for name, value in (("trials", str(result.trials)), ("pass_k", f"{result.pass_k:.4f}")):
            ET.SubElement(properties, "property", name=name, value=value)
    if result.status == "held":
        return case
    if result.status == "error":
        tag, kind = "error", "could not run"
    else:
        tag, kind = "failure", _FAILURE[result.status]
    problem = ET.SubElement(case, tag, message=_message(result, kind), type=kind)
    problem.text = describe_failure(result)
    return case


def _message(result: ScenarioResult, kind: str) -> str:
    broken = [s.invariant for s in result.invariants if s.status == "violated"]
    message = f"{kind}: {', '.join(broken)}" if broken else f"{kind}: {result.scenario}"
    if result.pass_k is not None:
        message += f" (pass^{result.trials} {result.pass_k:.2f})"
    return message


def _invalid(item: InvalidInput) -> ET.Element:
    case = ET.Element("testcase", classname="chaoskit.invalid", name=item.source)
    error = ET.SubElement(case, "error", message="invalid input", type="invalid scenario")
    error.text = item.message
    return case


def _clean_tree(root: ET.Element) -> None:
    """Every attribute and text of the document made safe for XML (see :func:`_clean`)."""
    for element in root.iter():
        for name, value in element.attrib.items():
            element.set(name, _clean(value))
        if element.text:
            element.text = _clean(element.text)


def _clean(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
