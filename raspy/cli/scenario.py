"""`raspy scenario …`: write, check and drive the hub's scenarios.

`validate` checks files here with the hub's own loader (no daemon needed); every other
command talks to `<host>.core.scenario` over MDP (one JSON frame each way). Exit
status: 0 ok, 1 refused or no reply (every problem printed), 2 bad usage or a file
that cannot be read or written. Text formats live in raspy.cli.scenario_text, the
client to the hub in raspy.cli.scenario_hub.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final, TypeAlias

from raspy.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, reader_left
from raspy.cli import scenario_files as files
from raspy.cli import scenario_text as text
from raspy.cli.arguments import add_hub_options, hub_options_set, path_argument
from raspy.cli.scenario_hub import Hub
from raspy.cli.scenario_import import run_import
from raspy.errors import ClientTimeout
from raspy.library_log import configure_later
from raspy.rules import scenario_stream as stream

if TYPE_CHECKING:
    from raspy.devices.template import JsonValue  # a type: the module costs a start

_PROG: Final = "raspy scenario"

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


# --- parser -----------------------------------------------------------------------------
def _hub_options() -> argparse.ArgumentParser:
    """The options of every command that talks to the hub, after the command. They
    are `scenario`'s too (`raspy scenario --server X import`), which holds their
    defaults: here they set a value only when given, and then the later one wins."""
    hub = argparse.ArgumentParser(add_help=False)
    add_hub_options(hub, given_only=True)
    return hub


def add_parser(commands: Commands) -> None:
    """Register `scenario` and its commands on `raspy`'s sub-command parser."""
    scenario = commands.add_parser(
        "scenario",
        help="validate, import, export and drive scenarios",
        description="Scenarios of a raspy hub (service <host>.core.scenario).",
    )
    scenario.set_defaults(run=run)
    add_hub_options(scenario)  # before the command too, for all but validate
    verbs = scenario.add_subparsers(
        dest="scenario_command", required=True, metavar="COMMAND"
    )
    hub = _hub_options()
    validate = verbs.add_parser(
        "validate",
        help="check scenario files here (no hub needed)",
        description="Check each FILE with the hub's loader; print every problem as "
        "FILE:LINE:COL: message. A file may hold several documents (a YAML stream).",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", type=path_argument)
    validate.set_defaults(scenario_run=_validate)
    imports = verbs.add_parser(
        "import",
        parents=[hub],
        help="store scenario files on the hub",
        description="Check every FILE here first (nothing is sent if one is bad), then "
        "store every document on the hub, exactly as written (comments kept), all "
        "or nothing: a document the hub refuses imports none of them.",
    )
    imports.add_argument("files", nargs="+", metavar="FILE", type=path_argument)
    imports.add_argument(
        "--replace", action="store_true", help="replace scenarios of the same name"
    )
    imports.set_defaults(scenario_run=run_import)
    export = verbs.add_parser(
        "export",
        parents=[hub],
        help="print stored scenarios as imported, enabled: as they are now",
        description="One NAME: its document byte for byte, but for an enabled: "
        "line saying whether it is enabled (`enabled: false` added to a disabled "
        "one's). Several (or none: all): a YAML stream, the documents separated by "
        "`---` lines, which `import` reads back.",
    )
    export.add_argument("names", nargs="*", metavar="NAME", type=_name_argument)
    export.add_argument(
        "-o", "--output", metavar="FILE", type=path_argument, help="write to FILE"
    )
    export.set_defaults(scenario_run=_export)
    listing = verbs.add_parser(
        "list", parents=[hub], help="a table: name, state, last run, runs"
    )
    listing.add_argument("--json", action="store_true", help="the reply as JSON")
    listing.set_defaults(scenario_run=_list)
    show = verbs.add_parser(
        "show", parents=[hub], help="one scenario's state and document"
    )
    show.add_argument("name", metavar="NAME", type=_name_argument)
    show.add_argument("--json", action="store_true", help="the reply as JSON")
    show.set_defaults(scenario_run=_show)
    for verb, summary in _STATE_VERBS.items():
        command = verbs.add_parser(verb, parents=[hub], help=summary)
        command.add_argument("names", nargs="+", metavar="NAME", type=_name_argument)
        command.set_defaults(scenario_run=_state_verb)
        if verb == "run":
            command.add_argument(
                "--trigger",
                metavar="ID",
                help="run as if the trigger whose id: is ID had fired (its"
                " trigger.id and kind; the conditions are not checked)",
            )


def _name_argument(name: str) -> str:
    """A scenario's NAME: never empty. An empty one (an unset shell variable) went
    to the hub, which refused it as no string (`raspy scenario enable: : 400: …`),
    status 1."""
    if not name:
        raise argparse.ArgumentTypeError("expected a scenario name, got an empty one")
    return name


_STATE_VERBS: Final = {
    "run": "start a run now (the mode applies; conditions are not checked)",
    "stop": "end the running run(s)",
    "enable": "turn on (kept across restarts)",
    "disable": "turn off (kept across restarts)",
    "delete": "remove from the hub",
}


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; print failures as stderr lines, never a traceback."""
    # a retry is no news here: the outcome is printed once (structlog is loaded at
    # the client's first event, if any)
    configure_later("error")
    import zmq  # the hub's client: not loaded to parse (`raspy --help`)

    command = f"{_PROG} {args.scenario_command}"
    try:
        status: int = args.scenario_run(args)
    except files.Failure as failure:
        for line in failure.lines:
            print(f"{command}: {line}", file=sys.stderr)
        return failure.status
    except (ClientTimeout, text.ReplyError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except zmq.ZMQError as exc:  # an endpoint zmq cannot use
        print(f"{command}: --server {args.server}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `| head`: the reader left; no traceback at exit either
        return reader_left()
    return status


def _validate(args: argparse.Namespace) -> int:
    given = hub_options_set(args)  # before `validate`: after it, argparse refuses
    if given:
        print(
            f"{_PROG} validate: {', '.join(given)}: validate asks no hub, it checks "
            "the files here",
            file=sys.stderr,
        )
        return EXIT_USAGE
    problems, named = files.read_all(args.files)
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_FAILURE
    for name, document in named.items():
        print(f"{document.source}: ok ({name})")
    return EXIT_OK


# --- the hub's commands -----------------------------------------------------------------
def _export(args: argparse.Namespace) -> int:
    """The stored texts, each with its `enabled:` saying the hub's flag (a disabled
    scenario's says `enabled: false`): any import of the export keeps it so."""
    from raspy.rules.enabled_text import stating_enabled  # YAML: export only

    with Hub(args, _PROG) as hub:
        names: list[str] = args.names or text.list_names(hub.need("list").body)
        documents = []
        for name in names:
            reply = hub.need("get", name=name)
            document, enabled = reply.field("document"), reply.field("enabled")
            if not isinstance(document, str):
                raise text.ReplyError(f"{hub.service}: get {name}: no document")
            if isinstance(enabled, bool):  # every hub's reply says it
                document = stating_enabled(document, enabled)
            documents.append(document)
    if not documents:
        raise files.Failure(1, "no scenarios to export")
    files.write_output(args.output, stream.join_stream(documents).encode("utf-8"))
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    with Hub(args, _PROG) as hub:
        body = hub.need("list").body
    if args.json:
        print(text.json_text(body), end="")
    else:
        print(text.list_text(body), end="")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    with Hub(args, _PROG) as hub:
        body = hub.need("get", name=args.name).body
    if not isinstance(body, dict):
        raise text.ReplyError(f"get {args.name}: expected a JSON object")
    print(text.json_text(body) if args.json else text.show_text(body), end="")
    return EXIT_OK


def _enabled(name: str, reply: text.Reply) -> int:
    """`NAME: state` (`name` as text.named shows it), or, for a scenario enabled that does not run (its stored text
    no longer loads: the reply's `not_running` says why and what to do), that on
    stderr, and 1. A scenario in error after a failed run runs at its next
    trigger: that is not it."""
    why = reply.field("not_running")
    if why is None:
        print(f"{name}: {text.cell(reply.field('state'))}")
        return EXIT_OK
    print(
        f"{_PROG} enable: {name}: enabled, but it does not run: {text.cell(why)}",
        file=sys.stderr,
    )
    return EXIT_FAILURE


def _state_verb(args: argparse.Namespace) -> int:
    """run / stop / enable / disable / delete, for each NAME; goes on past a refusal."""
    status = EXIT_OK
    with Hub(args, _PROG) as hub:
        for given in args.names:
            tried = getattr(args, "trigger", None)
            fields: dict[str, JsonValue] = {"name": given}
            if tried is not None:
                fields["trigger"] = tried
            reply = hub.ask(args.scenario_command, write=True, **fields)
            name = text.named(given)
            not_started = reply.field("not_started")
            if reply.ok and isinstance(not_started, str):
                # its mode kept the run from starting: say so, and exit 1
                print(
                    f"{_PROG} {args.scenario_command}: {name}: not started: "
                    f"{text.cell(not_started)} (state {text.cell(reply.field('state'))})",
                    file=sys.stderr,
                )
                status = EXIT_FAILURE
                continue
            queued = reply.field("queued")
            if reply.ok and isinstance(queued, int):
                print(f"{name}: queued ({queued} waiting)")
                continue
            failed = reply.field("failed")
            if reply.ok and isinstance(failed, str):
                # this run failed before the reply (an older hub's reply has no
                # such field: its state alone is printed, as it was)
                print(
                    f"{_PROG} {args.scenario_command}: {name}: failed: "
                    f"{text.cell(failed)}",
                    file=sys.stderr,
                )
                status = EXIT_FAILURE
                continue
            if reply.ok and reply.field("done") is True:
                print(f"{name}: done")  # over already; the state may be another run's
                continue
            if reply.ok and args.scenario_command == "enable":
                status = max(status, _enabled(name, reply))
                continue
            if reply.ok:
                print(f"{name}: {text.cell(reply.field('state'))}")
                continue
            for line in text.refusal_lines(reply):
                print(
                    f"{_PROG} {args.scenario_command}: {name}: {line}", file=sys.stderr
                )
            status = EXIT_FAILURE
    return status
