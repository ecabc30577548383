"""The settings of raspyd's messaging and its store: [network], [broker], [store],
[titanic], [clone], [security] and [limits], with their defaults.

The `#` comments at each field are that key's help text (raspy.config_doc);
raspy.config gathers the sections into one Config and reads them from TOML.
"""

from __future__ import annotations

from raspy.port_base import DEFAULT_PORT_BASE
from raspy.records import frozen


@frozen
class NetworkConfig:
    """Where raspyd listens: MDP on port_base, Clone on the three ports after it."""

    # address to listen on; beyond loopback, set up [security] (CURVE) too
    bind: str = "127.0.0.1"
    # MDP broker port N; Clone snapshot N+1, publisher N+2, collector N+3 (1..65532)
    port_base: int = DEFAULT_PORT_BASE
    # milliseconds a closing socket may still spend sending queued messages (0..60000;
    # the MDP and Clone snapshot ROUTERs take at least 1000)
    linger_ms: int = 500


@frozen
class BrokerConfig:
    """The Majordomo broker: heartbeats, queues and message limits."""

    # seconds between heartbeats to workers (0.1..3.75: raspy's workers heartbeat
    # every 2.5 s and take 7.5 s of silence for a lost broker; a board's raspy-poller
    # as its [link] says, which must agree: at most half its heartbeat_interval_s x
    # heartbeat_liveness, and its hub_heartbeat_interval_s is this one)
    heartbeat_interval_s: float = 2.5
    # heartbeat intervals a worker may be silent before it is dropped (1..1000;
    # with heartbeat_interval_s, at least 5 s: two of a worker's heartbeats, and two
    # of a board's [link] heartbeat_interval_s; its hub_heartbeat_liveness is this)
    heartbeat_liveness: int = 3
    # seconds a worker may work on one request before it is dropped (1 to a year)
    busy_timeout_s: float = 900.0
    # seconds a request may wait for a worker before it is dropped (1 to a year)
    request_ttl_s: float = 30.0
    # frames in one message at most (16..1024: MDP's own take up to 6)
    max_frames: int = 64
    # bytes in one frame at most (1024..1073741824, a GiB)
    max_frame_bytes: int = 1024 * 1024
    # bytes in one message at most (1024..1073741824, a GiB)
    max_message_bytes: int = 4 * 1024 * 1024
    # also speak the majortomo dialect of MDP to its clients and workers
    accept_majortomo: bool = True


@frozen
class StoreConfig:
    """The LMDB store in data_dir (Titanic requests and replies, the Clone tree)."""

    # LMDB map size of a new store; it grows as needed (1..map_size_max_mb)
    map_size_initial_mb: int = 16
    # the map never grows past this; writes then fail as "store full" (1..1048576,
    # a TiB; 1..1536 on a 32-bit system such as Raspberry Pi OS armhf, whose
    # processes have 2 GB of address space for everything)
    map_size_max_mb: int = 1024
    # bytes in one stored value at most (8192..1073741824, a GiB)
    max_value_bytes: int = 1024 * 1024
    # writes that wait together share one transaction and one disk sync
    group_commit: bool = True
    # issue 17, the SD card's write budget: in-process plain sets (device readings)
    # under these subtrees are published at once and written, latest value per key,
    # in one group commit every coalesce_interval_s (0: all durable); /stats/ is
    # never written at all, whatever this says (kept in memory only)
    coalesced_prefixes: tuple[str, ...] = ("/device/", "/stats/")
    # seconds between two writes of the coalesced values (see coalesced_prefixes):
    # 0.1..3600, or 0: every value written at once
    coalesce_interval_s: float = 60.0
    # sequence numbers reserved per stored high-water mark (coalesced updates);
    # 1..1000000 (a start skips what is left of one)
    seq_block: int = 10_000


@frozen
class TitanicConfig:
    """Titanic: requests stored durably and delivered when their service is up."""

    # serve titanic.request, titanic.reply and titanic.close
    enabled: bool = True
    # bytes of one stored request at most, its target's name and body frames:
    # 1..1073741824 (a GiB), and while Titanic is on at most store.max_value_bytes
    # less the record around it (64 bytes and 5 a frame of broker.max_frames)
    max_body_bytes: int = 256 * 1024
    # seconds a request is kept after it was accepted, of real time: a clock set
    # by NTP or set back does not shorten it (1 s to a year); 0: until
    # titanic.close (RFC 9); a raspy extension
    retention_s: float = 0.0
    # seconds to wait for a service's reply before the attempt counts as failed
    # (0.1 to a year)
    dispatch_timeout_s: float = 10.0
    # first delay before a failed delivery is tried again; doubles up to retry_max_s
    # (0.1 to a year)
    retry_initial_s: float = 1.0
    # the longest delay between two delivery attempts (retry_initial_s to a year)
    retry_max_s: float = 60.0
    # bytes of one stored reply at most, PARTIALs and FINAL, with 5 bytes a frame
    # (its room in the record); at least 1, at most what max_body_bytes may be
    max_reply_bytes: int = 1000 * 1024
    # delivery attempts in flight per target service (1..10000)
    dispatch_window: int = 64
    # in-process MDP workers per titanic.* service: they make the services visible
    # to MMI and take requests while the handler is full (1..64)
    service_workers: int = 1
    # titanic.* requests the broker hands to Titanic at once, per service, without a
    # worker in between; past that they queue at the broker until a place frees
    # (0..1000000; 0: every request goes through the service workers)
    handler_capacity: int = 1024


@frozen
class CloneConfig:
    """The Clone key-value tree (snapshot, publisher and collector sockets)."""

    # serve the Clone tree (and the device services that publish into it)
    enabled: bool = True
    # bytes in one key at most: 1..511 (LMDB's limit), 1..502 with [history] on
    max_key_bytes: int = 255
    # bytes in one value at most: 1 to store.max_value_bytes less 4288 (the record
    # around it, properties included) and to 4194304 (4 MiB, the largest frame the
    # Clone server's sockets take), checked while Clone is on; with
    # [limits] clone_subscriber_queue_bytes it sets how many updates a subscriber's
    # queue holds (the budget // the largest update)
    max_value_bytes: int = 64 * 1024
    # seconds between HUGZ heartbeats to subscribers, whatever else is published
    # (0.01..2.5: clients take 5 s of silence for a dead hub)
    hugz_interval_s: float = 1.0
    # entries per snapshot message (1..10000)
    snapshot_chunk: int = 500


@frozen
class SecurityConfig:
    """CURVE on every bound TCP socket, with a ZAP allowlist (docs/protocols.md §8).

    Both empty: no CURVE (raspyd warns when it listens beyond loopback).
    """

    # zmq certificate with the server's public and secret key (`NAME.key_secret`)
    curve_secret_key_file: str = ""
    # folder of the allowed clients' public certificates (`*.key`)
    authorized_keys_dir: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.curve_secret_key_file)


@frozen
class LimitsConfig:
    """The memory budget: what any client can make raspyd hold, in bytes."""

    # bytes queued in the broker for one service: payload plus ~300 bytes a request
    # for the objects around it (100,000 small pipelined requests fit); more dropped
    # (1..17179869184, 16 GiB)
    broker_queue_bytes_per_service: int = 48 * 1024 * 1024
    # bytes queued in the broker for all services together (counted as above;
    # 1..17179869184, 16 GiB)
    broker_queue_bytes_total: int = 96 * 1024 * 1024
    # requests queued for one service (a generous count; the bytes bind first;
    # 1..10000000)
    broker_queue_requests_per_service: int = 200_000
    # services the broker knows at once (with workers or queued requests); a request
    # to a new one over this is dropped, a worker for a new one gets DISCONNECT
    # (1..1000000)
    max_services: int = 1_000
    # external workers registered at once; one more gets DISCONNECT (1..1000000)
    max_workers: int = 1_000
    # Titanic requests pending (accepted, not yet closed); each holds a few KiB of
    # memory besides its body, so this bounds RSS on a 1 GB Pi (1..1000000)
    titanic_pending_requests: int = 20_000
    # bytes of Titanic request bodies pending (1024..17179869184, 16 GiB)
    titanic_pending_bytes: int = 64 * 1024 * 1024
    # bytes queued for one Clone subscriber before it is cut off, and for one
    # snapshot's peer (see [clone] max_value_bytes); 1..1073741824, a GiB
    clone_subscriber_queue_bytes: int = 8 * 1024 * 1024
    # seconds a snapshot may keep its read view open in all (1 to a year)
    snapshot_max_s: float = 60.0
    # seconds a snapshot's peer may take nothing before its snapshot is cut off
    # (0.1 to a year). ZeroMQ lets the server send again only once the peer has
    # taken about half its queue, so a peer must take about half its byte budget
    # (clone_subscriber_queue_bytes) within this time: with values near
    # max_value_bytes, a steady reader slower than about 400 KB/s at the defaults
    # is cut off. Only 32 snapshots are served at once, the rest wait
    snapshot_stall_s: float = 10.0
    # log lines per second per event name; past it one "log_suppressed" line a
    # second per event name says how many were left out (1..10000; 0: no budget)
    log_events_per_s: int = 20
