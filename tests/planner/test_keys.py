"""Task keys and safe names: deterministic, sensitive to every hashed input, path-safe."""

from __future__ import annotations

import posixpath
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chargen_es.planner import PlanOptions, build_plan
from chargen_es.planner.keys import analyze_key, generate_key, safe_name, unique_safe_names
from tests.planner.helpers import STAMP, entity
from tests.shared import examples

text = st.text(min_size=0, max_size=40)
sha_hex = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
ratios = st.sampled_from(["1:1", "16:9", "4:3", "9:16"])


def _config(ratio: str, reverse: bool) -> dict:
    inner = {"aspectRatio": ratio}
    items = [("responseModalities", ["IMAGE"]), ("imageConfig", inner)]
    return dict(reversed(items) if reverse else items)


@given(prompt=text, refs=st.lists(sha_hex, max_size=3), model=text, ratio=ratios)
def test_same_inputs_same_key_whatever_dict_order(prompt, refs, model, ratio):
    a = generate_key("characters", "ada", "s", prompt=prompt, references=refs, model=model,
                     generation_config=_config(ratio, False))
    b = generate_key("characters", "ada", "s", prompt=prompt, references=list(refs), model=model,
                     generation_config=_config(ratio, True))
    assert a == b
    assert a.startswith("character/ada/s@sha256:") and len(a.rsplit(":", 1)[1]) == 16


@given(prompt=text, refs=st.lists(sha_hex, min_size=1, max_size=3), model=text, ratio=ratios, data=st.data())
def test_changing_any_hashed_input_changes_the_key(prompt, refs, model, ratio, data):
    base = {"prompt": prompt, "references": refs, "model": model, "generation_config": _config(ratio, False)}
    key = generate_key("characters", "ada", "s", **base)
    field = data.draw(st.sampled_from(["prompt", "references", "model", "generation_config"]))
    changed = dict(base)
    if field == "prompt":
        changed["prompt"] = prompt + data.draw(st.text(min_size=1, max_size=5))
    elif field == "references":
        how = data.draw(st.sampled_from(["edit", "append", "drop", "swap"]))
        if how == "edit":
            last = refs[-1]
            changed["references"] = refs[:-1] + [last[:-1] + ("1" if last[-1] != "1" else "2")]
        elif how == "append":
            changed["references"] = refs + refs[:1]
        elif how == "drop":
            changed["references"] = refs[:-1]
        elif refs[0] != refs[-1]:
            changed["references"] = [refs[-1], *refs[1:-1], refs[0]]
        else:
            changed["references"] = refs + ["f" * 64]
    elif field == "model":
        changed["model"] = model + "x"
    else:
        other = data.draw(ratios.filter(lambda r: r != ratio))
        changed["generation_config"] = _config(other, False)
    assert generate_key("characters", "ada", "s", **changed) != key


@given(image=sha_hex, other=sha_hex)
def test_analysis_key_covers_the_image(image, other):
    cfg = {"responseMimeType": "application/json"}
    a = analyze_key("characters", "ada", "pic", prompt="p", image_sha256=image, model="m", generation_config=cfg)
    b = analyze_key("characters", "ada", "pic", prompt="p", image_sha256=other, model="m", generation_config=cfg)
    assert a.startswith("character/ada/analyze:pic@sha256:")
    assert (a == b) == (image == other)


scene_ids = st.one_of(
    st.text(min_size=1, max_size=60),
    st.lists(st.sampled_from(["..", ".", "/", "\\", " ", "a", "é", "場", "-", "_", "con", "x.y"]),
             min_size=1, max_size=12).map("".join),
)


@settings(max_examples=examples(300))
@given(scene=scene_ids)
def test_safe_names_stay_inside_the_entity_folder(scene):
    name = safe_name(scene)
    assert name and "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith((".", "-"))
    assert len(name.encode("utf-8")) <= 100
    out = posixpath.normpath(posixpath.join("characters/ada/images", f"{name}-{STAMP}.png"))
    assert posixpath.dirname(out) == "characters/ada/images"


@given(ids=st.lists(scene_ids, min_size=1, max_size=8, unique=True))
def test_unique_safe_names_never_clash(ids):
    names = unique_safe_names(ids)
    assert len({n.casefold() for n in names}) == len(ids)


def test_safe_name_examples():
    assert safe_name("Tavern Brawl") == "Tavern-Brawl"
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name("a.b.c") == "a-b-c"
    assert safe_name("ünïcode/scène.v2") == "ünïcode-scène-v2"
    assert safe_name("..") == "scene"
    assert safe_name("NUL") == "NUL_"


@settings(max_examples=10, deadline=None)
@given(form=st.sampled_from(["plain", "dot", "trailing", "absolute", "dotdot"]),
       ref_form=st.sampled_from(["ref.png", "./ref.png", "sub/../ref.png", ".\\ref.png"]))
def test_plan_keys_do_not_depend_on_path_forms(form, ref_form):
    tmp = Path(tempfile.mkdtemp())
    try:
        root = tmp / "tree"
        entity(root, "characters", "ada", refs=("ref.png",))
        (root / "characters/ada/sub").mkdir()
        canonical = build_plan(PlanOptions(root=root, run_stamp=STAMP))
        entity(root, "characters", "ada", refs=())
        (root / "characters/ada/character.yaml").write_text(
            f"name: Ada\ndescription: The ada of the story.\nreferences:\n  - '{ref_form}'\n", encoding="utf-8")
        canonical_text = (root / "characters/ada/character.yaml").read_text()
        assert ref_form in canonical_text
        given_root = {
            "plain": root, "dot": tmp / "." / "tree", "trailing": Path(str(root) + "/"),
            "absolute": root.resolve(), "dotdot": tmp / "tree" / "characters" / "..",
        }[form]
        plan = build_plan(PlanOptions(root=given_root, run_stamp=STAMP))
        assert [t.key for t in plan.tasks] == [t.key for t in canonical.tasks]
        assert [r.path for r in plan.tasks[0].references] == ["characters/ada/ref.png"]
    finally:
        shutil.rmtree(tmp)


def test_a_suffixed_name_never_lands_on_another_scene_name() -> None:
    import hashlib

    from chargen_es.planner.keys import unique_safe_names

    suffix = hashlib.sha256(b"a b").hexdigest()[:8]
    names = unique_safe_names([f"a-b-{suffix}", "a b", "a/b"])
    assert len({n.casefold() for n in names}) == 3, names


def test_keys_do_not_depend_on_unicode_normal_form() -> None:
    import unicodedata

    from chargen_es.planner.keys import generate_key

    def key(slug: str) -> str:
        return generate_key("characters", slug, "s", prompt="p", references=[], model="m", generation_config={})

    assert key(unicodedata.normalize("NFC", "josé")) == key(unicodedata.normalize("NFD", "josé"))
