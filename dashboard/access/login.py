"""``GET /login`` (a plain server-rendered form, zh-CN first, ``?lang=en``), ``POST /login``, ``POST /logout``.

A POST must come from our own pages (``Origin``, else ``Referer``, names this host). A login is refused with 429
after ``ONESCREEN_LOGIN_ATTEMPTS`` failures of one (name, client address) within ``ONESCREEN_LOGIN_WINDOW_S``. On
success the session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) is set and the browser goes to ``next``
(local paths only).
"""

from __future__ import annotations

import html
from typing import Final
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard import i18n
from dashboard.access.service import Access

MAX_FORM: Final = 8192
_STYLE: Final = """
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#0b1a2e;
 color:#e6eefb;font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif}
form{background:#12264a;padding:32px 36px;border-radius:8px;width:300px;box-shadow:0 4px 24px #0008}
h1{font-size:20px;margin:0 0 20px}label{display:block;margin:12px 0 4px;font-size:14px;color:#9fb4d6}
input{width:100%;box-sizing:border-box;padding:8px;border:1px solid #35507f;border-radius:4px;background:#0b1a2e;
 color:#e6eefb;font-size:15px}button{margin-top:20px;width:100%;padding:9px;border:0;border-radius:4px;
 background:#2f7bf6;color:#fff;font-size:15px;cursor:pointer}.err{color:#ff8080;font-size:14px;margin-top:12px}
.lang{display:block;text-align:right;font-size:13px;color:#9fb4d6;margin-top:16px}
"""


def safe_next(value: str | None) -> str:
    """``value`` when it is a local path (``/…``, not ``//host``, no scheme); else ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def same_origin(request: Request) -> bool:
    """Whether a POST names this host as its origin (``Origin``, else ``Referer``); neither: refused."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc == request.headers.get("host", "")


def login_page(lang: str, next_path: str, error: str = "", name: str = "") -> str:
    """The login form's HTML in ``lang``."""

    def t(key: str) -> str:
        return html.escape(i18n.t(key, lang))

    other = "en" if lang == "zh" else "zh"
    switch = "/login?" + urlencode({"lang": other, "next": next_path})
    err = f'<p class="err" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{t("app.title")} · {t("login.title")}</title>
<style>{_STYLE}</style></head><body>
<form method="post" action="/login?{html.escape(urlencode({"lang": lang}))}">
<h1>{t("app.title")} · {t("login.title")}</h1>
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label for="name">{t("login.name")}</label>
<input id="name" name="name" autocomplete="username" required value="{html.escape(name)}" autofocus>
<label for="password">{t("login.password")}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{t("login.submit")}</button>{err}
<a class="lang" href="{html.escape(switch)}">{t("login.switch")}</a>
</form></body></html>"""


def build_login_router(access: Access, default_lang: str) -> APIRouter:
    """The routes of the module docstring."""
    router = APIRouter()

    def lang_of(request: Request) -> str:
        return i18n.norm_lang(request.query_params.get("lang") or default_lang)

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return HTMLResponse(login_page(lang_of(request), safe_next(request.query_params.get("next"))))

    @router.post("/login")
    async def login(request: Request) -> Response:
        lang = lang_of(request)
        body = await request.body()
        form = {k: v[-1] for k, v in parse_qs(body[:MAX_FORM].decode("utf-8", "replace")).items()}
        name, password = form.get("name", "").strip(), form.get("password", "")
        next_path = safe_next(form.get("next"))
        if not same_origin(request):
            return HTMLResponse(login_page(lang, next_path, i18n.t("login.origin", lang), name), 403)
        client = access.client_address(request.scope)
        wait = await anyio.to_thread.run_sync(access.limiter.retry_after, name, client)
        if wait:
            page = login_page(lang, next_path, i18n.t("login.limited", lang, s=wait), name)
            return HTMLResponse(page, 429, headers={"Retry-After": str(wait)})
        account = await anyio.to_thread.run_sync(access.accounts.verify, name, password)
        if account is None:
            await anyio.to_thread.run_sync(access.limiter.failed, name, client)
            return HTMLResponse(login_page(lang, next_path, i18n.t("login.failed", lang), name), 401)
        await anyio.to_thread.run_sync(access.limiter.succeeded, name, client)
        session = await anyio.to_thread.run_sync(access.sessions.create, account.name)
        response = RedirectResponse(next_path, 303)
        response.set_cookie(
            access.session_cookie,
            session.sid,
            max_age=access.settings.session_max_s,
            httponly=True,
            samesite="lax",
            secure=access.is_https(request.scope),
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        if not same_origin(request):
            return HTMLResponse(i18n.t("login.origin", lang_of(request)), 403)
        sid = request.cookies.get(access.session_cookie)
        if sid:
            await anyio.to_thread.run_sync(access.sessions.end, sid)
            access.forget(sid)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(access.session_cookie, httponly=True, samesite="lax")
        return response

    return router
