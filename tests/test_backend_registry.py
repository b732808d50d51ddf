"""A backend of the user's own: registered by name, handed its own credential, given its own
scenario options, without the engine knowing it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chaoskit import EngineSettings, InvalidScenario, Task, WorldError, explore
from chaoskit.core.models import FrozenModel
from chaoskit.engine.example import backends_for
from chaoskit.fakes import FakeBackend, FakeRequest, Payments, register_backend, registry, route
from chaoskit.scenarios import load_scenario, scenario


class NotesOptions(FrozenModel):
    greeting: str = "hello"


class Notes(FakeBackend):
    name = "notes"
    default_host = "notes.internal.test"
    Options = NotesOptions
    greeting = "unset"

    def credential(self, principal_token: str) -> str:
        return f"notes-key-for-{principal_token}"

    def apply_options(self, options: NotesOptions) -> None:
        self.greeting = options.greeting

    @route("POST", "/notes")
    def create(self, req: FakeRequest) -> httpx.Response:
        note_id = self.new_id("note")
        self.record(req, "note.created", note_id, greeting=self.greeting)
        return self.respond(201, {"id": note_id, "greeting": self.greeting})


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "_REGISTERED", {})
    yield


def notes_scenario() -> dict[str, object]:
    return {"name": "notes", "task": "Write a note for {customer.name}", "backends": ["notes"]}


def test_a_registered_backend_gets_its_options_and_hands_out_its_own_credential() -> None:
    register_backend(Notes)
    built = scenario(**notes_scenario(), notes={"greeting": "bonjour"})
    seen: list[Task] = []

    def agent(task: Task) -> str:
        seen.append(task)
        r = httpx.post(f"{task.urls['notes']}/notes", json={}, headers=task.auth("notes"))
        return f"Note {r.json()['id']} says {r.json()['greeting']}."

    result = explore(built, agent, agent_name="notes-agent", config=EngineSettings(examples=2))
    assert result.status != "error", result
    assert seen and all(
        t.credentials["notes"] == f"notes-key-for-{t.principal.token}" for t in seen
    )
    (fake,) = backends_for(built)
    assert isinstance(fake, Notes) and fake.greeting == "bonjour"


def test_options_default_when_the_scenario_gives_none() -> None:
    register_backend(Notes)
    (fake,) = backends_for(scenario(**notes_scenario()))
    assert isinstance(fake, Notes) and fake.greeting == "hello"


def test_a_misspelt_option_names_the_table_and_the_close_field(tmp_path: Path) -> None:
    register_backend(Notes)
    path = tmp_path / "notes.toml"
    path.write_text(
        'name = "notes"\ntask = "Hi {customer.name}"\nbackends = ["notes"]\n'
        '[notes]\ngreting = "yo"\n'
    )
    with pytest.raises(InvalidScenario) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: unknown field 'notes.greting'.")
    assert "Did you mean 'greeting'?" in str(info.value)


def test_an_option_of_the_wrong_type_names_the_table() -> None:
    register_backend(Notes)
    with pytest.raises(InvalidScenario, match=r"\[notes\]: field 'greeting'"):
        scenario(**notes_scenario(), notes={"greeting": 3})


def test_an_unregistered_backend_says_how_to_register_it() -> None:
    with pytest.raises(InvalidScenario) as info:
        scenario(**notes_scenario())
    assert "unknown backend 'notes'" in str(info.value)
    assert "chaoskit.fakes.register_backend()" in str(info.value)
    with pytest.raises(InvalidScenario, match=r"\[notes\] gives options to backend 'notes'"):
        scenario(**notes_scenario(), notes={"greeting": "yo"})
    # Not in the backend list either: just an unknown field.
    with pytest.raises(InvalidScenario, match="unknown field 'notes'"):
        scenario(name="x", task="Hi", notes={"greeting": "yo"})


def test_a_backend_that_takes_no_options_rejects_them() -> None:
    with pytest.raises(InvalidScenario, match="'crm' takes no options"):
        scenario(name="x", task="Hi", options={"crm": {"speed": 1}})


def test_a_built_in_name_cannot_be_taken_over() -> None:
    class FakePayments(Payments):
        pass

    with pytest.raises(WorldError, match="'payments' is a built-in backend"):
        register_backend(FakePayments)


def test_approvals_options_still_come_from_the_approvals_table() -> None:
    (approvals,) = backends_for(
        scenario(name="x", task="Hi", backends=["approvals"], approvals={"reviewer": "deny"})
    )
    assert approvals.reviewer == "deny"  # type: ignore[attr-defined]


def test_a_scenarios_payments_table_sets_the_commit_latency() -> None:
    (payments,) = backends_for(
        scenario(name="x", task="Hi", backends=["payments"], payments={"commit_latency": 2.5})
    )
    assert payments.commit_latency == 2.5  # type: ignore[attr-defined]
    (default,) = backends_for(scenario(name="x", task="Hi", backends=["payments"]))
    assert default.commit_latency == 0.0  # type: ignore[attr-defined]


def test_a_negative_commit_latency_is_an_invalid_scenario() -> None:
    with pytest.raises(InvalidScenario, match="commit_latency"):
        scenario(name="x", task="Hi", backends=["payments"], payments={"commit_latency": -1})
