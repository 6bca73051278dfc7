"""The interpreter the xdist workers start as: ``python -S tests/worker_python.py -u -c CODE``.

execnet starts each worker as ``PYTHON -u -c "import sys;exec(eval(sys.stdin.readline()))"``
and talks to it over that process's stdin and stdout. ``tests/conftest.py`` names this
script as ``PYTHON``. It hands its stdin, stdout and stderr to the session's zygote
(``tests/zygote.py``), which forks the worker from a process that has already imported
chargen_es, the SDK and trio and built the SDK's validators: about a second of CPU saved
per worker, six times a session. Then it waits, passing on SIGTERM, SIGINT and SIGHUP, and
ends with the worker's exit status.

The worker is a real process of its own with the same pipes, environment and directory;
it runs ``CODE`` in a fresh ``__main__`` as ``python -u -c`` would. Without a zygote in
the environment, or with arguments other than ``-u -c CODE``, this script becomes the
real interpreter instead (``exec``), so a worker always starts.

It runs under ``-S`` (no site-packages: a few milliseconds to start) and imports only
the standard library and ``tests.zygote``'s protocol.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

ZYGOTE_ENV = "CHARGEN_TESTS_ZYGOTE"  # tests.procs.SHARED_ZYGOTE (that module needs site-packages)
WAIT_S = 120.0  # the zygote preloads for a second or two; this only bounds a zygote that died


def become_python(argv: list[str]) -> None:
    os.execv(sys.executable, [sys.executable, *argv])


def main(argv: list[str]) -> None:
    path = os.environ.get(ZYGOTE_ENV)
    if not path or len(argv) != 3 or argv[:2] != ["-u", "-c"]:
        become_python(argv)
    limit = time.monotonic() + WAIT_S
    while not os.path.exists(path):  # the zygote renames its socket here once it listens
        if time.monotonic() > limit:
            become_python(argv)
        time.sleep(0.02)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests.zygote import send_request

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    send_request(conn, {"python_c": argv[2], "env": dict(os.environ), "cwd": os.getcwd(), "tty": False,
                        "session": False}, [0, 1, 2])
    # the worker owns the pipes now: execnet must see them close when it ends, not when this does
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    answers = conn.makefile("rb")
    worker = int(answers.readline())
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: os.kill(worker, number))
    line = answers.readline()
    code = int(line) if line.strip() else 1
    os._exit(128 - code if code < 0 else code)  # a worker killed by signal N: 128 + N, as a shell says


if __name__ == "__main__":
    main(sys.argv[1:])
