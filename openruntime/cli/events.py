"""`openruntime generate-event SOURCE ACTION`: a real AWS event of that kind, to STDOUT.

Like `sam local generate-event`, from the samples in `openruntime/events/` (real payloads
written by others; their sources and licences are beside them). Without ACTION it lists
the source's actions; without SOURCE, every source.

    openruntime generate-event s3 put > events/s3-put.json
    openruntime invoke -e events/s3-put.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EVENTS = Path(__file__).resolve().parent.parent / "events"


def catalogue() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((EVENTS / "catalogue.json").read_text())
    return data


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "generate-event", help="print a real AWS event sample (s3 put, sqs receive-message, apigateway …)",
        description="Print a real AWS event of SOURCE and ACTION (samples from AWS's own SDKs and "
        "Powertools; sources and licences in openruntime/events/SOURCES.md). Without ACTION: the "
        "source's actions; without SOURCE: every source.")
    parser.add_argument("source", nargs="?", help="the AWS source, e.g. s3, sqs, apigateway")
    parser.add_argument("action", nargs="?", help="the kind of event, e.g. put, receive-message")
    parser.set_defaults(run=generate_event)


def generate_event(args: argparse.Namespace) -> int:
    known = catalogue()
    if args.source is None:
        for source, actions in sorted(known.items()):
            print(f"{source:<14} {', '.join(sorted(actions))}")
        return 0
    if args.source not in known:
        sys.stderr.write(f"openruntime generate-event: unknown source {args.source!r}; "
                         f"known: {', '.join(sorted(known))}\n")
        return 2
    actions = known[args.source]
    if args.action is None:
        for action in sorted(actions):
            print(action)
        return 0
    sample = actions.get(args.action)
    if sample is None:
        sys.stderr.write(f"openruntime generate-event: {args.source} has no action {args.action!r}; "
                         f"it has: {', '.join(sorted(actions))}\n")
        return 2
    sys.stdout.write((EVENTS / sample).read_text())
    return 0
