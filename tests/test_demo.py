"""`make demo` end to end: `onescreen demo` without REDIS_URL starts its own redis-server, the demo data and the
simulator, serves the dashboard, and leaves nothing behind when stopped — however it is stopped.

Each test runs the real command in a subprocess with a private state dir; the embedded redis-server is found
the way an operator would find it, in /proc.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from incidents.keys import Keys
from incidents.redis_server import free_port
from tests.support.auth import anonymous_opener
from tests.support.paths import REPO
from tests.support.wait import WaitTimeout, wait_for

pytestmark = pytest.mark.slow

BACKFILL_WAIT_S = 60.0  # the brief's limit for the simulator's first incidents to be visible on /healthz
STOP_LIMIT_S = 15.0  # Ctrl-C → process gone


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    port: int
    state_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def redis_url(self) -> str:
        """The embedded Redis' URL as the demo printed it (password masked), with the generated password from
        its private file (as the operator would read it); checks the password was never printed."""
        found = re.search(r"embedded redis-server at redis://:\*\*\*@(\S+)", self.output())
        assert found, self.output()
        password = (self.state_dir / "redis" / "password").read_text().strip()
        assert len(password) >= 32 and password not in self.output()
        return f"redis://:{password}@{found.group(1)}"

    def healthz(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as resp:
            body: dict[str, Any] = json.loads(resp.read())
            return body

    def stop_within(self, limit: float) -> int:
        try:
            return self.process.wait(limit)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"demo still running {limit} s after the signal:\n{self.output()}") from None


def wait_until(what: str, predicate: Callable[[], Any], timeout: float, demo: Demo) -> Any:
    """``wait_for`` with the demo's output in the failure; ends at once if the demo exits."""

    def exited() -> str | None:
        code = demo.process.poll()
        return None if code is None else f"demo exited with {code}:\n{demo.output()}"

    return wait_for(
        predicate, timeout, 0.2, lambda: f"{what}; demo output:\n{demo.output()}", ignore=(OSError,), abort=exited
    )


@contextmanager
def run_demo(tmp_path: Path, *args: str, new_session: bool = False) -> Iterator[Demo]:
    """`python -m dashboard.cli demo --port P [args]` with no REDIS_URL and a private ONESCREEN_STATE_DIR."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("ONESCREEN_")}
    state_dir = tmp_path / "state"
    env["ONESCREEN_STATE_DIR"] = str(state_dir)
    port = free_port()
    log_path = tmp_path / f"demo-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "demo", "--port", str(port), *args],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    demo = Demo(process, port, state_dir, log_path)
    try:
        yield demo
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ---- the embedded redis-server, seen from /proc ---------------------------------------------------------


def proc_state(pid: int) -> str | None:
    """The process' state letter (R, S, Z, …), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def running(pid: int) -> bool:
    return proc_state(pid) not in (None, "Z", "X")  # a zombie is dead, just not yet reaped


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def redis_servers_in(data_dir: Path) -> list[int]:
    """Pids of running redis-server processes working in ``data_dir``.

    redis-server rewrites its command line into a title ("redis-server 127.0.0.1:PORT"), so ``--dir`` is not
    in /proc/PID/cmdline any more; its working directory is (EmbeddedRedis starts it there, and Redis chdirs to
    ``--dir``).
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "redis-server":
                continue
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == data_dir and running(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def embedded_redis(demo: Demo) -> int:
    """The demo's redis-server: exactly one, a child of the demo, with its data under the state dir."""
    data_dir = (demo.state_dir / "redis").resolve()
    pids = wait_until("redis-server process", lambda: redis_servers_in(data_dir), 10, demo)
    assert len(pids) == 1, f"expected one redis-server in {data_dir}, found {pids}"
    assert parent_of(pids[0]) == demo.process.pid
    assert data_dir.is_relative_to(demo.state_dir.resolve()) and (data_dir / "appendonlydir").is_dir()
    # ... and it is the Redis the demo uses: the URL it printed leads to a server with that data dir.
    client = redis.Redis.from_url(demo.redis_url(), socket_timeout=5, decode_responses=True)
    try:
        assert Path(str(client.config_get("dir")["dir"])) == data_dir
        assert int(client.info("server")["process_id"]) == pids[0]
    finally:
        client.close()
    return int(pids[0])


def assert_gone(pid: int, what: str, timeout: float = 10.0) -> None:
    """The process ends within ``timeout``; if it does not, it is killed (no leftovers) and the test fails."""
    try:
        wait_for(lambda: not running(pid), timeout, 0.1, f"redis-server {pid} to end")
    except WaitTimeout:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"redis-server {pid} {what}") from None


def ready(demo: Demo) -> dict[str, Any]:
    """Wait for the wall URL on stdout and for /healthz to show Redis reachable with incidents in it."""
    wall = f"http://127.0.0.1:{demo.port}/wall"
    wait_until("wall URL on stdout", lambda: wall in demo.output(), BACKFILL_WAIT_S, demo)

    def healthy() -> dict[str, Any] | None:
        body = demo.healthz()
        return body if body["redis"]["reachable"] and body["redis"]["incidents"] > 0 else None

    body: dict[str, Any] = wait_until("incidents on /healthz", healthy, BACKFILL_WAIT_S, demo)
    return body


def assert_the_way_in_works(demo: Demo) -> None:
    """The demo printed a one-time admin password that logs in, and a wall link that opens the wall."""
    out = demo.output()
    found = re.search(r"login: admin / (\S+)", out)
    wall = re.search(r"wall +(http://\S+/wall\?key=\S+)", out)
    assert found and wall, out
    body = urllib.parse.urlencode({"name": "admin", "password": found.group(1)}).encode()
    base = f"http://127.0.0.1:{demo.port}"
    login = urllib.request.Request(base + "/login", data=body, method="POST", headers={"Origin": base})
    with pytest.raises(urllib.error.HTTPError) as answered:  # the opener follows no redirect
        anonymous_opener().open(login, timeout=10)
    assert answered.value.code == 303 and "_session=" in answered.value.headers["set-cookie"]
    with pytest.raises(urllib.error.HTTPError) as opened:
        anonymous_opener().open(wall.group(1), timeout=10)
    assert opened.value.code == 302 and "_wall=" in opened.value.headers["set-cookie"]


# ---- tests --------------------------------------------------------------------------------------------


def test_demo_runs_on_its_own_redis_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    # A constant 2 changes a second (the load-test pace), not the normal day: the day's pace at 3 a.m. is a few
    # changes an hour, so "a live change within 30 s" would hang on the clock (it failed CI at 20:31 Beijing time).
    with run_demo(tmp_path, "--rate", "2") as demo:
        first = ready(demo)
        assert first["status"] == "ok" and first["feed"]["connected"]
        assert_the_way_in_works(demo)
        shown = rf"redis://:\*\*\*@127\.0\.0\.1:\d+/0 \(data in {re.escape(str(demo.state_dir))}"  # no password
        assert re.search(shown, demo.output())
        redis_pid = embedded_redis(demo)

        # The simulator keeps going after its backfill: changes stamped later than the backfill keep arriving
        # (the backfill's are all stamped before it started, and it had started: there were incidents).
        backfilled_by = time.time()
        client = redis.Redis.from_url(demo.redis_url(), socket_timeout=5)
        try:

            def live_changes() -> list[str]:
                entries: Any = client.xrevrange(Keys().log, count=200)
                changes = [json.loads(fields[b"data"]) for _, fields in entries]
                return [c["id"] for c in changes if c["ts"] > backfilled_by]

            wait_until("live incidents after the backfill", live_changes, 30, demo)
            assert int(demo.healthz()["redis"]["log_length"]) > int(first["redis"]["log_length"])
        finally:
            client.close()

        demo.process.send_signal(signal.SIGINT)
        code = demo.stop_within(STOP_LIMIT_S)
        assert code in (0, 130), demo.output()
        assert "Traceback" not in demo.output(), demo.output()
        # A requested stop is not an outage: no "feed lost" warning for an operator's log watch to page on.
        assert "feed lost" not in demo.output(), demo.output()
        assert_gone(redis_pid, "outlived the demo")


def test_ctrl_c_in_a_terminal_stops_demo_and_redis_without_a_traceback(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals the whole foreground process group: the demo and its redis-server at once."""
    with run_demo(tmp_path, new_session=True) as demo:
        ready(demo)
        redis_pid = embedded_redis(demo)
        os.killpg(demo.process.pid, signal.SIGINT)
        code = demo.stop_within(STOP_LIMIT_S)
        assert code in (0, 130), demo.output()
        assert "Traceback" not in demo.output(), demo.output()
        assert_gone(redis_pid, "outlived the demo")


def test_a_killed_demo_leaves_no_redis_behind_and_a_restart_keeps_the_incidents(tmp_path: Path) -> None:
    with run_demo(tmp_path) as demo:
        before = ready(demo)["redis"]["incidents"]
        redis_pid = embedded_redis(demo)
        demo.process.kill()  # SIGKILL: no cleanup code runs in the demo
        demo.process.wait()
        assert_gone(redis_pid, "orphaned by a killed demo")

    with run_demo(tmp_path) as again:  # same state dir: the AOF brings the incidents back
        assert ready(again)["redis"]["incidents"] >= before
        again.process.send_signal(signal.SIGINT)
        assert again.stop_within(STOP_LIMIT_S) in (0, 130), again.output()
