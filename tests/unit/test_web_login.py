"""Web logins (raspy.web.login): scrypt hashes, sessions, CSRF tokens, throttling."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.errors import ConfigError
from raspy.web import login
from raspy.web.login import (
    LoginThrottle,
    SecretHash,
    Sessions,
    client_key,
    csrf_ok,
    hash_secret,
    new_token,
    parse_hash,
    safe_next,
    same_origin,
    verify,
)
from raspy.web.login_files import read_hash

SALT = bytes(range(16))


def test_a_hash_verifies_its_secret_and_nothing_else() -> None:
    hashed = hash_secret("correct horse", SALT)
    assert (verify("correct horse", hashed), verify("correct hors", hashed)) == (
        True,
        False,
    )


def test_a_hash_line_parses_back_to_the_same_hash() -> None:
    hashed = hash_secret("tok", SALT)
    assert parse_hash(hashed.line() + "\n") == hashed


def test_the_hash_line_names_scrypt_and_its_parameters() -> None:
    assert hash_secret("tok", SALT).line().split("$")[:4] == [
        "scrypt",
        "16384",
        "8",
        "1",
    ]


def test_two_hashes_of_one_secret_differ_by_their_salt() -> None:
    assert hash_secret("same").line() != hash_secret("same").line()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("", 'expected scrypt$N$r$p$salt$hash, got ""', id="empty"),
        pytest.param(
            "bcrypt$1$2$3$4$5",
            'expected scrypt$N$r$p$salt$hash, got "bcrypt$1$2$3$4$5"',
            id="scheme",
        ),
        pytest.param(
            "scrypt$3$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==",
            "scrypt parameters out of range: n=3 r=8 p=1",
            id="n-not-power-of-two",
        ),
        pytest.param(
            "scrypt$16384$8$1$AA==$AAAAAAAAAAAAAAAAAAAAAA==",
            "salt or hash of an unexpected length",
            id="short-salt",
        ),
    ],
)
def test_a_bad_hash_line_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r".") as caught:
        parse_hash(text)
    assert str(caught.value) == reason


@given(st.text(max_size=120))
def test_any_text_parses_as_a_hash_or_raises_value_error(text: str) -> None:
    try:
        result = parse_hash(text)
    except ValueError:
        return
    assert isinstance(result, SecretHash)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_secret_verifies_against_its_own_hash(secret: str) -> None:
    """Any text goes through hash and check alike (its UTF-8, nothing trimmed). The
    scrypt cost is the module's `_N`, which `hash_secret` reads at each call and
    `verify` takes from the hash: the least cost here (two derivations of 16 MiB
    an example were 2 s of the suite's CPU for 20); the tests above keep the real
    one. 200 examples: at 20 a check that trimmed the secret passed, at 200 a
    blank one found it (three runs of three)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(login, "_N", 2)
        hashed = hash_secret(secret, SALT)
    assert hashed.n == 2
    assert verify(secret, hashed)


def test_an_empty_secret_is_never_hashed_nor_accepted() -> None:
    with pytest.raises(ValueError, match=r"expected 1\.\.1024 characters"):
        hash_secret("")
    assert verify("", hash_secret("x", SALT)) is False


def test_new_tokens_are_long_and_distinct() -> None:
    first, second = new_token(), new_token()
    assert (len(first), first != second) == (32, True)


def test_a_session_lives_until_its_lifetime_has_passed() -> None:
    sessions = Sessions(lifetime_s=60.0)
    session = sessions.create(now=100.0)
    assert (sessions.get(session.sid, 159.9), sessions.get(session.sid, 160.0)) == (
        session,
        None,
    )
    assert len(sessions) == 0  # the expired one is dropped


def test_a_session_ends_when_the_login_files_change() -> None:
    """A new `raspy web-token` (or password) ends the sessions made with the old."""
    sessions = Sessions(lifetime_s=60.0)
    before = sessions.create(now=0.0, logins="token-1")
    assert sessions.get(before.sid, 1.0, "token-1") == before
    assert sessions.get(before.sid, 2.0, "token-2") is None
    assert sessions.get(before.sid, 3.0, "token-1") is None  # dropped for good
    after = sessions.create(now=4.0, logins="token-2")
    assert sessions.get(after.sid, 5.0, "token-2") == after


def test_an_unknown_or_missing_cookie_has_no_session() -> None:
    sessions = Sessions(lifetime_s=60.0)
    sessions.create(now=0.0)
    assert (sessions.get("nope", 1.0), sessions.get(None, 1.0)) == (None, None)


def test_sessions_past_the_limit_drop_the_oldest() -> None:
    sessions = Sessions(lifetime_s=60.0, limit=2)
    first, second, third = (sessions.create(now=float(i)) for i in range(3))
    assert [sessions.get(s.sid, 3.0) for s in (first, second, third)] == [
        None,
        second,
        third,
    ]


def test_a_dropped_session_is_gone() -> None:
    sessions = Sessions(lifetime_s=60.0)
    session = sessions.create(now=0.0)
    sessions.drop(session.sid)
    assert sessions.get(session.sid, 1.0) is None


def test_csrf_accepts_only_the_sessions_own_token() -> None:
    session = Sessions(lifetime_s=60.0).create(now=0.0)
    assert [
        csrf_ok(session, session.csrf),
        csrf_ok(session, session.csrf + "x"),
        csrf_ok(session, ""),
        csrf_ok(session, None),
        csrf_ok(session, "é"),
    ] == [True, False, False, False, False]


def test_the_throttle_refuses_after_too_many_failures_until_the_window_passes() -> None:
    throttle = LoginThrottle(attempts=2, window_s=60.0)
    throttle.failed("10.0.0.5", 0.0)
    throttle.failed("10.0.0.5", 1.0)
    assert throttle.refusal("10.0.0.5", 30.0) is not None
    assert throttle.refusal("10.0.0.5", 61.0) is None


def test_one_client_failing_does_not_lock_out_another() -> None:
    """A gadget guessing on the LAN used to lock the household out for good."""
    throttle = LoginThrottle(attempts=2, window_s=60.0, total=10)
    for at in (0.0, 1.0, 2.0):
        throttle.failed("10.0.0.66", at)
    assert throttle.refusal("10.0.0.66", 3.0) == (
        "Too many failed logins from this address; wait a minute."
    )
    assert throttle.refusal("10.0.0.5", 3.0) is None


def test_all_clients_together_are_capped() -> None:
    throttle = LoginThrottle(attempts=2, window_s=60.0, total=3)
    for n, at in enumerate((0.0, 1.0, 2.0)):
        throttle.failed(f"10.0.0.{n}", at)
    assert throttle.refusal("10.0.0.9", 3.0) == "Too many failed logins; wait a minute."
    assert throttle.refusal("10.0.0.9", 60.5) is None  # the first one has passed


def test_a_try_counted_while_checked_no_longer_counts_once_it_succeeded() -> None:
    throttle = LoginThrottle(attempts=2, window_s=60.0, total=2)
    throttle.failed("a", 0.0)
    throttle.failed("a", 1.0)
    throttle.cleared("a", 1.0)
    throttle.cleared("a", 5.0)  # never counted: nothing to take back
    throttle.cleared("b", 1.0)  # nor from another client
    assert throttle.refusal("a", 2.0) is None
    throttle.failed("b", 2.0)
    assert throttle.refusal("c", 2.0) is not None  # a's one left and b's: the total


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.floats(0, 1.0), st.booleans()),
        max_size=200,
    )
)
def test_the_throttle_keeps_only_clients_with_failures_in_the_window(
    steps: list[tuple[str, float, bool]],
) -> None:
    """Hypothesis: a client is refused exactly when its own or all failures of the
    last window reach their limits, and at most `total` clients are kept."""
    throttle = LoginThrottle(attempts=3, window_s=5.0, total=6)
    counted: list[tuple[str, float]] = []
    now = 0.0
    for client, step, succeeds in steps:
        now += step
        counted = [(c, t) for c, t in counted if t > now - 5.0]
        mine = sum(1 for c, _ in counted if c == client)
        refused = throttle.refusal(client, now) is not None
        assert refused == (mine >= 3 or len(counted) >= 6)
        assert len(throttle._failures) <= 6
        if refused:
            continue
        throttle.failed(client, now)
        counted.append((client, now))
        if succeeds:
            throttle.cleared(client, now)
            counted.remove((client, now))


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.168.1.20", "192.168.1.20"),
        ("::ffff:192.168.1.20", "192.168.1.20"),
        ("2001:DB8:1:2:0:0:0:99", "2001:db8:1:2::99"),  # one spelling
        ("2001:db8:1:2::98", "2001:db8:1:2::98"),  # not its /64: the LAN shares it
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("testclient", "testclient"),
        (None, ""),
    ],
)
def test_a_client_is_its_address(host: str | None, key: str) -> None:
    assert client_key(host) == key


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (None, "hub.lan:8080"),  # no Origin header: the CSRF token decides
        ("http://hub.lan:8080", "hub.lan:8080"),
        ("https://hub.lan", "hub.lan"),  # a TLS proxy that passes the Host on
        ("https://hub.lan:443", "hub.lan"),
        ("http://Hub.LAN", "hub.lan:80"),
        ("http://[::1]:8080", "[::1]:8080"),
        ("http://[::1]", "[::1]:80"),
    ],
)
def test_an_origin_naming_the_host_it_was_sent_to_is_the_same(
    origin: str | None, host: str
) -> None:
    assert same_origin(origin, host)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://evil.example", "hub.lan:8080"),
        ("http://hub.lan:8081", "hub.lan:8080"),
        ("https://hub.lan", "hub.lan:8080"),
        ("http://hub.lan.evil.example", "hub.lan"),
        ("null", "hub.lan"),
        ("file://", "hub.lan"),
        ("chrome-extension://abc", "abc"),
        ("http://hub.lan", ""),
    ],
)
def test_an_origin_naming_another_site_is_not(origin: str, host: str) -> None:
    assert not same_origin(origin, host)


_HEADER_TEXT = st.text(max_size=30) | st.sampled_from(
    ["http://hub.lan", "https://hub.lan:443", "null", "http://[::1]:80", "http://"]
)


@given(
    cookie=st.none() | st.text(max_size=40),
    supplied=st.none() | st.text(max_size=40),
    origin=st.none() | _HEADER_TEXT,
    host=_HEADER_TEXT,
    peer=st.none() | st.text(max_size=40) | st.ip_addresses().map(str),
)
def test_any_cookie_token_origin_and_peer_give_an_answer_without_raising(
    cookie: str | None,
    supplied: str | None,
    origin: str | None,
    host: str,
    peer: str | None,
) -> None:
    """What a browser sends (cookie, CSRF field, Origin and Host headers, its
    address) is checked to a yes or a no, whatever it holds."""
    sessions = Sessions(lifetime_s=60.0)
    session = sessions.create(now=0.0)
    assert sessions.get(cookie, now=1.0) in (None, session)
    assert csrf_ok(session, supplied) is (supplied == session.csrf)
    assert isinstance(same_origin(origin, host), bool)
    assert same_origin(f"http://{host}", host) is bool(host)
    assert isinstance(client_key(peer), str)


@settings(max_examples=50)
@given(
    st.binary(max_size=80)
    | st.sampled_from(["", "scrypt$16$1$1$", "scrypt$16$8$1$AAAAAAAAAAA=$x"]).map(
        str.encode
    )
)
def test_any_hash_file_gives_a_hash_nothing_or_a_config_error(data: bytes) -> None:
    """The token or password file, as anyone may have edited it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "web-token"
        path.write_bytes(data)
        try:
            found: SecretHash | str | None = read_hash(path, "web token")
        except ConfigError as exc:
            found = str(exc)
    assert found is None or isinstance(found, SecretHash) or str(path) in found


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("target", "went"),
    [
        ("/scenarios/hall/edit", "/scenarios/hall/edit"),
        ("/device/a%20b?x=1&y=2", "/device/a%20b?x=1&y=2"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("scenarios", "/"),  # relative
        ("//evil.example/x", "/"),  # a host
        ("///evil.example", "/"),
        ("/\\evil.example", "/"),  # a backslash: a host to browsers
        ("/\\/evil.example", "/"),
        ("https://evil.example/", "/"),  # a scheme
        ("javascript:alert(1)", "/"),
        ("/\t/evil.example", "/"),  # browsers drop the tab: //evil.example
        ("/\r\n/evil.example", "/"),
        ("/a\x00b", "/"),
        ("/a\x7fb", "/"),
        ("/a b", "/"),
        ("/caf\u00e9", "/"),  # not as a browser sends a path: percent-encoded
        ("/" + "a" * 2000, "/"),
    ],
)
def test_a_login_goes_on_only_to_a_path_of_this_site(
    target: str | None, went: str
) -> None:
    assert safe_next(target) == went
