"""Model cassettes: a run's model requests and responses, recorded once and answered again.

A cassette is a JSON file made to be read in a code review, after vcrpy's format: a list of
interactions, each a request and the response it got, in the order they happened.

.. code-block:: json

    {
      "version": 1,
      "recorded_with": "chaoskit 0.4.0",
      "interactions": [
        {
          "key": "9c1f0d6e2b7a4c35",
          "request": {"method": "POST", "path": "/v1/chat/completions",
                      "body": {"model": "gpt-4o-mini", "messages": [...], "tools": [...]}},
          "response": {"status": 200, "content_type": "application/json", "body": {...}}
        }
      ]
    }

A request is found again by its canonical form (:func:`canonical_request`): method, path and
the JSON body with sorted keys — model, messages, tools, parameters — minus the fields that
name the caller rather than the question (:data:`VOLATILE`). Headers are never kept, so
neither is ``Authorization`` nor any API key; of a response only its status, content type and
body are. Identical requests (trials of one schedule) are answered in recorded order, and
from the first again once all were used. A recording is appended to the file as it goes, so
an interrupted run keeps what it recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import textwrap
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import httpx

from chaoskit.core.errors import UsageError

__all__ = ["VOLATILE", "Cassette", "canonical_request", "request_key"]

#: Body fields left out of a request's key: who asks, not what is asked.
VOLATILE = frozenset({"user", "metadata", "prompt_cache_key", "safety_identifier"})
FORMAT_VERSION = 1
_RE_RECORD = "re-record with --chaos-record-model (chaoskit run --record-model)"


def canonical_request(method: str, path: str, content: bytes) -> dict[str, Any]:
    """What identifies a model request: method, path and body (JSON when it is JSON).

    >>> canonical_request("POST", "/v1/chat/completions", b'{"user": "u1", "model": "m"}')
    {'method': 'POST', 'path': '/v1/chat/completions', 'body': {'model': 'm'}}
    """
    try:
        body: Any = json.loads(content) if content else None
    except ValueError:
        body = content.decode("utf-8", "replace")
    if isinstance(body, dict):
        body = {k: v for k, v in sorted(body.items()) if k not in VOLATILE}
    return {"method": method.upper(), "path": path, "body": body}


def request_key(canonical: Mapping[str, Any]) -> str:
    """A short digest of a canonical request: equal requests, equal keys."""
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Cassette:
    """One run's model traffic: recorded (``Cassette.record(path)``) or answered from a file
    (``Cassette.replay(path)``). Safe under threads; a recording is written to the file
    interaction by interaction, so an interrupted run keeps what it recorded.

    >>> from chaoskit.engine import EngineSettings
    >>> config = EngineSettings(model_cassette=Cassette.replay("cassettes/refunds.json"))
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path,
        mode: Literal["record", "replay"],
        interactions: list[dict[str, Any]] | None = None,
    ) -> None:
        self.path = Path(path)
        self.mode = mode
        self.interactions: list[dict[str, Any]] = interactions or []
        self._lock = threading.RLock()
        self._used: dict[str, int] = {}
        self._written = 0
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        for interaction in self.interactions:
            self._by_key.setdefault(interaction["key"], []).append(interaction)

    @classmethod
    def record(cls, path: str | Path) -> Cassette:
        """A new, empty cassette that will be saved at ``path`` (replacing any file there)."""
        return cls(path, "record")

    @classmethod
    def replay(cls, path: str | Path) -> Cassette:
        """The cassette saved at ``path``; a missing or broken file is a :class:`UsageError`."""
        where = Path(path)
        try:
            data = json.loads(where.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(
                f"chaoskit: no model cassette at {str(where)!r}; record one first with "
                f"--chaos-record-model={where} (chaoskit run --record-model {where})."
            ) from None
        except ValueError as error:
            raise UsageError(
                f"chaoskit: the model cassette {str(where)!r} is not valid JSON ({error}); "
                f"{_RE_RECORD}."
            ) from None
        return cls(where, "replay", _interactions(data, where))

    # -- recording -------------------------------------------------------------------------------

    def add(self, request: httpx.Request, response: httpx.Response) -> None:
        """Keep ``request`` and the ``response`` it got, appended to the file at once."""
        canonical = canonical_request(request.method, request.url.path, request.content)
        key = request_key(canonical)
        interaction = {"key": key, "request": canonical, "response": _stored_response(response)}
        with self._lock:
            self.interactions.append(interaction)
            self._by_key.setdefault(key, []).append(interaction)
            self._append(interaction)

    def save(self) -> None:
        """Write the whole cassette (atomically: a reader never sees half a file)."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text(_document(self.interactions), "utf-8")
            os.replace(partial, self.path)
            self._written = len(self.interactions)

    def _append(self, interaction: dict[str, Any]) -> None:
        """Add one interaction to the file as written so far: a recording costs the size of
        each interaction once, not the whole file again on every call."""
        if self._written == 0 or not self.path.exists():
            self.save()
            return
        entry = _entry(interaction).encode()
        with self.path.open("r+b") as handle:
            handle.seek(-len(_TAIL), os.SEEK_END)
            handle.write(b",\n" + entry + _TAIL)
        self._written += 1

    # -- replaying -------------------------------------------------------------------------------

    def answer(self, request: httpx.Request) -> httpx.Response | None:
        """The recorded response to ``request`` (the next of its kind, in recorded order), or
        ``None`` when the cassette never saw it."""
        key = request_key(canonical_request(request.method, request.url.path, request.content))
        with self._lock:
            recorded = self._by_key.get(key)
            if not recorded:
                return None
            used = self._used.get(key, 0)
            self._used[key] = used + 1
            return _response(recorded[used % len(recorded)]["response"])

    def __repr__(self) -> str:
        return f"<Cassette {self.mode} {str(self.path)!r}: {len(self.interactions)} interactions>"


#: How every cassette file ends: after the last interaction, the list and the object close.
_TAIL = b"\n  ]\n}\n"


def _document(interactions: list[dict[str, Any]]) -> str:
    """The file's text: ``json.dumps(…, indent=2)`` of the whole cassette, ending in _TAIL."""
    from chaoskit._version import __version__

    head = {"version": FORMAT_VERSION, "recorded_with": f"chaoskit {__version__}"}
    opening = json.dumps(head, indent=2, ensure_ascii=False)[:-2] + ',\n  "interactions": ['
    if not interactions:
        return opening + "]\n}\n"
    return opening + "\n" + ",\n".join(map(_entry, interactions)) + _TAIL.decode()


def _entry(interaction: dict[str, Any]) -> str:
    return textwrap.indent(json.dumps(interaction, indent=2, ensure_ascii=False), "    ")


def _stored_response(response: httpx.Response) -> dict[str, Any]:
    kind = response.headers.get("content-type", "")
    body: Any = response.text
    if "json" in kind:
        with contextlib.suppress(ValueError):
            body = json.loads(response.content)
    return {"status": response.status_code, "content_type": kind, "body": body}


def _response(stored: Mapping[str, Any]) -> httpx.Response:
    body = stored["body"]
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return httpx.Response(
        int(stored["status"]), content=content, headers={"Content-Type": stored["content_type"]}
    )


def _interactions(data: Any, where: Path) -> list[dict[str, Any]]:
    """The interactions of a loaded file, each checked for what replay reads."""
    problem = None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        problem = 'it has no "interactions" list'
    elif data.get("version") != FORMAT_VERSION:
        problem = f"it is format version {data.get('version')!r}, this chaoskit reads 1"
    else:
        for i, item in enumerate(data["interactions"]):
            response = item.get("response") if isinstance(item, dict) else None
            if not isinstance(response, dict) or not {"status", "body"} <= response.keys():
                problem = f"interaction {i} has no response with a status and a body"
                break
            if not isinstance(item.get("request"), dict):
                problem = f"interaction {i} has no request"
                break
    if problem is not None:
        raise UsageError(
            f"chaoskit: {str(where)!r} is not a chaoskit model cassette: {problem}; {_RE_RECORD}."
        )
    # The key is recomputed from the request: a hand-edited request is found by what it says.
    return [
        {
            **item,
            "key": request_key(item["request"]),
            "response": {"content_type": "application/json", **item["response"]},
        }
        for item in data["interactions"]
    ]
