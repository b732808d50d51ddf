"""Bad scenario files get an error that names the file, the field, what is wrong and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit import InvalidScenario
from chaoskit.scenarios import load_scenario, load_scenarios, scenario

GOOD = """
name = "ok"
task = "Refund order {order.id}"
backends = ["payments", "crm"]

[[faults]]
kind = "timeout_after_commit"
target = "payments: POST /v1/refunds"
explore = true

[[invariants]]
name = "at_most_one_effect_per_intent"
"""


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_for(tmp_path: Path, old: str, new: str) -> str:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(InvalidScenario) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    return message


def test_a_good_file_loads(tmp_path: Path) -> None:
    loaded = load_scenario(write(tmp_path, GOOD, "good.toml"))
    assert loaded.faults[0].label == "timeout_after_commit @ payments: POST /v1/refunds"


def test_an_unknown_fault_kind_names_the_fault_and_suggests_the_close_one(tmp_path: Path) -> None:
    message = error_for(tmp_path, 'kind = "timeout_after_commit"', 'kind = "timeout_after_comit"')
    assert "faults[0]: unknown fault kind 'timeout_after_comit'" in message
    assert "Did you mean 'timeout_after_commit'?" in message


def test_an_unknown_backend_in_a_target_suggests_the_close_one(tmp_path: Path) -> None:
    message = error_for(tmp_path, '"payments: POST', '"payment: POST')
    assert "faults[0].target: unknown backend 'payment'. Did you mean 'payments'?" in message


def test_an_unknown_backend_in_the_backend_list_is_named(tmp_path: Path) -> None:
    message = error_for(tmp_path, '["payments", "crm"]', '["payments", "cmr"]')
    assert "backends: unknown backend 'cmr'. Did you mean 'crm'?" in message


def test_bad_target_syntax_shows_the_expected_form(tmp_path: Path) -> None:
    message = error_for(tmp_path, '"payments: POST /v1/refunds"', '"POST /v1/refunds"')
    assert "faults[0], target: bad fault target 'POST /v1/refunds'" in message
    assert "'backend: METHOD /path'" in message


def test_a_target_matching_no_route_suggests_the_close_route(tmp_path: Path) -> None:
    message = error_for(tmp_path, "POST /v1/refunds", "POST /v1/refund")
    assert "has no route matching 'POST /v1/refund'. Did you mean 'POST /v1/refunds'?" in message


def test_an_unknown_invariant_suggests_the_close_one(tmp_path: Path) -> None:
    message = error_for(tmp_path, 'name = "at_most_one', 'name = "at_most_once')
    assert "unknown invariant 'at_most_once_effect_per_intent'" in message
    assert "Did you mean 'at_most_one_effect_per_intent'?" in message


def test_a_template_field_missing_from_the_world_lists_the_available_ones(tmp_path: Path) -> None:
    message = error_for(tmp_path, "{order.id}", "{order.number}")
    assert "task: template field {order.number} is not in the world" in message
    assert "{order.id}" in message


def test_a_wrong_toml_type_names_the_field_and_the_value(tmp_path: Path) -> None:
    message = error_for(tmp_path, "explore = true", 'explore = "often"')
    assert "field 'explore'" in message
    assert "'often'" in message


def test_an_unknown_top_level_field_suggests_the_close_one(tmp_path: Path) -> None:
    message = error_for(tmp_path, 'task = "', 'taks = "')
    assert "unknown field 'taks'. Did you mean 'task'?" in message


def test_broken_toml_syntax_is_reported_with_its_position(tmp_path: Path) -> None:
    message = error_for(tmp_path, 'name = "ok"', 'name = "ok')
    assert "not valid TOML" in message


def test_one_bad_file_never_stops_the_others(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a_good.toml")
    write(tmp_path, GOOD.replace("{order.id}", "{order.nope}"), "b_bad.toml")
    write(tmp_path, GOOD.replace('name = "ok"', 'name = "ok-too"'), "c_good.toml")
    loaded, errors = load_scenarios([tmp_path])
    assert [s.name for s in loaded] == ["ok", "ok-too"]
    assert len(errors) == 1 and "b_bad.toml" in str(errors[0])


def test_the_python_builder_gives_the_same_errors() -> None:
    with pytest.raises(InvalidScenario, match=r"scenario 'x', faults\[0\]: unknown fault kind"):
        scenario(name="x", task="hi", faults=[{"kind": "nope", "target": "payments: /v1/refunds"}])


MISTYPED = [
    # (what the file says, the table it is in, the misspelt field, the suggestion)
    ("explore = true", "explor = true", "faults[0]: unknown field 'explor'", "explore"),
    (
        "[[invariants]]",
        "[budget]\ntool_cals = 3\n\n[[invariants]]",
        "'budget.tool_cals'",
        "tool_calls",
    ),
    ("[[invariants]]", "[world]\ncustmers = 1\n\n[[invariants]]", "'world.custmers'", "customers"),
    (
        'kind = "timeout_after_commit"',
        'kind = "server_error"\nstatuss = 503',
        "faults[0]: unknown field 'statuss'",
        "status",
    ),
    (
        "[[invariants]]",
        '[[sometimes]]\nname = "x"\nfaultt = "rate_limit"\n\n[[invariants]]',
        "'sometimes[0].faultt'",
        "fault",
    ),
    (
        'name = "at_most_one_effect_per_intent"',
        'name = "at_most_one_effect_per_intent"\nefect = "refund.created"',
        "invariant 'at_most_one_effect_per_intent': no parameter 'efect'",
        "effect",
    ),
]


@pytest.mark.parametrize(("old", "new", "where", "suggestion"), MISTYPED)
def test_a_mistyped_field_at_any_level_gets_the_field_and_a_did_you_mean(
    tmp_path: Path, old: str, new: str, where: str, suggestion: str
) -> None:
    message = error_for(tmp_path, old, new)
    assert where in message
    assert f"Did you mean '{suggestion}'?" in message
    assert "Extra inputs are not permitted" not in message


def test_a_mistyped_field_deep_in_the_model_script_is_named_by_its_path() -> None:
    turns = [{"tool_calls": [{"tool": "refund", "argumnts": {}}]}, {"reply": "done"}]
    with pytest.raises(InvalidScenario) as info:
        scenario(name="m", task="Refund {order.id}", model={"provider": "openai", "turns": turns})
    assert str(info.value) == (
        "scenario 'm': unknown field 'model.turns[0].tool_calls[0].argumnts'. "
        "Did you mean 'arguments'? Allowed: tool, arguments."
    )


def test_a_correct_fault_field_is_not_taken_for_a_typo(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "timeout_after_commit"', 'kind = "server_error"\nstatus = 503')
    assert load_scenario(write(tmp_path, text)).faults[0].fault.status == 503  # type: ignore[union-attr]
