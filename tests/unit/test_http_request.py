"""raspy.http_request: the URLs and headers an `http:` action may send, what is shown
of a URL, and the `<host>.http` service's request and reply (README),
with hypothesis on every decoder: any input decodes or raises its typed error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.errors import MalformedMessage
from raspy.http_reply import (
    BARE_REDIRECT,
    Answer,
    Failure,
    encode_outcome,
    reply_reason,
    shown_outcome,
)
from raspy.http_request import (
    DEFAULT_TIMEOUT_S,
    MAX_BODY_BYTES,
    HttpRequest,
    UrlError,
    check_url,
    decode_request,
    encode_request,
    header_name_problem,
    header_value_problem,
    hidden,
    shown_url,
)


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://ntfy.sh/my-house", "https://ntfy.sh/my-house"),
        ("HTTP://Hub.local:8123/api", "http://Hub.local:8123/api"),
        ("https://ntfy.sh/a b?msg=é&x=1#part", "https://ntfy.sh/a%20b?msg=%C3%A9&x=1"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://u:p%40ss@h.example/", "https://u:p%40ss@h.example/"),
        ("https://h.example", "https://h.example"),
        ("http://é me:p@h/", "http://%C3%A9%20me:p@h/"),
    ],
)
def test_a_good_url_is_sent_percent_encoded_without_its_fragment(
    url: str, sent: str
) -> None:
    assert check_url(url) == sent


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://x/", 'expected a URL starting with http:// or https://, got "ftp://x/"'),
        ("ntfy.sh/x", 'expected a URL starting with http:// or https://, got "ntfy.sh/…"'),
        ("https:///x", 'a URL needs a host (https://HOST/...), got "https:///…"'),
        ("http://a:99999/", 'not a URL (Port out of range 0-65535): "http://a:99999/"'),
        ("http://h:0/", 'expected a port 1..65535, got 0 in "http://h:0/"'),
        (
            "http://wörld.example/",
            "expected a host name of letters, digits, '.', '-' (an international "
            'one in its xn-- form), got "wörld.example"',
        ),
        ("http://x/\r\nHost: y", 'a URL has no control characters (a line break?), got "http://x/…"'),
        ("https://me:pw@x/?auth=tk\n", 'a URL has no control characters (a line break?), got "https://x/"'),
        ("https://x/" + "a" * 9000, "a URL of 9010 characters; at most 8192"),
        ("https://x/\ud800", "a URL of text that is not UTF-8 (a lone surrogate)"),
    ],
)  # fmt: skip
def test_a_url_that_is_not_http_is_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(UrlError) as caught:
        check_url(url)
    assert str(caught.value) == why


def test_a_shown_url_has_no_user_password_path_query_or_fragment() -> None:
    """The path was shown: an ntfy topic (read by whoever knows it), a Telegram bot's
    token, a webhook's id went into the log and the scenario's last error."""
    assert shown_url("https://me:pw@ntfy.sh:443/topic?auth=tk#x") == (
        "https://ntfy.sh:443/…"
    )
    assert shown_url("https://api.telegram.org/bot123:AAE-x/sendMessage") == (
        "https://api.telegram.org/…"
    )
    assert shown_url("https://h/") == "https://h/"
    assert shown_url("https://h") == "https://h"
    assert shown_url("not a url\n?x") == "not a url?"
    assert shown_url("https://" + "h" * 200) == "https://" + "h" * 111 + "…"


@settings(max_examples=500)
@given(
    st.text(max_size=80)
    | st.from_regex(r"https?://[a-z@:%.\[\]0-9]*/[^#]*", fullmatch=True)
)
def test_any_text_is_a_url_to_send_or_a_url_error(text: str) -> None:
    sent = _checked(text)
    if isinstance(sent, UrlError):
        assert str(sent)
        return
    assert sent.startswith(("http://", "https://"))
    assert not any(c <= " " or c == "\x7f" or c > "~" for c in sent)
    assert check_url(sent) == sent  # sending it again changes nothing
    shown = shown_url(sent)
    assert "?" not in shown
    assert "@" not in shown.split("/", 3)[2]
    assert shown.split("/", 3)[3:] in ([], [""], ["…"])  # no path shown


def _checked(text: str) -> str | UrlError:
    try:
        return check_url(text)
    except UrlError as exc:
        return exc


def test_header_names_are_tokens_and_values_have_no_line_breaks() -> None:
    assert header_name_problem("X-Title") is None
    assert header_name_problem("Content-Length") == (
        "the header Content-Length is written by raspy itself"
    )
    assert header_name_problem("a b") == (
        "expected a header name of letters, digits and !#$%&'*+-.^_`|~ (at most 64), "
        'got "a b"'
    )
    assert header_value_problem("Bearer tk\tx") is None
    assert header_value_problem("tk\nX: 1") == (
        "its value has a line break or another control character"
    )
    assert header_value_problem("x" * 8193) == "its value is over 8192 bytes"
    assert header_value_problem("\ud800") == (
        "its value is not UTF-8 text (a lone surrogate)"
    )


REQUESTS = st.builds(
    HttpRequest,
    st.sampled_from(["POST", "PUT"]),
    st.sampled_from(["https://ntfy.sh/x", "http://127.0.0.1:1/a?b=%20"]),
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True),
            st.text(
                st.characters(
                    min_codepoint=32,
                    exclude_characters="\x7f",
                    exclude_categories=[
                        "Cs"
                    ],  # no UTF-8: check_url and headers refuse it
                ),
                max_size=20,
            ),
        ),
        max_size=4,
        unique_by=lambda pair: pair[0].lower(),
    )
    .filter(lambda pairs: all(header_name_problem(n) is None for n, _ in pairs))
    .map(tuple),
    st.binary(max_size=64),
    st.floats(0.001, 60),
    st.none() | st.floats(-1e9, 1e9),
)


@given(REQUESTS)
def test_a_request_decodes_to_what_was_encoded(request: HttpRequest) -> None:
    assert decode_request(encode_request(request)) == request


@settings(max_examples=500)
@given(
    st.lists(
        st.binary(max_size=40)
        | st.builds(
            lambda head: json.dumps(head).encode(),
            st.fixed_dictionaries(
                {"v": st.sampled_from([1, 2, "1"])},
                optional={
                    "method": st.sampled_from(["GET", "POST", "DELETE", 1, None]),
                    "url": st.sampled_from(["https://x/", "file:///etc", 5, "http://"]),
                    "headers": st.sampled_from(
                        [[], [["A", "b"]], [["A", "b\n"]], [["A"]], {"A": "b"}, [["a", "1"], ["A", "2"]]]
                    ),
                    "timeout_s": st.sampled_from([10, 0, 61, True, "5", 1e308]),
                    "give_up_at": st.sampled_from([None, 12.5, 10**400, True, "1", 1e308, float("nan")]),
                },
            ),
        ),
        max_size=3,
    )
)  # fmt: skip
def test_any_frames_decode_to_a_request_or_a_malformed_message(
    frames: list[bytes],
) -> None:
    try:
        request = decode_request(frames)
    except MalformedMessage as exc:
        refused: MalformedMessage | None = exc
    else:
        refused = None
        assert request.url == check_url(request.url)
        assert not (request.method == "GET" and request.body)
    assert refused is None or refused.protocol == "http"


def test_give_up_at_is_optional_on_the_wire_and_must_be_a_number() -> None:
    """A sender of before give_up_at (none in the frame) still gets its request
    made; one that says it is read as given."""
    old = b'{"v": 1, "method": "GET", "url": "https://x/", "timeout_s": 5}'
    assert decode_request([old]) == HttpRequest("GET", "https://x/", timeout_s=5.0)
    assert json.loads(encode_request(HttpRequest("GET", "https://x/"))[0]) == {
        "v": 1,
        "method": "GET",
        "url": "https://x/",
        "headers": [],
        "timeout_s": DEFAULT_TIMEOUT_S,
    }
    given = HttpRequest("GET", "https://x/", give_up_at=1234.5)
    assert json.loads(encode_request(given)[0])["give_up_at"] == 1234.5
    assert decode_request(encode_request(given)) == given
    with pytest.raises(MalformedMessage) as caught:
        decode_request([old.replace(b"}", b', "give_up_at": "soon"}')])
    assert (caught.value.reason, caught.value.detail) == (
        "give_up_at",
        'expected give_up_at as a number of seconds, got "soon"',
    )


def test_secrets_go_as_an_object_and_are_hidden_from_text() -> None:
    """The secrets a request holds (`{secret.NAME}` filled in), which the service
    hides in what it logs; as written and as a URL carries them, longest first."""
    given = HttpRequest("GET", "https://x/", secrets=(("token", "a b"), ("k", "a")))
    assert json.loads(encode_request(given)[0])["secrets"] == {"token": "a b", "k": "a"}
    assert decode_request(encode_request(given)) == given
    head = b'{"v": 1, "method": "GET", "url": "https://x/", "secrets": {"a": 1}}'
    with pytest.raises(MalformedMessage) as caught:
        decode_request([head])
    assert caught.value.reason == "secrets"
    secrets = {"token": "a b", "k": "a"}
    assert hidden("/a%20b/a b/a/c", secrets) == (
        "/{secret.token}/{secret.token}/{secret.k}/c"
    )
    assert hidden("nothing here", {"empty": ""}) == "nothing here"
    # as a URL's secret is filled in (url_secret): its / ? # @ % encoded
    assert hidden("/x%2Fy%40z/", {"s": "x/y@z"}) == "/{secret.s}/"


def test_a_secret_a_server_echoes_escaped_or_misread_is_hidden_too() -> None:
    """A server that quotes the request back: a JSON body escapes a quote and a
    letter beyond ASCII, and a header sent as UTF-8 comes back read as Latin-1
    (`é` as `Ã©`, which Python's own http.server does)."""
    secrets = {"key": 'tk_"é"'}
    echoes = [
        'tk_"é"',
        'tk_\\"\\u00e9\\"',  # json.dumps of the value
        'tk_\\"é\\"',  # the same, ensure_ascii=False
        'tk_"Ã©"',  # its UTF-8 read as Latin-1
        "tk_%22%C3%A9%22",  # in a URL
    ]
    for echo in echoes:
        assert hidden(f"you sent {echo}.", secrets) == "you sent {secret.key}.", echo


def test_a_body_too_large_or_sent_with_a_get_is_malformed() -> None:
    head = encode_request(HttpRequest("POST", "https://x/"))[0]
    with pytest.raises(MalformedMessage) as caught:
        decode_request([head, b"x" * (MAX_BODY_BYTES + 1)])
    assert (
        caught.value.detail
        == f"a body of {MAX_BODY_BYTES + 1} bytes; at most {MAX_BODY_BYTES}"
    )
    get = encode_request(HttpRequest("GET", "https://x/"))[0]
    with pytest.raises(MalformedMessage) as caught:
        decode_request([get, b"x"])
    assert caught.value.detail == "a GET sends no body"


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        (Answer(204, "No Content"), (True, "204 No Content")),
        (Answer(404, "Not Found", b"  no\n such topic "), (False, "404 Not Found: no such topic")),
        (Answer(500, "", b""), (False, "500")),
        (Failure("timeout", "no answer within 10s"), (False, "no answer within 10s")),
        (Failure("connect", "connection refused"), (False, "connection refused")),
    ],
)  # fmt: skip
def test_a_reply_says_whether_it_worked_and_what_happened(
    outcome: Answer | Failure, said: tuple[bool, str]
) -> None:
    assert reply_reason(tuple(encode_outcome(outcome))) == said


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        (Answer(204, "No Content"), (True, "204 No Content")),
        (Answer(401, "Unauthorized", b"key tk_1 rejected"), (False, "401 Unauthorized")),
        (Answer(401, "key tk_1 " + "x" * 60), (False, "401")),
        (Answer(500, "", b"tk_1"), (False, "500")),
        (Failure("redirect", "a redirect to https://tk_1/ refused"), (False, BARE_REDIRECT)),
        (Failure("connect", "connection refused"), (False, "connection refused")),
    ],
)  # fmt: skip
def test_a_reply_to_a_request_with_a_secret_says_its_status_line_alone(
    outcome: Answer | Failure, said: tuple[bool, str]
) -> None:
    """Never the body, a long reason phrase nor a redirect's target: a server may
    echo the secret there, cut or escaped where hidden() would not find it."""
    assert reply_reason(tuple(encode_outcome(outcome)), bare=True) == said
    assert shown_outcome(outcome, bare=True) == said[1]


@given(st.lists(st.binary(max_size=30), max_size=3))
def test_any_reply_frames_are_read_without_raising(frames: list[bytes]) -> None:
    ok, text = reply_reason(tuple(frames))
    assert isinstance(text, str)
    assert not ok or frames[0] == b"200"
