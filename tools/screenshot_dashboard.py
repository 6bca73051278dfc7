"""Take ``docs/dashboard-run.png``: the run page of `chargen-es demo`'s generation run, in headless Chromium.

The screenshot is made from the current code, never by hand: a fresh ``chargen-es demo``
(or ``--root`` of a tree the demo made), the real ``chargen-es dashboard`` on it, and the
page checked before it is taken: the generation run's id in the header, every row's key
in today's singular form (``character/ada/…``), every thumbnail loaded. A check that fails
is an error and no file is written.

Usage: ``python tools/screenshot_dashboard.py [OUT.png] [--root DEMO_TREE]`` (needs
/usr/bin/chromium and /usr/bin/chromedriver, and selenium from the test extra).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from chargen_es.engine.runs import list_runs, runs_root

PLURAL = ("characters/", "locations/", "chapters/")  # the key spelling of old journals
WINDOW = (1400, 1100)


def generation_run(root: Path) -> str:
    """The demo's generation run (the demo analyses first, so it is not the first run)."""
    for run_id in list_runs(root):
        report = json.loads((runs_root(root) / run_id / "report.json").read_text(encoding="utf-8"))
        if report["mode"] == "generate":
            return run_id
    raise SystemExit(f"{root}: no generation run; make the tree with `chargen-es demo`")


def capture(root: Path, out: Path, profile: str) -> None:
    run_id = generation_run(root)
    dash = subprocess.Popen([sys.executable, "-m", "chargen_es", "dashboard", "--root", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert dash.stdout is not None
    url = dash.stdout.readline().strip()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        driver.get(url.split("/?", 1)[0] + f"/run/{run_id}")
        deadline = time.monotonic() + 60
        while not driver.execute_script(
                "const i = [...document.querySelectorAll('img.thumb')];"
                "return document.getElementById('live').textContent === 'live' && i.length > 0"
                " && i.every((x) => x.complete && x.naturalWidth > 0);"):
            if time.monotonic() > deadline:
                raise SystemExit("the run page did not finish loading")
            time.sleep(0.1)
        keys = driver.execute_script("return [...document.querySelectorAll('tr[data-key]')].map((r) => r.dataset.key);")
        problems = []
        if run_id not in driver.find_element("tag name", "body").text:
            problems.append(f"the page does not name the run {run_id}")
        if not keys:
            problems.append("the page lists no items")
        problems += [f"a key in the old plural form: {k}" for k in keys if k.startswith(PLURAL)]
        if problems:
            raise SystemExit("not taking the screenshot:\n  " + "\n  ".join(problems))
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
        dash.terminate()
        dash.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="docs/dashboard-run.png", type=Path)
    parser.add_argument("--root", type=Path, default=None, help="a tree `chargen-es demo` made (default: a new one)")
    args = parser.parse_args()
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            root = Path(tmp) / "chargen-demo"
            subprocess.run([sys.executable, "-m", "chargen_es", "demo", str(root)], check=True, capture_output=True)
        capture(root, out, f"{tmp}/profile")
    print(out)


if __name__ == "__main__":
    main()
