"""The review in the dashboard: ``/api/review`` over plain HTTP, and the gallery's grid in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from chargen_es import events as ev
from chargen_es.journal import read_events
from tests.dashboard.helpers import Dashboard, dashboard, wait_for
from tests.dashboard.test_browser import _js
from tests.review.test_verdicts import cli
from tests.shared import read_yaml

NOTE = "the hat is wrong"


@pytest.fixture
def dash(tree: Path) -> Iterator[Dashboard]:
    with dashboard(tree, "--base-url", "http://127.0.0.1:9") as d:
        yield d


@pytest.fixture
def http(dash: Dashboard) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=dash.base, params={"token": dash.token}, timeout=30) as client:
        yield client


def takes(root: Path, scene: str) -> list[str]:
    return sorted(f"characters/ada/images/{p.name}" for p in (root / "characters/ada/images").glob(f"{scene}-*"))


def shown(root: Path) -> dict[str, dict]:
    doc = read_yaml((root / "characters/ada/imagery.yaml").read_text())
    return {f"characters/ada/{e['file_path']}": e for e in doc["generated_images"]}


def test_post_review_needs_the_header_and_lands_in_journal_and_imagery(tree: Path, dash: Dashboard,
                                                                       http: httpx2.Client) -> None:
    rejected = takes(tree, "map-room")
    body = {"image": rejected[0], "decision": "reject", "note": NOTE}
    refused = http.post("/api/review", json=body)
    assert refused.status_code == 403, "the cookie or query alone never decides"
    # its body unread, the connection is not reused: the next request must not race its drop
    assert refused.headers["connection"] == "close"
    assert not (tree / ".chargen/review/journal.jsonl").exists()
    headers = {"X-Chargen-Token": dash.token}
    for path in rejected:
        answer = http.post("/api/review", json={"image": path, "decision": "reject", "note": NOTE}, headers=headers)
        assert answer.status_code == 200 and answer.json() == {"ok": True, "image": path, "state": "rejected"}
    (picked,) = takes(tree, "rooftop-survey")
    assert http.post("/api/review", json={"image": picked, "decision": "pick"}, headers=headers).status_code == 200
    events = read_events(tree / ".chargen/review/journal.jsonl")
    assert [(type(e), e.path) for e in events] == [(ev.ImageRejected, p) for p in rejected] + [(ev.ImagePicked, picked)]
    assert all(shown(tree)[p]["review_note"] == NOTE for p in rejected) and shown(tree)[picked]["review"] == "picked"
    assert [i["image"] for i in http.get("/api/review", params={"state": "rejected"}).json()["images"]] == rejected
    assert [i["image"] for i in http.get("/api/review", params={"state": "picked"}).json()["images"]] == [picked]
    waiting = http.get("/api/review", params={"state": "waiting"}).json()["images"]
    assert takes(tree, "lost-in-the-fog")[0] in [i["image"] for i in waiting]
    image = http.get("/api/review/img", params={"key": events[-1].key, "sha": events[-1].sha256})
    assert image.status_code == 200 and image.content == (tree / picked).read_bytes()


def test_bad_requests_are_refused_and_read_nothing_outside(tree: Path, dash: Dashboard, http: httpx2.Client) -> None:
    headers = {"X-Chargen-Token": dash.token}
    assert http.get("/api/review", params={"state": "maybe"}).status_code == 400
    assert http.post("/api/review", json={"image": "x.png", "decision": "keep"}, headers=headers).status_code == 400
    assert http.post("/api/review", content=b"{", headers=headers).status_code == 400
    misspelt = http.post("/api/review", json={"image": "x.png", "decision": "reject", "note ": "too dark"},
                         headers=headers)
    assert misspelt.status_code == 400 and "unknown field 'note '" in misspelt.json()["message"]
    for outside in ("../../etc/passwd", "/etc/passwd", "characters/ada/images/ada-portrait.png"):
        answer = http.post("/api/review", json={"image": outside, "decision": "pick"}, headers=headers)
        assert answer.status_code == 404 and not answer.json()["ok"]
    assert http.get("/api/review/img", params={"key": "character/ada/x@sha256:00", "sha": "00"}).status_code == 404
    assert not (tree / ".chargen/review/journal.jsonl").exists()


@pytest.mark.browser
@pytest.mark.slow  # Chromium: seconds of CPU
def test_the_gallery_picks_and_rejects_in_chromium(tree: Path, dash: Dashboard, browser: object) -> None:
    browser.get(dash.url.replace("/?", "/gallery?"))  # type: ignore[attr-defined]
    wait_for("the scene grid", lambda: _js(browser, "return document.querySelectorAll('#scenes section').length;"))
    rejected = takes(tree, "map-room")
    scene = "section[data-scene='character/ada/map-room']"
    assert _js(browser, f"return document.querySelectorAll(\"{scene} figure.take\").length;") == 3
    assert _js(browser, f"return document.querySelector(\"{scene} img\").naturalWidth > 0 || "
                        f"!document.querySelector(\"{scene} img\").complete;")
    for path in rejected:
        figure = f"figure[data-image='{path}']"
        _js(browser, f"document.querySelector(\"{figure} input.note\").value = {NOTE!r};"
                     f"document.querySelector(\"{figure} button.reject\").click();")
        wait_for(f"{path} rejected on the page", lambda figure=figure: _js(
            browser, f"const f = document.querySelector(\"{figure}\"); return f && f.dataset.state === 'rejected';"))
    wait_for("the scene rejected", lambda: _js(browser, f"return document.querySelector(\"{scene}\").dataset.state;")
             == "rejected")
    (picked,) = takes(tree, "rooftop-survey")
    _js(browser, f"document.querySelector(\"figure[data-image='{picked}'] button.pick\").click();")
    wait_for("the pick on the page", lambda: _js(
        browser, f"return document.querySelector(\"figure[data-image='{picked}']\").dataset.state;") == "picked")
    events = read_events(tree / ".chargen/review/journal.jsonl")
    assert [(type(e), e.path, getattr(e, "note", "")) for e in events] == [
        (ev.ImageRejected, p, NOTE) for p in rejected] + [(ev.ImagePicked, picked, "")]
    # the filter shows only picked scenes; a verdict from the cli shows up without a reload
    _js(browser, "document.querySelector(\"#review-filters button[data-filter='picked']\").click();")
    assert _js(browser, "return [...document.querySelectorAll('#scenes section')].map((s) => s.dataset.state);") \
        == ["picked"]
    (fog,) = takes(tree, "lost-in-the-fog")
    assert cli(tree, "pick", fog).returncode == 0
    wait_for("the cli's pick, live", lambda: len(_js(
        browser, "return [...document.querySelectorAll('#scenes section')];")) == 2)  # type: ignore[arg-type]
