"""A new imagery.yaml (or one exactly as this writer wrote it) is written by PyYAML's C
emitter, any other round-tripped by ruamel: the same data either way, to both readers, and
for what runs record the same bytes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chargen_es import imagery
from tests.shared import examples, read_yaml

ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
# what prompts and paths are made of: letters of any script in the BMP, digits,
# punctuation, spaces and line breaks
PLAIN_TEXT = st.text(st.characters(whitelist_categories=("L", "N", "P", "Zs"), max_codepoint=0xFFFF)
                     | st.just("\n"), max_size=30)


def entries(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    entry = st.fixed_dictionaries({"custom_id": text, "file_path": text, "prompt_used": text,
                                   "generated_at": st.just("2030-01-01T00:00:00Z"), "n": st.integers()})
    return st.fixed_dictionaries({"generated_images": st.lists(entry, min_size=1, max_size=3)})


def ruamel_bytes(data: dict[str, Any]) -> bytes:
    rt = imagery._round_trip()
    fresh = rt.load("{}")
    fresh.update(data)
    return imagery._dump(fresh, rt)


@settings(max_examples=examples(300), deadline=None)
@given(entries(ANY_TEXT))
@example({"generated_images": [{"prompt_used": "a\u2028b\nc"}, {"prompt_used": "one\r\ntwo\r\n"},
                               {"prompt_used": "x\x85y\nz"}, {"prompt_used": "\U00010000"}]})
def test_a_new_file_reads_back_as_the_data_written(data: dict[str, Any]) -> None:
    """By both readers: PyYAML's (YAML 1.1: the planner) and ruamel's (1.2: the next update)."""
    written = imagery._dump(data, None)
    assert read_yaml(written) == data
    assert imagery._round_trip().load(written.decode("utf-8")) == data


@settings(max_examples=examples(300), deadline=None)
@given(entries(ANY_TEXT))
@example({"generated_images": [{"prompt_used": "a\u2028b\nc"}, {"prompt_used": "one\r\ntwo\r\n"},
                               {"prompt_used": "x\x85y\nz"}, {"prompt_used": "\x85"}, {"prompt_used": "on"}]})
def test_an_updated_file_reads_back_as_the_data_written(data: dict[str, Any]) -> None:
    """ruamel's output too: ``on`` or ``yes`` written plain would be a boolean to the planner;
    a line-break character YAML knows (CR, NEL, U+2028) raw in a block would be misread."""
    written = ruamel_bytes(data)
    assert read_yaml(written) == data
    assert imagery._round_trip().load(written.decode("utf-8")) == data


def test_a_new_file_has_the_round_trip_layout() -> None:
    """What a run records (a multi-line prompt in another script, stamps, hashes): the same
    bytes from either emitter. (On exotic text the two may quote differently, same data.)"""
    entry = {"custom_id": "characters/cyra/ünïcode-scène-v2", "file_name": "ünïcode-scène-v2-20300101T000000Z.png",
             "file_path": "images/ünïcode-scène-v2-20300101T000000Z.png",
             "prompt_used": "Cyra in the sky library, «glass» walkway\nsecond line: 08, on\n", "provider": "google",
             "model": "gemini-3-pro-image", "generated_at": "2030-01-01T00:00:00Z",
             "batch_run_id": "2030-01-01T00-00-00Z", "task_key": "0e0" + "1" * 61, "sha256": "ab" * 32,
             "note": "yes", "count": 3}
    data = {"generated_images": [entry, {**entry, "task_key": "08", "prompt_used": "one line"}]}
    assert imagery._dump(data, None) == ruamel_bytes(data)


def test_a_file_made_new_then_updated_keeps_both_entries_and_the_users_comment(tmp_path: Path) -> None:
    path = tmp_path / "characters" / "ada" / "imagery.yaml"
    path.parent.mkdir(parents=True)

    def write(target: Path, data: bytes, mode: int | None) -> None:
        target.write_bytes(data)

    def add(key: str) -> imagery.Mutation:
        def mutate(data: dict[str, Any]) -> bool:
            data.setdefault("generated_images", []).append({"task_key": key, "prompt_used": "two\nlines"})
            return True
        return mutate

    assert imagery.update(path, [add("a")], write, root=tmp_path)
    path.write_text("# kept by the user\n" + path.read_text())
    assert imagery.update(path, [add("b")], write, root=tmp_path)
    text = path.read_text()
    assert text.startswith("# kept by the user\n")
    assert [e["task_key"] for e in read_yaml(io.StringIO(text))["generated_images"]] == ["a", "b"]


@settings(max_examples=examples(100), deadline=None)
@given(entries(ANY_TEXT), entries(ANY_TEXT))
def test_a_file_as_this_writer_wrote_it_is_updated_plainly_and_reads_back(tmp_path_factory: Any,
                                                                         first: dict[str, Any],
                                                                         then: dict[str, Any]) -> None:
    """Updating a file this writer wrote (the C path: nothing of the user's to keep) gives
    what writing the new data afresh gives, which both readers read as that data."""
    path = tmp_path_factory.mktemp("canon") / "characters" / "ada" / "imagery.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes(imagery._dump(first, None))

    def replace_all(data: dict[str, Any]) -> bool:
        data.clear()
        data.update(then)
        return True

    imagery.update(path, [replace_all], lambda p, b, mode: p.write_bytes(b))
    written = path.read_bytes()
    assert written == imagery._dump(then, None)
    assert read_yaml(written) == then
    assert imagery._round_trip().load(written.decode("utf-8")) == then


def test_a_file_with_a_comment_or_a_style_of_its_own_is_round_tripped(tmp_path: Path) -> None:
    """Not the C path: the user's comment and quoting survive an update."""
    path = tmp_path / "characters" / "ada" / "imagery.yaml"
    path.parent.mkdir(parents=True)
    for text in ("# mine\ngenerated_images: []\nnotes: 'single quoted'\n",
                 "generated_images: []\nnotes: \"double quoted\"  # why\n"):
        path.write_text(text)
        assert imagery._canonical(text) is None

        def add(data: dict[str, Any]) -> bool:
            data["generated_images"].append({"custom_id": "x"})
            return True

        imagery.update(path, [add], lambda p, b, mode: p.write_bytes(b))
        after = path.read_text()
        assert ("# mine" in after or "# why" in after) and "quoted" in after
        assert after.count("quoted'") + after.count('quoted"') == 1  # the quotes as the user wrote them
