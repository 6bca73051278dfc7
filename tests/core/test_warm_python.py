"""A ``python`` that starts warm (``tests/warm_python.py``): ``python -u -c CODE`` (the xdist
workers) and ``python -m chargen_es ARGS`` (the MCP servers the SDK's client starts) run in
a child the session's zygote forks, with the caller's pipes, exit status and signals; a
real interpreter when there is no zygote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.procs import SHARED_ZYGOTE, zygote_socket

LAUNCHER = Path(__file__).resolve().parents[1] / "warm_python.py"
# what execnet sends first is a line of code to run; this stands in for it
CODE = ("import os, sys\n"
        "print('chargen_es.gateway' in sys.modules, os.getppid(), sys.argv, repr(sys.path[0]), __name__)\n"
        "sys.stdout.write(sys.stdin.readline().upper())\n"
        "raise SystemExit(3)\n")


def launch(env: dict[str, str], *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-S", str(LAUNCHER), *args], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie waiting for the zygote to collect it."""
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_python_c_runs_forked_from_the_zygote_with_the_callers_pipes_and_status() -> None:
    env = {**os.environ, SHARED_ZYGOTE: zygote_socket()}
    with launch(env, "-u", "-c", CODE) as child:
        out, err = child.communicate("hello\n", timeout=60)
    assert child.returncode == 3, err
    first, second = out.splitlines()
    warm, parent, argv, path0, name = first.split(" ", 4)
    assert warm == "True" and "tests.zygote" in cmdline(int(parent)), first
    assert (argv, path0, name) == ("['-c']", "''", "__main__"), first  # as `python -c` sets them
    assert second == "HELLO"


def test_without_a_zygote_it_is_the_real_interpreter() -> None:
    env = {k: v for k, v in os.environ.items() if k != SHARED_ZYGOTE}
    with launch(env, "-u", "-c", CODE) as child:
        out, err = child.communicate("hello\n", timeout=60)
    assert child.returncode == 3, err
    warm, parent, *_ = out.splitlines()[0].split(" ")
    assert warm == "False" and int(parent) == os.getpid()  # exec'd in place: our own child
    assert out.splitlines()[1] == "HELLO"


def test_a_signal_reaches_the_worker_and_its_death_is_the_status() -> None:
    env = {**os.environ, SHARED_ZYGOTE: zygote_socket()}
    code = "import os, sys, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)\n"
    with launch(env, "-u", "-c", code) as child:
        assert child.stdout is not None
        worker = int(child.stdout.readline())
        assert worker != child.pid and "tests.zygote" in cmdline(worker)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 128 + signal.SIGTERM
    assert gone(worker)


def test_a_chargen_es_command_runs_forked_with_its_pipes_and_status(tmp_path: Path) -> None:
    env = {**os.environ, SHARED_ZYGOTE: zygote_socket()}
    with launch(env, "-m", "chargen_es", "emulator", "--port", "0", cwd=tmp_path) as child:
        assert child.stdout is not None
        url = child.stdout.readline()
        assert url.startswith("http://127.0.0.1:"), url  # the command's own first line, through our pipe
        assert "warm_python.py" in cmdline(child.pid)  # not exec'd: the server is a fork of the zygote
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    assert child.returncode in (0, 128 + signal.SIGTERM), child.returncode
    with launch(env, "-m", "chargen_es", "status", "--root", str(tmp_path / "nowhere")) as child:
        out, err = child.communicate("", timeout=60)
    assert child.returncode == 2 and "nowhere" in err, (out, err)  # the CLI's usage error and its status


def test_a_launcher_killed_first_takes_its_child_with_it() -> None:
    """SIGKILL cannot be passed on: the zygote sees the launcher's connection close and
    kills the child, as a killed interpreter would have ended."""
    env = {**os.environ, SHARED_ZYGOTE: zygote_socket()}
    code = "import os, sys, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)\n"
    with launch(env, "-u", "-c", code) as child:
        assert child.stdout is not None
        worker = int(child.stdout.readline())
        child.kill()
        child.wait(timeout=60)
    deadline = time.monotonic() + 60
    while not gone(worker):
        assert time.monotonic() < deadline, f"pid {worker} outlived its launcher"
        time.sleep(0.02)
