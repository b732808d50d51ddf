"""The model inside a run: install the scenario's script, let Hypothesis perturb it, and read
back what it did (misbehaviours as faults, usage, a script that was not played out); or, for
``model = "passthrough"``, the real model on its allowed hosts, live, recorded or replayed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chaoskit.fakes.model import Cassette, ModelCall, PassthroughModel, ScriptedModel
from chaoskit.results import Finding, FiredFault
from chaoskit.scenarios import Scenario, script_context
from chaoskit.world.data import WorldData
from chaoskit.world.egress import send_for_real
from chaoskit.world.trace import CommitEvent, Event, RequestEvent
from chaoskit.world.world import World

__all__ = [
    "Chooser",
    "install_model",
    "misbehaviours_fired",
    "model_findings",
    "model_traffic_lines",
    "passthrough_model",
    "passthrough_outcome",
]

#: Picks a misbehaviour (or None) for one model call; the engine draws it from Hypothesis.
Chooser = Callable[[ModelCall], str | None]


def install_model(
    scenario: Scenario, world: World, data: WorldData, choose: Chooser | None
) -> ScriptedModel | None:
    """Install the scenario's script on its provider's fake; misbehaviours come from
    ``pinned`` first, then from ``choose`` for the calls ``explore`` leaves open."""
    spec = scenario.model
    if spec is None:
        return None
    fake = world[spec.provider]
    assert isinstance(fake, ScriptedModel)
    if spec.prices is not None:
        fake.prices = dict(spec.prices)
    fake.install(spec.script(scenario.name), script_context(data))
    pinned = {p.call: p.misbehaviour for p in spec.pinned}

    def misbehave(call: ModelCall) -> str | None:
        if call.number in pinned:
            return pinned[call.number]
        return choose(call) if (choose is not None and spec.explore) else None

    fake.misbehave = misbehave
    return fake


def misbehaviours_fired(fake: ScriptedModel, trace: Sequence[Event]) -> tuple[FiredFault, ...]:
    """Each applied misbehaviour as a fault of the call that carried it, by name."""
    requests = {e.call: e for e in trace if isinstance(e, RequestEvent)}
    commits = {
        e.ledger_seq: e.call for e in trace if isinstance(e, CommitEvent) and e.backend == fake.name
    }
    fired = []
    for entry in fake.ledger.entries("model.misbehaved"):
        call = commits.get(entry.seq)
        request = requests.get(call) if call is not None else None
        name = str(entry.fields.get("misbehaviour"))
        fired.append(
            FiredFault(
                call=call or 0,
                at=request.at if request else entry.at,
                backend=fake.name,
                route=request.route if request else "model",
                kind=name,
                rule=f"misbehaviour {name}",
                detail=f"model call {entry.fields.get('call')}",
            )
        )
    return tuple(fired)


def model_findings(fake: ScriptedModel, perturbed: bool) -> list[Finding]:
    """A script left half played in an unperturbed run means the scenario and agent disagree."""
    unused = fake.unused_turns()
    if not unused or perturbed:
        return []
    return [
        Finding(
            kind="model_script",
            message=(
                f"The model script ended with {len(unused)} turn(s) never played although no "
                "fault or misbehaviour touched this run: the agent stopped calling the model "
                "before the script's end. Fix the scenario's [model] turns or the agent's loop."
            ),
        )
    ]


def passthrough_model(scenario: Scenario, cassette: Cassette | None) -> PassthroughModel | None:
    """The scenario's real model on its allowed hosts, sent for real unless ``cassette``
    replays; ``None`` for a scenario without ``model = "passthrough"``."""
    if scenario.passthrough is None:
        return None
    return PassthroughModel(scenario.passthrough.allow_hosts, send=send_for_real, cassette=cassette)


def passthrough_outcome(world: World) -> tuple[dict[str, float], list[Finding]]:
    """The real model's usage in this run, and a finding for requests a cassette lacked."""
    model = next((f for f in world.backends.values() if isinstance(f, PassthroughModel)), None)
    if model is None:
        return {}, []
    missed = model.misses()
    if not missed or model.cassette is None:
        return model.usage(), []
    path = model.cassette.path
    finding = Finding(
        kind="model_cassette",
        message=(
            f"The agent asked the model something new: {missed} request(s) of this run are "
            f"not in the model cassette {str(path)!r}, so they were answered with an error "
            "instead of a recorded reply (the prompt, the tools or the conversation changed). "
            f"Re-record with --chaos-record-model={path} (chaoskit run --record-model {path})."
        ),
    )
    return model.usage(), [finding]


def model_traffic_lines(scenarios: Sequence[Scenario], cassette: Cassette | None) -> list[str]:
    """What a run header says about model traffic: loudly, where it leaves the machine.

    >>> model_traffic_lines([], None)
    []
    """
    if cassette is not None and not any(s.passthrough for s in scenarios):
        return [
            f'chaoskit: no scenario of this run has model = "passthrough": the model '
            f"cassette {str(cassette.path)!r} is not used."
        ]
    if cassette is not None and cassette.mode == "replay":
        where = f"answered from the model cassette {str(cassette.path)!r}"
        return [f"chaoskit: model calls of passthrough scenarios are {where}: nothing leaves."]
    lines = [
        f"chaoskit: WARNING: model traffic LEAVES this machine for real: scenario "
        f'{s.name!r} (model = "passthrough") sends its model calls to '
        f"{', '.join(s.passthrough.allow_hosts)}; every other backend stays faked."
        for s in scenarios
        if s.passthrough is not None
    ]
    if cassette is not None:
        lines.append(
            f"chaoskit: recording every passthrough model request and response to "
            f"{str(cassette.path)!r} (replay it with --chaos-replay-model / --replay-model)."
        )
    return lines
