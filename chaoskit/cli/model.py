"""``chaoskit run --record-model PATH`` and ``--replay-model PATH``: a real model's traffic
recorded once, then answered from the cassette with no network (scenarios with
``model = "passthrough"``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaoskit.fakes.model import Cassette

__all__ = ["add_model_options", "model_cassette"]


def add_model_options(parser: argparse.ArgumentParser) -> None:
    tape = parser.add_mutually_exclusive_group()
    tape.add_argument(
        "--record-model",
        metavar="PATH",
        help='save every model request and response of model = "passthrough" scenarios to a '
        "cassette (JSON), for --replay-model",
    )
    tape.add_argument(
        "--replay-model",
        metavar="PATH",
        help="answer passthrough model calls from a cassette made with --record-model, with no "
        "network; a request it lacks is a finding",
    )


def model_cassette(args: argparse.Namespace) -> Cassette | None:
    """The run's cassette, if ``--record-model`` or ``--replay-model`` was given."""
    from chaoskit.fakes.model import Cassette

    record = getattr(args, "record_model", None)
    replay = getattr(args, "replay_model", None)
    if record:
        return Cassette.record(record)
    return Cassette.replay(replay) if replay else None
