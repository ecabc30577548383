"""A scenario's `http:` action on the real parts: a core on an edge, a Clone server
and a Store (FakeClock), the hub's `<host>.http` service, and a real HTTP server on
127.0.0.1. What a household sees when the push service refuses a message, or when
the hub does not serve `<host>.http` at all (docs/scenarios.md "Telling a phone")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.core_actors import (
    HOST,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.http_server import HttpServer
from support.scenario_house import (
    House,
    house_fixture,  # noqa: F401  # fixture `house`
    served_http,
)

from raspy.rules.run_http import HTTP_GRACE_S

EVENT = "/event/test/go"


def _document(name: str, url: str, timeout: str = "10s") -> str:
    return (
        f"name: {name}\n"
        "triggers:\n"
        f"  - event: {EVENT}\n"
        "actions:\n"
        f'  - http: "{url}"\n'
        '    body: {door: "{trigger.value}"}\n'
        "    headers: {Authorization: Bearer tk_secret}\n"
        f"    timeout: {timeout}\n"
        "  - set: /house/told\n"
        '    value: "{trigger.value}"\n'
    )


@pytest.fixture(name="push")
def push_fixture(house: House) -> Iterator[HttpServer]:
    with served_http(house) as server:
        yield server


def test_a_webhook_gets_the_json_and_the_run_goes_on(
    house: House, push: HttpServer
) -> None:
    house.start()
    name = house.imported("hook.yaml", _document("hook", f"{push.url}/ok"))
    house.event(EVENT, "back", name)
    got = push.take()
    assert (got.method, got.body, got.headers["authorization"]) == (
        "POST",
        b'{"door": "back"}',
        "Bearer tk_secret",
    )
    assert got.headers["content-type"] == "application/json"
    wait_value(house.tree, "/house/told", "back")
    assert value(house.tree, f"/scenario/{name}/last_error") is None


def test_a_refused_message_fails_the_run_with_the_answer_and_no_token(
    house: House, push: HttpServer
) -> None:
    house.start()
    url = push.url.replace("://", "://me:pw@") + "/nothing?auth=tk_secret"
    name = house.imported("hook.yaml", _document("hook", url))
    house.event(EVENT, "back", name)
    assert push.take().path == "/nothing?auth=tk_secret"
    shown = f"{push.url}/…"  # the path is not shown
    wait_value(
        house.tree,
        f"/scenario/{name}/last_error",
        f"http POST {shown}: 404 Not Found: no such topic here",
    )
    assert house.state(name) == "error"
    assert value(house.tree, "/house/told") is None  # the run stopped there
    _, reply = house.core.request("get", name=name)
    trace = "\n".join(reply["last_trace"])
    assert "tk_secret" not in trace
    assert "me:pw" not in trace


def test_without_the_http_service_the_run_fails_after_its_patience(
    house: House,
) -> None:
    """Nothing serves `<host>.http` (its actor gone, the hub told it is on): nothing
    is sent, and the run says so once its timeout and the grace have passed."""
    house.start()
    name = house.imported("hook.yaml", _document("hook", "https://ntfy.sh/x", "2s"))
    house.event(EVENT, "back", name)
    house.advance(2 + HTTP_GRACE_S - 0.5)
    house.tick(name)
    # still waiting at this clock (the tree shows the run's start a moment later)
    wait_value(house.tree, f"/scenario/{name}/state", "running")
    house.advance(0.5)
    house.tick(name)
    wait_value(
        house.tree,
        f"/scenario/{name}/last_error",
        f"http POST https://ntfy.sh/…: {HOST}.http did not answer within 7s",
    )
