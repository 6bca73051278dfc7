"""The user's imagery.yaml stays theirs: comments, key order and quoting survive our
updates, and no lock file appears in the content tree (locks live under .chargen/)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

from chargen_es import imagery
from tests.planner.test_imagery import durable, output, task
from tests.shared import read_yaml

USER_FILE = """\
# Ada's pictures. Hand-edited: keep this comment!
owner: 'Ada Lovelace'   # single quotes on purpose
zeta: "double"
alpha: 1
generated_images:
# older pictures first
- task_key: character/ada/old@sha256:0000000000000000
  file_path: images/old.png  # drawn by hand
  sha256: 'abc'
  my_note: keep me
"""


def test_comments_order_and_quotes_survive_an_update(tmp_path: Path) -> None:
    t = task(key="character/ada/one@sha256:0123456789abcdef")
    path = imagery.imagery_path(tmp_path, t)
    path.parent.mkdir(parents=True)
    path.write_text(USER_FILE, encoding="utf-8")
    out = output(tmp_path, t)
    assert imagery.record_generated(tmp_path, t, [out], "run-1", "2025-12-19T12:00:00.000Z", write=durable)
    text = path.read_text(encoding="utf-8")
    # every line the user wrote is still there, byte for byte, in the same order
    assert text.startswith(USER_FILE), text
    added = read_yaml(text)["generated_images"][-1]
    assert added["task_key"] == t.key and added["sha256"] == out.sha256 and added["prompt_used"] == t.prompt
    assert "prompt_used: |-\n" in text  # a multi-line prompt is written as a readable block
    # applying the same result again rewrites nothing
    assert not imagery.record_generated(tmp_path, t, [out], "run-1", "2025-12-19T13:00:00.000Z", write=durable)
    assert path.read_text(encoding="utf-8") == text


def test_a_changed_entry_keeps_the_users_comment_beside_it(tmp_path: Path) -> None:
    t = task(key="character/ada/one@sha256:0123456789abcdef")
    path = imagery.imagery_path(tmp_path, t)
    path.parent.mkdir(parents=True)
    path.write_text(f"generated_images:\n- task_key: {t.key}  # mine\n  file_path: images/gone.png\n  sha256: x\n",
                    encoding="utf-8")
    out = output(tmp_path, t)
    assert imagery.record_generated(tmp_path, t, [out], "run-2", "2025-12-19T12:00:00.000Z", write=durable)
    text = path.read_text(encoding="utf-8")
    assert f"- task_key: {t.key}  # mine\n" in text
    assert read_yaml(text)["generated_images"][0]["sha256"] == out.sha256


def test_no_lock_file_in_the_content_tree(tmp_path: Path) -> None:
    t = task()
    out = output(tmp_path, t)
    imagery.record_generated(tmp_path, t, [out], "run-1", "2025-12-19T12:00:00.000Z", write=durable)
    entity_files = sorted(p.name for p in imagery.imagery_path(tmp_path, t).parent.iterdir())
    assert entity_files == ["imagery.yaml", "images"]
    assert imagery.lock_path(imagery.imagery_path(tmp_path, t)) == (
        tmp_path / ".chargen" / "locks" / "characters" / "ada.imagery.yaml.lock")
    assert not list(tmp_path.rglob("imagery.yaml.lock"))


def test_a_batch_manifest_locks_under_its_own_root(tmp_path: Path) -> None:
    """A batch file's manifest sits in its output folder, of any depth: the lock is still
    under the batch file's folder's .chargen/, never above the root or in the outputs."""
    for output_dir in ("out", "renders/postcards/v2"):
        root = tmp_path / output_dir.replace("/", "-")
        t = msgspec.structs.replace(task(entity_type=imagery.BATCH_TYPE, slug="postcards"), output_dir=output_dir)
        data = b"\x89PNG batch"
        (root / output_dir).mkdir(parents=True)
        (root / output_dir / "one.png").write_bytes(data)
        out = imagery.Output(path=f"{output_dir}/one.png", sha256=hashlib.sha256(data).hexdigest(),
                             bytes=len(data), mime="image/png")
        assert imagery.record_generated(root, t, [out], "run-1", "2025-12-19T12:00:00.000Z", write=durable)
        assert (root / output_dir / "imagery.yaml").is_file()
        folder, _, name = output_dir.rpartition("/")
        lock = imagery.lock_path(imagery.imagery_path(root, t), root)
        assert lock == root / ".chargen" / "locks" / folder / f"{name}.imagery.yaml.lock"
        assert lock.is_file() and (root / ".chargen" / ".gitignore").is_file()
        assert not list(root.rglob("imagery.yaml.lock")) and not (tmp_path / ".chargen").exists()


def test_the_state_folder_ignores_itself_in_git(tmp_path: Path) -> None:
    t = task()
    imagery.record_generated(tmp_path, t, [output(tmp_path, t)], "run-1", "2025-12-19T12:00:00.000Z", write=durable)
    ignore = tmp_path / ".chargen" / ".gitignore"
    assert [line for line in ignore.read_text().splitlines() if not line.startswith("#")] == ["*"]
