"""Every endpoint of the dashboard over plain HTTP: the token, 404 for anything not followed, live streams."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest

from chargen_es import events as ev
from chargen_es.engine.runs import list_runs, runs_root
from chargen_es.journal import Journal
from tests.dashboard.helpers import Dashboard, child_env, dashboard, wait_for

SECRET_KEY = "AIza-dashboard-test-key-5b7c1d-never-shown"


@pytest.fixture
def dash(demo_root: Path) -> Iterator[Dashboard]:
    with dashboard(demo_root, "--base-url", "http://127.0.0.1:9", env=child_env(GEMINI_API_KEY=SECRET_KEY)) as d:
        yield d


@pytest.fixture
def http(dash: Dashboard) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=dash.base, params={"token": dash.token}, timeout=30) as client:
        yield client


def _runs(root: Path) -> tuple[str, str]:
    """The demo's generation run and the run analysing its new pictures (its first run
    analyses the consistency sources)."""
    _sources, generate, analyze = list_runs(root)
    return generate, analyze


def _detail(http: httpx2.Client, run_id: str) -> dict[str, Any]:
    response = http.get(f"/api/runs/{run_id}")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _endpoints(root: Path, http: httpx2.Client) -> list[str]:
    generate, analyze = _runs(root)
    item = next(i for i in _detail(http, generate)["items"] if i["state"] == "done")
    key = quote(item["key"], safe="")
    return ["/", f"/run/{generate}", "/gallery", f"/gallery/{item['entity_type']}/{item['slug']}", "/api/runs",
            f"/api/runs/{generate}", f"/api/gallery/{item['entity_type']}/{item['slug']}",
            f"/img/{generate}?key={key}&n=0", "/static/app.js", "/static/style.css",
            f"/api/runs/{analyze}/log/resume"]


def test_the_url_comes_first_binds_loopback_and_carries_a_random_token(demo_root: Path) -> None:
    with dashboard(demo_root) as one, dashboard(demo_root) as two:
        for d in (one, two):
            assert d.url.startswith("http://127.0.0.1:") and "/?token=" in d.url
            assert len(d.token) >= 24
        assert one.token != two.token
        port = int(one.base.rsplit(":", 1)[1])
        with socket.socket() as s:  # nothing listens on the other interfaces
            addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
            others = addresses - {"127.0.0.1"}
            for address in others:
                assert s.connect_ex((address, port)) != 0


def test_every_endpoint_is_403_without_the_token_or_with_a_wrong_one(demo_root: Path, dash: Dashboard,
                                                                      http: httpx2.Client) -> None:
    paths = [*_endpoints(demo_root, http), "/api/stream", f"/api/runs/{_runs(demo_root)[0]}/stream"]
    with httpx2.Client(base_url=dash.base, timeout=30) as bare:
        for path in paths:
            assert bare.get(path).status_code == 403, path
            sep = "&" if "?" in path else "?"
            assert bare.get(f"{path}{sep}token=wrong{dash.token}").status_code == 403, path
            assert bare.get(path, cookies={"chargen_es_token": "x" + dash.token}).status_code == 403, path
        for action in ("pause", "resume", "cancel"):
            run = _runs(demo_root)[0]
            assert bare.post(f"/api/runs/{run}/{action}").status_code == 403
            # the cookie alone (what a page of another origin could make the browser send) is not enough
            response = bare.post(f"/api/runs/{run}/{action}", cookies={"chargen_es_token": dash.token})
            assert response.status_code == 403


def test_the_token_in_the_url_sets_a_strict_cookie_that_then_suffices(dash: Dashboard) -> None:
    with httpx2.Client(base_url=dash.base, timeout=30) as browser:
        first = browser.get("/", params={"token": dash.token})
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"chargen_es_token={dash.token};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert browser.get("/api/runs").status_code == 200  # the client kept the cookie


def test_pages_and_apis_show_the_demo_runs(demo_root: Path, http: httpx2.Client) -> None:
    generate, analyze = _runs(demo_root)
    rows = http.get("/api/runs").json()
    assert [r["id"] for r in rows] == [analyze, generate, list_runs(demo_root)[0]]  # newest first
    for row in rows:
        assert row["phase"] == "completed" and not row["active"] and row["pending"] == 0
        assert row["ok"] == row["tasks"] > 0 and row["cost_estimated_usd"] > 0 and row["duration_s"] >= 0
    page = http.get("/")
    assert page.status_code == 200 and 'data-page="runs"' in page.text and generate in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    detail = _detail(http, generate)
    assert detail["summary"]["id"] == generate
    assert [c["job_state"] for c in detail["chunks"]] == ["SUCCEEDED"]
    assert {i["state"] for i in detail["items"]} == {"done"}  # the analyses first changed every prompt
    analysis = _detail(http, analyze)
    assert {i["state"] for i in analysis["items"]} == {"done", "skipped"}  # sources were analysed first
    assert all(i["reason"] for i in analysis["items"] if i["state"] == "skipped")
    assert all(isinstance(i["analysis"], dict) and i["analysis"] for i in analysis["items"] if i["state"] == "done")
    assert http.get(f"/run/{generate}").status_code == 200
    assert "app.js" in http.get("/").text and "EventSource" in http.get("/static/app.js").text


def test_images_are_the_outputs_named_in_the_journal(demo_root: Path, http: httpx2.Client) -> None:
    generate, analyze = _runs(demo_root)
    done = [i for i in _detail(http, generate)["items"] if i["state"] == "done"]
    assert done
    for item in done:
        image = http.get(f"/img/{generate}", params={"key": item["key"], "n": "0"})
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"  # as Gemini 3 answers
        assert hashlib.sha256(image.content).digest() == hashlib.sha256(
            (demo_root / item["outputs"][0]["path"]).read_bytes()).digest()
    analysed = _detail(http, analyze)["items"][0]
    source = http.get(f"/img/{analyze}", params={"key": analysed["key"], "n": "input"})
    assert source.status_code == 200 and source.content == (demo_root / analysed["input_image"]).read_bytes()
    # an analysis output is JSON, not an image: it is shown as fields, never served as a file
    assert http.get(f"/img/{analyze}", params={"key": analysed["key"], "n": "0"}).status_code == 404


def test_the_gallery_lists_each_entitys_images_with_prompt_key_run_and_analysis(demo_root: Path,
                                                                                 http: httpx2.Client) -> None:
    generate, analyze = _runs(demo_root)
    page = http.get("/gallery")
    assert page.status_code == 200
    entities = json.loads(page.text.split('id="page-data">', 1)[1].split("</script>", 1)[0])["entities"]
    assert {"entity_type": "characters", "slug": "ada"} in [{k: e[k] for k in ("entity_type", "slug")}
                                                             for e in entities]
    images = http.get("/api/gallery/characters/ada").json()
    generated = [i for i in images if i["run"] == generate]
    assert generated and all(i["prompt"] and i["key"] and i["analysis"]["run"] == analyze for i in generated)
    for image in images:
        assert http.get(f"/img/{image['run']}", params={"key": image["key"], "n": image["which"]}).status_code == 200


# a literal ".." is normalised away by the client (test_raw_dot_dot_segments_are_404 sends it raw)
TRAVERSALS = ["%2e%2e", "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "journal.jsonl", "x%00y",
              "..%5C..%5Cwin.ini"]


def test_traversal_in_every_url_parameter_is_404_and_reads_nothing(demo_root: Path, http: httpx2.Client,
                                                                   tmp_path: Path) -> None:
    generate, analyze = _runs(demo_root)
    secret = tmp_path / "outside.png"
    secret.write_bytes(b"\x89PNG outside the root: never served")
    item = next(i for i in _detail(http, generate)["items"] if i["state"] == "done")
    # an output replaced by a symlink that leaves the tree is refused too
    os.replace(demo_root / item["outputs"][0]["path"], tmp_path / "moved.png")
    os.symlink(secret, demo_root / item["outputs"][0]["path"])
    key = quote(item["key"], safe="")
    urls = []
    for bad in TRAVERSALS:
        urls += [f"/run/{bad}", f"/api/runs/{bad}", f"/api/runs/{bad}/stream", f"/api/runs/{bad}/log/resume",
                 f"/api/runs/{generate}/log/{bad}", f"/gallery/{bad}/ada", f"/gallery/characters/{bad}",
                 f"/api/gallery/{bad}/{bad}", f"/img/{bad}?key={key}&n=0", f"/img/{generate}?key={bad}&n=0",
                 f"/img/{generate}?key={key}&n={bad}", f"/static/{bad}", "/static/..%2Fapp.py",
                 f"/img/{generate}?key=..%2F..%2F{quote(str(secret), safe='')}&n=0"]
    urls += [f"/img/{generate}?key={key}&n=0", f"/img/{generate}?key={key}&n=-1", f"/img/{generate}?key={key}&n=1"]
    for url in urls:
        response = http.get(url)
        assert response.status_code == 404, url
        assert b"outside the root" not in response.content and b"root:" not in response.content, url
    for bad in TRAVERSALS:
        assert http.post(f"/api/runs/{bad}/pause", headers={"X-Chargen-Token": http.params["token"]}
                         ).status_code == 404


def _raw_get(dash: Dashboard, target: str) -> int:
    """A request line sent as is (clients normalise ``..`` away; an attacker's need not)."""
    host, port = dash.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nCookie: chargen_es_token={dash.token}\r\n"
                  "Connection: close\r\n\r\n".encode())
        head = s.recv(64).decode("latin-1")
    return int(head.split()[1])


def test_raw_dot_dot_segments_are_404(demo_root: Path, dash: Dashboard) -> None:
    generate, _ = _runs(demo_root)
    for target in ["/run/../../etc/passwd", f"/run/{generate}/../../journal.jsonl", "/static/../app.py",
                   f"/img/../{generate}?key=x&n=0", "/gallery/../../../etc/passwd"]:
        assert _raw_get(dash, target) == 404, target


def test_the_api_key_never_reaches_a_page(demo_root: Path, http: httpx2.Client) -> None:
    bodies = [http.get(path).content for path in _endpoints(demo_root, http) if path.startswith(("/", "/api"))]
    assert bodies and not any(SECRET_KEY.encode() in body for body in bodies)


def test_controls_refuse_what_does_not_apply_and_unknown_actions_are_404(demo_root: Path, dash: Dashboard,
                                                                          http: httpx2.Client) -> None:
    generate, _ = _runs(demo_root)
    headers = {"X-Chargen-Token": dash.token}
    pause = http.post(f"/api/runs/{generate}/pause", headers=headers)
    assert pause.status_code == 409 and "not being worked on" in pause.json()["message"]
    for action in ("resume", "cancel"):
        response = http.post(f"/api/runs/{generate}/{action}", headers=headers)
        assert response.status_code == 409 and "completed" in response.json()["message"]
    assert http.post(f"/api/runs/{generate}/delete", headers=headers).status_code == 404
    assert http.post("/api/runs", headers=headers).status_code == 405


def _sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


def test_a_new_run_and_its_events_are_pushed_to_open_streams(demo_root: Path, http: httpx2.Client) -> None:
    new = "2031-01-01T00-00-00Z"
    with http.stream("GET", "/api/stream") as runs, http.stream("GET", f"/api/runs/{_runs(demo_root)[0]}/stream") as one:
        runs_events = _sse(runs.iter_lines())
        kind, rows = next(runs_events)
        assert kind == "snapshot" and new not in [r["id"] for r in rows]
        assert next(_sse(one.iter_lines()))[0] == "snapshot"
        journal = Journal.open(runs_root(demo_root) / new, create=True)
        with journal:
            journal.append(ev.RunStarted(run_id=new, tool_version="0", mode="generate", runner="live"))
            kind, rows = wait_for("the new run's row", lambda: next(
                ((k, r) for k, r in runs_events if any(row["id"] == new for row in r)), None))
            assert kind == "rows" and next(r for r in rows if r["id"] == new)["active"] is True
            journal.append(ev.RunFailed(code="test", message="stopped here"))
        kind, rows = next((k, r) for k, r in runs_events
                          if any(row["id"] == new and not row["active"] for row in r))
        row = next(r for r in rows if r["id"] == new)
        assert row["phase"] == "failed" and row["ended"] == "failed: test: stopped here"
