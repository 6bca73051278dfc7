"""The README's test command is one command that sets up a fresh machine and is exactly what
CI runs (``.ci/run``): it installs Chromium for the browser tests when missing, makes the
venv with the test extra, checks, and runs the suite."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_test_command_is_what_ci_runs_and_sets_up_a_fresh_machine() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## The two commands.*?```bash\n(.*?)```", readme, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    assert commands[-1] == ".ci/run"  # the tests: one command
    ci = REPO / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    script = [line.strip() for line in ci.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.strip().startswith("#")]
    chromium = next(i for i, line in enumerate(script) if "apt-get install" in line)
    assert "chromium chromium-driver" in script[chromium] and "command -v chromedriver" in script[chromium - 3]
    assert 'python -m pip install -q ".[test]"' in script
    assert script[-1] == "python -m pytest -n 6 --dist worksteal"
