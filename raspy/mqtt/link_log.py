"""What the MQTT link reports: its counters (`mqtt.*`) and its log lines.

Bad input and failed connects are counted every time and logged at most once a minute
per reason (docs/style.md §5): an absent broker or a flood of bad commands cannot fill
the SD card. A refusal that names a key prefix (every device of a reserved service
level) is logged once per prefix instead, as nothing under it will ever go out: the
first time, and again only if more than LogRateLimiter's bound of prefixes came
since. Payloads and passwords are never logged.
"""

from __future__ import annotations

import math
from typing import Final

import structlog

from raspy.config import MqttConfig
from raspy.errors import quote
from raspy.mqtt.core import BridgeCore, Refused
from raspy.mqtt.events import Feed
from raspy.mqtt.session import Lost, MqttSession
from raspy.mqtt.sweep import Swept
from raspy.mqtt_password import password_unsent
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats

log = structlog.get_logger(component="mqtt")

TOPIC_LOG_BYTES: Final = 256  # of a refused command's topic in its log line
# how a TLS connect to a plain MQTT port fails: Mosquitto resets it or closes it,
# a broker that answers sends bytes that are no TLS record (WRONG_VERSION_NUMBER);
# a certificate refused, or a handshake failure, says so itself
TLS_ON_PLAIN: Final = ("ConnectionResetError", "SSLEOFError", "SSLZeroReturnError")
NOT_TLS: Final = "WRONG_VERSION_NUMBER"


class LinkLog:
    """The link's counters and log lines; time is passed in (rate limits)."""

    def __init__(self, config: MqttConfig, stats: Stats) -> None:
        self._config = config
        self._stats = stats
        self._limiter = LogRateLimiter()
        self._prefixes = LogRateLimiter(window_s=math.inf)  # once each (bounded)
        self._totals: dict[str, int] = {}  # the link's own counts, as last counted

    def _count_total(self, name: str, total: int) -> None:
        """A count the link keeps itself (it lives with this log), made a counter:
        what it grew by since the last report."""
        grown = total - self._totals.get(name, 0)
        self._totals[name] = total
        if grown > 0:
            self._stats.incr(name, grown)

    def refused(self, out: Refused, now: float) -> None:
        """Input (a command, a key, a reply) BridgeCore would not handle."""
        self._stats.incr(f"mqtt.refused.{out.reason}")
        if out.prefix:
            if self._prefixes.should_log(out.prefix, now):
                log.warning(
                    "mqtt_device_not_bridged",
                    reason=out.reason,
                    key_prefix=out.prefix,
                    first=out.detail,
                )
        elif self._limiter.should_log(out.reason, now):
            # a command's topic says which device (or scenario, control) it was for;
            # outside text (up to MQTT's 64 KiB), quoted and cut as the detail is
            where = {"topic": quote(out.topic, TOPIC_LOG_BYTES)} if out.topic else {}
            log.warning(
                "mqtt_input_refused", reason=out.reason, detail=out.detail, **where
            )

    def connecting(self) -> None:
        log.debug("mqtt_connecting", host=self._config.host, port=self._config.port)

    def connect_failed(
        self, reason: str, retry_in_s: float, now: float, hint: str = ""
    ) -> None:
        self._stats.incr("mqtt.connect_failed")
        hint = hint or self._failed_hint(reason)
        if self._limiter.should_log(("connect", reason), now):
            log.warning(
                "mqtt_connect_failed",
                host=self._config.host,
                port=self._config.port,
                reason=reason,
                retry_in_s=round(retry_in_s, 3),
                **({"hint": hint} if hint else {}),
            )

    def _failed_hint(self, reason: str) -> str:
        """What to look at when a TLS connect failed as one to a plain port does."""
        plain = reason.startswith(TLS_ON_PLAIN) or NOT_TLS in reason
        if self._config.tls and plain:
            return (
                "if the broker's port is a plain one (1883, usually), it takes no "
                "TLS: set its TLS port, or tls = false"
            )
        return ""

    def _closed_hint(self) -> str:
        """What to look at when the broker closed a connect before accepting it:
        paho says no more than "Unspecified error", which is what a TLS port
        answers a plain connect with, and a broker that wants a client
        certificate one without."""
        config = self._config
        if not config.tls:
            return "if the broker's port takes TLS (8883, usually), set tls = true"
        if not config.tls_cert_file:
            return (
                "if the broker wants a client certificate, set tls_cert_file and "
                "tls_key_file"
            )
        return ""

    def _refused_hint(self) -> str:
        """A password with no user name is not sent (MQTT 3.1.1 has none alone):
        the refusal is then of a connect with neither."""
        if password_unsent(self._config):
            return "the password was not sent: it goes only with mqtt.username, set it"
        return ""

    def connect_refused(self, reason: str, retry_in_s: float, now: float) -> None:
        """The broker said no at CONNACK (bad credentials, say): an error."""
        config = self._config
        self._stats.incr("mqtt.connect_refused")
        if self._limiter.should_log(("refused", reason), now):
            log.error(
                "mqtt_connect_refused",
                host=config.host,
                port=config.port,
                reason=reason,
                username=config.username or None,
                retry_in_s=round(retry_in_s, 3),
                **({"hint": hint} if (hint := self._refused_hint()) else {}),
            )
        self._stats.incr("mqtt.connect_failed")

    def connected(self) -> None:
        log.info("mqtt_connected", host=self._config.host, port=self._config.port)

    def lost(self, lost: Lost, reason: str, now: float) -> None:
        """The socket closed: a connect that failed, or a connection lost."""
        if not lost.was_up:
            hint = self._closed_hint()
            self.connect_failed(f"closed: {reason}", lost.retry_in_s, now, hint)
            return
        self._stats.incr("mqtt.disconnects")
        log.warning(
            "mqtt_disconnected", reason=reason, retry_in_s=round(lost.retry_in_s, 3)
        )

    def swept(self, swept: Swept) -> None:
        """The earlier runs' retained messages looked at once: what was cleared."""
        self._stats.incr("mqtt.ghosts_cleared", swept.cleared)
        log.info(
            "mqtt_ghosts_cleared",
            cleared=swept.cleared,
            retained=swept.collected,
            overflow=swept.overflow,
        )

    def command(self) -> None:
        self._stats.incr("mqtt.commands")

    def news_dropped(self, count: int) -> None:
        """Gestures the link went down before sending: not sent late."""
        if count:
            self._stats.incr("mqtt.news_dropped", count)

    def published(self, count: int) -> None:
        if count:
            self._stats.incr("mqtt.published", count)

    def buffer(self, core: BridgeCore, inflight: int) -> None:
        """What waits and what paho holds unacknowledged (gauges); what was
        dropped or forgotten, and how many of Home Assistant's birth messages were
        answered (counters: they only grow)."""
        self._stats.gauge("mqtt.buffered", len(core.buffer))
        self._stats.gauge("mqtt.inflight", inflight)
        self._count_total("mqtt.dropped", core.buffer.dropped)
        self._count_total("mqtt.forgotten", core.forgotten)
        self._count_total("mqtt.reannounced", core.reannounced)


def link_stats(session: MqttSession, feed: Feed) -> dict[str, object]:
    """The link's state, as GetLinkStats answers it (tests, statistics)."""
    buffer = feed.core.buffer
    return {
        "connected": session.up,
        "buffered": len(buffer),
        "inflight": session.inflight,
        "dropped": buffer.dropped,
        "forgotten": feed.core.forgotten,
        "tree_changes": feed.tree_changes,
        "reannounced": feed.core.reannounced,  # Home Assistant's birth messages
    }
