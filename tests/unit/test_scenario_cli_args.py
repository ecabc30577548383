"""`raspy scenario`: its arguments, its requests and replies, and the text it prints
(issue 11, Interfaces). No sockets: the wire side is in test_scenario_cli_*.py."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from raspy.cli import scenario as cli
from raspy.cli import scenario_hub as hub
from raspy.cli import scenario_import
from raspy.cli import scenario_text as text
from raspy.cli.raspy import build_parser, main
from raspy.devices.template import JsonValue
from raspy.names import short_hostname
from raspy.rules import scenario_stream as streams

BERLIN_WINTER = timezone(timedelta(hours=1))
T_2026_12_03_13_30_UTC = 1_796_304_600.0


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["scenario", *argv])


# --- arguments --------------------------------------------------------------------------
def test_run_s_trigger_help_says_the_conditions_are_not_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse("run", "-h")
    said = " ".join(capsys.readouterr().out.split())
    assert (
        "--trigger ID run as if the trigger whose id: is ID had fired (its"
        " trigger.id and kind; the conditions are not checked)"
    ) in said


def test_import_takes_files_replace_and_the_hub_options() -> None:
    args = parse(
        "import", "a.yaml", "b.yaml", "--replace", "--server", "tcp://127.0.0.1:6000",
        "--timeout", "2.5", "--host", "hub",
    )  # fmt: skip
    assert (
        args.scenario_command, args.files, args.replace, args.server, args.timeout,
        args.host, args.server_key, args.client_cert, args.scenario_run, args.run,
    ) == (
        "import", ["a.yaml", "b.yaml"], True, "tcp://127.0.0.1:6000", 2.5,
        "hub", None, None, scenario_import.run_import, cli.run,
    )  # fmt: skip


def test_hub_options_default_to_the_local_hub() -> None:
    args = parse("list")
    assert (args.server, args.timeout, args.host, args.json) == (
        "tcp://127.0.0.1:5514",
        5.0,
        None,
        False,
    )


def test_export_takes_any_number_of_names_and_an_output_file() -> None:
    assert (parse("export").names, parse("export").output) == ([], None)
    args = parse("export", "a", "b", "-o", "all.yaml")
    assert (args.names, args.output) == (["a", "b"], "all.yaml")


@pytest.mark.parametrize("verb", ["run", "stop", "enable", "disable", "delete"])
def test_state_verbs_take_one_or_more_names(verb: str) -> None:
    args = parse(verb, "heat-living", "hall")
    assert (args.scenario_command, args.names, args.scenario_run) == (
        verb,
        ["heat-living", "hall"],
        cli._state_verb,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["scenario"],
        ["scenario", "launch", "x"],
        ["scenario", "validate"],
        ["scenario", "import"],
        ["scenario", "show"],
        ["scenario", "enable"],
        ["scenario", "list", "--timeout", "0"],
        ["scenario", "list", "--timeout", "soon"],
        ["scenario", "validate", "a.yaml", "--server", "tcp://127.0.0.1:1"],
    ],
    ids=[
        "no-command", "unknown-command", "validate-no-file", "import-no-file",
        "show-no-name", "enable-no-name", "zero-timeout", "word-timeout",
        "validate-is-local",
    ],
)  # fmt: skip
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """docs/style.md §4: bad usage is exit status 2 with a message on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().out == ""


def test_a_server_key_without_a_client_cert_is_refused_before_any_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["scenario", "list", "--server-key", "hub.key"])
    assert (status, capsys.readouterr()) == (
        2,
        ("", "raspy scenario list: --server-key and --client-cert go together\n"),
    )


def test_a_server_that_is_not_a_tcp_endpoint_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/style.md §4: checked before any socket sees it, one line, status 2."""
    with pytest.raises(SystemExit) as exits:
        main(["scenario", "list", "--server", "nonsense"])
    assert exits.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        'raspy scenario list: argument --server: expected tcp://HOST:PORT, got "nonsense"'
    )


def test_an_unreadable_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"{tmp_path}/missing.yaml"
    status = main(["scenario", "validate", missing])
    assert (status, capsys.readouterr()) == (
        2,
        ("", f"raspy scenario validate: cannot read {missing}: No such file or directory\n"),
    )  # fmt: skip


def test_a_name_used_twice_names_both_places_of_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was `FILE:5:1: name 'a' is also used in FILE`: the column of the document's
    start and no line for the first use."""
    one = "name: a\ntriggers: [{startup: true}]\nactions: [{log: a}]\n"
    path = tmp_path / "twice.yaml"
    path.write_text(one + "---\n" + "# again\n" + one, encoding="utf-8")
    status = main(["scenario", "validate", str(path)])
    assert (status, capsys.readouterr()) == (
        1,
        (f"{path}:6:7: name: 'a' is also used in {path}:1:7: name\n", ""),
    )


def test_a_yaml_directive_before_a_documents_start_is_part_of_that_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`%YAML 1.1` then `---` is how YAML starts a document with a directive (the hub
    takes it so): the command line took the directive for a document of its own,
    and refused a good file with `expected '<document start>' ... (check the
    indentation ...)`."""
    a = "name: a\ntriggers: [{startup: true}]\nactions: [{log: a}]\n"
    b = a.replace("name: a", "name: b")
    path = tmp_path / "directive.yaml"
    path.write_text(f"%YAML 1.1\n---\n{a}%YAML 1.1\n--- # b\n{b}", encoding="utf-8")
    assert streams.split_stream(path.read_text(encoding="utf-8")) == [
        streams.Piece(a, 2),
        streams.Piece(b, 7),
    ]
    status = main(["scenario", "validate", str(path)])
    assert (status, capsys.readouterr()) == (
        0,
        (f"{path}: ok (a)\n{path}: ok (b)\n", ""),
    )


def test_a_file_is_read_up_to_a_bound_then_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """/dev/zero never ends: validate reads a bounded prefix and names the file."""
    status = main(["scenario", "validate", "/dev/zero"])
    assert (status, capsys.readouterr()) == (
        1,
        ("/dev/zero:1:1: the file is larger than 1 MiB\n", ""),
    )


def test_the_service_is_the_short_host_name_dot_core_scenario() -> None:
    assert hub.service_name("hub") == "hub.core.scenario"
    assert hub.service_name(None) == f"{short_hostname()}.core.scenario"


# --- requests and replies ---------------------------------------------------------------
def test_a_request_is_one_json_object_with_version_and_action() -> None:
    frame = text.request("import", document="name: x\n", source="x.yaml", replace=False)
    assert json.loads(frame) == {
        "v": 1,
        "action": "import",
        "document": "name: x\n",
        "source": "x.yaml",
        "replace": False,
    }


def test_a_reply_is_a_status_and_a_json_body() -> None:
    reply = text.decode_reply(
        [b"404", b'{"error": "no scenario x"}'], "h.core.scenario"
    )
    assert reply == text.Reply(404, {"error": "no scenario x"})
    assert (reply.ok, reply.field("error"), reply.field("missing")) == (
        False,
        "no scenario x",
        None,
    )


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([b"200"], "s: expected a reply [status, json], got 1 frames"),
        ([b"200", b"{}", b"x"], "s: expected a reply [status, json], got 3 frames"),
        ([b"OK", b"{}"], "s: bad status 'OK'"),
        ([b"2000", b"{}"], "s: bad status '2000'"),
        ([b"200", b"{oops"], "s: reply is not JSON: '{oops'"),
        ([b"200", b"\xff"], "s: reply is not JSON: '\\xff'"),
    ],
    ids=["one-frame", "three-frames", "word-status", "long-status", "bad-json", "bad-utf8"],
)  # fmt: skip
def test_a_reply_off_protocol_is_a_reply_error(
    frames: list[bytes], message: str
) -> None:
    with pytest.raises(text.ReplyError) as error:
        text.decode_reply(frames, "s")
    assert str(error.value) == message


def test_a_refusal_prints_its_error_then_every_problem() -> None:
    reply = text.Reply(
        400,
        {"error": "x.yaml: 2 problems", "problems": ["x.yaml:1:1: a", "x.yaml:3:7: b"]},
    )
    assert text.refusal_lines(reply) == [
        "x.yaml: 2 problems",
        "x.yaml:1:1: a",
        "x.yaml:3:7: b",
    ]
    assert text.refusal_lines(text.Reply(500, ["odd"])) == ["500: ['odd']"]


@pytest.mark.parametrize(
    ("status", "error", "line"),
    [
        (400, "not a valid scenario", "not a valid scenario"),
        (404, "no scenario 'x'", "no scenario 'x'"),
        (409, "scenario 'x' changed since it was read", "scenario 'x' changed since it was read"),
        (500, "internal error: KeyError", "500: internal error: KeyError"),
        (501, "unknown action 'validate'", "501: unknown action 'validate'"),
    ],
    ids=["invalid", "no-such", "changed", "internal", "unknown-action"],
)  # fmt: skip
def test_a_refusal_shows_its_status_only_for_a_failure_of_the_hub(
    status: int, error: str, line: str
) -> None:
    """A refused request's error says what its 4xx would; a 5xx says the hub failed,
    not the request, and stays."""
    assert text.refusal_lines(text.Reply(status, {"error": error})) == [line]
    assert text.refusal_lines(text.Reply(status, {})) == [f"{status}: {{}}"]


# --- printing ---------------------------------------------------------------------------
def test_list_prints_a_table_of_name_state_last_run_and_runs() -> None:
    listing: list[JsonValue] = [
        {"name": "frost-lamp", "state": "running", "last_run": T_2026_12_03_13_30_UTC,
         "runs": 12, "enabled": True},
        {"name": "hall-sunset", "state": "disabled", "last_run": None, "runs": 0},
        {"name": "x", "state": "error", "last_run": "yesterday", "runs": 3},
    ]  # fmt: skip
    assert text.list_table(listing, UTC) == (
        "NAME         STATE     LAST RUN                    RUNS\n"
        "frost-lamp   running   2026-12-03 13:30:00 +00:00    12\n"
        "hall-sunset  disabled  -                              0\n"
        "x            error     yesterday                      3\n"
    )
    assert text.list_table([], UTC) == "NAME  STATE  LAST RUN  RUNS\n"
    assert text.list_names(listing) == ["frost-lamp", "hall-sunset", "x"]


def test_list_text_names_the_zone_of_its_times_first() -> None:
    """As show's first line does: the hub's zone, or this machine's for an older
    hub's entries (they name none); an empty list has no times to name it for."""
    entry: dict[str, JsonValue] = {"name": "a", "state": "idle", "last_run": None}
    table = "NAME  STATE  LAST RUN  RUNS\na     idle   -            0\n"
    tokyo = text.list_text([{**entry, "timezone": "Asia/Tokyo"}])
    assert tokyo == "times in: Asia/Tokyo (the hub's [core] timezone)\n" + table
    assert text.list_text([entry]) == (
        "times in: this machine's (the hub's reply names no zone: an older raspyd)\n"
        + table
    )
    assert text.list_text([]) == "NAME  STATE  LAST RUN  RUNS\n"


def test_list_refuses_a_body_that_is_not_a_list_of_objects() -> None:
    with pytest.raises(text.ReplyError) as error:
        text.list_table({"name": "x"}, UTC)
    assert (
        str(error.value) == 'list: expected a JSON list of objects, got {"name": "x"}'
    )


def test_times_show_in_the_zone_given_and_control_characters_never_print() -> None:
    """A time names its zone's offset: the CLI may run on another machine (and in
    another zone) than the hub, and `14:30:00` alone did not say which 14:30."""
    assert text.describe_time(T_2026_12_03_13_30_UTC, BERLIN_WINTER) == (
        "2026-12-03 14:30:00 +01:00"
    )
    assert [text.describe_time(v, UTC) for v in (None, 0, "", True, 1e300)] == [
        "-", "-", "-", "true", "1e+300",
    ]  # fmt: skip
    assert text.cell("a\nb\x1b[31m") == "a?b?[31m"


def test_show_prints_the_fields_then_the_document_as_stored() -> None:
    entry: dict[str, JsonValue] = {
        "name": "frost-lamp", "description": "Lamp on", "enabled": True,
        "state": "idle", "mode": "restart", "last_run": T_2026_12_03_13_30_UTC,
        "last_trigger": {"kind": "kv", "id": "cold", "key": "/device/h.fake.outdoor/value",
                         "value": -0.5, "from": 0.5},
        "runs": 2, "last_error": "",
        "last_skip": {"at": T_2026_12_03_13_30_UTC + 60, "reason": "condition 1 is false: x",
                      "trigger": {"kind": "event", "key": "/event/bell", "value": 1}},
        "last_trace": ["+0.0s device h.fake.lamp on", "+0.1s device h.fake.lamp: 200",
                       "done"],
        "document": "# comment\nname: frost-lamp\n", "timezone": "UTC",
    }  # fmt: skip
    assert text.show_text(entry) == (
        "times in:     UTC (the hub's [core] timezone)\n"
        "name:         frost-lamp\n"
        "description:  Lamp on\n"
        "enabled:      yes\n"
        "state:        idle\n"
        "mode:         restart\n"
        "last run:     2026-12-03 13:30:00 +00:00\n"
        "last trigger: kv (cold) /device/h.fake.outdoor/value = -0.5\n"
        "runs:         2\n"
        "last error:   -\n"
        "last skipped: 2026-12-03 13:31:00 +00:00: condition 1 is false: x "
        "(event /event/bell = 1)\n"
        "last run did:\n"
        "  +0.0s device h.fake.lamp on\n"
        "  +0.1s device h.fake.lamp: 200\n"
        "  done\n"
        "\n"
        "# comment\n"
        "name: frost-lamp\n"
    )


def test_show_prints_the_run_under_way_before_the_last_one() -> None:
    entry: dict[str, JsonValue] = {
        "name": "sunrise", "enabled": True, "state": "running", "mode": "single",
        "last_run": T_2026_12_03_13_30_UTC, "runs": 2,
        "run_trace": ["+0.0s device h.fake.hall level 5", "+0.0s wait 60s"],
        "last_trace": ["+0.0s device h.fake.hall level 5", "+1140.0s done"],
        "timezone": "UTC",
    }  # fmt: skip
    assert text.show_text(entry).split("runs:         2\n")[1] == (
        "last error:   -\n"
        "last skipped: -\n"
        "run under way:\n"
        "  +0.0s device h.fake.hall level 5\n"
        "  +0.0s wait 60s\n"
        "last run did:\n"
        "  +0.0s device h.fake.hall level 5\n"
        "  +1140.0s done\n"
    )


def test_a_for_trigger_shows_since_when_its_hold_held() -> None:
    """`raspy scenario show`'s last trigger says when the `for:` hold began, in
    the zone the command shows its times in."""
    trigger: JsonValue = {
        "kind": "kv", "id": "freezer", "key": "/device/h.fake.freezer/value",
        "value": -11, "from": -18, "since": T_2026_12_03_13_30_UTC - 600,
    }  # fmt: skip
    assert text.describe_trigger(trigger, UTC) == (
        "kv (freezer) /device/h.fake.freezer/value = -11"
        " since 2026-12-03 13:20:00 +00:00"
    )
    skip: JsonValue = {"at": T_2026_12_03_13_30_UTC, "reason": "x", "trigger": trigger}
    assert text.describe_skip(skip, UTC) == (
        "2026-12-03 13:30:00 +00:00: x (kv (freezer) /device/h.fake.freezer/value"
        " = -11 since 2026-12-03 13:20:00 +00:00)"
    )


# --- YAML streams -----------------------------------------------------------------------
def test_a_trigger_shows_as_kind_id_key_and_value() -> None:
    triggers: list[JsonValue] = [
        {"kind": "cron", "id": "", "key": None, "value": None, "from": None},
        {"kind": "event", "id": "", "key": "/event/bell", "value": "front"},
        {"kind": "manual"},
        {"kind": "manual", "id": "", "by": "boss"},  # another scenario's `run:`
        {"kind": "when", "id": "cold", "key": "/house/setpoint", "value": True},
        {"kind": "when", "id": "", "key": None, "value": True},  # by the minute
        None,
        "odd",
    ]
    assert [text.describe_trigger(trigger) for trigger in triggers] == [
        "cron",
        'event /event/bell = "front"',
        "manual",
        "manual by boss",
        "when (cold) /house/setpoint = true",
        "when = true",
        "-",
        "odd",
    ]


def test_one_document_exports_byte_for_byte() -> None:
    assert streams.join_stream(["name: a  # no final line break"]) == (
        "name: a  # no final line break"
    )


def test_several_documents_export_as_a_stream_and_split_back() -> None:
    stream = streams.join_stream(["# a\nname: a\n", "name: b"])
    assert stream == "# a\nname: a\n---\nname: b\n"
    assert streams.split_stream(stream) == [
        streams.Piece("# a\nname: a\n", 0),
        streams.Piece("name: b\n", 3),
    ]


def test_a_file_without_separator_is_one_document_whatever_it_holds() -> None:
    assert streams.split_stream("") == [streams.Piece("", 0)]
    assert streams.split_stream("  --- x\n") == [streams.Piece("  --- x\n", 0)]


def test_pieces_of_only_comments_and_blanks_are_no_documents() -> None:
    source = "# header\n\n--- # first\nname: a\n---\n  \n---\r\nname: b\n...\n"
    assert streams.split_stream(source) == [
        streams.Piece("name: a\n", 3),
        streams.Piece("name: b\n...\n", 7),
    ]


def test_a_problem_in_a_later_document_names_the_line_of_the_file() -> None:
    assert streams.shift_problem("f.yaml:2:5: bad mode", "f.yaml", 10) == (
        "f.yaml:12:5: bad mode"
    )
    assert streams.shift_problem("f.yaml:2:5: x", "f.yaml", 0) == "f.yaml:2:5: x"
    assert streams.shift_problem("other:2:5: x", "f.yaml", 3) == "other:2:5: x"
    assert streams.shift_problem("f.yaml: x", "f.yaml", 3) == "f.yaml: x"


def test_a_file_that_is_not_utf8_names_the_line_and_column_of_the_bad_byte() -> None:
    assert streams.decode_document(b"name: a\ndescription: caf\xe9\n", "f.yaml") == (
        None,
        "f.yaml:2:17: not UTF-8 text",
    )
    assert streams.decode_document("é\n".encode(), "f.yaml") == ("é\n", None)


_LINE = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\n"),
    max_size=30,
).filter(lambda line: not streams.is_separator(line))
_DOCUMENT = st.lists(_LINE, min_size=1, max_size=6).map(
    lambda lines: "name: x\n" + "".join(f"{line}\n" for line in lines)
)


def _ends_in_a_directive(document: str) -> bool:
    """Its last line of content starts with `%`: before a `---` line, YAML reads that
    as a directive of the next document (tested on its own above)."""
    content = [
        line
        for line in document.split("\n")
        if line.strip() and line.lstrip()[:1] != "#"
    ]
    return content[-1].startswith("%")


@given(st.lists(_DOCUMENT, min_size=2, max_size=5))
def test_any_documents_without_separators_round_trip_through_a_stream(
    documents: list[str],
) -> None:
    assume(not any(_ends_in_a_directive(document) for document in documents[:-1]))
    pieces = streams.split_stream(streams.join_stream(documents))
    assert [piece.text for piece in pieces] == documents


def test_a_percent_line_at_the_end_of_a_file_stays_in_its_last_document() -> None:
    """No `---` follows it, so it starts no next document (found by the test above)."""
    documents = ["name: x\n\n", "name: x\n%\n"]
    pieces = streams.split_stream(streams.join_stream(documents))
    assert [piece.text for piece in pieces] == documents


@given(st.text(max_size=300))
def test_any_text_splits_into_pieces_that_are_its_own_lines(source: str) -> None:
    """split_stream never raises, and each piece is the file's text from its line on,
    the pieces in order and apart."""
    starts = [0]
    for line in source.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    end_of_previous = 0
    for piece in streams.split_stream(source):
        start = starts[piece.first_line]
        assert start >= end_of_previous
        assert source[start : start + len(piece.text)] == piece.text
        end_of_previous = start + len(piece.text)


def _json_or_none(frame: bytes) -> tuple[bool, JsonValue]:
    try:
        return True, json.loads(frame.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is one
        return False, None


@given(
    st.lists(
        st.one_of(st.binary(max_size=40), st.sampled_from([b"200", b"404", b"[]"])),
        max_size=4,
    )
)
def test_any_frames_decode_to_a_reply_or_a_reply_error(frames: list[bytes]) -> None:
    """Two frames, three ASCII digits, JSON: a Reply; anything else: ReplyError."""
    is_json, body = _json_or_none(frames[1]) if len(frames) == 2 else (False, None)
    if is_json and len(frames[0]) == 3 and frames[0].isdigit():
        reply = text.decode_reply(frames, "s")  # JSON text compared: NaN != NaN
        assert (reply.status, json.dumps(reply.body)) == (
            int(frames[0]),
            json.dumps(body),
        )
    else:
        with pytest.raises(text.ReplyError):
            text.decode_reply(frames, "s")


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_name_the_line_and_column_of_the_first_bad_byte(
    data: bytes,
) -> None:
    try:
        expected_text: str | None = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        expected_text, bad = None, exc.start
    decoded, problem = streams.decode_document(data, "f")
    if expected_text is not None:
        assert (decoded, problem) == (expected_text, None)
        return
    line = data[:bad].count(b"\n") + 1
    col = bad - data[:bad].rfind(b"\n")
    assert (decoded, problem) == (None, f"f:{line}:{col}: not UTF-8 text")
