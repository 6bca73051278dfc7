"""Where the API key comes from: the environment, else a key file outside the content tree.

Order: ``GOOGLE_API_KEY``, then ``GEMINI_API_KEY`` (the SDK's own order: GOOGLE wins when
both are set), then the key file ``$XDG_CONFIG_HOME/chargen-es/credentials`` (default
``~/.config/chargen-es/credentials``), a small text file holding one line
``api_key: <key>`` (``api_key = <key>`` is read too; ``#`` starts a comment).

The key file is refused, with the fix named, when

- a group or other may read it (a key is a password): ``chmod 600 <path>``;
- it lies inside the content tree (``--root``): the tree is what people commit, and the
  key would go with it.

What callers get is an :class:`ApiKey`: the value, and ``source``, which names where it
came from (a variable name or the file's path) and never the key, so ``doctor`` can say
which one was used. Nothing here writes anything (invariant 7: the key is never written).
Imports nothing of ours but the error tree; the cli and the contract tests use it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chargen_es.errors import ConfigError

ENV_NAMES = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
FIELD = "api_key"


@dataclass(frozen=True)
class ApiKey:
    value: str
    source: str  # "GEMINI_API_KEY", "GOOGLE_API_KEY" or the key file's path; never the key

    def __repr__(self) -> str:  # a key never reaches a log or a traceback through repr
        return f"ApiKey(source={self.source!r})"


def credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/chargen-es/credentials``, or ``~/.config/chargen-es/credentials``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or ""
    folder = Path(base) if base and os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".config"
    return folder / "chargen-es" / "credentials"


def find_api_key(root: Path | None = None, environ: Mapping[str, str] | None = None) -> ApiKey | None:
    """The key and its source, or None when there is none; ConfigError for a key file that
    must not be used (readable by others, inside ``root``, unreadable, no ``api_key``)."""
    env = os.environ if environ is None else environ
    for name in ENV_NAMES:
        if env.get(name):
            return ApiKey(env[name], name)
    path = credentials_path(env)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the key file ({exc.strerror or exc})") from None
    _check_place(path, root)
    if st.st_mode & 0o077:
        raise ConfigError(f"{path}: the key file may be read by group or others (mode "
                          f"{stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}`")
    return ApiKey(_read_key(path), str(path))


def _check_place(path: Path, root: Path | None) -> None:
    if root is None:
        return
    where, tree = path.resolve(), Path(root).resolve()
    if where == tree or tree in where.parents:
        raise ConfigError(f"{path}: the key file is inside the content tree {tree}, which is what gets "
                          f"committed; move it out (the default is ~/.config/chargen-es/credentials) or set "
                          "GEMINI_API_KEY")


def _read_key(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the key file ({exc})") from None
    for line in text.splitlines():
        name, sep, value = line.split("#", 1)[0].replace("=", ":", 1).partition(":")
        if sep and name.strip() == FIELD and value.strip():
            return value.strip().strip("'\"")
    raise ConfigError(f"{path}: no `{FIELD}: <key>` line in the key file")
