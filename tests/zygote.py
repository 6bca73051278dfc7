"""A warm parent that forks ``chargen-es`` processes for the tests (``python -m tests.zygote SOCKET``).

A fresh ``python -m chargen_es run`` spends about 0.75 s importing the SDK, trio, httpx and
the engine before it does anything, and the suite starts hundreds of them (every crash
test starts a run and its resume). This process imports all of ``chargen_es`` once and
then forks one child per request, so a child starts in milliseconds.

A child is still a real, separate process: its own pid, file descriptors, environment,
working directory, signal dispositions and exit status; ``SIGKILL`` kills it for real, in
the middle of whatever it was writing. From the fork on it does exactly what
``python -m chargen_es ARGS`` does after its imports (``runpy`` runs ``chargen_es.__main__``
as ``__main__``, ``SystemExit`` ends the interpreter normally), so what a test observes
is what a user's process does. Tests that are about interpreter start itself (which
modules a command loads) keep a fresh interpreter. The xdist workers are forked here too
(``tests/warm_python.py``): a request with ``"python_c": CODE`` instead of ``"args"``
runs ``CODE`` as ``python -u -c CODE`` would, and ``"bound": true`` ties the child to its
client's connection: when the client goes first (SIGKILLed, say), the child is SIGKILLed too.

Protocol, one Unix-socket connection per child: the client sends an 8-byte length with
the child's stdin/stdout/stderr descriptors attached (``socket.send_fds``), then a JSON
request ``{"args", "env", "cwd", "tty", "session"}``. The zygote forks the child, answers
its pid on a line and, when the child ends, its exit code on a line in ``subprocess`` form
(``-9`` for a ``SIGKILL``). It waits for new requests and for its children's ends in one
loop (a ``pidfd`` per child in the selector), so one fork makes a child: forking this
78 MB process costs about 4 ms of CPU, and the suite starts well over a thousand.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import io
import json
import os
import pkgutil
import selectors
import signal
import socket
import struct
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1


# Not preloaded: ``__main__`` (runpy runs it in the child), and the MCP server with the mcp
# SDK (0.5 s to import, a quarter of this process's memory). Every page this process maps is
# copied into the page tables of every fork: without mcp (78 MB instead of 101) a fork
# costs about 4 ms of CPU instead of 5 (``tools/bench_zygote.py``: ratio 0.81-0.85), over
# a thousand forks a suite, while the dozen MCP servers a suite forks
# (``tests/warm_python.py``) import mcp themselves.
NOT_PRELOADED = ("__main__", "mcp_server")


def preload() -> None:
    """Import every module a command may load (but run nothing: no thread, no event loop)."""
    import chargen_es

    for info in pkgutil.walk_packages(chargen_es.__path__, "chargen_es."):
        if not info.name.endswith(NOT_PRELOADED):
            importlib.import_module(info.name)
    # what the libraries import on a process's first request, not at their own import:
    # httpx2's transport (httpcore2), the SDK's async-auth probe, anyio's trio backend (the
    # dashboard), the idna codec (the emulator's server)
    for name in ("httpcore2", "google.auth.aio", "anyio._backends._trio", "encodings.idna"):
        importlib.import_module(name)
    # pydantic builds a model's validator on its first use, and the SDK's 470 models would
    # otherwise be built again in every child that sends a request (about 0.3 s in all)
    import pydantic
    from google.genai import types

    for value in vars(types).values():
        if isinstance(value, type) and issubclass(value, pydantic.BaseModel):
            value.model_rebuild()


def send_request(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """The client's half of the protocol: the length with the child's descriptors, then the request."""
    body = json.dumps(request).encode()
    socket.send_fds(conn, [struct.pack("!Q", len(body))], fds)
    conn.sendall(body)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    head, fds, _, _ = socket.recv_fds(conn, 8, 3)
    try:
        (size,) = struct.unpack("!Q", head)
        body = b""
        while len(body) < size:
            chunk = conn.recv(size - len(body))
            if not chunk:
                raise EOFError("the client hung up mid-request")
            body += chunk
        return json.loads(body), fds
    except BaseException:
        for fd in fds:  # a held write end would keep the test's reader from ever seeing EOF
            os.close(fd)
        raise


def _stdio(fd: int, mode: str, *, stderr: bool = False, unbuffered: bool = False) -> io.TextIOWrapper:
    """A text stream on ``fd`` made the way the interpreter makes its own at start-up
    (``unbuffered``: as ``python -u`` makes stdout and stderr)."""
    tty = os.isatty(fd)
    if mode == "w" and unbuffered:
        raw = open(fd, "wb", buffering=0, closefd=False)  # noqa: SIM115 - lives as sys.std*
        return io.TextIOWrapper(raw, encoding=sys.stdout.encoding,  # type: ignore[arg-type]
                                errors="backslashreplace" if stderr else None, write_through=True)
    stream = open(fd, mode, buffering=-1, closefd=False,  # noqa: SIM115 - lives as sys.std*
                  encoding=sys.stdout.encoding, errors="backslashreplace" if stderr else None)
    if mode == "w":
        stream.reconfigure(line_buffering=tty or stderr)
    return stream


def _take_over(request: dict[str, Any], fds: list[int], *, unbuffered: bool = False) -> None:
    """In the child: take the request's terminal, streams, directory and environment."""
    if request["tty"] or request["session"]:
        os.setsid()
    if request["tty"]:
        import fcntl
        import termios

        fcntl.ioctl(fds[0], termios.TIOCSCTTY, 0)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds):
        if fd > 2:
            os.close(fd)
    sys.stdin = sys.__stdin__ = _stdio(0, "r")
    sys.stdout = sys.__stdout__ = _stdio(1, "w", unbuffered=unbuffered)
    sys.stderr = sys.__stderr__ = _stdio(2, "w", stderr=True, unbuffered=unbuffered)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])


def _become_command(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: ``python -m chargen_es ARGS`` after its imports."""
    _take_over(request, fds)
    import runpy

    sys.argv = ["chargen_es", *request["args"]]
    code: object = 0
    try:
        runpy.run_module("chargen_es", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
    _exit(code)


def _become_python_c(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: ``python -u -c CODE`` (an xdist worker, ``tests/warm_python.py``), in
    a fresh ``__main__`` with ``sys.argv`` and ``sys.path[0]`` as ``-c`` sets them."""
    import builtins
    import traceback
    import types

    _take_over(request, fds, unbuffered=True)
    # a whole test session runs here: its collector sees everything, as in a fresh
    # interpreter (gc.get_referrers, which hypothesis's register_random asks, skips frozen objects)
    gc.unfreeze()
    sys.argv = ["-c"]
    sys.path[0] = ""
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    code: object = 0
    try:
        exec(compile(request["python_c"], "<string>", "exec"), main.__dict__)  # noqa: S102 - python -c
    except SystemExit as exit_:
        code = exit_.code
    except BaseException:  # noqa: BLE001 - as the interpreter: the traceback, then status 1
        traceback.print_exc()
        code = 1
    _exit(code)


def _exit(code: object) -> None:
    """End the child as the interpreter would, minus tearing down the zygote's modules.

    As ``Py_FinalizeEx`` does: non-daemon threads are joined (a thread pool's writes in
    flight land), exit handlers run, the streams are flushed; what is skipped is the
    interpreter's clean-up of every module the zygote imported (about 0.2 s, no effect
    anybody can see).
    """
    import atexit
    import threading

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 120
    os._exit(status)


def _start(listener: socket.socket, chooser: selectors.BaseSelector) -> None:
    """Take one request and fork its child; the child's end is reported by :func:`_report`,
    and a ``bound`` child is killed by :func:`_hung_up` if its client goes first."""
    conn, _ = listener.accept()
    try:
        request, fds = _receive(conn)
    except (EOFError, OSError, ValueError, struct.error) as exc:
        print(f"zygote: a bad request ({exc!r}) was refused", file=sys.stderr, flush=True)
        conn.close()
        return
    child = os.fork()
    if child == 0:  # the command: none of the zygote's other descriptors may stay open in it
        others = list(chooser.get_map().values())
        chooser.close()
        for key in others:
            if key.data is None:
                listener.close()
            else:
                if key.data[0] == "ended":
                    os.close(key.fd)
                key.data[1].close()
        conn.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as an interpreter starts
        if "python_c" in request:
            _become_python_c(request, fds)
        _become_command(request, fds)
        sys.exit(0)
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):  # the test may have hung up already
        conn.sendall(f"{child}\n".encode())
    chooser.register(os.pidfd_open(child), selectors.EVENT_READ, ("ended", conn, child))
    if request.get("bound"):
        chooser.register(conn, selectors.EVENT_READ, ("hung up", conn, child))


def _report(chooser: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
    """A child ended (its pidfd is readable): collect it and answer its exit code."""
    _, conn, child = key.data
    chooser.unregister(key.fd)
    os.close(key.fd)
    with contextlib.suppress(KeyError, ValueError):  # a bound child's client, still watched
        chooser.unregister(conn)
    _, status = os.waitpid(child, 0)
    with contextlib.suppress(OSError):
        conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    conn.close()


def _hung_up(chooser: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
    """A bound child's client (``tests/warm_python.py``) went away first, SIGKILLed perhaps,
    which it cannot pass on: the child goes with it, as it would have as that process."""
    _, conn, child = key.data
    try:
        said = conn.recv(64, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return
    except OSError:
        said = b""  # reset: gone all the same
    if said:
        return  # not an end: a client says nothing after its request
    chooser.unregister(conn)
    with contextlib.suppress(ProcessLookupError):  # not reaped before _report: the pid is still the child's
        os.kill(child, signal.SIGKILL)


def serve(path: str) -> None:
    """Accept requests on ``path`` until the parent (the test session) goes away."""
    # dies with the process that started it (strictly: with the thread that started it: the
    # main thread of the xdist controller or of the one test process, which lives as long as the session)
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # a Ctrl-C on the terminal reaches this process group's every process: the session ends
    # the zygote, not the key (each child takes SIGINT back as an interpreter starts with it)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload()
    gc.freeze()  # what the zygote imported stays put: children neither scan nor copy it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".new")
    listener.listen(64)
    os.rename(path + ".new", path)  # whoever finds the socket finds it listening
    chooser = selectors.DefaultSelector()
    chooser.register(listener, selectors.EVENT_READ, None)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _ in chooser.select():
            if key.data is None:
                _start(listener, chooser)
            elif key.data[0] == "ended":
                _report(chooser, key)
            else:
                _hung_up(chooser, key)


if __name__ == "__main__":
    serve(sys.argv[1])
