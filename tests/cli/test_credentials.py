"""The key file: ``$XDG_CONFIG_HOME/chargen-es/credentials`` (default ~/.config) with
``api_key``, read when neither GEMINI_API_KEY nor GOOGLE_API_KEY is set; refused when a
group or other may read it, or when it lies inside the content tree; ``doctor`` names the
source, never the key; a key in chargen.yaml is refused. Real child processes, the real
file system, the emulator on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chargen_es.emulator import Emulator, EmulatorConfig
from tests.engine.harness import copy_sample, files_containing
from tests.procs import run_child

SECRET = "AIzaFileKey-5b1e0c77-never-written"


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "XDG_CONFIG_HOME") and not k.startswith("CHARGEN_ES_")}
    env.update({"HOME": str(home), "NO_PROXY": "127.0.0.1,localhost", **extra})
    return env


def key_file(config_home: Path, mode: int = 0o600, text: str = f"# mine\napi_key: {SECRET}\n") -> Path:
    path = config_home / "chargen-es" / "credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_the_key_file_is_used_and_doctor_names_it_never_the_key(tmp_path: Path) -> None:
    home, root = tmp_path / "home", copy_sample(tmp_path / "tree")
    path = key_file(home / ".config")
    env = environment(home)
    with Emulator(EmulatorConfig()) as emu:
        without = run_child(["run", "--yes", "--root", str(copy_sample(tmp_path / "other")), "--base-url",
                             emu.base_url], env=environment(tmp_path / "nobody"))
        assert without.returncode != 0 and "no API key" in without.stderr
        doctor = run_child(["doctor", "--root", str(root), "--base-url", emu.base_url], env=env)
        assert f"from {path}" in doctor.stdout, doctor.stdout + doctor.stderr
        assert SECRET not in doctor.stdout + doctor.stderr
        done = run_child(["run", "--yes", "--root", str(root), "--base-url", emu.base_url, "--run-id", "r1",
                          "--poll-interval", "0.05"], env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert emu.stats()["operations"].get("batches.create"), done.stdout
    assert files_containing(root, SECRET) == [], "invariant 7: the key is never written"


def test_xdg_config_home_is_where_the_file_is(tmp_path: Path) -> None:
    path = key_file(tmp_path / "xdg")
    with Emulator(EmulatorConfig()) as emu:
        doctor = run_child(["doctor", "--root", str(copy_sample(tmp_path / "tree")), "--base-url", emu.base_url],
                           env=environment(tmp_path / "home", XDG_CONFIG_HOME=str(tmp_path / "xdg")))
    assert f"from {path}" in doctor.stdout, doctor.stdout + doctor.stderr


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_may_read_is_refused_naming_chmod_600(tmp_path: Path, mode: int) -> None:
    home, root = tmp_path / "home", copy_sample(tmp_path / "tree")
    path = key_file(home / ".config", mode)
    with Emulator(EmulatorConfig()) as emu:
        done = run_child(["run", "--yes", "--root", str(root), "--base-url", emu.base_url], env=environment(home))
        doctor = run_child(["doctor", "--root", str(root), "--base-url", emu.base_url], env=environment(home))
        assert emu.stats()["operations"] == {}, "nothing was sent with a key others can read"
    assert done.returncode != 0
    assert f"chmod 600 {path}" in done.stderr and SECRET not in done.stdout + done.stderr
    assert doctor.returncode != 0 and f"chmod 600 {path}" in doctor.stdout


def test_the_environment_wins_and_the_file_is_not_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key_file(home / ".config", 0o644)  # would be refused if it were read
    with Emulator(EmulatorConfig()) as emu:
        doctor = run_child(["doctor", "--root", str(copy_sample(tmp_path / "tree")), "--base-url", emu.base_url],
                           env=environment(home, GEMINI_API_KEY="env-key-for-test"))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "from GEMINI_API_KEY" in doctor.stdout


def test_a_key_file_inside_the_content_tree_is_refused(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    key_file(root / ".config")
    with Emulator(EmulatorConfig()) as emu:
        done = run_child(["run", "--yes", "--root", str(root), "--base-url", emu.base_url],
                         env=environment(tmp_path / "home", XDG_CONFIG_HOME=str(root / ".config")))
        assert emu.stats()["operations"] == {}
    assert done.returncode != 0 and "inside the content tree" in done.stderr, done.stderr


def test_a_key_in_chargen_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "tree")
    text = (root / "chargen.yaml").read_text()
    (root / "chargen.yaml").write_text(text + f"api_key: {SECRET}\n")
    done = run_child(["run", "--dry-run", "--root", str(root)], env=environment(tmp_path / "home"))
    assert done.returncode != 0
    line = text.count("\n") + 1
    assert f"chargen.yaml:{line}: api_key: an API key does not belong in the content tree" in done.stderr + done.stdout
    assert SECRET not in done.stdout + done.stderr


def test_the_file_format_and_a_file_without_a_key() -> None:
    import tempfile

    from chargen_es.credentials import find_api_key
    from chargen_es.errors import ConfigError

    with tempfile.TemporaryDirectory() as d:
        home = Path(d)
        env = {"HOME": str(home)}
        assert find_api_key(environ=env) is None
        path = key_file(home / ".config", text='api_key = "quoted-key"  # from AI Studio\n')
        found = find_api_key(environ=env)
        assert found is not None and found.value == "quoted-key" and found.source == str(path)
        assert "quoted-key" not in repr(found)
        key_file(home / ".config", text="# nothing here\n")
        with pytest.raises(ConfigError, match="no `api_key: <key>` line"):
            find_api_key(environ=env)
