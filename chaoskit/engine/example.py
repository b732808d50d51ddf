"""One example: a fresh world, the agent run once in it, and the run judged."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chaoskit.core.agent import Agent, Clients, Principal, Reply, Task
from chaoskit.core.store import TaskStore
from chaoskit.engine.deliveries import Delivered, Deliveries, Delivery, DeliveryChooser
from chaoskit.engine.external import OutOfProcessAgent
from chaoskit.engine.guarding import guard_findings, unrouted_findings
from chaoskit.engine.interleave import Choose
from chaoskit.engine.model import (
    Chooser,
    install_model,
    misbehaviours_fired,
    model_findings,
    passthrough_model,
    passthrough_outcome,
)
from chaoskit.engine.runner import AgentRun, Watch, hung_for_real, run_agent
from chaoskit.engine.together import Steps, run_together
from chaoskit.fakes import FakeBackend
from chaoskit.fakes.model import Cassette, ScriptedModel
from chaoskit.fakes.registry import BUILTIN_BACKENDS, backend_class
from chaoskit.invariants import Invariant, RunView, ledger_evidence
from chaoskit.results import (
    Decision,
    Example,
    Finding,
    FiredFault,
    Verdict,
)
from chaoskit.scenarios import Scenario
from chaoskit.world.data import WorldData, build_world
from chaoskit.world.faults import FaultRule
from chaoskit.world.guard import abandoned
from chaoskit.world.injector import Call
from chaoskit.world.integrity import tampering
from chaoskit.world.trace import DeliveryEvent, Event, ExceptionEvent, FaultEvent, RequestEvent
from chaoskit.world.world import World

__all__ = ["Running", "abandoned_example", "backends_for", "run_example", "task_for"]


def backends_for(scenario: Scenario, cassette: Cassette | None = None) -> list[FakeBackend]:
    """A fresh fake for each backend the scenario names, with the scenario's options applied.

    With ``model = "passthrough"`` the real model replaces the scripted fakes (``cassette``
    records or replays its traffic).
    """
    names = scenario.backends or tuple(BUILTIN_BACKENDS)
    if scenario.model is not None and scenario.model.provider not in names:
        names = (*names, scenario.model.provider)
    real = passthrough_model(scenario, cassette)
    if real is not None:
        names = tuple(n for n in names if not issubclass(backend_class(n), ScriptedModel))
    fakes = [backend_class(name)() for name in names]
    for fake in fakes:
        if fake.Options is not None:
            fake.apply_options(fake.Options.model_validate(scenario.options.get(fake.name, {})))
    return fakes if real is None else [*fakes, real]


def task_for(scenario: Scenario, data: WorldData, world: World) -> Task:
    """The task an agent is given in ``world``: message, acting principal, credentials."""
    acting = data.user if scenario.principal == "user" else data.service_account
    scope = tuple(c.account_id for c in data.customers if c.in_scope and c.account_id)
    credentials = {name: world[name].credential(acting.token) for name in world.backends}
    headers = {name: world[name].authorization(c) for name, c in credentials.items()}
    store = TaskStore()
    store.attach(world)
    return Task(
        message=scenario.message(data),
        principal=Principal(user_id=acting.user_id, token=acting.token, scope=scope),
        urls=world.urls,
        credentials=credentials,
        budget=scenario.budget,
        id=f"task_{data.seed:05d}",
        store=store,
        authorization={name: header for name, header in headers.items() if header is not None},
    )


def run_example(
    scenario: Scenario,
    agent: Agent,
    world: World,
    invariants: Sequence[Invariant],
    *,
    world_seed: int,
    decide: Callable[[Call, Sequence[FaultRule]], FaultRule | None] | None,
    decisions: list[Decision],
    wall_limit: float,
    misbehave: Chooser | None = None,
    watch: Watch | None = None,
    deliver: DeliveryChooser | None = None,
    switch: Choose | None = None,
) -> Example:
    """Run the agent in a fresh world, once or more (see
    :mod:`~chaoskit.engine.deliveries`), and judge the run.

    ``wall_limit`` is the real-time limit unless the scenario's budget sets ``wall_seconds``;
    ``deliver`` decides whether an optional delivery (duplicate, follow-up, two at once)
    happens, and ``switch`` which of two concurrent deliveries makes each call.
    """
    world.injector.decide = decide
    world.reset(seed=world_seed)
    data = build_world(world_seed, scenario.world, world.backends)
    model = install_model(scenario, world, data, misbehave)
    task = task_for(scenario, data, world)
    follow_up = scenario.follow_up(data)
    limit = scenario.budget.wall_seconds or wall_limit
    if watch is not None:
        watch.current = Running(world, world_seed, decisions, task.message, limit)
    marked = _delivers_again(scenario)

    def run_one(delivery: Delivery) -> Delivered:
        return _deliver(agent, task, delivery, world, limit, watch, marked=marked)

    group_findings: list[Finding] = []

    def run_group(group: Sequence[Delivery]) -> list[Delivered]:
        steps = Steps(
            deliver=lambda d: _deliver(agent, task, d, world, limit, None, marked=marked),
            start=lambda d: _start(task, d, world, marked=marked),
            finish=lambda d, ran, at: _finish(d, ran, at, world, marked=marked),
        )
        ran, found = run_together(
            group,
            agent,
            world,
            steps,
            switch=switch,
            deadline=scenario.budget.seconds,
            limit=limit,
            watch=watch,
        )
        group_findings.extend(found)
        return ran

    # An agent in another process makes its calls through the server's threads, where no
    # switch point can hold it: two of its deliveries are never run at once.
    together = None if isinstance(agent, OutOfProcessAgent) else run_group
    try:
        with world:
            plan = Deliveries(
                scenario.delivery, task.message, follow_up, run_one, deliver, together
            )
            delivered = plan.all()
    finally:
        task.store.attach(None)  # a thread left running writes to nothing that counts
    reply = delivered[-1].run.reply
    findings = _findings_of(delivered) + group_findings
    trace = world.trace.events
    findings = _timed_out_past_the_budget(findings, trace, scenario.budget.seconds)
    findings += unrouted_findings(world) + guard_findings(trace) + _tampered(world)
    faults = _fired(trace)
    usage: dict[str, float] = {}
    if model is not None:
        faults = tuple(sorted(faults + misbehaviours_fired(model, trace), key=lambda f: f.call))
        findings += model_findings(model, perturbed=bool(faults))
        usage = model.usage()
    elif scenario.passthrough is not None:
        usage, missed = passthrough_outcome(world)
        findings = missed + findings  # the cause first: what the agent then raised follows
    view = RunView(
        scenario=scenario.name,
        message=task.message,
        reply=reply,
        trace=trace,
        ledgers=world.ledgers,
        faults=faults,
        findings=tuple(findings),
        budget=scenario.budget,
        world=data,
        virtual_seconds=world.clock.monotonic(),
        principal=task.principal.user_id,
        usage=usage,
    )
    replied = _replied_views(view, delivered)
    verdicts = [judge(inv, view, replied) for inv in invariants]
    verdicts += _expectations(scenario, data, view)
    return Example(
        world_seed=world_seed,
        decisions=tuple(decisions),
        faults=faults,
        message=task.message,
        reply=reply,
        verdicts=tuple(verdicts),
        findings=tuple(findings),
        trace=trace,
        trace_dropped=world.trace.dropped,
        ledgers=world.ledgers,
        virtual_seconds=world.clock.monotonic(),
        usage=usage,
        deliveries=tuple(d.record for d in delivered) if marked else (),
    )


def _delivers_again(scenario: Scenario) -> bool:
    """Whether the task may be delivered more than once (then the trace marks deliveries)."""
    crashes = any(rule.fault.kind == "agent_crash" for rule in scenario.faults)
    return scenario.delivery.active or crashes


def _deliver(
    agent: Agent,
    first: Task,
    delivery: Delivery,
    world: World,
    limit: float,
    watch: Watch | None,
    *,
    marked: bool,
) -> Delivered:
    """Run one delivery of the task: a fresh process (new clients), the same id and store."""
    task, started = _start(first, delivery, world, marked=marked)
    if isinstance(agent, OutOfProcessAgent):
        ran = _run_outside(agent, task, world, limit, watch)
    else:
        ran = run_agent(agent, task, world.clock, wall_limit=limit, watch=watch)
    return _finish(delivery, ran, started, world, marked=marked)


def _start(first: Task, delivery: Delivery, world: World, *, marked: bool) -> tuple[Task, float]:
    """The task as this delivery gets it, and when it started (marked in the trace)."""
    world.delivery = delivery.number
    world.injector.crashes = delivery.may_crash
    task = first
    if delivery.number > 1:
        task = replace(
            first,
            message=delivery.message,
            delivery=delivery.number,
            history=delivery.history,
            clients=Clients(),
        )
    started = world.clock.monotonic()
    if marked and not abandoned():
        world.trace.add(
            DeliveryEvent, started, delivery=delivery.number, what="start", reason=delivery.reason
        )
    return task, started


def _finish(
    delivery: Delivery, ran: AgentRun, started: float, world: World, *, marked: bool
) -> Delivered:
    """What one delivery gave, where the run stood at its end (marked in the trace)."""
    world.abandon(ran.left)
    crashed_at = world.crashes.get(delivery.number)
    if crashed_at is not None:  # a killed process says nothing: what it raised went with it
        kept = [f for f in ran.findings if f.kind not in ("agent_raised", "bad_reply")]
        ran = AgentRun(None, kept, ran.left)
    ended = world.clock.monotonic()
    # A delivery given up on (one of several run at once) ends outside its example's run.
    if marked and not abandoned():
        world.trace.add(
            DeliveryEvent,
            ended,
            delivery=delivery.number,
            what="end" if crashed_at is None else "crash",
            reason=delivery.reason,
            crashed_at=crashed_at,
        )
    ledgers = {name: len(entries) for name, entries in world.ledgers.items()}
    return Delivered(delivery, ran, crashed_at, started, ended, len(world.trace), ledgers)


def _findings_of(delivered: Sequence[Delivered]) -> list[Finding]:
    if len(delivered) == 1:
        return list(delivered[0].run.findings)
    return [
        Finding(kind=f.kind, message=f"In {d.record.label}: {f.message}")
        for d in delivered
        for f in d.run.findings
    ]


def _replied_views(view: RunView, delivered: Sequence[Delivered]) -> list[tuple[int, RunView]]:
    """Each delivery that replied, with the run as it stood at its end: its reply is judged
    against what the ledgers held then, not after the deliveries that followed it."""
    if len(delivered) == 1:
        return [(1, view)] if view.reply is not None else []
    return [
        (
            d.delivery.number,
            replace(
                view,
                message=d.delivery.message,
                reply=d.run.reply,
                trace=view.trace[: d.trace_end],
                ledgers={k: v[: d.ledger_ends.get(k, 0)] for k, v in view.ledgers.items()},
            ),
        )
        for d in delivered
        if d.run.reply is not None
    ]


def judge(invariant: Invariant, view: RunView, replied: Sequence[tuple[int, RunView]]) -> Verdict:
    """An invariant's verdict on the whole run; one that reads the reply judges every
    delivery's reply and gives the first violated (or unsure) one, named by its delivery."""
    if not invariant.reads_reply:
        return invariant.check(view)
    if len(replied) <= 1:
        return invariant.check(replied[0][1] if replied else view)
    verdicts = [(number, invariant.check(one)) for number, one in replied]
    for status in ("violated", "unknown"):
        for number, verdict in verdicts:
            if verdict.status == status:
                explained = f"delivery {number}: {verdict.explanation}"
                return verdict.model_copy(update={"explanation": explained})
    return verdicts[-1][1]


def _run_outside(
    agent: OutOfProcessAgent, task: Task, world: World, limit: float, watch: Watch | None
) -> AgentRun:
    """Serve the world on loopback and give the agent the served URLs; the ledgers, trace and
    faults are the world's own, as in process."""
    with world.serve() as served:
        task = replace(task, urls=served.urls)

        def call(task: Task) -> Reply:
            return agent.run(task, served_env=served.env_for(task.credentials), wall_limit=limit)

        return run_agent(call, task, world.clock, wall_limit=limit, watch=watch)


@dataclass
class Running:
    """An example whose agent is running: what is needed to report it if it never returns."""

    world: World
    world_seed: int
    decisions: list[Decision]
    message: str
    wall_limit: float


def abandoned_example(running: Running, thread: threading.Thread) -> Example:
    """The example of an agent that was given up on, told from what its world holds so far.

    Its world is left (from this thread), and the thread and any it started are refused.
    """
    world = running.world
    world.leave()
    world.abandon([thread])
    trace = world.trace.events
    return Example(
        world_seed=running.world_seed,
        decisions=tuple(running.decisions),
        faults=_fired(trace),
        message=running.message,
        reply=None,
        verdicts=(),
        findings=(hung_for_real(running.wall_limit, stopped=False),),
        trace=trace,
        trace_dropped=world.trace.dropped,
        ledgers=world.ledgers,
        virtual_seconds=world.clock.monotonic(),
    )


def _tampered(world: World) -> list[Finding]:
    problems = tampering(world)
    if not problems:
        return []
    return [
        Finding(
            kind="ground_truth_tampered",
            message=(
                "The fakes' ground truth was tampered with during this run: "
                + "; ".join(problems)
                + ". The invariants of this example cannot be trusted; an agent must reach "
                "the backends only through their APIs."
            ),
        )
    ]


def _fired(trace: Sequence[Any]) -> tuple[FiredFault, ...]:
    requests = {e.call: e for e in trace if isinstance(e, RequestEvent)}
    return tuple(
        FiredFault(
            call=e.call,
            at=requests[e.call].at,  # when the call was made, not when its timeout ran out
            backend=requests[e.call].backend,
            route=requests[e.call].route,
            kind=e.fault,
            rule=e.rule,
            detail=e.detail,
        )
        for e in trace
        if isinstance(e, FaultEvent)
    )


def _timed_out_past_the_budget(
    findings: list[Finding], trace: Sequence[Event], seconds: float
) -> list[Finding]:
    """A virtual hang that a client's own long timeout caused says so.

    A timeout fault makes the client wait its read timeout in virtual time; aiohttp's default
    ``ClientTimeout(total=300)`` alone uses up a 300 s budget, which is no endless loop.
    """
    sent = {e.call: e.at for e in trace if isinstance(e, RequestEvent)}
    late = [
        e
        for e in trace
        if isinstance(e, ExceptionEvent) and e.error == "timeout" and e.at >= seconds
    ]
    if not late:
        return findings
    waited = late[0].at - sent.get(late[0].call, late[0].at)
    story = (
        f"The agent's call #{late[0].call} met a timeout fault and its HTTP client waited its "
        f"own timeout, {waited:g} s of virtual time, to the end of the scenario's budget "
        f"({seconds:g} s): the run stopped there, not in a loop. Give the client a timeout "
        "shorter than the budget (aiohttp's default ClientTimeout(total=300) is 300 s; "
        "urllib3, requests and urllib wait 30 s when none is set), or raise budget.seconds."
    )
    return [
        Finding(kind=f.kind, message=story)
        if f.kind == "agent_hung" and "of virtual time" in f.message
        else f
        for f in findings
    ]


def _expectations(scenario: Scenario, data: WorldData, view: RunView) -> list[Verdict]:
    from chaoskit.scenarios import task_context

    context = task_context(data)
    verdicts = []
    for expectation in scenario.expect:
        where = {k: v.format(**context) for k, v in expectation.where.items()}
        label = f"expect: {expectation.count} {expectation.effect}" + "".join(
            f" {k}={v}" for k, v in expectation.where.items()
        )
        matching = [
            e
            for e in view.effects(expectation.effect)
            if all(str(e.fields.get(k)) == v for k, v in where.items())
        ]
        wanted = f"{expectation.count} {expectation.effect}" + (f" with {where}" if where else "")
        ok = len(matching) == expectation.count
        verdicts.append(
            Verdict(
                invariant=label,
                status="held" if ok else "violated",
                explanation=f"expected {wanted}, the ledgers hold {len(matching)}",
                evidence=tuple(ledger_evidence(e) for e in matching),
            )
        )
    return verdicts
