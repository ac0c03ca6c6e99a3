"""dashboard.access without a server: the policy, the account/session/wall-link stores on the real test Redis, the
actor a request resolves to (session cookie, SSO header from trusted proxies only, wall cookie), the gate's rules."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from dashboard.access.accounts import AccountError, AccountStore, check_areas
from dashboard.access.actor import ANONYMOUS, ROLES, Actor
from dashboard.access.gate import CallbackRules, callback_allowed, is_public, wall_page_allowed, within
from dashboard.access.login import safe_next
from dashboard.access.policy import ACTIONS, can
from dashboard.access.service import Access
from dashboard.access.sessions import LoginLimiter, SessionStore
from dashboard.access.walls import WallLinks, deployment_secret
from dashboard.runtime import Geo, load_geo
from dashboard.settings import Settings
from geo.areas import AreaTree
from incidents.keys import Keys
from tests.support.wait import wait_for


@pytest.fixture(scope="module")
def geo() -> Geo:
    return load_geo(Settings.from_env())


@pytest.fixture(scope="module")
def tree(geo: Geo) -> AreaTree:
    return geo.areas


def _settings(**overrides: Any) -> Settings:
    return Settings.from_env(**overrides)


def _scope(*, headers: dict[str, str] | None = None, client: str = "10.1.2.3", cookies: str = "") -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", cookies.encode()))
    return {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": raw, "client": (client, 4000)}


# ---- policy -------------------------------------------------------------------------------------------------------


def test_the_policy_grants_each_role_its_actions_and_nothing_to_anonymous() -> None:
    granted = {role: {a for a in ACTIONS if can(Actor("user", "u", role), a)} for role in ROLES}
    assert granted == {
        "viewer": {"view", "console", "read"},
        "official": {"view", "console", "act", "unmasked", "read"},
        "dispatcher": {"view", "console", "act", "dispatch", "unmasked", "read"},
        "admin": set(ACTIONS) - {"ingest"},  # ingest is for machines: no session, not even an admin's
    }
    assert not any(can(ANONYMOUS, a) for a in ACTIONS)
    assert {a for a in ACTIONS if can(Actor("wall", "lobby", "viewer"), a)} == {"view"}
    assert {a for a in ACTIONS if can(Actor("key", "erp", scope="ingest"), a)} == {"ingest"}
    assert {a for a in ACTIONS if can(Actor("key", "bi", scope="read"), a)} == {"read"}  # never unmasked
    assert not any(can(Actor("key", "erp"), a) for a in ACTIONS)  # a key without a scope: nothing
    with pytest.raises(ValueError, match="unknown action"):
        can(ANONYMOUS, "fly")  # type: ignore[arg-type]


# ---- accounts -----------------------------------------------------------------------------------------------------


def test_accounts_hash_passwords_and_check_role_name_areas(r: redis.Redis, keys: Keys, tree: AreaTree) -> None:
    store = AccountStore(r, keys)
    areas = check_areas(["community:C003", "community:C003"], tree)
    account = store.add("wang", "official", "correct-horse", areas)
    assert (account.name, account.role, account.areas, account.disabled) == ("wang", "official", areas, False)
    stored = str(r.hgetall(keys.user("wang")))
    assert "$argon2id$" in stored and "correct-horse" not in stored
    assert store.verify("wang", "correct-horse") == account
    assert store.verify("wang", "wrong-horse!") is None
    assert store.verify("nobody", "correct-horse") is None
    with pytest.raises(AccountError, match="exists"):
        store.add("wang", "viewer", "another-pass")
    with pytest.raises(AccountError, match="unknown role 'boss'"):
        store.add("li", "boss", "another-pass")
    with pytest.raises(AccountError, match="too short"):
        store.add("li", "viewer", "short")
    with pytest.raises(AccountError, match="bad name"):
        store.add("li zhang", "viewer", "another-pass")
    with pytest.raises(AccountError, match="no such area"):
        check_areas(["community:NOPE"], tree)
    with pytest.raises(AccountError, match="expected KIND:ID"):
        check_areas(["C003"], tree)
    assert store.names() == ["wang"] and store.count() == 1


def test_disabling_or_a_new_password_ends_the_sessions(r: redis.Redis, keys: Keys) -> None:
    store = AccountStore(r, keys)
    sessions = SessionStore(r, keys, idle_s=600, max_s=3600)
    store.add("wang", "official", "correct-horse")
    first = sessions.create("wang")
    store.set_disabled("wang", True)
    assert sessions.resolve(first.sid) is None
    assert store.verify("wang", "correct-horse") is None  # disabled: the right password is refused too
    store.set_disabled("wang", False)
    second = sessions.create("wang")
    store.set_password("wang", "battery-staple")
    assert sessions.resolve(second.sid) is None
    assert store.verify("wang", "battery-staple") is not None
    with pytest.raises(AccountError, match="no account 'li'"):
        store.set_disabled("li", True)


# ---- sessions -----------------------------------------------------------------------------------------------------


def test_a_session_ends_when_idle_and_use_pushes_the_idle_end_back(r: redis.Redis, keys: Keys) -> None:
    sessions = SessionStore(r, keys, idle_s=1, max_s=3600)
    session = sessions.create("wang")
    assert r.pttl(keys.session(session.sid)) <= 1000
    sessions.idle_s = 30
    assert sessions.resolve(session.sid) is not None  # a use restarts the idle timer with the current idle time
    assert r.ttl(keys.session(session.sid)) > 20
    sessions.idle_s = 1
    assert sessions.resolve(session.sid) is not None
    wait_for(lambda: sessions.resolve(session.sid, touch=False) is None, 5, message="the idle session to end")


def test_a_session_ends_at_the_absolute_timeout_even_in_use(r: redis.Redis, keys: Keys) -> None:
    sessions = SessionStore(r, keys, idle_s=600, max_s=1)
    session = sessions.create("wang")
    assert sessions.resolve(session.sid) is not None
    wait_for(lambda: sessions.resolve(session.sid) is None, 5, message="the session to reach its absolute end")
    assert not r.exists(keys.session(session.sid))


def test_logins_are_limited_per_name_and_client(r: redis.Redis, keys: Keys) -> None:
    limiter = LoginLimiter(r, keys, attempts=3, window_s=60)
    for _ in range(3):
        assert limiter.retry_after("wang", "10.0.0.1") == 0
        limiter.failed("wang", "10.0.0.1")
    assert 0 < limiter.retry_after("wang", "10.0.0.1") <= 60
    assert limiter.retry_after("wang", "10.0.0.2") == 0  # another client
    assert limiter.retry_after("li", "10.0.0.1") == 0  # another name
    limiter.succeeded("wang", "10.0.0.1")
    assert limiter.retry_after("wang", "10.0.0.1") == 0


# ---- wall links ---------------------------------------------------------------------------------------------------


def test_wall_links_are_signed_revocable_and_never_revived(r: redis.Redis, keys: Keys) -> None:
    secret = deployment_secret(r, keys)
    assert deployment_secret(r, keys) == secret  # generated once
    links = WallLinks(r, keys, secret)
    link, token = links.create("lobby", "community:C003")
    assert links.resolve(token) == link and link.scope == "community:C003"
    assert links.token("lobby") == token  # the demo prints it again on each start
    assert links.resolve(token[:-2] + "xx") is None  # forged signature
    assert WallLinks(r, keys, "another-secret").resolve(token) is None
    with pytest.raises(AccountError, match="exists"):
        links.create("lobby")
    links.revoke("lobby")
    assert links.resolve(token) is None
    _again, new_token = links.create("lobby")
    assert links.resolve(token) is None and links.resolve(new_token) is not None  # the old link stays dead
    assert [w.name for w in links.all()] == ["lobby"]


# ---- who a request is ---------------------------------------------------------------------------------------------


def test_the_sso_header_is_believed_only_from_a_trusted_proxy_and_for_an_enabled_account(
    r: redis.Redis, keys: Keys
) -> None:
    settings = _settings(sso_header="X-Forwarded-User", trusted_proxies="10.9.0.0/16")
    access = Access(settings, r, keys)
    access.accounts.add("wang", "dispatcher", "correct-horse", ("community:C003",))
    header = {"X-Forwarded-User": "wang"}
    assert access.actor_for(_scope(headers=header, client="10.9.1.1")) == Actor(
        "user", "wang", "dispatcher", ("community:C003",), "sso"
    )
    assert access.actor_for(_scope(headers=header, client="10.1.2.3")) == ANONYMOUS  # not from the proxy
    assert access.actor_for(_scope(headers={"X-Forwarded-User": "li"}, client="10.9.1.1")) == ANONYMOUS
    access.accounts.set_disabled("wang", True)
    assert access.actor_for(_scope(headers=header, client="10.9.1.1"), fresh=True) == ANONYMOUS
    no_sso = Access(_settings(trusted_proxies="10.9.0.0/16"), r, keys)
    assert no_sso.actor_for(_scope(headers=header, client="10.9.1.1")) == ANONYMOUS


def test_forwarded_address_and_scheme_come_from_trusted_proxies_only(r: redis.Redis, keys: Keys) -> None:
    access = Access(_settings(trusted_proxies="10.9.0.1"), r, keys)
    fwd = {"X-Forwarded-For": "6.6.6.6, 172.16.0.7", "X-Forwarded-Proto": "https"}
    assert access.client_address(_scope(headers=fwd, client="10.9.0.1")) == "172.16.0.7"
    assert access.is_https(_scope(headers=fwd, client="10.9.0.1"))
    assert access.client_address(_scope(headers=fwd, client="10.1.2.3")) == "10.1.2.3"
    assert not access.is_https(_scope(headers=fwd, client="10.1.2.3"))


def test_cookies_give_the_session_user_or_the_wall_and_a_revocation_holds_after_the_cache(
    r: redis.Redis, keys: Keys
) -> None:
    access = Access(_settings(), r, keys)
    access.accounts.add("wang", "viewer", "correct-horse")
    sid = access.sessions.create("wang").sid
    _link, token = access.walls.create("lobby", "community:C003")
    session_cookie = f"{access.session_cookie}={sid}"
    wall_cookie = f"{access.wall_cookie}={token}"
    assert access.actor_for(_scope(cookies=session_cookie)) == Actor("user", "wang", "viewer", (), "session")
    wall = access.actor_for(_scope(cookies=wall_cookie))
    assert wall == Actor("wall", "lobby", "viewer", ("community:C003",), "wall-link")
    assert access.actor_for(_scope(cookies=f"{access.session_cookie}=forged")) == ANONYMOUS
    access.walls.revoke("lobby")
    wait_for(lambda: access.actor_for(_scope(cookies=wall_cookie)) == ANONYMOUS, 5, message="revocation to hold")


# ---- the gate's rules ---------------------------------------------------------------------------------------------


def test_public_paths_are_only_the_login_its_files_and_health() -> None:
    for path in ("/login", "/healthz", "/assets/onescreen.css", "/_dash-component-suites/dash/dash.js"):
        assert is_public(path), path
    for path in ("/", "/wall", "/_dash-layout", "/_dash-update-component", "/api/areas", "/open311/v2/requests.json"):
        assert not is_public(path), path


def test_a_wall_link_sees_walls_inside_its_scope_only(tree: AreaTree) -> None:
    c3 = Actor("wall", "c3", "viewer", ("community:C003",))
    grid = next(ref for ref, parent in tree.parent_of.items() if parent == "community:C003")
    assert within(tree, "community:C003", grid) and not within(tree, "community:C003", "")
    assert wall_page_allowed(c3, tree, "/wall", "scope=community:C003")
    assert wall_page_allowed(c3, tree, "/wall", f"scope={grid}&lang=en")
    assert not wall_page_allowed(c3, tree, "/wall", "")  # the whole data set
    assert not wall_page_allowed(c3, tree, "/wall", "scope=community:C001")
    assert not wall_page_allowed(c3, tree, "/wall", "scope=community:C003&tour=community:C001,community:C003")
    assert not wall_page_allowed(c3, tree, "/", "area=community:C003")
    everything = Actor("wall", "lobby", "viewer")
    assert wall_page_allowed(everything, tree, "/wall", "tour=communities")


def test_callbacks_need_the_wall_list_for_walls_and_act_for_writes(tree: AreaTree) -> None:
    rules = CallbackRules(wall={"wall-cb"}, writes={"act-cb"})
    lobby = Actor("wall", "lobby", "viewer")
    url = [{"id": "url", "property": "pathname", "value": "/wall"}]
    console_url = [{"id": "url", "property": "pathname", "value": "/"}]
    assert callback_allowed(lobby, rules, tree, {"output": "wall-cb", "inputs": url})
    assert not callback_allowed(lobby, rules, tree, {"output": "wall-cb", "inputs": console_url})
    assert not callback_allowed(lobby, rules, tree, {"output": "console-cb", "inputs": url})
    viewer, official = Actor("user", "v", "viewer"), Actor("user", "o", "official")
    assert callback_allowed(viewer, rules, tree, {"output": "console-cb"})
    assert not callback_allowed(viewer, rules, tree, {"output": "act-cb"})
    assert callback_allowed(official, rules, tree, {"output": "act-cb"})
    assert not callback_allowed(official, rules, tree, {"outputs": "no output key"})
    assert not callback_allowed(ANONYMOUS, rules, tree, {"output": "wall-cb", "inputs": url})


def test_next_is_a_local_path_only() -> None:
    assert safe_next("/wall?scope=community:C003") == "/wall?scope=community:C003"
    for bad in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)", "", None, "/\\evil"):
        assert safe_next(bad) == "/"


def test_while_redis_is_away_a_known_credential_keeps_its_answer_and_a_new_one_is_refused(
    keys: Keys, redis_server_factory: Any
) -> None:
    server = redis_server_factory("access")
    client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    access = Access(_settings(), client, keys)
    access.accounts.add("wang", "viewer", "correct-horse")
    sid = access.sessions.create("wang").sid
    known = _scope(cookies=f"{access.session_cookie}={sid}")
    assert access.actor_for(known).name == "wang"
    server.kill()
    assert access.actor_for(known, fresh=True).name == "wang"
    with pytest.raises(redis.RedisError):
        access.actor_for(_scope(cookies=f"{access.session_cookie}=another"))
    client.close()
