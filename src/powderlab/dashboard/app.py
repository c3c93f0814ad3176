"""The dashboard's web application (aiohttp): pages, a live state websocket, login, commands.

Reading is open (GET /api/*, /ws); every command (POST /api/command) needs a logged-in user,
except engaging the e-stop when `anonymous_estop` is set (ADR 0072). A command's user goes with
it to the lab (as `source`) and into the command log. POSTs must carry the header
`X-PowderLab: 1` (a cross-site form cannot set it) and the session cookie is SameSite=Strict.
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from powderlab.dashboard.audit import CommandLog
from powderlab.dashboard.auth import Sessions, UserStore
from powderlab.dashboard.claims import add_routes as add_claim_routes
from powderlab.dashboard.commands import CommandDispatcher

COOKIE = "powderlab_session"
CSRF_HEADER = "X-PowderLab"
STATIC = Path(str(resources.files("powderlab.dashboard") / "static"))
RAW_MODES = {
    "rgb8": ("RGB", "RGB"),
    "bgr8": ("RGB", "BGR"),
    "rgba8": ("RGBA", "RGBA"),
    "bgra8": ("RGBA", "BGRA"),
    "mono8": ("L", "L"),
}


@dataclass(frozen=True)
class DashboardSettings:
    """Behaviour of the web app (the dashboard node's parameters)."""

    anonymous_estop: bool = True
    push_period_s: float = 0.25
    session_timeout_s: float = 8 * 3600.0
    title: str = "PowderLab"


KEYS = {
    "monitor": web.AppKey("monitor", object),
    "users": web.AppKey("users", UserStore),
    "sessions": web.AppKey("sessions", Sessions),
    "log": web.AppKey("log", CommandLog),
    "dispatcher": web.AppKey("dispatcher", CommandDispatcher),
    "settings": web.AppKey("settings", DashboardSettings),
    "camera_cache": web.AppKey("camera_cache", dict),
    "clients": web.AppKey("clients", list),  # [open websockets]: somebody is watching the lab
}


def create_app(
    monitor: Any,
    dispatcher: CommandDispatcher,
    users: UserStore,
    log: CommandLog,
    settings: DashboardSettings | None = None,
    claims: Any = None,
) -> web.Application:
    """The aiohttp application over a LabMonitor (state) and a CommandDispatcher (commands); `claims`:
    the campaign store's claims ledger (dashboard/claims.py), None when no store is configured."""
    settings = settings or DashboardSettings()
    app = web.Application(client_max_size=64 * 1024)
    app[KEYS["monitor"]] = monitor
    app[KEYS["users"]] = users
    app[KEYS["sessions"]] = Sessions(settings.session_timeout_s)
    app[KEYS["log"]] = log
    app[KEYS["dispatcher"]] = dispatcher
    app[KEYS["settings"]] = settings
    app[KEYS["camera_cache"]] = {}
    app[KEYS["clients"]] = [0]
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/history", history)
    app.router.add_get("/api/pattern/{id}", pattern)
    app.router.add_get("/api/camera.jpg", camera)
    app.router.add_get("/api/commands", commands)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_post("/api/command", command)
    app.router.add_get("/ws", websocket)
    add_claim_routes(app, claims)
    return app


def current_user(request: web.Request) -> str | None:
    return request.app[KEYS["sessions"]].user(request.cookies.get(COOKIE))


def _state(request: web.Request) -> dict[str, Any]:
    app = request.app
    user = current_user(request)
    snapshot = app[KEYS["monitor"]].snapshot()
    snapshot["user"] = user
    snapshot["users_configured"] = bool(app[KEYS["users"]].names())
    snapshot["anonymous_estop"] = app[KEYS["settings"]].anonymous_estop
    snapshot["commands"] = app[KEYS["log"]].entries()[-50:]
    snapshot["title"] = app[KEYS["settings"]].title
    return snapshot


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def state(request: web.Request) -> web.Response:
    return web.json_response(_state(request))


async def history(request: web.Request) -> web.Response:
    return web.json_response(request.app[KEYS["monitor"]].history())


async def commands(request: web.Request) -> web.Response:
    return web.json_response(request.app[KEYS["log"]].entries())


async def pattern(request: web.Request) -> web.Response:
    try:
        pattern_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPBadRequest(text="pattern id must be an integer") from None
    found = request.app[KEYS["monitor"]].pattern(pattern_id)
    if found is None:
        raise web.HTTPNotFound(text=f"no pattern {pattern_id} (the dashboard keeps the most recent ones)")
    return web.json_response(found)


def encode_jpeg(width: int, height: int, encoding: str, data: bytes) -> bytes:
    """A camera frame (sensor_msgs/Image raw pixels) as JPEG."""
    from PIL import Image

    mode, raw_mode = RAW_MODES[encoding]
    image = Image.frombytes(mode, (width, height), data, "raw", raw_mode)
    if image.mode == "RGBA":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


async def camera(request: web.Request) -> web.Response:
    frame = request.app[KEYS["monitor"]].camera()
    if frame is None:
        raise web.HTTPNotFound(text="no camera image yet (is the twin or a camera publishing?)")
    cache = request.app[KEYS["camera_cache"]]
    if cache.get("number") != frame.number:
        jpeg = await asyncio.to_thread(encode_jpeg, frame.width, frame.height, frame.encoding, frame.data)
        cache.update(number=frame.number, jpeg=jpeg)
    return web.Response(body=cache["jpeg"], content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _check_csrf(request: web.Request) -> None:
    if request.headers.get(CSRF_HEADER) != "1":
        raise web.HTTPForbidden(text=f"missing header {CSRF_HEADER}: 1 (commands come from the dashboard page)")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


async def login(request: web.Request) -> web.Response:
    _check_csrf(request)
    body = await _json_body(request)
    name, password = str(body.get("user", "")), str(body.get("password", ""))
    users = request.app[KEYS["users"]]
    if not await asyncio.to_thread(users.authenticate, name, password):
        request.app[KEYS["log"]].record(name or "?", "login", {}, False, "wrong user name or password")
        return web.json_response({"ok": False, "message": "wrong user name or password"}, status=401)
    token = request.app[KEYS["sessions"]].create(name)
    request.app[KEYS["log"]].record(name, "login", {}, True, "logged in")
    response = web.json_response({"ok": True, "user": name})
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
    return response


async def logout(request: web.Request) -> web.Response:
    _check_csrf(request)
    request.app[KEYS["sessions"]].end(request.cookies.get(COOKIE))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def command(request: web.Request) -> web.Response:
    _check_csrf(request)
    body = await _json_body(request)
    user = current_user(request)
    if user is None:
        if body.get("command") == "estop" and request.app[KEYS["settings"]].anonymous_estop:
            user = f"anonymous@{request.remote or '?'}"
        else:
            request.app[KEYS["log"]].record(
                f"anonymous@{request.remote or '?'}", str(body.get("command")), {}, False, "refused: not logged in"
            )
            return web.json_response({"ok": False, "message": "log in to send commands"}, status=401)
    result = await asyncio.to_thread(request.app[KEYS["dispatcher"]].run, user, body)
    return web.json_response(result.to_json())


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Pushes the state whenever it changes (at most every push_period_s)."""
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    app = request.app
    period = app[KEYS["settings"]].push_period_s
    last: tuple[int, int, str | None] | None = None

    async def reader() -> None:
        async for message in ws:
            if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break

    reading = asyncio.create_task(reader())
    app[KEYS["clients"]][0] += 1
    try:
        while not ws.closed and not reading.done():
            key = (app[KEYS["monitor"]].version, app[KEYS["log"]].version, current_user(request))
            if key != last:
                await ws.send_json({"type": "state", "state": _state(request)})
                last = key
            await asyncio.sleep(period)
    except (ConnectionResetError, RuntimeError):
        pass
    finally:
        app[KEYS["clients"]][0] -= 1
        reading.cancel()
        await ws.close()
    return ws


def watching(app: web.Application) -> int:
    """How many browsers have the live dashboard open (its websocket connected)."""
    return app[KEYS["clients"]][0]
