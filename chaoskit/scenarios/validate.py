"""Validation that teaches: every mistake names the file, the field, what is wrong and the fix."""

from __future__ import annotations

import string
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from chaoskit.core.errors import InvalidFault, InvalidScenario, WorldError
from chaoskit.core.names import did_you_mean
from chaoskit.fakes.model import MISBEHAVIOURS, PassthroughModel, ScriptedModel
from chaoskit.fakes.registry import BUILTIN_BACKENDS, backend_class, backend_names
from chaoskit.invariants import REGISTRY
from chaoskit.scenarios.fields import TEMPLATE_FIELDS
from chaoskit.scenarios.model import InvariantSpec, ModelSpec, Scenario
from chaoskit.world.faults import FAULT_KINDS, STORE, Fault, FaultRule, Target
from chaoskit.world.storecalls import check_store_target

__all__ = ["validate"]


_FAULT: TypeAdapter[Fault] = TypeAdapter(Fault)


_REGISTER_HINT = (
    "A backend of your own must be registered before the scenario loads, with "
    "chaoskit.fakes.register_backend(): in conftest.py, or in the module the agent comes from."
)
_SCHEDULE_KEYS = {"calls", "always", "window", "explore", "name", "target", "kind"}
#: Each fault kind's model, for the fields a ``[[faults]]`` table of that kind may have.
_FAULT_CLASSES: dict[str, type[BaseModel]] = {
    cls.model_fields["kind"].default: cls for cls in get_args(get_args(Fault)[0])
}
_SCHEDULE_ORDER = ("kind", "target", "explore", "calls", "always", "window", "name")


#: The fields a scenario file may set: ``passthrough`` comes from ``model = "passthrough"``.
_TOP_LEVEL = [*(f for f in Scenario.model_fields if f != "passthrough"), "allow_hosts"]
PASSTHROUGH = "passthrough"


def _passthrough(data: dict[str, Any], where: str) -> dict[str, Any] | None:
    """``model = "passthrough"`` and ``allow_hosts``, checked together, as ``passthrough``."""
    model = data.get("model")
    hosts = data.pop("allow_hosts", None)
    if isinstance(model, str):
        if model != PASSTHROUGH:
            raise InvalidScenario(
                f"{where}, model: unknown model {model!r}.{did_you_mean(model, [PASSTHROUGH])} "
                'model is a [model] table (the scripted fake) or "passthrough" (your real '
                "model, with allow_hosts)."
            )
        del data["model"]
        if not hosts:
            raise InvalidScenario(
                f'{where}: model = "passthrough" lets the agent\'s model calls leave this '
                "machine, so it needs allow_hosts: the hosts they may reach, e.g. "
                'allow_hosts = ["api.openai.com"] (or ["api.anthropic.com"]); every other '
                "host stays faked."
            )
        if not isinstance(hosts, list | tuple):
            raise InvalidScenario(
                f'{where}: allow_hosts must be a list of hosts, e.g. ["api.openai.com"]; '
                f"got {type(hosts).__name__}."
            )
        listed = list(hosts)
        checked = [_allowed_host(h, f"{where}, allow_hosts[{i}]") for i, h in enumerate(listed)]
        return {"allow_hosts": checked}
    if hosts is not None:
        raise InvalidScenario(
            f'{where}: allow_hosts only applies to model = "passthrough" (the agent\'s real '
            'model); remove it, or set model = "passthrough".'
        )
    return None


def _allowed_host(value: Any, where: str) -> str:
    """``host`` or ``host:port``, lower case; a URL or a pattern is refused with the fix."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if "://" in text:
        host = text.split("://", 1)[1].split("/", 1)[0]
        raise InvalidScenario(
            f"{where}: {value!r} is a URL; write the host only (and a port if any): {host!r}."
        )
    if not text or "/" in text or "*" in text or " " in text:
        raise InvalidScenario(
            f"{where}: {value!r} is not a host; write a host name or address, with a port if "
            'it needs one: "api.openai.com", "127.0.0.1:8080".'
        )
    _, colon, port = text.rpartition("]:" if text.startswith("[") else ":")
    if colon and not port.isdigit():
        raise InvalidScenario(
            f"{where}: {value!r} has a port that is not a number (an IPv6 address goes in "
            'brackets: "[::1]:8080").'
        )
    return text


def _fault_fields(kind: str) -> list[str]:
    """What a ``[[faults]]`` table of this kind may hold: the schedule, then the fault's own."""
    own = [f for f in _FAULT_CLASSES[kind].model_fields if f not in _SCHEDULE_ORDER]
    return [*_SCHEDULE_ORDER, *own]


def validate(data: Mapping[str, Any], *, where: str) -> Scenario:
    """A :class:`Scenario` from a TOML table or keyword arguments, else :class:`InvalidScenario`."""
    data = dict(data)
    options = _lift_options(data, where)
    _check_unregistered_tables(data, where)
    _check_keys(data, [*_TOP_LEVEL, *_optioned()], where, section="")
    data["passthrough"] = _passthrough(data, where)
    data["options"] = options
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
        raise InvalidScenario(_explain(error, where, Scenario)) from None
    _check_semantics(built, where)
    return built


def _optioned() -> list[str]:
    """The backends that take options, each from a table of its name (``[approvals]``)."""
    return [name for name in backend_names() if backend_class(name).Options is not None]


def _lift_options(data: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Move each ``[<backend>]`` table into ``options``, checked by the backend's model."""
    options: dict[str, dict[str, Any]] = dict(data.pop("options", None) or {})
    for name in _optioned():
        if name in data:
            options[name] = data.pop(name)
    for name, table in options.items():
        try:
            model = backend_class(name).Options
        except WorldError as error:
            problem = str(error).removeprefix("chaoskit: ")
            raise InvalidScenario(f"{where}, options: {problem}") from None
        if model is None:
            raise InvalidScenario(f"{where}: backend {name!r} takes no options; remove [{name}].")
        if not isinstance(table, Mapping):
            raise InvalidScenario(f"{where}: [{name}] must be a table, got {type(table).__name__}.")
        _check_keys(table, model.model_fields, where, section=f"{name}.")
        try:
            options[name] = model.model_validate(table).model_dump()
        except ValidationError as error:
            raise InvalidScenario(_explain(error, f"{where}, [{name}]", model)) from None
    return options


def _check_unregistered_tables(data: Mapping[str, Any], where: str) -> None:
    """A table named after a listed backend that is not registered: say how to register it."""
    listed = data.get("backends") or ()
    for key, value in data.items():
        if isinstance(value, Mapping) and key in listed and key not in backend_names():
            raise InvalidScenario(
                f"{where}: [{key}] gives options to backend {key!r}, but no backend of that "
                f"name is registered. {_REGISTER_HINT}"
            )


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
                f"{where}: unknown field {section + key!r}.{hint} Allowed: {', '.join(names)}."
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
    _check_keys(spec, _fault_fields(kind), where, section="")
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
    backends = built.backends or tuple(BUILTIN_BACKENDS)
    for name in backends:
        if name not in backend_names():
            raise InvalidScenario(
                f"{where}, backends: {_unknown(name, backend_names(), 'backend')} {_REGISTER_HINT}"
            )
    if built.model is not None:
        backends = (*backends, built.model.provider)
        _check_model(built.model, f"{where}, model")
    if built.passthrough is not None:
        backends = (*backends, PassthroughModel.name)
    for i, rule in enumerate(built.faults):
        _check_target(rule, backends, f"{where}, faults[{i}].target")
    built.build_invariants()
    _check_template(built.task, f"{where}, task")
    if built.delivery.follow_up is not None:
        _check_template(built.delivery.follow_up, f"{where}, delivery.follow_up")
    for i, expectation in enumerate(built.expect):
        for key, value in expectation.where.items():
            _check_template(value, f"{where}, expect[{i}].where.{key}")
    for i, prop in enumerate(built.sometimes):
        kinds = (*FAULT_KINDS, *MISBEHAVIOURS)
        if prop.fault is not None and prop.fault not in kinds:
            problem = _unknown(prop.fault, kinds, "fault kind or misbehaviour")
            raise InvalidScenario(f"{where}, sometimes[{i}].fault: {problem}")
        if prop.delivery is not None and not _may_deliver(built, prop.delivery):
            raise InvalidScenario(
                f"{where}, sometimes[{i}].delivery: a {prop.delivery!r} delivery can never "
                f"happen here; allow it in [delivery] ({_DELIVERY_FIELDS[prop.delivery]})."
            )
        if prop.target is not None:
            try:
                Target.parse(prop.target)
            except InvalidFault as error:
                raise InvalidScenario(
                    f"{where}, sometimes[{i}].target: {str(error).removeprefix('chaoskit: ')}"
                ) from None


#: What ``[delivery]`` must say for each kind of delivery a sometimes-property may expect.
_DELIVERY_FIELDS = {
    "redelivery": "attempts = 2 or more, with an agent_crash fault",
    "duplicate": "duplicate = true",
    "follow_up": 'follow_up = "..."',
    "concurrent": "concurrent = true",
}


def _may_deliver(built: Scenario, reason: str) -> bool:
    spec = built.delivery
    crashes = any(rule.fault.kind == "agent_crash" for rule in built.faults)
    return {
        "redelivery": spec.attempts > 1 and crashes,
        "duplicate": spec.duplicate,
        "follow_up": spec.follow_up is not None,
        "concurrent": spec.concurrent,
    }[reason]


def _check_model(spec: ModelSpec, where: str) -> None:
    providers = [n for n in backend_names() if issubclass(backend_class(n), ScriptedModel)]
    if spec.provider not in providers:
        raise InvalidScenario(f"{where}.provider: {_unknown(spec.provider, providers, 'provider')}")
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
    target = rule.target
    if target.backend == STORE:
        try:
            check_store_target(rule)
        except InvalidFault as error:
            raise InvalidScenario(f"{where}: {str(error).removeprefix('chaoskit: ')}") from None
        return
    if target.backend not in backends:
        known = (*backends, STORE)
        raise InvalidScenario(f"{where}: {_unknown(target.backend, known, 'backend')}")
    cls = PassthroughModel if target.backend == PassthroughModel.name else None
    routes = (cls or backend_class(target.backend)).routes()
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


def _explain(error: ValidationError, where: str, model: type[BaseModel] | None = None) -> str:
    """pydantic's errors in the scenario's words; an unknown field gets a did-you-mean, and
    only unknown fields are shown when there are some (a typo explains the rest)."""
    extra = [item for item in error.errors() if item["type"] == "extra_forbidden"]
    if extra and model is not None:
        return f"{where}: " + " Also: ".join(_unknown_field(item["loc"], model) for item in extra)
    problems = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        got = item.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict | list) else ""
        problems.append(f"field {loc!r}: {item['msg']}{shown}")
    return f"{where}: " + "; ".join(problems) + "."


def _unknown_field(loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    *parent, key = loc
    shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    names = _fields_at(model, parent)
    hint = did_you_mean(str(key), names)
    allowed = f" Allowed: {', '.join(names)}." if names else ""
    return f"unknown field {shown!r}.{hint}{allowed}"


def _fields_at(annotation: Any, loc: Sequence[int | str]) -> list[str]:
    """The field names of the model found by following ``loc`` through type annotations."""
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    found = _model_in(annotation)
    return list(found.model_fields) if found else []


def _step(annotation: Any, part: int | str) -> Any:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        steps = (_step(arg, part) for arg in get_args(annotation))
        return next((s for s in steps if s is not None), None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field else None
    args = get_args(annotation)
    if origin in (tuple, list) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
