from __future__ import annotations

import importlib
import pkgutil

import httpx
import hypothesis.internal.conjecture.providers
import pytest

import chaoskit
from chaoskit.fakes import FakeBackend, FakeRequest, route


def _import_everything() -> None:
    """Every chaoskit module, and Hypothesis's providers, imported once before any test.

    pytester's in-process runs drop the modules first imported inside them; a module imported
    again beside others kept from before is a second copy of its classes, and then a fault or
    a provider of one copy fails the other's isinstance checks (an order-dependent failure:
    it shows only when no earlier test module happened to import the module first)."""
    assert hypothesis.internal.conjecture.providers.PrimitiveProvider
    for module in pkgutil.walk_packages(chaoskit.__path__, "chaoskit."):
        if module.name.endswith("__main__"):  # runs the command
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional dependency this environment lacks
            continue


_import_everything()


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
