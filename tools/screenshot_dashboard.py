"""Take ``docs/dashboard-run.png``: the run page of `chargen-es demo`'s generate run, in headless Chromium.

Usage: ``python tools/screenshot_dashboard.py [OUT.png]`` (needs /usr/bin/chromium and
/usr/bin/chromedriver, and selenium from the test extra).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from chargen_es.engine.runs import list_runs


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard-run.png").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "chargen-demo"
        subprocess.run([sys.executable, "-m", "chargen_es", "demo", str(root)], check=True, capture_output=True)
        generate = list_runs(root)[0]
        dash = subprocess.Popen([sys.executable, "-m", "chargen_es", "dashboard", "--root", str(root)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert dash.stdout is not None
        url = dash.stdout.readline().strip()
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={tmp}/profile", "--window-size=1400,1100"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        try:
            driver.get(url)
            driver.get(url.split("/?", 1)[0] + f"/run/{generate}")
            deadline = time.monotonic() + 60
            while not driver.execute_script(
                    "const i = [...document.querySelectorAll('img.thumb')];"
                    "return document.getElementById('live').textContent === 'live' && i.length > 0"
                    " && i.every((x) => x.complete && x.naturalWidth > 0);"):
                if time.monotonic() > deadline:
                    raise SystemExit("the run page did not finish loading")
                time.sleep(0.1)
            out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()
            dash.terminate()
            dash.wait()
    print(out)


if __name__ == "__main__":
    main()
