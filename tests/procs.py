"""``chargen-es`` as real child processes, started in milliseconds: the suite's one way to run it.

``run_child`` is ``subprocess.run([python, -m, chargen_es, ...])`` and ``start_child`` is
``subprocess.Popen(...)``, with the same observable behaviour (pid, pipes, signals, exit
codes, ``TimeoutExpired``), but the process is forked by a warm parent that has already
imported everything (``tests/zygote.py``), which saves about 0.75 s per process. One
zygote serves the session (under xdist the controller starts it and every worker forks
from it) and dies with the process that started it.
``spawn_on_terminal`` is ``pexpect.spawn`` of the same: the child on a pseudo-terminal.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pexpect.fdpexpect

from tests.zygote import send_request

_zygote: tuple[subprocess.Popen[bytes], str] | None = None
_lock = threading.Lock()

SHARED_ZYGOTE = "CHARGEN_TESTS_ZYGOTE"
"""Names the socket of the one zygote an xdist controller started for all its workers
(``tests/conftest.py``): one preload of the SDK for the session instead of one per worker."""


def zygote_socket() -> str:
    """The socket of this session's zygote: the controller's when it shared one (waiting,
    the first time, until it is listening), else this process's own, started on first use
    (and again if it died)."""
    global _zygote
    shared = os.environ.get(SHARED_ZYGOTE)
    if shared:
        limit = time.monotonic() + 120
        while not os.path.exists(shared):  # the zygote renames its socket here once it listens
            assert time.monotonic() < limit, f"the session's zygote never listened: see {shared}.log"
            time.sleep(0.02)
        return shared
    with _lock:
        if _zygote is None or _zygote[0].poll() is not None:
            process, path = start_zygote()
            assert process.stdout is not None
            ready = process.stdout.readline()
            assert ready == b"ready\n", f"the zygote did not start: {ready!r}"
            _zygote = (process, path)
        return _zygote[1]


def start_zygote() -> tuple[subprocess.Popen[bytes], str]:
    """Start a zygote and return at once; its socket appears at the path once it listens
    (it preloads for about a second, while the xdist controller starts its workers' launchers)."""
    folder = tempfile.mkdtemp(prefix="chargen-zygote-")
    atexit.register(shutil.rmtree, folder, True)  # the zygote itself dies with this process
    path = os.path.join(folder, "socket")
    repo = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
    with open(path + ".log", "ab") as log:  # its own tracebacks, if any
        process = subprocess.Popen([sys.executable, "-m", "tests.zygote", path], env=env, cwd=repo,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    return process, path


WARM_PYTHON = Path(__file__).with_name("warm_python.py")


def warm_server(*args: str) -> tuple[str, list[str], dict[str, str]]:
    """``python -m chargen_es ARGS`` for a program that starts the process itself (the MCP
    SDK's stdio client): the command, its arguments, and the environment entry that lets
    ``tests/warm_python.py`` have the session's zygote fork it."""
    return sys.executable, ["-S", str(WARM_PYTHON), "-m", "chargen_es", *args], {SHARED_ZYGOTE: zygote_socket()}


def share_zygote() -> None:
    """In an xdist controller: start the session's zygote for the workers to find."""
    global _zygote
    _zygote = start_zygote()  # kept referenced, so it lives (and dies) with this process
    os.environ[SHARED_ZYGOTE] = _zygote[1]


class CliProcess:
    """A running ``chargen-es`` child, with the parts of ``subprocess.Popen`` the tests use."""

    def __init__(self, args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
                 stdin: int | None = None, stdout: int | None = subprocess.PIPE,
                 stderr: int | None = subprocess.PIPE, tty: int | None = None, text: bool = True,
                 start_new_session: bool = False) -> None:
        self.args = ["chargen-es", *args]
        self.returncode: int | None = None
        self.stdout: Any = None
        self.stderr: Any = None
        self._readers: list[threading.Thread] | None = None
        self._found: dict[str, Any] = {}
        self._text = text
        ends: list[int] = []
        to_close: list[int] = []
        if tty is not None:
            ends = [tty, tty, tty]
        else:
            ends.append(stdin if stdin is not None else os.open(os.devnull, os.O_RDONLY))
            if stdin is None:
                to_close.append(ends[0])
            for wanted, name in ((stdout, "stdout"), (stderr, "stderr")):
                if wanted == subprocess.PIPE:
                    read, write = os.pipe()
                    setattr(self, name, os.fdopen(read, "r" if text else "rb", **({"encoding": "utf-8"} if text else {})))
                    ends.append(write)
                    to_close.append(write)
                elif wanted == subprocess.STDOUT:
                    ends.append(ends[1])
                elif wanted in (None, subprocess.DEVNULL):
                    ends.append(os.open(os.devnull, os.O_WRONLY))
                    to_close.append(ends[-1])
                else:
                    ends.append(wanted)
        request = {"args": list(args), "env": dict(os.environ if env is None else env),
                   "cwd": str(cwd or os.getcwd()), "tty": tty is not None,
                   "session": start_new_session}
        self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._conn.connect(zygote_socket())
            send_request(self._conn, request, ends)
        finally:
            for fd in to_close:
                os.close(fd)
        self._buffer = b""
        pid = self._line(None)
        assert pid is not None, "the zygote hung up before forking"
        self.pid = int(pid)

    def _line(self, timeout: float | None) -> bytes | None:
        """The zygote's next answer line, or None when none came within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self._conn], [], [], left)[0]:
                return None
            chunk = self._conn.recv(64)
            if not chunk:
                raise ConnectionError(f"the zygote's waiter for {self.args} hung up")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def poll(self) -> int | None:
        if self.returncode is None:
            line = self._line(0)
            if line is not None:
                self._settle(line)
        return self.returncode

    def _settle(self, line: bytes) -> None:
        self.returncode = int(line)
        self._conn.close()

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            line = self._line(timeout)
            if line is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._settle(line)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """As ``Popen.send_signal``: nothing once the child is known to have ended. (The
        waiter reaps at once, so there is no zombie to hold the pid: one that ended an
        instant ago is gone, and ``ProcessLookupError`` means just that.)"""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[Any, Any]:
        """Read both pipes to their end and wait, like ``Popen.communicate``; after a
        ``TimeoutExpired`` a second call carries on with the same readers."""
        if self._readers is None:
            self._found = {"stdout": None, "stderr": None}
            self._readers = []
            for name in ("stdout", "stderr"):
                stream = getattr(self, name)
                if stream is not None:
                    reader = threading.Thread(target=self._read_all, args=(name, stream), daemon=True)
                    reader.start()
                    self._readers.append(reader)
        deadline = None if timeout is None else time.monotonic() + timeout
        for reader in self._readers:
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.wait(None if deadline is None else max(0.01, deadline - time.monotonic()))
        for name in ("stdout", "stderr"):
            stream = getattr(self, name)
            if stream is not None:
                stream.close()
        return self._found["stdout"], self._found["stderr"]

    def _read_all(self, name: str, stream: Any) -> None:
        self._found[name] = stream.read()

    def __enter__(self) -> CliProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        self.wait()


def start_child(args: Sequence[str], **kwargs: Any) -> CliProcess:
    """``subprocess.Popen([python, -m, chargen_es, *args], ...)``, forked warm."""
    return CliProcess(args, **kwargs)


def run_child(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
            timeout: float | None = 120.0, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([python, -m, chargen_es, *args], capture_output=True, text=True)``, forked warm."""
    process = CliProcess(args, env=env, cwd=cwd)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode is not None
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    if check:
        done.check_returncode()
    return done


def spawn_on_terminal(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
                      dimensions: tuple[int, int] = (24, 80), timeout: float = 60) -> TerminalChild:
    """``pexpect.spawn(python, [-m, chargen_es, *args])``: the child on a new pseudo-terminal.

    The child starts a session with the terminal as its controlling tty (so Ctrl-C on it
    is a real SIGINT from the line discipline) and the test talks to the master side.
    """
    import pty

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", dimensions[0], dimensions[1], 0, 0))
    try:
        process = CliProcess(args, env=env, cwd=cwd, tty=slave)
    finally:
        os.close(slave)  # the child holds the only copy: its exit is the master's EOF
    return TerminalChild(master, process, timeout=timeout)


class TerminalChild(pexpect.fdpexpect.fdspawn):  # type: ignore[misc]
    """A pexpect session on the master side of a child's terminal, with its exit status."""

    def __init__(self, master: int, process: CliProcess, timeout: float) -> None:
        super().__init__(master, encoding="utf-8", timeout=timeout)
        self.process = process
        self.exitstatus: int | None = None
        self.signalstatus: int | None = None

    def sendintr(self) -> None:
        self.send("\x03")  # VINTR: the terminal turns it into SIGINT for the child

    def close(self, force: bool = True) -> None:
        """Close the master (the child sees a hang-up) and collect the child; with
        ``force``, one that outlives ``timeout`` is killed."""
        super().close()
        try:
            code = self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            if not force:
                raise
            self.process.kill()
            code = self.process.wait()
        self.exitstatus, self.signalstatus = (code, None) if code >= 0 else (None, -code)
