"""A ``python`` that starts warm: ``python -S tests/warm_python.py ARGS``, for the two places
the suite cannot call ``tests.procs`` because another program starts the process.

- ``-u -c CODE``: the xdist workers. execnet starts each worker as ``PYTHON -u -c
  "import sys;exec(eval(sys.stdin.readline()))"`` and talks to it over that process's
  stdin and stdout; ``tests/conftest.py`` names this script as ``PYTHON``.
- ``-m chargen_es ARGS``: the MCP servers the official SDK's stdio client starts
  (``StdioServerParameters``), where that transport is what is under test (one of them,
  in ``tests/dashboard/test_batch_api.py``, keeps a fresh interpreter: the real start).

It hands its stdin, stdout and stderr to the session's zygote (``tests/zygote.py``, found
through ``CHARGEN_TESTS_ZYGOTE`` in the environment), which forks the process from a parent
that has already imported chargen_es, the SDK and trio and built the SDK's validators:
about a second of CPU saved per worker, half a second per MCP server (which still imports
the mcp SDK). Then it waits, passing on SIGTERM and SIGHUP, and ends with the forked
process's exit status (128 + N when signal N ended it, as a shell reports it); if this
script is SIGKILLed first, the zygote kills the child (``"bound"``).

The forked process is a real process of its own with the same pipes, environment and
directory, started as ``python -u -c`` or ``python -m chargen_es`` would start it; its pid
is not this script's. Without a zygote, or with other arguments, this script becomes the
real interpreter instead (``exec``), so the process always starts.

It runs under ``-S`` (no site-packages: a few milliseconds to start) and imports only the
standard library and ``tests.zygote``'s protocol.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from typing import Any, NoReturn

ZYGOTE_ENV = "CHARGEN_TESTS_ZYGOTE"  # tests.procs.SHARED_ZYGOTE (that module needs site-packages)
WAIT_S = 120.0  # the zygote preloads for a second or two; this only bounds a zygote that died


def become_python(argv: list[str]) -> NoReturn:
    os.execv(sys.executable, [sys.executable, *argv])


def request_for(argv: list[str]) -> dict[str, Any] | None:
    """What to ask the zygote for, or None for arguments it does not run. The child is
    ``bound``: should this script end first (a SIGKILL it cannot pass on), the zygote kills it."""
    common = {"env": dict(os.environ), "cwd": os.getcwd(), "tty": False, "session": False, "bound": True}
    if len(argv) == 3 and argv[:2] == ["-u", "-c"]:
        return {"python_c": argv[2], **common}
    if argv[:2] == ["-m", "chargen_es"]:
        return {"args": argv[2:], **common}
    return None


def main(argv: list[str]) -> None:
    path = os.environ.get(ZYGOTE_ENV)
    request = request_for(argv)
    if not path or request is None:
        become_python(argv)
    limit = time.monotonic() + WAIT_S
    while not os.path.exists(path):  # the zygote renames its socket here once it listens
        if time.monotonic() > limit:
            become_python(argv)
        time.sleep(0.02)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests.zygote import send_request

    # A signal sent to this process is passed on to the child; one that comes before the
    # child's pid is known is kept until it is. Not SIGINT: a Ctrl-C reaches the terminal's
    # whole process group, the child (a fork of the zygote, in that group) among it, and
    # passing it on would deliver it twice; this script only waits for the child's end.
    child: list[int] = []
    early: list[int] = []

    def pass_on(number: int, _frame: object) -> None:
        if not child:
            early.append(number)
            return
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(child[0], number)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, pass_on)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        send_request(conn, request, [0, 1, 2])
        answers = conn.makefile("rb")
        pid = answers.readline()
    except OSError:  # a zygote that died: the real interpreter, our pipes still ours
        pid = b""
    if not pid.strip():
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        for number in early:
            os.kill(os.getpid(), number)
        become_python(argv)
    # the child owns the pipes now: its reader must see them close when it ends
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    child.append(int(pid))
    for number in early:
        pass_on(number, None)
    line = answers.readline()
    code = int(line) if line.strip() else 1
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main(sys.argv[1:])
