"""Agents in another process or language: a command run once per example, or an HTTP service
called once per example.

Both get the same task document (JSON: ``message``, ``principal``, ``urls``, ``credentials``,
``budget``) and answer in the same shape: a plain string, or JSON
``{"reply": "...", "claims": [{"intent": "refund", "status": "done", "ref": "re_…"}]}``.
The engine serves the example's world on loopback (``World.serve()``) and hands the agent the
served base URLs, so the fakes, faults and ledgers are exactly the in-process ones.

>>> agent = command_agent("node agent.js")            # run per example, task on stdin and env
>>> service = service_agent("http://127.0.0.1:8000/task")  # POSTed the task per example
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import selectors
import shlex
import shutil
import signal
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from chaoskit.core.agent import Agent, Reply, Task
from chaoskit.core.errors import UsageError
from chaoskit.core.loading import SearchPlace, load_agent
from chaoskit.core.names import did_you_mean
from chaoskit.engine.loopback import post_json
from chaoskit.engine.runner import AgentFailed, AgentHung
from chaoskit.world.guard import allowed_start
from chaoskit.world.server import credential_environment
from chaoskit.world.timepatch import real_monotonic

__all__ = [
    "CommandAgent",
    "OutOfProcessAgent",
    "ServiceAgent",
    "agent_option",
    "command_agent",
    "parse_reply",
    "resolve_agent",
    "service_agent",
    "task_document",
    "task_environment",
]

#: How results name an agent that is a command or a service: ``cmd: node agent.js``,
#: ``url: http://127.0.0.1:8000/task`` (a ``module:callable`` never has a space after its colon).
COMMAND_PREFIX = "cmd: "
SERVICE_PREFIX = "url: "

#: How much later than the engine's own wall limit an out-of-process agent stops itself: the
#: engine's watch normally interrupts first, and then the run stops exploring at once.
_LATE = 0.25
#: How long the agent's pipes may stay open once its process has ended (a child it left).
_DRAIN = 0.2
_STDOUT_LIMIT = 1 << 20
_STDERR_KEPT = 4096
_SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts", ".py", ".rb", ".sh", ".php", ".pl")


# -- the protocol -----------------------------------------------------------------------------


def task_document(task: Task) -> dict[str, Any]:
    """The task as the JSON document an out-of-process agent receives (stdin, or POST body)."""
    return {
        "message": task.message,
        "principal": task.principal.model_dump(mode="json"),
        "urls": dict(task.urls),
        "credentials": {
            name: value if isinstance(value, str) else dict(value)
            for name, value in task.credentials.items()
        },
        "budget": task.budget.model_dump(mode="json"),
        "id": task.id,
        "delivery": task.delivery,
        "history": [turn.model_dump(mode="json") for turn in task.history],
    }


def task_environment(task: Task, served_env: Mapping[str, str] = {}) -> dict[str, str]:
    """The environment variables a command agent gets on top of chaoskit's own environment.

    ``CHAOSKIT_TASK_MESSAGE``, ``CHAOSKIT_USER_ID``, ``CHAOSKIT_USER_TOKEN``,
    ``CHAOSKIT_USER_SCOPE`` (comma-separated accounts), ``CHAOSKIT_TASK_ID``,
    ``CHAOSKIT_TASK_DELIVERY``, and per backend ``CHAOSKIT_<BACKEND>_URL`` and
    ``CHAOSKIT_<BACKEND>_TOKEN`` (for a credential with parts, one
    ``CHAOSKIT_<BACKEND>_<PART>`` each: ``CHAOSKIT_ZENDESK_SUBDOMAIN``, ``…_EMAIL``,
    ``…_TOKEN``); then the served world's SDK overrides (``served_env``); loopback is kept
    away from any HTTP proxy.
    """
    env = {
        "CHAOSKIT_TASK_MESSAGE": task.message,
        "CHAOSKIT_USER_ID": task.principal.user_id,
        "CHAOSKIT_USER_TOKEN": task.principal.token,
        "CHAOSKIT_USER_SCOPE": ",".join(task.principal.scope),
        "CHAOSKIT_TASK_ID": task.id,
        "CHAOSKIT_TASK_DELIVERY": str(task.delivery),
    }
    for name, url in task.urls.items():
        env[f"CHAOSKIT_{_env_name(name)}_URL"] = url
    for name, credential in task.credentials.items():
        env.update(credential_environment(name, credential))
    env.update(served_env)
    no_proxy = "127.0.0.1,localhost,::1"
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, (os.environ.get(key), no_proxy)))
    return env


def _env_name(backend: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "_", backend).upper()


def parse_reply(text: str, *, source: str) -> Reply:
    """An out-of-process agent's answer: JSON ``{"reply", "claims"}``, or plain text.

    Raises :class:`AgentFailed` (a ``bad_reply`` finding) for JSON that is not a reply.
    """
    body = text.strip()
    if not body.startswith("{"):
        return Reply(text=body)
    try:
        data = json.loads(body)
    except ValueError as error:
        raise _bad_reply(source, body, f"it starts with '{{' but is not JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("reply"), str):
        raise _bad_reply(source, body, 'it has no "reply" string')
    unknown = sorted(set(data) - {"reply", "claims"})
    if unknown:
        raise _bad_reply(source, body, f"unknown field(s) {', '.join(map(repr, unknown))}")
    try:
        return Reply.model_validate({"text": data["reply"], "claims": data.get("claims", ())})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3]
        )
        raise _bad_reply(source, body, f"its claims do not validate ({problems})") from None


def _bad_reply(source: str, body: str, problem: str) -> AgentFailed:
    return AgentFailed(
        "bad_reply",
        f"The {source} answered {_cut(body, 120)!r}, which is not a reply: {problem}. Answer "
        'with plain text, or with JSON {"reply": "...", "claims": [{"intent": "refund", '
        '"status": "done", "ref": "re_…"}]} (status: done, failed, pending_approval or '
        "escalated).",
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the agents -------------------------------------------------------------------------------


class OutOfProcessAgent(ABC):
    """An agent chaoskit cannot call in-process: the engine serves the world to it on loopback.

    Called directly (``agent(task)``), it reaches whatever ``task.urls`` name, with the task's
    ``budget.wall_seconds`` (default 30) as its real-time limit.
    """

    #: How results name the agent (``cmd: node agent.js``, ``url: http://…``); it is also a
    #: spec :func:`resolve_agent` reads back (``chaoskit replay``).
    name: str

    def __call__(self, task: Task) -> Reply:
        return self.run(task, served_env={}, wall_limit=task.budget.wall_seconds or 30.0)

    @abstractmethod
    def run(self, task: Task, *, served_env: Mapping[str, str], wall_limit: float) -> Reply:
        """Give the agent ``task`` and return its reply; its failures raise
        :class:`AgentFailed`, and running past ``wall_limit`` real seconds :class:`AgentHung`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class CommandAgent(OutOfProcessAgent):
    """A command run once per example (see :func:`command_agent`)."""

    def __init__(
        self, argv: Sequence[str], *, cwd: Path | None, env: Mapping[str, str], name: str
    ) -> None:
        self.argv = tuple(argv)
        self.cwd = cwd
        self.env = dict(env)
        self.command = name
        self.name = COMMAND_PREFIX + name

    def run(self, task: Task, *, served_env: Mapping[str, str], wall_limit: float) -> Reply:
        deadline = real_monotonic() + wall_limit + _LATE
        env = {**os.environ, **self.env, **task_environment(task, served_env)}
        document = json.dumps(task_document(task)).encode()
        process = self._start(env)
        try:
            out, err = _exchange(process, document, deadline)
        except AgentHung:
            _stop(process)
            raise AgentFailed("agent_hung", self._hung_message(wall_limit)) from None
        finally:
            _stop(process)
        if process.returncode != 0:
            raise AgentFailed("agent_raised", self._exit_message(process.returncode, err))
        text = out[:_STDOUT_LIMIT].decode("utf-8", "replace")
        return parse_reply(text, source=f"agent command {self.command!r}")

    def _start(self, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        try:
            with allowed_start():  # chaoskit's own start, the only one the guard lets through
                return subprocess.Popen(
                    self.argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=self.cwd,
                    env=dict(env),
                    start_new_session=True,  # its own process group: killed whole on overrun
                )
        except OSError as error:
            raise AgentFailed(
                "agent_raised",
                f"chaoskit could not start the agent command {self.command!r}: {error}.",
            ) from None

    def _hung_message(self, wall_limit: float) -> str:
        return (
            f"The agent command {self.command!r} ran for {wall_limit:g} s of real time without "
            "finishing and was killed, with every process it started. Bound its loops and its "
            "clients' timeouts; if it is only slow, raise the limit: [budget] wall_seconds in "
            "the scenario, or --wall-seconds / --chaos-wall-seconds."
        )

    def _exit_message(self, status: int, stderr: bytes) -> str:
        if status < 0:
            how = f"was killed by signal {_signal_name(-status)}"
        else:
            how = f"exited with status {status}"
        tail = _last_lines(stderr)
        said = f": {tail}" if tail else " and wrote nothing to stderr"
        return (
            f"The agent command {self.command!r} {how}{said}. An agent should report failures in "
            "its reply (on stdout, exit status 0), not crash."
        )


class ServiceAgent(OutOfProcessAgent):
    """An HTTP service POSTed the task once per example (see :func:`service_agent`)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self.name = SERVICE_PREFIX + url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def run(self, task: Task, *, served_env: Mapping[str, str], wall_limit: float) -> Reply:
        deadline = real_monotonic() + wall_limit + _LATE
        body = json.dumps(task_document(task)).encode()
        try:
            status, reason, answer = post_json(self.host, self.port, self.target, body, deadline)
        except ConnectionRefusedError:
            raise AgentFailed(
                "agent_raised",
                f"The agent service at {self.url} refused the connection: is it running? "
                "Start it before the run; chaoskit calls it, it does not start it.",
            ) from None
        except TimeoutError:
            raise AgentHung from None
        except OSError as error:
            raise AgentFailed(
                "agent_raised", f"The agent service at {self.url} could not be reached: {error}."
            ) from None
        text = answer[:_STDOUT_LIMIT].decode("utf-8", "replace")
        if not 200 <= status < 300:
            raise AgentFailed(
                "agent_raised",
                f"The agent service at {self.url} answered {status} {reason}: "
                f"{_cut(text.strip(), 300)!r}. A service should answer 200 with its reply, "
                "failures included.",
            )
        return parse_reply(text, source=f"agent service {self.url}")


def command_agent(
    command: str | Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandAgent:
    """An agent that is a command, run once per example with the world served on loopback.

    The command gets the task as environment variables (``CHAOSKIT_TASK_MESSAGE``,
    ``CHAOSKIT_<BACKEND>_URL``, ``CHAOSKIT_<BACKEND>_TOKEN``, the SDK overrides such as
    ``OPENAI_BASE_URL``…) and as JSON on stdin, and prints its reply on stdout: plain text, or
    ``{"reply": "...", "claims": [...]}``. A command that is not found is a usage error now,
    not a finding per example.

    >>> def test_node_agent(chaos):
    ...     chaos.check("refund-timeout-after-commit", agent=command_agent("node agent.js"))
    """
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    shown = command if isinstance(command, str) else shlex.join(argv)
    if not argv:
        raise UsageError("chaoskit: the agent command is empty; give it like 'node agent.js'.")
    folder = Path(cwd) if cwd is not None else None
    path = (env or {}).get("PATH", os.environ.get("PATH", os.defpath))
    _check_program(shown, argv[0], folder, path)
    _check_scripts(shown, argv[1:], folder)
    return CommandAgent(argv, cwd=folder, env=env or {}, name=shown)


def service_agent(url: str) -> ServiceAgent:
    """An agent that is an already-running HTTP service on this machine, POSTed the task (the
    same JSON a command gets on stdin) once per example; it answers like a command prints.

    The service cannot read per-example environment variables: its clients must take the base
    URLs from the task's ``urls`` (and keys from ``credentials``).

    >>> def test_refund_service(chaos):
    ...     chaos.check("refund-timeout-after-commit",
    ...                 agent=service_agent("http://127.0.0.1:8000/task"))
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(
            f"chaoskit: the agent service URL {url!r} is not an http:// URL with a host, e.g. "
            "'http://127.0.0.1:8000/task'."
        )
    if parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise UsageError(
            f"chaoskit: the agent service at {url!r} is not on this machine; chaoskit serves "
            "the fakes on loopback only, so run the service here and give a 127.0.0.1 or "
            "localhost URL."
        )
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        raise UsageError(f"chaoskit: the agent service URL {url!r} has a bad port.") from None
    return ServiceAgent(url)


def resolve_agent(spec: str, *, search: Sequence[SearchPlace] | None = None) -> Agent:
    """The agent a name stands for: ``cmd: COMMAND``, ``url: URL`` or ``module:callable``
    (imported as :func:`~chaoskit.core.loading.load_agent` does, from ``search``)."""
    if spec.startswith(COMMAND_PREFIX):
        return command_agent(spec.removeprefix(COMMAND_PREFIX))
    if spec.startswith(SERVICE_PREFIX):
        return service_agent(spec.removeprefix(SERVICE_PREFIX).strip())
    return load_agent(spec, search=search)


def agent_option(spec: str) -> str:
    """The ``chaoskit run`` option that names the agent ``spec`` stands for."""
    if spec.startswith(COMMAND_PREFIX):
        return f"--agent-cmd {shlex.quote(spec.removeprefix(COMMAND_PREFIX))}"
    if spec.startswith(SERVICE_PREFIX):
        return f"--agent-url {spec.removeprefix(SERVICE_PREFIX)}"
    return f"--agent {spec}"


def _check_program(shown: str, program: str, cwd: Path | None, path: str) -> None:
    if os.sep in program:
        where = (cwd or Path.cwd()) / program
        if not where.is_file() or not os.access(where, os.X_OK):
            raise UsageError(
                f"chaoskit: cannot run the agent command {shown!r}: {program!r} is not an "
                f"executable file (looked at {where})."
            )
        return
    if shutil.which(program, path=path) is None:
        hint = did_you_mean(program, _programs(path))
        raise UsageError(
            f"chaoskit: cannot run the agent command {shown!r}: {program!r} is not on PATH."
            f"{hint} Install it, or give its full path."
        )


def _programs(path: str) -> set[str]:
    found: set[str] = set()
    for folder in path.split(os.pathsep):
        try:
            found.update(entry.name for entry in os.scandir(folder or "."))
        except OSError:
            continue
    return found


def _check_scripts(shown: str, args: Sequence[str], cwd: Path | None) -> None:
    """A script the command names (``agent.js``) must exist: else every example would fail."""
    for arg in args:
        if arg.startswith("-") or not arg.endswith(_SCRIPT_SUFFIXES):
            continue
        where = (cwd or Path.cwd()) / arg
        if not where.exists():
            raise UsageError(
                f"chaoskit: the agent command {shown!r} names {arg!r}, which does not exist "
                f"(looked at {where}). Run from the folder it is in, or name it by a path that "
                "exists (command_agent also takes cwd=...)."
            )


# -- running the command ----------------------------------------------------------------------


def _exchange(
    process: subprocess.Popen[bytes], document: bytes, deadline: float
) -> tuple[bytes, bytes]:
    """Write the task to stdin and read stdout and stderr to their end, in real time.

    ``subprocess``'s own timeouts read ``time.monotonic``, which a world makes virtual; this
    loop reads the real clock, and waits in short slices so that the engine's interruption
    (:class:`AgentHung`) lands between two. A command that never reads stdin is fine.
    """
    assert process.stdin and process.stdout and process.stderr
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        os.set_blocking(process.stdin.fileno(), False)
        selector.register(process.stdin, selectors.EVENT_WRITE, [memoryview(document)])
        selector.register(process.stdout, selectors.EVENT_READ, out)
        selector.register(process.stderr, selectors.EVENT_READ, err)
        ended: float | None = None
        while any(key.fileobj is not process.stdin for key in selector.get_map().values()):
            now = real_monotonic()
            if now >= deadline:
                raise AgentHung
            if ended is None and process.poll() is not None:
                ended = now
            if ended is not None and now - ended > _DRAIN:
                break  # a process it left holds the pipes open: _stop ends it
            for key, _ in selector.select(timeout=0.05):
                if key.fileobj is process.stdin:
                    _write(selector, key)
                else:
                    _read(selector, key, out, err)
    while process.poll() is None:  # it closed its pipes but goes on
        if real_monotonic() >= deadline:
            raise AgentHung
        select.select([], [], [], 0.02)  # a real pause: time.sleep may be virtual here
    return bytes(out), bytes(err)


def _write(selector: selectors.BaseSelector, key: Any) -> None:
    """Write what the pipe takes of the task; close stdin once it is all written."""
    left: list[memoryview] = key.data
    try:
        left[0] = left[0][os.write(key.fd, left[0]) :]
    except BrokenPipeError:  # it exited, or closed stdin without reading: both are fine
        left[0] = left[0][:0]
    if not left[0]:
        selector.unregister(key.fileobj)
        with contextlib.suppress(BrokenPipeError):
            key.fileobj.close()


def _read(selector: selectors.BaseSelector, key: Any, out: bytearray, err: bytearray) -> None:
    chunk = os.read(key.fd, 65536)
    if not chunk:
        selector.unregister(key.fileobj)
        return
    buffer: bytearray = key.data
    buffer += chunk
    if buffer is err and len(err) > _STDERR_KEPT:
        del err[: len(err) - _STDERR_KEPT]
    if buffer is out and len(out) > _STDOUT_LIMIT:
        del out[_STDOUT_LIMIT:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the command's whole process group (what it left running too) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception)\b")


def _last_lines(stderr: bytes, lines: int = 5, limit: int = 600) -> str:
    """The last lines of stderr, joined; led by the first line naming an error when none of
    them does (Node prints the stack, the error's fields and its causes after it)."""
    text = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    text = [line for line in text if line]
    tail = text[-lines:]
    named = [line for line in text[:-lines] if _ERROR_LINE.match(line)]
    if named and not any(_ERROR_LINE.match(line) for line in tail):
        tail = [_cut(named[0], 200), "…", *tail]
    joined = " | ".join(tail)
    return joined if len(joined) <= limit else "…" + joined[-(limit - 1) :]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
