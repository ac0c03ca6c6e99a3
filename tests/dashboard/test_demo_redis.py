"""The demo's Redis URL record (``dashboard.demo_redis``): 0600, read back, forgotten only by its writer, and a
record whose server does not answer is an error naming the demo, never the password."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
import redis

from dashboard import demo_redis
from dashboard.settings import Settings, SettingsError
from incidents.redis_server import EmbeddedRedis, free_port


def test_record_is_private_and_read_back(tmp_path: Path) -> None:
    url = "redis://:s3cret@127.0.0.1:6399/0"
    path = demo_redis.record(tmp_path, url)
    assert path == tmp_path / "redis" / "url"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_redis.recorded(tmp_path) == "redis://default:s3cret@127.0.0.1:6399/0"  # as redis-cli -u reads it
    demo_redis.forget(tmp_path, "redis://:other@127.0.0.1:1/0")  # another demo's: kept
    assert demo_redis.recorded(tmp_path) == "redis://default:s3cret@127.0.0.1:6399/0"
    demo_redis.forget(tmp_path, url)
    assert demo_redis.recorded(tmp_path) is None and not path.exists()


def test_a_record_of_a_stopped_demo_is_an_error_without_the_password(tmp_path: Path) -> None:
    settings = Settings.from_env(redis_url="", state_dir=tmp_path)
    assert demo_redis.running_url(settings) is None  # no record: no demo
    demo_redis.record(tmp_path, f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    with pytest.raises(SettingsError, match="onescreen demo") as err:
        demo_redis.running_url(settings)
    assert "s3cret" not in str(err.value)


def test_the_readme_s_redis_cli_command_gets_in_with_the_record(tmp_path: Path) -> None:
    """README: ``redis-cli -u "$(cat .onescreen/redis/url)" …`` against a password-protected embedded Redis."""
    with EmbeddedRedis(tmp_path / "redis-data", requirepass=True) as server:
        demo_redis.record(tmp_path, server.url)
        url = demo_redis.recorded(tmp_path)
        assert url is not None
        out = subprocess.run(["redis-cli", "-u", url, "PING"], capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "PONG", (out.stdout, out.stderr)
        with redis.Redis.from_url(url) as r:  # and redis-py reads the same record
            assert r.ping()
