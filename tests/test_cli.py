"""`onescreen …` as a user runs it: the installed command in a subprocess, against a real Redis.

No dashboard server runs during the publish tests: the durable path must write state and log on its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyogrio
import pytest
import redis

from dashboard.settings import DEFAULT_DATA
from geo.validate import LAYER_SPECS
from incidents.keys import Keys

REPO = Path(__file__).resolve().parents[1]
ONESCREEN = Path(sys.executable).with_name("onescreen")  # the console script `pip install` put next to python
DESIGN_COMMANDS = ("demo", "serve", "publish", "simulate", "snapshot", "validate", "generate-data")


def onescreen(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert ONESCREEN.exists(), f"{ONESCREEN} missing: `pip install -e .` installs the onescreen command"
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ONESCREEN_PREFIX")}
    return subprocess.run(
        [str(ONESCREEN), *args],
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def dead_letters(r: redis.Redis, keys: Keys) -> list[dict[str, str]]:
    entries: Any = r.xrange(keys.deadletter)
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


@pytest.fixture
def env(redis_url: str, keys: Keys, r: redis.Redis) -> dict[str, str]:
    """The command's environment: the test Redis and the test's own prefix (``r`` cleans it up)."""
    return {"REDIS_URL": redis_url, "ONESCREEN_PREFIX": keys.prefix}


# ---- publish ------------------------------------------------------------------------------------------

INCIDENT = ("--category", "environment", "--lon", "120.29", "--lat", "30.31", "--title", "楼道堆放杂物")


def test_publish_writes_state_and_log_with_no_server_running(env: dict[str, str], keys: Keys, r: redis.Redis) -> None:
    assert r.pubsub_numsub(keys.channel) == [(keys.channel.encode(), 0)]  # nobody is listening

    done = onescreen("publish", "--id", "CLI-1", "--status", "reported", *INCIDENT, env=env)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["id"] == "CLI-1" and printed["outcome"] == "applied" and printed["log_id"]

    state = json.loads(r.hget(keys.state, "CLI-1") or b"null")
    assert state["status"] == "reported" and state["category"] == "environment" and state["title"] == "楼道堆放杂物"
    log: Any = r.xrange(keys.log)
    assert [(entry_id.decode(), f[b"id"]) for entry_id, f in log] == [(printed["log_id"], b"CLI-1")]

    # The next step of its lifecycle needs no location or category: the stored state has them.
    done = onescreen("publish", "--id", "CLI-1", "--status", "dispatched", "--assignee", "M000001", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "applied"
    state = json.loads(r.hget(keys.state, "CLI-1") or b"null")
    assert state["status"] == "dispatched" and state["assignee"] == "M000001" and state["lon"] == 120.29
    assert r.xlen(keys.log) == 2

    # The same message again (same ts, via --json) is a duplicate: reported, nothing written.
    same = json.dumps({"id": "CLI-1", "status": "dispatched", "ts": state["ts"]})
    done = onescreen("publish", "--json", same, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "duplicate"
    assert r.xlen(keys.log) == 2


def test_publish_rejects_a_bad_status_with_exit_2_and_dead_letters_it(
    env: dict[str, str], keys: Keys, r: redis.Redis
) -> None:
    done = onescreen("publish", "--id", "CLI-BAD", "--status", "exploded", *INCIDENT, env=env)
    assert done.returncode == 2
    assert "status" in done.stderr and "exploded" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert r.hget(keys.state, "CLI-BAD") is None and r.xlen(keys.log) == 0
    [letter] = dead_letters(r, keys)
    assert "status" in letter["reason"] and letter["source"] == "cli"
    assert json.loads(letter["raw"])["id"] == "CLI-BAD"


def test_publish_rejects_json_that_does_not_parse_with_exit_2_and_dead_letters_it(
    env: dict[str, str], keys: Keys, r: redis.Redis
) -> None:
    done = onescreen("publish", "--json", '{"id": "CLI-J", "status": ', env=env)
    assert done.returncode == 2, done.stderr
    assert "JSON" in done.stderr and "Traceback" not in done.stderr
    [letter] = dead_letters(r, keys)
    assert "JSON" in letter["reason"] and letter["raw"] == '{"id": "CLI-J", "status": '

    done = onescreen("publish", "--json", '["not", "an", "object"]', env=env)
    assert done.returncode == 2, done.stderr
    assert "object" in done.stderr and "Traceback" not in done.stderr
    assert len(dead_letters(r, keys)) == 2


def test_publish_finds_the_running_demos_redis_without_redis_url(
    redis_url: str, keys: Keys, r: redis.Redis, tmp_path: Path
) -> None:
    from dashboard import demo_redis

    demo_redis.record(tmp_path, redis_url)  # what `onescreen demo` writes while it runs
    env = {"ONESCREEN_STATE_DIR": str(tmp_path), "ONESCREEN_PREFIX": keys.prefix}
    done = onescreen("publish", "--id", "CLI-D", "--status", "reported", *INCIDENT, env=env)
    assert done.returncode == 0, done.stderr
    assert "using the demo's Redis" in done.stderr
    assert json.loads(r.hget(keys.state, "CLI-D") or b"null")["status"] == "reported"


def test_publish_without_redis_says_so_plainly(keys: Keys, tmp_path: Path) -> None:
    # a state folder of its own: no running demo's Redis record to fall back on (dashboard.demo_redis)
    alone = {"ONESCREEN_STATE_DIR": str(tmp_path)}
    done = onescreen("publish", "--id", "CLI-X", "--status", "reported", *INCIDENT, env=alone)
    assert done.returncode == 2 and "REDIS_URL" in done.stderr and "Traceback" not in done.stderr

    nowhere = "redis://127.0.0.1:1/0"  # port 1: nothing listens there
    done = onescreen("publish", "--id", "CLI-X", "--status", "reported", *INCIDENT, env={"REDIS_URL": nowhere})
    assert done.returncode != 0
    assert nowhere in done.stderr and "Traceback" not in done.stderr, done.stderr


# ---- generate-data / validate -------------------------------------------------------------------------


def test_generate_data_is_byte_identical_for_a_seed_and_differs_for_another(tmp_path: Path) -> None:
    outputs = {}
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        done = onescreen("generate-data", "--out", str(tmp_path / name), "--seed", seed)
        assert done.returncode == 0, done.stderr
        gpkg = tmp_path / name / "onescreen_demo.gpkg"
        assert str(gpkg) in done.stdout
        outputs[name] = gpkg.read_bytes()
    assert outputs["a"] == outputs["b"]
    assert outputs["a"] != outputs["c"]
    assert {row[0] for row in pyogrio.list_layers(tmp_path / "c" / "onescreen_demo.gpkg")} == set(LAYER_SPECS)


def test_validate_accepts_the_demo_data() -> None:
    done = onescreen("validate", str(DEFAULT_DATA))
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout and re.search(r"grids \d+", done.stdout)


def test_validate_names_a_duplicate_grid_id(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gpkg"
    for name in LAYER_SPECS:
        layer = pyogrio.read_dataframe(DEFAULT_DATA, layer=name)
        if name == "grids":
            duplicated = str(layer.loc[0, "grid_id"])
            layer.loc[1, "grid_id"] = duplicated
        pyogrio.write_dataframe(layer, broken, layer=name, driver="GPKG")

    done = onescreen("validate", str(broken))
    assert done.returncode != 0
    assert re.search(rf"grids\[{re.escape(duplicated)}\]: duplicate id", done.stdout), done.stdout  # the report
    assert "Traceback" not in done.stderr


def test_validate_reports_a_missing_or_unreadable_file_plainly(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gpkg"
    done = onescreen("validate", str(missing))
    assert done.returncode != 0
    assert str(missing) in done.stderr and "Traceback" not in done.stderr, done.stderr

    garbage = tmp_path / "garbage.gpkg"
    garbage.write_text("not a geopackage")
    done = onescreen("validate", str(garbage))
    assert done.returncode != 0
    assert str(garbage) in done.stderr and "Traceback" not in done.stderr, done.stderr


# ---- help ---------------------------------------------------------------------------------------------


def test_help_lists_every_command_of_the_design() -> None:
    done = onescreen("--help")
    assert done.returncode == 0, done.stderr
    listed = set(re.findall(r"^\s{4}([a-z][a-z-]+)\s", done.stdout, flags=re.MULTILINE))
    assert set(DESIGN_COMMANDS) <= listed, f"missing from --help: {set(DESIGN_COMMANDS) - listed}\n{done.stdout}"
    for command in DESIGN_COMMANDS:
        sub = onescreen(command, "--help")
        assert sub.returncode == 0 and f"usage: onescreen {command}" in sub.stdout, sub.stderr
        if command in ("demo", "serve", "simulate", "snapshot"):  # everything that reads the layers
            assert "--config" in sub.stdout, f"{command} takes no --config"
