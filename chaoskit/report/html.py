"""The HTML invariant report: one self-contained page rendered from one :class:`RunResult`.

Reports can never execute what they show. The page is rendered by one Jinja environment with
autoescape always on; the results travel as JSON inside ``<script type="application/json">``
(with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, so no string can close the element) and one
small script draws them with ``textContent`` and ``createElement``, never ``innerHTML``. A strict
Content-Security-Policy allows exactly the one inline style and the one inline script, by hash.
Secrets are redacted from the data before it is embedded (see :func:`redact`).

Example::

    from chaoskit.report.html import load_results, write_report

    result = load_results("reports/chaoskit.json")
    write_report(result, "reports/chaoskit.html")
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined, Template
from markupsafe import Markup
from pydantic import ValidationError

from chaoskit.core.errors import UsageError
from chaoskit.results import READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION, RunResult

__all__ = [
    "AGENT_LABEL_LIMIT",
    "FAILING_TRACE_EVENTS",
    "PASSING_TRACE_EVENTS",
    "TEXT_LIMIT",
    "agent_labels",
    "agent_prefix",
    "embed_json",
    "load_results",
    "redact",
    "redact_text",
    "render_html",
    "report_data",
    "write_report",
]

#: Trace events embedded per failing example (a counterexample); the rest are counted.
FAILING_TRACE_EVENTS = 400
#: Trace events embedded per passing sample: enough to show what a good run looks like.
PASSING_TRACE_EVENTS = 40
#: Characters of an agent's label in the matrix and on the cards (the full name is its title).
AGENT_LABEL_LIMIT = 32
#: Ledger entries embedded per backend and evidence items per verdict.
LIST_LIMIT = 200
#: Characters kept of any one string; longer strings are cut with a note of how much was cut.
TEXT_LIMIT = 20_000
_CUT_MARGIN = 1_000

REDACTED = "[redacted]"

# Secrets that look like secrets wherever they appear in a string. Generic prefixes (``sk-``,
# ``tok_``) must not follow a letter (``disk-…`` is no key); distinctive ones match anywhere.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization / Proxy-Authorization header values, in headers, JSON or repr() text.
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic|token|digest)\s+)?[^\s\"',;}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]+"), f"Bearer {REDACTED}"),
    # Stripe secret, restricted and publishable keys and webhook secrets: distinctive enough to
    # be matched even when glued to a word.
    (re.compile(r"(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]{10,}"), REDACTED),
    (re.compile(r"whsec_[A-Za-z0-9]{10,}"), REDACTED),
    # OpenAI (sk-…, sk-proj-…) and Anthropic (sk-ant-…) API keys.
    (re.compile(r"(?<![A-Za-z])sk-[A-Za-z0-9_\-]{8,}"), REDACTED),
    # The world's user and service-account tokens (chaoskit.world.data._token: 24 hex digits,
    # matched even when glued to a word), then other tokens of the same style.
    (re.compile(r"tok_[0-9a-f]{24}"), REDACTED),
    (re.compile(r"(?<![A-Za-z])tok_[A-Za-z0-9]{12,}"), REDACTED),
    # GitHub and AWS access keys, in case an agent's environment leaks into a reply.
    (re.compile(r"(?<![A-Za-z])gh[pousr]_[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), REDACTED),
)

# Dict keys whose string values are secrets whatever they look like (compared lowercased,
# without ``-`` and ``_``).
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "apikey",
        "xapikey",
        "token",
        "accesstoken",
        "refreshtoken",
        "secret",
        "clientsecret",
        "password",
        "cookie",
        "setcookie",
    }
)

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_UNSAFE = re.compile("[<>&\u2028\u2029]")
_CLOSING_TAG = re.compile(r"</(script|style)", re.IGNORECASE)


def render_html(result: RunResult) -> str:
    """Render ``result`` as one self-contained HTML page that loads nothing from outside.

    >>> page = render_html(result)  # doctest: +SKIP
    >>> page.startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    data = report_data(result)
    css, js = _asset("report.css"), _asset("report.js")
    return _template().render(
        csp=_content_security_policy(css, js),
        css=Markup(css),
        js=Markup(js),
        data=Markup(embed_json(data)),
        run=data["run"],
        stats=data["stats"],
    )


def write_report(
    result: RunResult, html_path: str | Path, json_path: str | Path | None = None
) -> None:
    """Write the HTML report to ``html_path`` and, if given, the results JSON to ``json_path``.

    Parent folders are created. The JSON is the full, unredacted results model (what
    :func:`load_results` reads back); the HTML embeds a redacted, size-capped copy.
    """
    if json_path is not None:
        _write(Path(json_path), result.model_dump_json(indent=1))
    _write(Path(html_path), render_html(result))


def load_results(path: str | Path) -> RunResult:
    """Read a results JSON written by :func:`write_report` (or ``chaoskit run --json``).

    Raises :class:`UsageError` naming the file when it is missing, is not JSON, or was written
    with another results schema.
    """
    file = Path(path)
    data = _read_json(file)
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version not in READABLE_SCHEMA_VERSIONS:
        raise UsageError(_schema_message(file, version))
    try:
        return RunResult.model_validate(data)
    except ValidationError as problem:
        raise UsageError(_invalid_message(file, problem)) from None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"chaoskit: no results file at {file}. Run `chaoskit run …` (it writes the "
            "results JSON beside the report) or pytest with the chaoskit plugin first."
        ) from None
    except (OSError, UnicodeDecodeError) as problem:
        raise UsageError(f"chaoskit: cannot read the results file {file}: {problem}") from None
    except ValueError as problem:
        raise UsageError(
            f"chaoskit: {file} is not a results JSON file ({problem}). "
            "Pass the .json that chaoskit wrote next to the report."
        ) from None


def _schema_message(file: Path, version: object) -> str:
    if version is None:
        return (
            f"chaoskit: {file} has no schema_version, so it is not a chaoskit results file. "
            "Pass the .json that chaoskit wrote next to the report."
        )
    newer = isinstance(version, int) and version > SCHEMA_VERSION
    fix = "upgrade chaoskit" if newer else "re-run the scenarios with this chaoskit"
    readable = " and ".join(str(v) for v in READABLE_SCHEMA_VERSIONS)
    return (
        f"chaoskit: {file} uses results schema version {version!r}, this chaoskit reads "
        f"versions {readable}; {fix} to read it."
    )


def _invalid_message(file: Path, problem: ValidationError) -> str:
    errors = problem.errors()
    shown = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in errors[:3]
    )
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"chaoskit: {file} does not match the results schema: {shown}{more}"


# --- data: redacted, capped, ready to embed -------------------------------------------------


def report_data(result: RunResult) -> dict[str, Any]:
    """The data the page draws: the run (redacted, size-capped) and precomputed statistics.

    Each scenario run also gets ``agent_label``, its agent's short name (see
    :func:`agent_labels`).
    """
    run = result.model_dump(mode="json", exclude_none=True)
    labels = _redacted_labels([r.agent for r in result.scenarios])
    for scenario in run["scenarios"]:
        _cap_scenario(scenario)
        scenario["agent_label"] = labels[scenario["agent"]]
    data = {"run": run, "stats": _stats(result, labels)}
    cleaned: dict[str, Any] = redact(data, text=_redact_and_cut)
    return cleaned


def redact(value: Any, *, text: Callable[[str], str] | None = None) -> Any:
    """Return ``value`` (JSON data) with secrets replaced by ``[redacted]``.

    Redacted wherever they appear in a string (keys included): ``Authorization`` header values,
    bearer tokens, Stripe keys (``sk_test_…``, ``rk_live_…``, ``whsec_…``), OpenAI and Anthropic
    keys (``sk-…``, ``sk-ant-…``), the world's user tokens (``tok_…``), GitHub and AWS keys. The
    whole string value of a key named like a secret (``authorization``, ``api_key``, ``token``,
    ``password``, ``cookie``…) is redacted too. ``text`` replaces :func:`redact_text` for
    strings (the report also cuts long strings there).

    >>> redact({"note": "use Bearer tok_0123456789abcdef01234567", "token": "abc"})
    {'note': 'use Bearer [redacted]', 'token': '[redacted]'}
    """
    clean = text or redact_text
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list | tuple):
        return [redact(item, text=clean) for item in value]
    if isinstance(value, dict):
        return {clean(str(k)): _redact_item(str(k), v, clean) for k, v in value.items()}
    return value


def redact_text(text: str) -> str:
    """``text`` with every secret-looking substring replaced (see :func:`redact`)."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_item(key: str, value: Any, clean: Callable[[str], str]) -> Any:
    normal = key.lower().replace("-", "").replace("_", "")
    if normal in _SECRET_KEYS and isinstance(value, str) and value:
        return REDACTED
    return redact(value, text=clean)


def _redact_and_cut(text: str) -> str:
    """Redacted ``text``, cut to :data:`TEXT_LIMIT` characters with a note of the rest.

    Only the head is scanned: a secret across the cut lies within the extra margin, so it is
    redacted before the final cut.
    """
    if len(text) <= TEXT_LIMIT:
        return redact_text(text)
    head = redact_text(text[: TEXT_LIMIT + _CUT_MARGIN])[:TEXT_LIMIT]
    return f"{head}… [{len(text) - TEXT_LIMIT} more characters not shown]"


def _cap_scenario(scenario: dict[str, Any]) -> None:
    if "counterexample" in scenario:
        _cap_example(scenario["counterexample"], FAILING_TRACE_EVENTS)
    for trial in scenario.get("counterexample_trials", []):
        _cap_example(trial, FAILING_TRACE_EVENTS)
    for sample in scenario.get("samples", []):
        _cap_example(sample, PASSING_TRACE_EVENTS)


def _cap_example(example: dict[str, Any], events: int) -> None:
    example["trace_omitted"] = max(0, len(example["trace"]) - events)
    example["trace"] = example["trace"][:events]
    example["ledgers_omitted"] = {
        name: max(0, len(entries) - LIST_LIMIT) for name, entries in example["ledgers"].items()
    }
    example["ledgers"] = {name: e[:LIST_LIMIT] for name, e in example["ledgers"].items()}
    for verdict in example["verdicts"]:
        verdict["evidence_omitted"] = max(0, len(verdict["evidence"]) - LIST_LIMIT)
        verdict["evidence"] = verdict["evidence"][:LIST_LIMIT]


def agent_labels(names: Iterable[str], *, limit: int = AGENT_LABEL_LIMIT) -> dict[str, str]:
    """A short label per agent name that keeps what tells the agents apart.

    The module path all the agents share is dropped, but their last module stays, so a label
    still says where the agent lives; one agent whose name fits keeps it whole. A label still
    longer than ``limit`` characters loses its start (``…refunds:naive``), or its middle when
    that would make two labels the same. Names are never cut where two agents differ:
    ``….orchestrator:naive`` and ``….orchestrator:hardened`` stay apart.

    >>> agent_labels(["shop.agents.refunds:naive", "shop.agents.refunds:hardened"])
    {'shop.agents.refunds:naive': 'refunds:naive', 'shop.agents.refunds:hardened': \
'refunds:hardened'}
    """
    unique = list(dict.fromkeys(names))
    alone = len(unique) == 1 and len(unique[0]) <= limit
    prefix = "" if alone else _shared_modules(unique)
    short = {name: name[len(prefix) :] if prefix else name for name in unique}
    for cut in (_cut_start, _cut_middle):
        labels = {name: cut(label, limit) for name, label in short.items()}
        if len(set(labels.values())) == len(labels):
            return labels
    return short


def _redacted_labels(names: list[str]) -> dict[str, str]:
    # Labelled after redaction: a cut must never leave a fragment of a secret unrecognised.
    clean = {name: redact_text(name) for name in dict.fromkeys(names)}
    labels = agent_labels(clean.values())
    return {name: labels[text] for name, text in clean.items()}


def agent_prefix(names: Iterable[str]) -> str:
    """The module path every agent shares, as dropped by :func:`agent_labels` (may be empty)."""
    return _shared_modules(list(dict.fromkeys(names))).rstrip(".")


def _shared_modules(names: list[str]) -> str:
    """``"a.b."`` when every name is ``a.b.<module>[.…][:callable]``; the last module stays."""
    paths = [name.split(":", 1)[0].split(".")[:-1] for name in names]
    if not paths:
        return ""
    shared: list[str] = []
    for parts in zip(*paths, strict=False):
        if len(set(parts)) != 1 or not parts[0]:
            break
        shared.append(parts[0])
    return "".join(f"{part}." for part in shared)


def _cut_start(label: str, limit: int) -> str:
    return label if len(label) <= limit else "…" + label[-(limit - 1) :]


def _cut_middle(label: str, limit: int) -> str:
    if len(label) <= limit:
        return label
    head = (limit - 1) // 3
    return label[:head] + "…" + label[-(limit - 1 - head) :]


def _stats(result: RunResult, labels: dict[str, str]) -> dict[str, Any]:
    statuses = ("held", "violated", "not_exercised", "error", "interrupted")
    by_status = {s: sum(r.status == s for r in result.scenarios) for s in statuses}
    agents = sorted({r.agent for r in result.scenarios}) or [result.agent]
    return {
        "passed": result.passed,
        "gate": result.gate,
        "invalid": len(result.invalid),
        "scenarios": len(result.scenarios),
        "by_status": by_status,
        "agents": agents,
        "agent_labels": [labels.get(a, a) for a in agents],
        "agent_prefix": agent_prefix(agents) if len(agents) > 1 else "",
        "examples": sum(r.examples for r in result.scenarios),
        "examples_with_faults": sum(r.coverage.examples_with_faults for r in result.scenarios),
        "faults_fired": sum(
            count
            for r in result.scenarios
            for kinds in r.coverage.faults.values()
            for count in kinds.values()
        ),
    }


def embed_json(data: Any) -> str:
    """``data`` as JSON that is safe as the text of a ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``…, so ``</script>`` or ``<!--`` in the data cannot
    end or confuse the element; U+2028/U+2029 are escaped for old JavaScript parsers. All of
    them can only occur inside JSON strings, where the escapes decode to the same text.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _JSON_UNSAFE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    return _JSON_ESCAPES[match.group()]


# --- page: template, assets, Content-Security-Policy -----------------------------------------


def _content_security_policy(css: str, js: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src '{_sha256(js)}'; "
        f"style-src '{_sha256(css)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


@cache
def _asset(name: str) -> str:
    """A file of ``chaoskit/report/assets``; CSS and JS are checked so they can be inlined."""
    text = resources.files("chaoskit.report").joinpath("assets", name).read_text("utf-8")
    if not name.endswith(".j2") and _CLOSING_TAG.search(text):
        raise RuntimeError(f"chaoskit: report asset {name} must not contain </script or </style")
    return text


@cache
def _template() -> Template:
    env = Environment(
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = _duration
    return env.from_string(_asset("report.html.j2"))


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
