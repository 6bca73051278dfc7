"""The dashboard's review: the gallery's grid of scenes and the one JSON API for verdicts.

Routes of their own (``routes``), mounted by :mod:`.app` behind its token gate:

- ``GET /gallery``: the gallery opens on a grid of scenes, each scene's takes side by side
  (prompt folded away, an image's analysis beside it), with the entity pages listed too;
- ``GET /api/review?state=waiting|picked|rejected``: the images in that state (all without
  ``state``), each with its scene, key, SHA-256, verdict and note; the page polls it for
  live updates;
- ``POST /api/review`` ``{"image": PATH relative to the root, "decision": "pick" | "reject" |
  "clear", "note": TEXT}``: one verdict through ``chargen_es.engine.review`` (the review
  journal, then imagery.yaml: the same path as ``chargen-es pick``); the gate requires the
  ``X-Chargen-Token`` header on a POST (403 without it);
- ``GET /api/review/img?key=K&sha=S``: an image's bytes, found by task key and hash among
  the images the tree's imagery.yaml files record, never by a path from the URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import trio
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from chargen_es.dashboard import pages
from chargen_es.engine import review
from chargen_es.errors import ChargenError, UsageError
from projections.review import Review, scene_verdict

STATES = ("waiting", "picked", "rejected")


REVIEW_FIELDS = {"image", "decision", "note"}


def image_row(root: Path, image: review.Image, verdicts: Review) -> dict[str, Any]:
    verdict = verdicts.of(image.key, image.sha256)
    return {"image": image.path, "key": image.key, "sha256": image.sha256, "scene": image.scene,
            "state": verdict.state if verdict else "waiting", "note": verdict.note if verdict else "",
            "url": "/api/review/img?" + urlencode({"key": image.key, "sha": image.sha256}),
            "prompt": image.prompt, "analysis": _analysis(root, image.path)}


def _analysis(root: Path, path: str) -> dict[str, Any] | None:
    """The image's analysis (``<image>.analysis.json`` beside it), shown with it; None when absent."""
    try:
        data = json.loads((root / f"{path}.analysis.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def scenes(root: Path, cache: review.Parsed | None = None) -> list[dict[str, Any]]:
    """Every scene with an image, its takes side by side (path order) and its verdict
    (``cache``: the dashboard's parsed imagery.yaml files, see ``review.images``)."""
    verdicts = review.load(root)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for image in review.images(root, cache):
        grouped.setdefault(image.scene, []).append(image_row(root, image, verdicts))
    out = []
    for scene in sorted(grouped):
        takes = sorted(grouped[scene], key=lambda t: t["image"])
        state = scene_verdict([None if t["state"] == "waiting" else t["state"] for t in takes])
        out.append({"scene": scene, "state": state, "takes": takes})
    return out


def routes(root: Path, entities: Any, token: str) -> list[Route]:
    """The review's routes over the tree at ``root``; ``entities()`` lists the entity pages."""
    root = Path(root).resolve()
    parsed: review.Parsed = {}  # imagery.yaml files by mtime and size: the page polls every second
    lock = trio.Lock()  # one listing at a time shares the cache

    async def listed() -> list[dict[str, Any]]:
        async with lock:
            return await trio.to_thread.run_sync(scenes, root, parsed)

    async def gallery(request: Request) -> Response:
        found = await listed()
        return pages.html("review", "Gallery", {"scenes": found, "entities": entities()}, token)

    async def listing(request: Request) -> Response:
        state = request.query_params.get("state", "")
        if state and state not in STATES:
            return JSONResponse({"ok": False, "message": f"state {state!r}: use one of {', '.join(STATES)}"},
                                status_code=400)
        found = await listed()
        rows = [t for s in found for t in s["takes"] if not state or t["state"] == state]
        return JSONResponse({"images": rows, "scenes": found})

    async def decide(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        shape = 'send {"image": PATH, "decision": "pick" | "reject" | "clear", "note": TEXT}'
        if not isinstance(body, dict) or not isinstance(body.get("image"), str) \
                or body.get("decision") not in review.DECISIONS or not isinstance(body.get("note", ""), str):
            return JSONResponse({"ok": False, "message": shape}, status_code=400)
        unknown = sorted(set(body) - REVIEW_FIELDS)
        if unknown:  # a misspelt "note" would otherwise drop the reviewer's words without a sign
            return JSONResponse({"ok": False, "message": f"unknown field {', '.join(map(repr, unknown))}: {shape}"},
                                status_code=400)
        try:
            image = await trio.to_thread.run_sync(_decide, root, body["image"], body["decision"], body.get("note", ""))
        except UsageError as exc:  # not an image chargen-es made, or its bytes changed
            return JSONResponse({"ok": False, "message": str(exc)}, status_code=404)
        except ChargenError as exc:  # the review journal is busy or damaged
            return JSONResponse({"ok": False, "message": str(exc)}, status_code=409)
        verdict = review.load(root).of(image.key, image.sha256)
        return JSONResponse({"ok": True, "image": image.path, "state": verdict.state if verdict else "waiting"})

    async def picture(request: Request) -> Response:
        key, sha = request.query_params.get("key", ""), request.query_params.get("sha", "")
        async with lock:  # the listing's parsed imagery.yaml files, not a walk of the tree per picture
            found = await trio.to_thread.run_sync(_find, root, key, sha, parsed)
        if found is None:
            return PlainTextResponse("404: no such image", status_code=404)
        return FileResponse(found, headers={"cache-control": "private, max-age=3600",
                                            "x-content-type-options": "nosniff"})

    return [Route("/gallery", gallery), Route("/api/review", listing), Route("/api/review", decide, methods=["POST"]),
            Route("/api/review/img", picture)]


def _decide(root: Path, spec: str, decision: review.Decision, note: str) -> review.Image:
    image = review.locate(root, spec, cwd=root)
    review.record(root, image, decision, note)
    return image


def _find(root: Path, key: str, sha: str, cache: review.Parsed) -> Path | None:
    """The file of the image recorded under ``key`` with ``sha``, inside the root (symlinks followed)."""
    if not key or not sha:
        return None
    for image in review.images(root, cache):
        if image.key == key and image.sha256 == sha:
            path = (root / image.path).resolve()
            if path.is_file() and path.is_relative_to(root):
                return path
    return None
