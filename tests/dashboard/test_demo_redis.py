"""The demo's Redis URL record (``dashboard.demo_redis``): 0600, read back, forgotten only by its writer, and a
record whose server does not answer is an error naming the demo, never the password."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dashboard import demo_redis
from dashboard.settings import Settings, SettingsError
from incidents.redis_server import free_port


def test_record_is_private_and_read_back(tmp_path: Path) -> None:
    url = "redis://:s3cret@127.0.0.1:6399/0"
    path = demo_redis.record(tmp_path, url)
    assert path == tmp_path / "redis" / "url"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_redis.recorded(tmp_path) == url
    demo_redis.forget(tmp_path, "redis://:other@127.0.0.1:1/0")  # another demo's: kept
    assert demo_redis.recorded(tmp_path) == url
    demo_redis.forget(tmp_path, url)
    assert demo_redis.recorded(tmp_path) is None and not path.exists()


def test_a_record_of_a_stopped_demo_is_an_error_without_the_password(tmp_path: Path) -> None:
    settings = Settings.from_env(redis_url="", state_dir=tmp_path)
    assert demo_redis.running_url(settings) is None  # no record: no demo
    demo_redis.record(tmp_path, f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    with pytest.raises(SettingsError, match="onescreen demo") as err:
        demo_redis.running_url(settings)
    assert "s3cret" not in str(err.value)
