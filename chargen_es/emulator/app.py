"""Routing: one HTTP request in, one :class:`Reply` out; auth, counters and faults here.

Kept free of sockets so the whole protocol surface is one function, ``App.dispatch``. Every
API path is matched after an optional base prefix and ``/v1`` or ``/v1beta`` (protocol
§1), with ``/upload/`` for the resumable upload and the docs' ``/download/`` form. The
order per request is: count the operation, check the key (upload-URL chunks are exempt,
like Google's), apply request faults, run the handler. ``drop_after_commit`` runs the
handler and then asks the server to close the connection without sending the reply.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chargen_es.emulator.batches import BatchesApi
from chargen_es.emulator.catalog import ModelSet
from chargen_es.emulator.clock import ShiftedClock
from chargen_es.emulator.config import EmulatorConfig
from chargen_es.emulator.faults import FaultError, Faults, parse_rules
from chargen_es.emulator.files import FINAL, FilesApi
from chargen_es.emulator.models import ModelsApi
from chargen_es.emulator.presets import PRESETS
from chargen_es.emulator.state import Store
from chargen_es.emulator.wire import ApiError, decode, encode, quota_details

_PATH_RE = re.compile(r"^(?P<prefix>(?:/[^/]+)*?)/(?P<kind>upload/|download/)?(?P<v>v1beta|v1)/(?P<rest>.*)$")
_CONTROL_RE = re.compile(r"^(?P<prefix>.*?)/_emulator/(?P<what>stats|faults|clock|models|release)$")
JSON_TYPE = "application/json; charset=UTF-8"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = JSON_TYPE
    drop: bool = False  # close the connection instead of sending this reply


def json_reply(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, headers=headers or {}, body=encode(obj))


def error_reply(err: ApiError) -> Reply:
    return json_reply(err.body(), err.http, err.headers)


@dataclass
class _Route:
    op: str
    run: Callable[[bool], Reply]  # argument: the daily_quota fault fired
    auth: bool = True
    chunk: bool = False
    model: str = ""  # the model id in the path, for quota details


class App:
    """The emulator's request handling, shared by all server threads."""

    def __init__(self, config: EmulatorConfig, store: Store, clock: ShiftedClock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.faults = Faults(config.seed)
        if config.faults:
            self.faults.replace(parse_rules(config.faults))
        self.catalog = ModelSet.build(config.models, config.shut_down, config.thoughts)
        self.files = FilesApi(store, config, clock)
        self.batches = BatchesApi(store, config, self.files, self.faults, clock, self._catalog)
        self.models = ModelsApi(store, config, self.faults, clock, self._catalog)

    def _catalog(self) -> ModelSet:
        return self.catalog

    def close(self) -> None:
        self.batches.close()

    def dispatch(self, req: Request) -> Reply:
        try:
            control = _CONTROL_RE.match(req.path)
            if control:
                return self._control(req, control.group("what"))
            route = self._route(req)
            if route is None:
                raise ApiError(404, f"No such method: {req.method} {req.path}")
            self.store.count_op(route.op)
            if route.auth and not (req.headers.get("x-goog-api-key") or req.query.get("key")):
                raise ApiError(403, "Method doesn't allow unregistered callers (callers without "
                                    "established identity). Please use API Key or other form of API "
                                    "consumer identity to call this API.")
            self.store.enter(route.op)
            try:
                return self._run_with_faults(route)
            finally:
                self.store.leave(route.op)
        except ApiError as err:
            return error_reply(err)
        except Exception as exc:  # a bug here must still answer like Google: a 500, not a reset
            logging.getLogger(__name__).exception("emulator handler failed")
            return error_reply(ApiError(500, f"Internal error: {exc!r}", headers=FINAL))

    def _run_with_faults(self, route: _Route) -> Reply:
        after_commit = daily = False
        fired = self.faults.take_request(route.op)
        for rule in fired:
            if rule.kind == "latency":
                time.sleep(rule.seconds)
        for rule in fired:
            if rule.kind == "drop":
                return Reply(drop=True)
            elif rule.kind == "drop_after_commit":
                after_commit = True
            elif rule.kind == "daily_quota":
                daily = True
            elif rule.kind == "preset":
                preset = PRESETS[rule.preset]
                raise ApiError(preset.status, preset.message, preset.details(route.model or "model",
                                                                             rule.retry_delay_s))
            elif rule.kind == "status":
                details = []
                if rule.status == 429:
                    details = quota_details(False, "model", 0, rule.retry_delay_s)
                raise ApiError(rule.status, rule.message or f"Injected fault on {route.op}.", details,
                               headers=FINAL if route.chunk else None)
        reply = route.run(daily)
        if after_commit:
            return Reply(drop=True)
        return reply

    # -- routing --------------------------------------------------------------------------

    def _route(self, req: Request) -> _Route | None:
        m = _PATH_RE.match(req.path)
        if m is None:
            return None
        v, rest, kind = m.group("v"), m.group("rest"), m.group("kind")
        host = req.headers.get("host", f"{self.config.host}:{self.config.port}")
        base = f"http://{host}{m.group('prefix')}"
        method = req.method
        if kind == "upload/":
            if rest != "files" or method != "POST":
                return None
            if "upload_id" in req.query:
                return _Route("files.upload_chunk", lambda _d: self._chunk(req, v, base), auth=False, chunk=True)
            return _Route("files.upload_start", lambda _d: self._start(req, f"{base}/upload/{v}/files"))
        parts = rest.split("/")
        if parts[0] == "files":
            return self._files_route(req, parts, v, base)
        if parts[0] == "models" and len(parts) == 1 and method == "GET":
            return _Route("models.list", lambda _d: json_reply(self.catalog.list(req.query)))
        if parts[0] == "models" and len(parts) == 2 and method == "GET" and ":" not in parts[1]:
            return _Route("models.get", lambda _d: json_reply(self.catalog.get(parts[1], v)))
        if parts[0] == "models" and len(parts) == 2 and method == "POST" and ":" in parts[1]:
            model, _, verb = parts[1].rpartition(":")
            if verb == "generateContent":
                return _Route("models.generateContent", lambda daily: json_reply(
                    self.models.generate(model, self._json(req), daily, v)), model=model)
            if verb == "batchGenerateContent":
                return _Route("batches.create", lambda _d: json_reply(
                    self.batches.operation(self.batches.create(model, self._json(req), v))), model=model)
            return None
        if parts[0] == "batches":
            return self._batches_route(req, parts)
        return None

    def _files_route(self, req: Request, parts: list[str], v: str, base: str) -> _Route | None:
        method = req.method
        if len(parts) == 1:
            if method == "GET":
                return _Route("files.list", lambda _d: json_reply(self.files.list(req.query, v, base)))
            return None
        if len(parts) != 2:
            return None
        fid, _, verb = parts[1].partition(":")
        if verb == "download" and method == "GET":
            return _Route("files.download", lambda _d: self._download(req, fid, v, base))
        if verb:
            return None
        if method == "GET":
            return _Route("files.get", lambda _d: json_reply(self.files.get(fid, v, base)))
        if method == "DELETE":
            return _Route("files.delete", lambda _d: json_reply(self.files.delete(fid)))
        return None

    def _batches_route(self, req: Request, parts: list[str]) -> _Route | None:
        method = req.method
        if len(parts) == 1:
            if method == "GET":
                return _Route("batches.list", lambda _d: json_reply(self.batches.list(req.query)))
            return None
        if len(parts) != 2:
            return None
        bid, _, verb = parts[1].partition(":")
        if verb == "cancel" and method == "POST":
            return _Route("batches.cancel", lambda _d: json_reply(self.batches.cancel(bid)))
        if (verb == "delete" and method == "POST") or (not verb and method == "DELETE"):
            return _Route("batches.delete", lambda _d: json_reply(self.batches.delete(bid)))
        if not verb and method == "GET":
            return _Route("batches.get", lambda _d: json_reply(self.batches.get(bid)))
        return None

    # -- handlers needing more than one line ----------------------------------------------

    @staticmethod
    def _json(req: Request) -> Any:
        if not req.body.strip():
            return {}
        try:
            return decode(req.body)
        except Exception as exc:
            raise ApiError(400, f"Invalid JSON payload received: {exc}") from exc

    def _start(self, req: Request, upload_url: str) -> Reply:
        headers = self.files.start_upload(self._json(req), req.headers, upload_url)
        return Reply(headers=headers, body=b"{}")

    def _chunk(self, req: Request, v: str, base: str) -> Reply:
        headers, body = self.files.chunk(req.query["upload_id"], req.headers, req.body, v, base)
        return Reply(headers=headers, body=encode(body) if body is not None else b"")

    def _download(self, req: Request, fid: str, v: str, base: str) -> Reply:
        if req.query.get("alt") != "media":
            return json_reply(self.files.get(fid, v, base))
        rec = self.files.download(fid)
        return Reply(body=rec.data, content_type=rec.mime_type or "application/octet-stream")

    def _control(self, req: Request, what: str) -> Reply:
        if what == "stats":
            return json_reply(self.store.stats())
        if what == "clock":
            if req.method == "GET":
                return json_reply(self.clock.describe())
            try:
                return json_reply(self.clock.apply(self._json(req)))
            except ValueError as exc:
                raise ApiError(400, f"/_emulator/clock: {exc}") from exc
        if what == "models":
            return self._control_models(req)
        if what == "release":
            try:
                return json_reply({"released": self.batches.release(self._json(req))})
            except ValueError as exc:
                raise ApiError(400, f"/_emulator/release: {exc}") from exc
        if req.method == "GET":
            return json_reply({"faults": self.faults.describe()})
        try:
            self.faults.replace(parse_rules(self._json(req)))
        except FaultError as exc:
            raise ApiError(400, str(exc)) from exc
        return json_reply({"faults": self.faults.describe()})

    def _control_models(self, req: Request) -> Reply:
        """``GET``: the served ids and the shut-down ones; ``POST``: replace either or both."""
        if req.method == "POST":
            body = self._json(req)
            if not isinstance(body, dict) or not set(body) <= {"models", "shut_down", "thoughts"}:
                raise ApiError(400, "/_emulator/models: expected {\"models\": [...], \"shut_down\": [...], "
                                    "\"thoughts\": bool} (each optional)")
            models = body.get("models")
            shut_down = body.get("shut_down")
            try:
                self.catalog = ModelSet.build(
                    models if models is not None else list(self.catalog.models.values()),
                    shut_down if shut_down is not None else self.catalog.shut_down,
                    bool(body.get("thoughts", True)))
            except (TypeError, ValueError) as exc:
                raise ApiError(400, f"/_emulator/models: {exc}") from exc
        return json_reply({"models": sorted(self.catalog.models), "shut_down": sorted(self.catalog.shut_down)})
