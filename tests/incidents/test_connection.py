"""Redis URLs beyond one plain server (incidents.connection): their forms; TLS against a real TLS redis-server; a
real Sentinel failing over in the middle of a stream, with nothing acknowledged lost and the feed following the new
primary."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from incidents.connection import NotReplicatedError, connect, parse_redis_url
from incidents.feed import Feed
from incidents.keys import Keys
from incidents.publish import publish
from incidents.redis_server import EmbeddedRedis, free_port
from incidents.situation import Situation
from incidents.store import load_state
from tests.incidents.test_feed import no_grid, wire
from tests.support.wait import wait_for

# ---- the URL forms (pure) --------------------------------------------------------------------------------


def test_plain_and_tls_urls_are_redis_pys() -> None:
    u = parse_redis_url("redis://:s3cret@10.0.0.5:6380/4")
    assert (u.kwargs["host"], u.kwargs["port"], u.db, u.kwargs["password"], u.sentinels) == (
        "10.0.0.5",
        6380,
        4,
        "s3cret",
        (),
    )
    t = parse_redis_url("rediss://10.0.0.5/2?ssl_ca_certs=/etc/ca.pem&wait_replicas=1&wait_timeout_ms=250")
    assert t.db == 2 and t.kwargs["ssl_ca_certs"] == "/etc/ca.pem" and (t.wait_replicas, t.wait_timeout_ms) == (1, 250)
    assert "wait_replicas" not in t.kwargs  # ours, not redis-py's
    assert parse_redis_url("unix:///run/redis.sock?db=3").db == 3


def test_sentinel_urls() -> None:
    u = parse_redis_url("redis+sentinel://app:pw@s1:26379,s2:26380,[::1]:26381/onescreen/3?sentinel_password=spw")
    assert u.sentinels == (("s1", 26379), ("s2", 26380), ("::1", 26381)) and u.service == "onescreen"
    assert (u.db, u.kwargs["username"], u.kwargs["password"]) == (3, "app", "pw")
    assert u.sentinel_kwargs == {"password": "spw"}
    assert parse_redis_url("redis+sentinel://s1/onescreen").sentinels == (("s1", 26379),)
    assert parse_redis_url("redis+sentinel://s1:26379/onescreen").db == 0
    tls = parse_redis_url("rediss+sentinel://s1:26379/onescreen?ssl_ca_certs=/ca.pem")
    assert tls.kwargs["ssl_ca_certs"] == "/ca.pem" and tls.sentinel_kwargs["ssl_ca_certs"] == "/ca.pem"
    assert tls.kwargs["ssl"] is True and tls.sentinel_kwargs["ssl"] is True
    assert Keys.for_redis_url("p", "redis+sentinel://s1:26379/onescreen/5").db == 5


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://s1:26379", "names no service"),
        ("redis+sentinel://s1:26379/a/b/c", "/SERVICE or /SERVICE/DB"),
        ("redis+sentinel://s1:x/onescreen", "is not HOST:PORT"),
        ("redis://h/0?wait_replicas=two", "whole numbers"),
        ("http://h:6379/0", "cannot read Redis URL (http://…)"),
        ("localhost:6379", "must look like"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=None) as err:
        parse_redis_url(url)
    assert says in str(err.value)


def test_a_password_never_appears_in_an_error() -> None:
    with pytest.raises(ValueError) as err:
        parse_redis_url("redis+sentinel://u:topsecret@s1:x/svc")
    assert "topsecret" not in str(err.value)


# ---- TLS --------------------------------------------------------------------------------------------------


def _certs(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl)."""
    p = {n: folder / f"{n}.pem" for n in ("ca", "ca-key", "server", "server-key")}
    csr, ext = folder / "server.csr", folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for cmd in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=onescreen-test-ca",
         "-keyout", p["ca-key"], "-out", p["ca"]],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", p["server-key"], "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", p["ca"], "-CAkey", p["ca-key"], "-CAcreateserial", "-days", "2",
         "-extfile", ext, "-out", p["server"]],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, cmd)], check=True, capture_output=True)
    return p


def test_tls(tmp_path: Path, redis_server_factory: Callable[..., EmbeddedRedis]) -> None:
    certs = _certs(tmp_path)
    tls_port = free_port()
    redis_server_factory(
        "tls",
        extra_args=["--tls-port", str(tls_port), "--tls-cert-file", str(certs["server"]),
                    "--tls-key-file", str(certs["server-key"]), "--tls-ca-cert-file", str(certs["ca"]),
                    "--tls-auth-clients", "no"],
    )  # fmt: skip
    url = f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={certs['ca']}"
    keys = Keys.for_redis_url("tls-test", url)
    situation = Situation(no_grid)
    feed = Feed(url, keys, situation).start()
    try:
        wait_for(lambda: feed.health().connected, 10, message="the feed connected over TLS")
        client = connect(url, socket_timeout=5)
        assert publish(client, keys, wire("tls-1", time.time()), source="test").applied
        wait_for(lambda: situation.get("tls-1") is not None, 10, message="the incident through TLS")
        # a client that does not trust the server's CA is refused, and says so
        with pytest.raises(redis.ConnectionError, match=r"(?i)certificate"):
            connect(f"rediss://127.0.0.1:{tls_port}/0", socket_timeout=5).ping()
    finally:
        feed.stop()


# ---- Sentinel ---------------------------------------------------------------------------------------------


class SentinelProcess:
    """A real Redis Sentinel (``redis-server CONF --sentinel``) watching one primary as ``service``."""

    def __init__(self, folder: Path, primary_port: int, service: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = folder / "sentinel.conf"
        self.conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
            f"sentinel monitor {service} 127.0.0.1 {primary_port} 1\n"
            f"sentinel down-after-milliseconds {service} 1000\n"
            f"sentinel failover-timeout {service} 5000\n"
        )
        self.proc = subprocess.Popen(["redis-server", str(self.conf), "--sentinel"], stdout=subprocess.DEVNULL)
        probe = redis.Redis(port=self.port, socket_timeout=1)
        wait_for(lambda: probe.ping(), 10, ignore=(redis.ConnectionError,), message="sentinel answering")
        self.client = probe

    def primary(self, service: str) -> int:
        host_port = self.client.sentinel_get_master_addr_by_name(service)
        return int(host_port[1]) if isinstance(host_port, tuple) else 0

    def replicas(self, service: str) -> int:
        state = self.client.sentinel_master(service)
        return int(state["num-slaves"]) if isinstance(state, dict) else 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture()
def replicated(
    tmp_path: Path, redis_server_factory: Callable[..., EmbeddedRedis]
) -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis, SentinelProcess]]:
    primary = redis_server_factory("primary")
    replica = redis_server_factory("replica", extra_args=["--replicaof", "127.0.0.1", str(primary.port)])
    wait_for(lambda: primary.client().info("replication")["connected_slaves"] == 1, 10, message="replica attached")
    sentinel = SentinelProcess(tmp_path / "sentinel", primary.port, "onescreen")
    wait_for(lambda: sentinel.replicas("onescreen") == 1, 15, message="sentinel sees the replica")
    try:
        yield primary, replica, sentinel
    finally:
        sentinel.stop()


def test_failover_in_the_middle_of_a_stream_loses_nothing_acknowledged(
    replicated: tuple[EmbeddedRedis, EmbeddedRedis, SentinelProcess],
) -> None:
    primary, replica, sentinel = replicated
    url = f"redis+sentinel://127.0.0.1:{sentinel.port}/onescreen/0?wait_replicas=1&wait_timeout_ms=300"
    keys = Keys.for_redis_url("failover-test", url)
    situation = Situation(no_grid)
    feed = Feed(url, keys, situation).start()
    acknowledged: list[str] = []
    refused: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        """One message after another; each retried until acknowledged (a retry of an applied one: duplicate)."""
        client = connect(url, socket_timeout=2, socket_connect_timeout=1)
        i = 0
        while not stop.is_set():
            iid = f"fo-{i:04d}"
            try:
                result = publish(client, keys, wire(iid, time.time()), source="test")
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, OSError) as exc:
                refused.append(f"{iid}: {exc!r}")
                time.sleep(0.05)  # a publisher's back-off between retries, not a test's wait
                continue
            assert result.outcome in ("applied", "duplicate"), result
            acknowledged.append(iid)
            i += 1

    writer = threading.Thread(target=stream, daemon=True)
    try:
        wait_for(lambda: feed.health().connected, 10, message="the feed connected through Sentinel")
        writer.start()
        wait_for(lambda: len(acknowledged) >= 50, 20, message="a stream under way")
        primary.kill()  # the primary dies mid-stream: SIGKILL, nothing flushed
        wait_for(lambda: sentinel.primary("onescreen") == replica.port, 30, message="Sentinel promoted the replica")
        # No replica now: writes wait for one (wait_replicas=1) and are refused, not silently accepted
        wait_for(
            lambda: any("NotReplicated" in r or "replica" in r for r in refused), 20, message="unreplicated refused"
        )
        before = len(acknowledged)
        primary.start()  # back, and Sentinel makes it the new primary's replica
        wait_for(lambda: len(acknowledged) >= before + 50, 40, message="the stream going on after the failover")
    finally:
        stop.set()
        writer.join(10)
    try:
        new_primary = redis.Redis(port=replica.port)
        stored = {i.id for i in load_state(new_primary, keys)}
        lost = [iid for iid in acknowledged if iid not in stored]
        assert not lost, f"{len(lost)} acknowledged incident(s) lost in the failover: {lost[:5]}"
        wait_for(lambda: all(situation.get(i) is not None for i in acknowledged), 20, message="the feed has them all")
    finally:
        feed.stop()


def test_an_unreplicated_write_is_not_acknowledged(redis_server_factory: Callable[..., EmbeddedRedis]) -> None:
    lonely = redis_server_factory("lonely")
    url = f"redis://127.0.0.1:{lonely.port}/0?wait_replicas=1&wait_timeout_ms=100"
    keys = Keys.for_redis_url("wait-test", url)
    with pytest.raises(NotReplicatedError, match="0 of 1 replica"):
        publish(connect(url), keys, wire("w-1", time.time()), source="test")
