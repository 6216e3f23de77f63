"""`openruntime generate-event SOURCE ACTION`: a real AWS event of that kind, to STDOUT.

Like `sam local generate-event`, from the samples in `openruntime/events/` (real payloads
written by others; their sources and licences are beside them). Without ACTION it lists
the source's actions; without SOURCE, every source.

    openruntime generate-event s3 put > events/s3-put.json
    openruntime generate-event s3 put --set Records.0.s3.bucket.name=my-bucket
    openruntime invoke -e events/s3-put.json

`--set PATH=VALUE` changes one field (what `sam local generate-event`'s per-event options,
`--bucket`, `--body`, `--path`…, change), for every event alike: PATH is dotted keys and
list indexes. A field that is text stays text (`body`, a path parameter: as AWS sends
them); another is VALUE read as JSON when it reads as JSON, else text. Fields that repeat
a value elsewhere in the event (`rawPath` and `requestContext.http.path`) are not kept in
step: give a --set for each.
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
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="change a field: PATH in dots and list indexes (Records.0.s3.bucket.name, body, "
                        "rawPath); a text field stays text, another takes VALUE as JSON when it is JSON "
                        "(repeatable)")
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
    text = (EVENTS / sample).read_text()
    if args.set:
        event = json.loads(text)
        for change in args.set:
            problem = _set(event, change)
            if problem is not None:
                sys.stderr.write(f"openruntime generate-event: --set {change!r}: {problem}\n")
                return 2
        text = json.dumps(event, indent=2, ensure_ascii=False) + "\n"
    sys.stdout.write(text)
    return 0


def _set(event: object, change: str) -> str | None:
    """Apply `PATH=VALUE` to `event` in place; what is wrong with it, else None. The last
    key may be new (a field the sample lacks); every step before it must exist."""
    path, sep, raw = change.partition("=")
    if not sep or not path:
        return "expected PATH=VALUE"
    *steps, last = path.split(".")
    node = event
    for done, step in enumerate(steps):
        where = ".".join(steps[:done + 1])
        if isinstance(node, list) and step.lstrip("-").isdigit() and -len(node) <= int(step) < len(node):
            node = node[int(step)]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return f"the event has no {where}"
    if isinstance(node, list):
        if not (last.lstrip("-").isdigit() and -len(node) <= int(last) < len(node)):
            return f"{path}: not an index of that list"
        node[int(last)] = _typed(raw, node[int(last)])
    elif isinstance(node, dict):
        node[last] = _typed(raw, node.get(last))
    else:
        return f"{'.'.join(steps)} is not an object or a list"
    return None


def _typed(raw: str, current: object) -> object:
    """VALUE as the field holds it: text where the field is text (an event's `body` is a
    JSON document in a string), else JSON when it reads as JSON, else text."""
    if isinstance(current, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw
