"""MMI helpers: RFC 8 mmi.service and the raspy extensions mmi.services/mmi.workers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.protocol import mmi


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        pytest.param(b"mmi.service", True, id="mmi-service"),
        pytest.param(b"mmi.", True, id="bare-prefix"),
        pytest.param(b"mmi.foo", True, id="unknown-mmi"),
        pytest.param(b"mmi", False, id="no-dot"),
        pytest.param(b"MMI.service", False, id="case-sensitive"),
        pytest.param(b"echo", False, id="ordinary"),
        pytest.param(b"", False, id="empty"),
    ],
)
def test_the_mmi_namespace_is_the_five_byte_prefix(
    service: bytes, expected: bool
) -> None:
    """docs/protocols.md §4: every name starting with b'mmi.' is the broker's own."""
    assert mmi.is_mmi(service) is expected


def test_mmi_service_answers_200_or_404_in_one_frame() -> None:
    """docs/protocols.md §4: the reply body is one frame, bare three ASCII digits."""
    assert (mmi.service_reply(True), mmi.service_reply(False)) == ((b"200",), (b"404",))


def test_other_mmi_names_are_answered_501() -> None:
    """docs/protocols.md §4: any other mmi.* name is answered 501."""
    assert mmi.not_implemented_reply() == (b"501",)


LIVE = [b"kitchen.echo", b"attic.onewire", b"kitchen.onewire", b"\xffodd"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param(
            b"",
            (b"200", b"attic.onewire", b"kitchen.echo", b"kitchen.onewire", b"\xffodd"),
            id="empty-is-all",
        ),
        pytest.param(
            b"kitchen.*", (b"200", b"kitchen.echo", b"kitchen.onewire"), id="glob"
        ),
        pytest.param(
            b"*.onewire", (b"200", b"attic.onewire", b"kitchen.onewire"), id="suffix"
        ),
        pytest.param(b"KITCHEN.*", (b"200",), id="case-sensitive"),
        pytest.param(b"nothing", (b"200",), id="no-match"),
        pytest.param(
            b"\\xffodd", (b"200", b"\xffodd"), id="non-ascii-backslashreplace"
        ),
        pytest.param(b"x" * 256, (b"400",), id="pattern-too-long"),
    ],
)
def test_mmi_services_lists_matching_live_services_sorted(
    pattern: bytes, expected: tuple[bytes, ...]
) -> None:
    """mmi.py docstring (raspy extension): [b'200', *sorted names] or [b'400']."""
    assert mmi.services_reply(pattern, LIVE) == expected


def test_mmi_workers_reports_idle_busy_and_versions_as_sorted_json() -> None:
    """mmi.py docstring (raspy extension): [b'200', compact JSON, sorted keys]."""
    live = {
        b"echo": mmi.WorkerCounts(idle=2, busy=1, v01=1, v02=2, majortomo=0),
        b"attic": mmi.WorkerCounts(idle=0, busy=1, v01=0, v02=0, majortomo=1),
    }
    assert mmi.workers_reply(b"", live) == (
        b"200",
        b'{"attic":{"busy":1,"idle":0,"versions":{"0.1":0,"0.2":0,"majortomo":1}},'
        b'"echo":{"busy":1,"idle":2,"versions":{"0.1":1,"0.2":2,"majortomo":0}}}',
    )


def test_mmi_workers_filters_by_glob_and_refuses_long_patterns() -> None:
    """mmi.py docstring (raspy extension): pattern as for mmi.services."""
    live = {b"echo": mmi.WorkerCounts(1, 0, 1, 0, 0), b"other": mmi.WorkerCounts()}
    assert mmi.workers_reply(b"e*", live) == (
        b"200",
        b'{"echo":{"busy":0,"idle":1,"versions":{"0.1":1,"0.2":0,"majortomo":0}}}',
    )
    assert mmi.workers_reply(b"?" * 256, live) == (b"400",)


@given(st.binary(max_size=300), st.lists(st.binary(max_size=12), max_size=6))
def test_any_pattern_gives_a_status_frame_and_valid_json(
    pattern: bytes, names: list[bytes]
) -> None:
    """mmi.py docstring: every reply opens with 200 or 400; the JSON always parses."""
    services = mmi.services_reply(pattern, names)
    workers = mmi.workers_reply(pattern, dict.fromkeys(names, mmi.WorkerCounts()))
    assert services[0] in (b"200", b"400")
    assert workers[0] == services[0]
    if workers[0] == b"200":
        assert isinstance(json.loads(workers[1]), dict)
