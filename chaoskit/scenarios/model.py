"""Scenarios: a task, a world, the faults to explore, a budget and the invariants that must hold.

Written as TOML files (``scenarios/*.toml``) or in Python with :func:`scenario`; both go
through the same validation, and every mistake is an :class:`InvalidScenario` that names the
file, the field, what is wrong and how to fix it.

.. code-block:: toml

    name = "refund-timeout-after-commit"
    task = "My order {order.id} arrived broken. Please refund it."

    [[faults]]
    kind = "timeout_after_commit"
    target = "payments: POST /v1/refunds"
    explore = true

    [[invariants]]
    name = "at_most_one_effect_per_intent"
    effect = "refund.created"
    key = "charge"
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from chaoskit.core.agent import Budget
from chaoskit.core.errors import InvalidFault, InvalidScenario
from chaoskit.core.models import FrozenModel
from chaoskit.core.names import did_you_mean
from chaoskit.fakes.model import MISBEHAVIOURS, ModelScript, ScriptTurn
from chaoskit.invariants import REGISTRY, Invariant, build_invariant
from chaoskit.world.data import WorldData, WorldRecipe
from chaoskit.world.faults import FAULT_KINDS, Fault, FaultRule, Target

__all__ = [
    "TEMPLATE_FIELDS",
    "Expectation",
    "ModelSpec",
    "Scenario",
    "Sometimes",
    "builtin_scenarios",
    "load_scenario",
    "load_scenarios",
    "resolve_scenario",
    "scenario",
    "script_context",
    "task_context",
]

_FAULT: TypeAdapter[Fault] = TypeAdapter(Fault)
_SCHEDULE_KEYS = {"calls", "always", "window", "explore", "name", "target", "kind"}


class Expectation(FrozenModel):
    """An expected end state: exactly ``count`` ledger entries of ``effect`` matching ``where``.

    ``where`` values are task templates: ``{charge = "{order.charge_id}"}``.
    """

    effect: str
    count: int = Field(ge=0)
    where: dict[str, str] = Field(default_factory=dict)


class Sometimes(FrozenModel):
    """A property that must hold in at least one example: the fault really reached its call."""

    name: str
    fault: str | None = None
    target: str | None = None


class InvariantSpec(FrozenModel):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class PinnedMisbehaviour(FrozenModel):
    """A misbehaviour the fake model always shows on one model call (1 = the first)."""

    call: int = Field(ge=1)
    misbehaviour: str


class ModelSpec(FrozenModel):
    """The fake LLM of a scenario: what a competent model would do, and how it may misbehave.

    ``turns`` is the script (tool calls or a final reply per model call; placeholders are the
    task-template fields with ``_`` for ``.``: ``{order_id}``, ``{order_charge_id}``…).
    ``explore`` lists the misbehaviours Hypothesis may pick on each model call; ``pinned``
    fixes some by call number.
    """

    provider: Literal["openai", "anthropic"]
    turns: tuple[ScriptTurn, ...] = Field(min_length=1)
    explore: tuple[str, ...] = ()
    pinned: tuple[PinnedMisbehaviour, ...] = ()
    prices: dict[str, tuple[float, float]] | None = None

    def script(self, name: str) -> ModelScript:
        return ModelScript(name=name, turns=self.turns)


class ApprovalsSpec(FrozenModel):
    reviewer: Literal["approve", "deny", "never"] = "approve"
    decision_after: float = Field(default=0.0, ge=0)


class Scenario(FrozenModel):
    """A validated scenario. Build one with :func:`scenario` or :func:`load_scenario`."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    task: str
    principal: Literal["user", "service_account"] = "user"
    backends: tuple[str, ...] | None = None
    world: WorldRecipe = WorldRecipe()
    approvals: ApprovalsSpec = ApprovalsSpec()
    model: ModelSpec | None = None
    faults: tuple[FaultRule, ...] = ()
    budget: Budget = Budget()
    invariants: tuple[InvariantSpec, ...] = ()
    expect: tuple[Expectation, ...] = ()
    sometimes: tuple[Sometimes, ...] = ()
    tags: tuple[str, ...] = ()
    source: str | None = None

    def build_invariants(self) -> list[Invariant]:
        where = self.source or f"scenario {self.name!r}"
        return [
            build_invariant(spec.name, spec.params, where=f"{where}, [[invariants]]")
            for spec in self.invariants
        ]

    def message(self, world: WorldData) -> str:
        """The user's message with the world's fields filled in."""
        context = task_context(world)
        for _, field, _, _ in string.Formatter().parse(self.task):
            if field is not None:
                obj, _, attr = field.partition(".")
                if getattr(context[obj], attr, None) is None:
                    raise InvalidScenario(
                        f"{self.source or self.name}, task: {{{field}}} is empty in this world "
                        f"(seed {world.seed}); ask the world for it in [world], e.g. "
                        'order_status = "shipped" for a tracking number, or '
                        "outsider_accounts = 1 for {outsider.*}."
                    )
        return self.task.format(**context)


#: Every field a task template may use, e.g. ``{order.id}``.
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "order": ("id", "charge_id", "amount", "dollars", "currency", "status", "tracking_number"),
    "customer": ("id", "name", "email", "account_id", "domain"),
    "outsider": ("id", "name", "email", "account_id"),
    "contact": ("id", "name", "email", "role"),
    "note": ("id", "text"),
    "user": ("id",),
}


class _Fields:
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def script_context(world: WorldData) -> dict[str, str]:
    """The values a model script's placeholders can use: ``{order_id}`` for ``{order.id}``."""
    context = task_context(world)
    return {
        f"{obj}_{attr}": str(value)
        for obj, attrs in TEMPLATE_FIELDS.items()
        for attr in attrs
        if (value := getattr(context[obj], attr)) is not None
    }


def task_context(world: WorldData) -> dict[str, _Fields]:
    """The objects a task template can reach, built from a generated world."""
    customers = world.customers
    mine = next((c for c in customers if c.in_scope), customers[0])
    outsider = next((c for c in customers if not c.in_scope), None)
    order = world.orders[0] if world.orders else None
    contact = next((c for c in world.contacts if c.customer == customers.index(mine)), None)
    note = world.notes[0] if world.notes else None
    return {
        "order": _Fields(
            id=order and order.order_id,
            charge_id=order and order.charge_id,
            amount=order and order.amount,
            dollars=order and f"{order.amount / 100:.2f}",
            currency=order and order.currency,
            status=order and order.status,
            tracking_number=order and order.tracking_number,
        ),
        "customer": _Fields(
            id=mine.customer_id,
            name=mine.name,
            email=mine.email,
            account_id=mine.account_id,
            domain=mine.domain,
        ),
        "outsider": _Fields(
            id=outsider and outsider.customer_id,
            name=outsider and outsider.name,
            email=outsider and outsider.email,
            account_id=outsider and outsider.account_id,
        ),
        "contact": _Fields(
            id=contact and contact.contact_id,
            name=contact and contact.name,
            email=contact and contact.email,
            role=contact and contact.role,
        ),
        "note": _Fields(id=note and note.note_id, text=note and note.text),
        "user": _Fields(id=world.user.user_id),
    }


# -- building and validating ----------------------------------------------------------------------


def scenario(**fields: Any) -> Scenario:
    """Build a scenario in Python with the same checks as a TOML file.

    >>> s = scenario(
    ...     name="refund-timeout",
    ...     task="Refund order {order.id}",
    ...     faults=[{"kind": "timeout_after_commit", "target": "payments: POST /v1/refunds",
    ...              "explore": True}],
    ...     invariants=[{"name": "at_most_one_effect_per_intent"}],
    ... )
    """
    return _validate(fields, where=f"scenario {fields.get('name', '<unnamed>')!r}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one TOML scenario file."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidScenario(f"{where}: no such scenario file.") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidScenario(f"{where}: not valid TOML: {error}. Fix the syntax.") from None
    return _validate({**data, "source": where}, where=where)


def builtin_scenarios() -> list[Path]:
    """The scenario files shipped with chaoskit (``chaoskit.scenarios``)."""
    from importlib import resources

    folder = resources.files("chaoskit.scenarios.builtin")
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".toml"))


def resolve_scenario(ref: str | Path) -> Scenario:
    """A scenario from a file path, or a built-in one by name or file stem.

    >>> resolve_scenario("refund-timeout-after-commit").name
    'refund-timeout-after-commit'
    """
    path = Path(ref)
    if path.suffix == ".toml" or path.exists():
        return load_scenario(path)
    wanted = str(ref).replace("_", "-")
    files = builtin_scenarios()
    for file in files:
        if file.stem.replace("_", "-") == wanted:
            return load_scenario(file)
    names = [f.stem.replace("_", "-") for f in files]
    hint = did_you_mean(wanted, names)
    raise InvalidScenario(
        f"chaoskit: no scenario file {str(ref)!r} and no built-in scenario of that name.{hint} "
        f"Built-in: {', '.join(names)}."
    )


def load_scenarios(paths: Iterable[str | Path]) -> tuple[list[Scenario], list[InvalidScenario]]:
    """Load every ``*.toml`` under the given files and folders; one bad file stops no other."""
    loaded: list[Scenario] = []
    errors: list[InvalidScenario] = []
    for path in _scenario_files(paths):
        try:
            loaded.append(load_scenario(path))
        except InvalidScenario as error:
            errors.append(error)
    return loaded, errors


def _scenario_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.rglob("*.toml")) if path.is_dir() else [path])
    return files


def _validate(data: Mapping[str, Any], *, where: str) -> Scenario:
    data = dict(data)
    _check_keys(data, Scenario.model_fields, where, section="")
    data["faults"] = [
        _fault_rule(spec, where=f"{where}, faults[{i}]")
        for i, spec in enumerate(_as_list(data.get("faults", []), where, "faults"))
    ]
    data["invariants"] = [
        _invariant_spec(spec, where=f"{where}, invariants[{i}]")
        for i, spec in enumerate(_as_list(data.get("invariants", []), where, "invariants"))
    ]
    try:
        built = Scenario.model_validate(data)
    except ValidationError as error:
        raise InvalidScenario(_explain(error, where)) from None
    _check_semantics(built, where)
    return built


def _as_list(value: Any, where: str, field: str) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    raise InvalidScenario(
        f"{where}: field {field!r} must be a list of tables ([[{field}]] in TOML), "
        f"got {type(value).__name__}."
    )


def _check_keys(data: Mapping[str, Any], known: Iterable[str], where: str, section: str) -> None:
    names = list(known)
    for key in data:
        if key not in names:
            hint = did_you_mean(key, names)
            raise InvalidScenario(
                f"{where}: unknown field {section}{key!r}.{hint} Allowed: {', '.join(names)}."
            )


def _fault_rule(spec: Any, *, where: str) -> FaultRule:
    if isinstance(spec, FaultRule):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidScenario(f"{where}: a fault must be a table, got {type(spec).__name__}.")
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        hint = did_you_mean(str(kind), FAULT_KINDS)
        raise InvalidScenario(
            f"{where}: unknown fault kind {kind!r}.{hint} Known kinds: {', '.join(FAULT_KINDS)}."
        )
    if "target" not in spec:
        raise InvalidScenario(
            f"{where}: field 'target' is missing; write e.g. "
            'target = "payments: POST /v1/refunds".'
        )
    try:
        target = Target.parse(str(spec["target"]))
        fault = _FAULT.validate_python(
            {k: v for k, v in spec.items() if k not in _SCHEDULE_KEYS} | {"kind": kind}
        )
        schedule = {k: v for k, v in spec.items() if k in _SCHEDULE_KEYS - {"target", "kind"}}
        return FaultRule(fault=fault, target=target, **schedule)
    except InvalidFault as error:
        raise InvalidScenario(f"{where}, target: {str(error).removeprefix('chaoskit: ')}") from None
    except ValidationError as error:
        raise InvalidScenario(_explain(error, where)) from None


def _invariant_spec(spec: Any, *, where: str) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"name": spec}
    if isinstance(spec, InvariantSpec):
        return spec.model_dump()
    if not isinstance(spec, Mapping) or "name" not in spec:
        example = min(REGISTRY, default="at_most_one_effect_per_intent")
        raise InvalidScenario(f'{where}: an invariant needs a name, e.g. name = "{example}".')
    return {"name": spec["name"], "params": {k: v for k, v in spec.items() if k != "name"}}


def _check_semantics(built: Scenario, where: str) -> None:
    from chaoskit.world.world import BUILTIN_BACKENDS

    backends = built.backends or tuple(BUILTIN_BACKENDS)
    if built.model is not None:
        backends = (*backends, built.model.provider)
        _check_model(built.model, f"{where}, model")
    for name in backends:
        if name not in BUILTIN_BACKENDS:
            raise InvalidScenario(
                f"{where}, backends: {_unknown(name, BUILTIN_BACKENDS, 'backend')}"
            )
    for i, rule in enumerate(built.faults):
        _check_target(rule, backends, f"{where}, faults[{i}].target")
    built.build_invariants()
    _check_template(built.task, f"{where}, task")
    for i, expectation in enumerate(built.expect):
        for key, value in expectation.where.items():
            _check_template(value, f"{where}, expect[{i}].where.{key}")
    for i, prop in enumerate(built.sometimes):
        kinds = (*FAULT_KINDS, *MISBEHAVIOURS)
        if prop.fault is not None and prop.fault not in kinds:
            problem = _unknown(prop.fault, kinds, "fault kind or misbehaviour")
            raise InvalidScenario(f"{where}, sometimes[{i}].fault: {problem}")
        if prop.target is not None:
            try:
                Target.parse(prop.target)
            except InvalidFault as error:
                raise InvalidScenario(
                    f"{where}, sometimes[{i}].target: {str(error).removeprefix('chaoskit: ')}"
                ) from None


def _check_model(spec: ModelSpec, where: str) -> None:
    named = [*spec.explore, *(p.misbehaviour for p in spec.pinned)]
    for name in named:
        if name not in MISBEHAVIOURS:
            raise InvalidScenario(f"{where}: {_unknown(name, MISBEHAVIOURS, 'misbehaviour')}")
    known = [f"{obj}_{attr}" for obj, attrs in TEMPLATE_FIELDS.items() for attr in attrs]
    for placeholder in sorted(spec.script("check").placeholders()):
        if placeholder not in known:
            raise InvalidScenario(
                f"{where}.turns: placeholder {{{placeholder}}} is not in the world."
                f"{_hint(placeholder, known)} Available: "
                f"{', '.join('{' + k + '}' for k in known)}."
            )


def _hint(name: str, known: Sequence[str]) -> str:
    return did_you_mean(name, known, show="{{{}}}".format)


def _check_target(rule: FaultRule, backends: Sequence[str], where: str) -> None:
    from chaoskit.world.world import BUILTIN_BACKENDS

    target = rule.target
    if target.backend not in backends:
        raise InvalidScenario(f"{where}: {_unknown(target.backend, backends, 'backend')}")
    routes = BUILTIN_BACKENDS[target.backend].routes()
    if not any(target.matches(target.backend, r.method, r.template) for r in routes):
        wanted = f"{target.method} {target.path}"
        hint = did_you_mean(wanted, [str(r) for r in routes], cutoff=0.5)
        raise InvalidScenario(
            f"{where}: {target.backend!r} has no route matching {wanted!r}.{hint} "
            f"Its routes: {'; '.join(str(r) for r in routes)}."
        )


def _check_template(template: str, where: str) -> None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise InvalidScenario(f"{where}: bad template {template!r}: {error}.") from None
    known = [f"{obj}.{attr}" for obj, attrs in TEMPLATE_FIELDS.items() for attr in attrs]
    for _, field, _, _ in parsed:
        if field is not None and field not in known:
            hint = did_you_mean(field, known, show="{{{}}}".format)
            raise InvalidScenario(
                f"{where}: template field {{{field}}} is not in the world.{hint} "
                f"Available: {', '.join('{' + k + '}' for k in known)}."
            )


def _unknown(name: str, known: Iterable[str], what: str) -> str:
    names = list(known)
    hint = did_you_mean(name, names)
    return f"unknown {what} {name!r}.{hint} Known: {', '.join(names)}."


def _explain(error: ValidationError, where: str) -> str:
    problems = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        got = item.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict | list) else ""
        problems.append(f"field {loc!r}: {item['msg']}{shown}")
    return f"{where}: " + "; ".join(problems) + "."
