"""The dashboard in real headless Chromium (Selenium), with runs as real `chargen-es` children on the emulator.

Select these with ``-m browser`` (or leave them out with ``-m "not browser"``). They need
Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from chargen_es.engine.runs import list_runs
from tests.dashboard.helpers import (
    DEADLINE_S,
    Dashboard,
    chargen,
    child_env,
    dashboard,
    start_run,
    stop,
    wait_for,
)
from tests.procs import CliProcess, start_child

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Chromium: seconds of CPU per test

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
LONG_JOB_S = 3600.0  # an hour-long job: it cannot finish while the test pauses and resumes it
# (the last step moves the embedded emulator's persisted clock an hour on instead of waiting)
DASH_ARGS = ("--emulator", "--emulator-job-seconds", "1", "--poll-interval", "0.2")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium per test process (starting one costs over a second of CPU);
    :func:`browser` hands it to each test with no cookie and a blank page."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("the browser tests need /usr/bin/chromium and /usr/bin/chromedriver "
                    "(apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="chargen-es-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(DEADLINE_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chromium: object) -> Iterator[object]:
    """The process's Chromium as a fresh visitor: every dashboard listens on 127.0.0.1, and
    cookies ignore the port, so an earlier test's token cookie must not reach this one."""
    chromium.get("about:blank")  # type: ignore[attr-defined]
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})  # type: ignore[attr-defined]
    yield chromium
    chromium.get("about:blank")  # type: ignore[attr-defined]  # ends the page's event streams


def _js(driver: object, script: str) -> object:
    return driver.execute_script(script)  # type: ignore[attr-defined]


def _text(driver: object, selector: str) -> str:
    return str(_js(driver, f"const e = document.querySelector({selector!r}); return e ? e.textContent : '';"))


def _percent(driver: object) -> int:
    value = _js(driver, "const e = document.querySelector('#summary .progress'); return e ? e.dataset.percent : -1;")
    return int(value)  # type: ignore[call-overload]


def _phase(driver: object) -> str:
    return str(_js(driver, "const e = document.querySelector('#summary .phase'); "
                           "return e ? e.dataset.phase + (e.classList.contains('active') ? ':active' : '') : '';"))


def _click(driver: object, selector: str) -> None:
    wait_for(f"{selector} enabled", lambda: _js(
        driver, f"const b = document.querySelector({selector!r}); return b && !b.disabled;"))
    _js(driver, f"document.querySelector({selector!r}).click();")


def _open_run(driver: object, dash: Dashboard, run_id: str) -> None:
    """Open the printed URL (its token becomes the cookie), then follow the run's row."""
    driver.get(dash.url)  # type: ignore[attr-defined]
    wait_for("the run's row", lambda: _js(driver, f"return !!document.querySelector('tr[data-run=\"{run_id}\"]');"))
    _js(driver, f"document.querySelector('tr[data-run=\"{run_id}\"] a').click();")
    wait_for("the run page's stream", lambda: _text(driver, "#live") == "live"
             and driver.current_url.endswith(f"/run/{run_id}"))  # type: ignore[attr-defined]


def _new_run(root: Path, before: list[str]) -> str:
    return wait_for("the run's folder", lambda: next((r for r in list_runs(root) if r not in before), None))


def test_a_run_started_from_the_cli_shows_up_and_completes_live_with_thumbnails(fresh_root: Path,
                                                                               browser: object) -> None:
    with dashboard(fresh_root, *DASH_ARGS) as dash:
        browser.get(dash.url)  # type: ignore[attr-defined]
        wait_for("the runs page", lambda: _text(browser, "#live") == "live")
        assert "No runs yet" in _text(browser, "#no-runs")
        run = start_run(fresh_root, job_seconds=3.0)
        try:
            run_id = _new_run(fresh_root, [])
            wait_for("the new row without a reload", lambda: _js(
                browser, f"return !!document.querySelector('tr[data-run=\"{run_id}\"]');"))
            _js(browser, f"document.querySelector('tr[data-run=\"{run_id}\"] a').click();")
            wait_for("the run page's stream", lambda: _text(browser, "#live") == "live"
                     and browser.current_url.endswith(f"/run/{run_id}"))  # type: ignore[attr-defined]
            assert _percent(browser) < 100
            wait_for("the progress bar at 100 %", lambda: _percent(browser) == 100)
            wait_for("the completed phase", lambda: _phase(browser) == "completed")
            assert run.wait(timeout=DEADLINE_S) == 0
        finally:
            stop(run)
        done = int(_js(browser, "return document.querySelectorAll('tr[data-state=done]').length;"))  # type: ignore[call-overload]
        assert done > 0
        wait_for("every thumbnail loaded", lambda: _js(browser, """
            const imgs = [...document.querySelectorAll('img.thumb')];
            imgs.forEach((i) => i.scrollIntoView());
            return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);"""))
        # the filter and the search narrow the list
        _js(browser, "const s = document.querySelector('#filter-state'); s.value = 'skipped'; "
                     "s.dispatchEvent(new Event('change'));")
        states = _js(browser, "return [...document.querySelectorAll('#items tbody tr')].map((r) => r.dataset.state);")
        assert states and set(states) == {"skipped"}  # type: ignore[arg-type]


def test_pause_from_the_page_resume_from_the_cli_and_the_other_way_round(fresh_root: Path, browser: object) -> None:
    with dashboard(fresh_root, *DASH_ARGS) as dash:
        run = start_run(fresh_root, job_seconds=LONG_JOB_S)
        resumed: CliProcess | None = None
        try:
            run_id = _new_run(fresh_root, [])
            _open_run(browser, dash, run_id)
            wait_for("the job submitted", lambda: _js(browser, "return !!document.querySelector("
                                                      "'tr[data-state=submitted], tr[data-state=processing]');"))
            wait_for("the run active", lambda: _phase(browser).endswith(":active"))
            _click(browser, "#pause")
            wait_for("the run paused", lambda: _phase(browser) == "paused")
            assert run.wait(timeout=DEADLINE_S) != 0  # the CLI run says it was interrupted, resumably
            assert "paused: interrupted" in _text(browser, "#summary")
            # resumable from the CLI: a real `resume`, which the page sees working ...
            resumed = start_child(_cli("resume", run_id, fresh_root), env=child_env(), start_new_session=True)
            wait_for("the CLI resume at work", lambda: _phase(browser).endswith(":active"))
            # ... and pauses again from the page
            _click(browser, "#pause")
            wait_for("the run paused again", lambda: _phase(browser) == "paused")
            assert resumed.wait(timeout=DEADLINE_S) != 0
            # while nothing runs, the job's hour goes by on the embedded emulator's own clock
            # (kept in the tree, so the next `resume --emulator` starts at that time)
            with Emulator(EmulatorConfig(data_dir=fresh_root / ".chargen" / "emulator")) as emu:
                emu.advance(LONG_JOB_S)
            # resume from the page: a background `resume` with its log in the run folder
            _click(browser, "#resume")
            wait_for("the resume started", lambda: "resuming run" in _text(browser, "#message"))
            wait_for("the run completed", lambda: _phase(browser) == "completed")
            assert _percent(browser) == 100
        finally:
            stop(run)
            if resumed is not None:
                stop(resumed)
        log = (fresh_root / ".chargen" / "batch" / run_id / "dashboard-resume.log").read_text()
        assert f"chargen-es resume {run_id}" in log and f"run {run_id}: completed" in log
        events = chargen("inspect", run_id, "--events", "--type", "run.", "--root", str(fresh_root)).stdout
        kinds = [line.split()[2] for line in events.splitlines() if line.split()[:1] != ["seq"]
                 and len(line.split()) > 2 and line.split()[2].startswith("run.")]
        assert kinds == ["run.started", "run.paused", "run.resumed", "run.paused", "run.resumed", "run.completed"]


def test_cancel_from_the_page_after_a_confirmation(fresh_root: Path, browser: object) -> None:
    with dashboard(fresh_root, *DASH_ARGS) as dash:
        run = start_run(fresh_root, job_seconds=LONG_JOB_S)
        try:
            run_id = _new_run(fresh_root, [])
            _open_run(browser, dash, run_id)
            wait_for("the job submitted", lambda: _js(browser, "return !!document.querySelector("
                                                      "'tr[data-state=submitted], tr[data-state=processing]');"))
            _click(browser, "#cancel")
            assert _js(browser, "return document.querySelector('#confirm-cancel').open;")
            _js(browser, "document.querySelector('#confirm-no').click();")  # changed my mind: nothing happens
            assert not _js(browser, "return document.querySelector('#confirm-cancel').open;")
            assert _phase(browser).endswith(":active")
            _click(browser, "#cancel")
            _js(browser, "document.querySelector('#confirm-yes').click();")
            wait_for("the run cancelled", lambda: _phase(browser) == "cancelled")
            run.wait(timeout=DEADLINE_S)
        finally:
            stop(run)
        assert _js(browser, "return document.querySelector('#resume').disabled && "
                            "document.querySelector('#cancel').disabled;")
        log = (fresh_root / ".chargen" / "batch" / run_id / "dashboard-cancel.log").read_text()
        assert f"run {run_id} cancelled (1 remote job(s) cancelled)" in log


def _cli(command: str, run_id: str, root: Path) -> list[str]:
    return [command, run_id, "--root", str(root), "--emulator",
            "--emulator-job-seconds", "1", "--poll-interval", "0.2"]


def test_a_run_whose_every_item_failed_reads_failed_not_done(fresh_root: Path, browser: object) -> None:
    faults = fresh_root.parent / "refuse-every-line.json"
    faults.write_text('[{"op": "batches.line", "kind": "line", "line_kind": "error", "code": 3}]')
    done = chargen("run", "--root", str(fresh_root), "--yes", "--only", "dov", "--run-id", "all-failed",
                   *DASH_ARGS, "--emulator-faults", str(faults), check=False)
    assert done.returncode == 3, done.stderr
    with dashboard(fresh_root, *DASH_ARGS) as dash:
        _open_run(browser, dash, "all-failed")
        wait_for("the summary", lambda: _phase(browser) == "completed")
        assert _percent(browser) == 0
        assert "0 % · 0 ok / 2 failed / 0 pending" in _text(browser, "#summary")


@pytest.mark.slow  # a dashboard, a browser and a tool's own start: the full suite's, not the quick loop's
def test_the_readme_screenshot_is_made_and_checked_by_the_tool(demo_root: Path, tmp_path: Path) -> None:
    """``tools/screenshot_dashboard.py`` on a demo tree: the generation run's page, checked
    (run id, singular keys, thumbnails loaded), saved as a PNG of the window's width."""
    import struct
    import subprocess
    import sys

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("the browser tests need /usr/bin/chromium and /usr/bin/chromedriver")
    out = tmp_path / "shot.png"
    tool = Path(__file__).parents[2] / "tools" / "screenshot_dashboard.py"
    done = subprocess.run([sys.executable, str(tool), str(out), "--root", str(demo_root)], capture_output=True,
                          text=True, timeout=DEADLINE_S * 2, env=child_env(), check=False)
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1400 and height > 800  # the window, less what headless Chromium keeps of its frame


def test_a_run_deleted_from_the_cli_leaves_the_open_pages_without_a_reload(fresh_root: Path, browser: object) -> None:
    """The runs page drops the row, and the deleted run's own page goes back to the list."""
    for run_id in ("kept", "gone"):  # the second plans the same scenes again (--force): a run of its own
        done = chargen("run", "--root", str(fresh_root), "--yes", "--only", "dov", "--run-id", run_id, "--force",
                       *DASH_ARGS)
        assert done.returncode == 0, done.stderr
    with dashboard(fresh_root, *DASH_ARGS) as dash:
        _open_run(browser, dash, "gone")
        chargen("delete", "gone", "--root", str(fresh_root), "--emulator")
        wait_for("the runs page again", lambda: _js(browser, "return location.pathname;") == "/")
        wait_for("the kept run's row", lambda: _js(browser, "return !!document.querySelector('tr[data-run=\"kept\"]');"))
        assert not _js(browser, "return !!document.querySelector('tr[data-run=\"gone\"]');")
        # and on the runs page itself, a deletion drops the row (no reload: the marker survives)
        _js(browser, "window.notReloaded = true;")
        chargen("delete", "kept", "--root", str(fresh_root), "--emulator")
        wait_for("the row gone", lambda: not _js(browser, "return !!document.querySelector('tr[data-run=\"kept\"]');"))
        assert _js(browser, "return window.notReloaded === true;")
        assert _text(browser, "#live") == "live"
