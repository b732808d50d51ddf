from __future__ import annotations

import httpx
import pytest

from chaoskit.fakes import FakeBackend, FakeRequest, route


class Notes(FakeBackend):
    """A minimal user-style fake: notes with a text field, created and read back."""

    name = "notes"
    default_host = "notes.chaoskit.test"

    def new_state(self) -> dict[str, dict[str, str]]:
        return {}

    @route("POST", "/notes")
    def create(self, req: FakeRequest) -> httpx.Response:
        note_id = self.new_id("note")
        note = {"id": note_id, "text": req.json()["text"]}
        self.state[note_id] = note
        self.record(req, "note.created", note_id, text=note["text"])
        return self.respond(201, note)

    @route("GET", "/notes")
    def list_notes(self, req: FakeRequest) -> httpx.Response:
        return self.respond(200, {"data": list(self.state.values())})

    @route("GET", "/notes/{id}")
    def get(self, req: FakeRequest) -> httpx.Response:
        note = self.state.get(req.params["id"])
        if note is None:
            return self.error(404, f"No such note: {req.params['id']}", code="resource_missing")
        return self.respond(200, note)


@pytest.fixture
def notes() -> Notes:
    return Notes()


@pytest.fixture(autouse=True)
def _not_on_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's own runs of chaoskit must not annotate or summarise the CI job running it."""
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
