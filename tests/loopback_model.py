"""A nondeterministic model on loopback, in OpenAI's chat-completions wire format.

Run as its own process (``python tests/loopback_model.py --seed 7 --repeat 0.5``), it prints
its port and serves until stopped. It plays a support model that looks the order up, refunds
500 cents of its charge, and then — with probability ``--repeat``, drawn per request from its
own seeded generator, outside chaoskit's control — calls the refund again before replying,
the way a real model sometimes repeats a write. Tool call ids are fresh random ones.

It stands in for a real provider in the passthrough and cassette tests: a real HTTP server on
127.0.0.1, never the network.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ORDER = re.compile(r"\bord_[A-Za-z0-9]+")
CHARGE = re.compile(r"\bch_[A-Za-z0-9]+")
#: Tokens the server reports for every answer, so a test can compute the usage by hand.
PROMPT_TOKENS = 100
COMPLETION_TOKENS = 20


def answer(
    body: dict[str, Any], rng: random.Random, repeat: float, log: Path | None = None
) -> dict[str, Any]:
    """The next assistant message for a conversation; each repeat-or-not decision is appended
    to ``log`` (JSON lines: the order, and whether the refund was repeated)."""
    messages = body["messages"]
    user = next(m["content"] for m in messages if m["role"] == "user")
    calls = [c for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or ()]
    refunds = [c for c in calls if c["function"]["name"] == "refund"]
    if not calls:
        order = ORDER.search(user)
        return _call(rng, "get_order", {"order_id": order.group(0) if order else "unknown"})
    if not refunds:
        results = " ".join(str(m.get("content")) for m in messages if m["role"] == "tool")
        charge = CHARGE.search(results)
        return _call(rng, "refund", {"charge": charge.group(0) if charge else "?", "amount": 500})
    if len(refunds) == 1:
        repeated = rng.random() < repeat
        if log is not None:
            order = ORDER.search(user)
            with log.open("a") as handle:
                handle.write(json.dumps({"order": order and order.group(0), "repeated": repeated}))
                handle.write("\n")
        if repeated:
            return _call(rng, "refund", json.loads(refunds[0]["function"]["arguments"]))
    return {"role": "assistant", "content": "I refunded the $5.00 delivery fee."}


def _call(rng: random.Random, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    call = {
        "id": f"call_{rng.getrandbits(48):012x}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def completion(
    body: dict[str, Any], rng: random.Random, repeat: float, log: Path | None
) -> dict[str, Any]:
    message = answer(body, rng, repeat, log)
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {
        "id": f"chatcmpl-{rng.getrandbits(64):016x}",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": body.get("model", "gpt-4o-mini"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    }


def serve(seed: int, repeat: float, log: Path | None = None) -> ThreadingHTTPServer:
    rng = random.Random(seed)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            self._send(200, completion(body, rng, repeat, log))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@dataclass
class LoopbackModel:
    """A running server: where it listens, and how to stop it."""

    process: subprocess.Popen[str]
    port: int

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}/v1"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def loopback_model(*, seed: int, repeat: float, log: Path | None = None) -> Iterator[LoopbackModel]:
    """The server in a process of its own (started outside any world), stopped after."""
    command = [sys.executable, str(Path(__file__)), "--seed", str(seed), "--repeat", str(repeat)]
    process = subprocess.Popen(
        [*command, *(["--log", str(log)] if log is not None else [])],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    server = LoopbackModel(process, int(process.stdout.readline()))
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=float, default=0.5)
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args()
    server = serve(args.seed, args.repeat, args.log)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
