"""The emulator's model set: which model ids answer, what they support, and how they think.

Why one place: Google renames and shuts down models every few months, and a client that
only ever met an emulator accepting any model id never learns that a batch on a shut-down
model answers 404. Every API that takes a model (``models.get``, ``models.list``,
``generateContent``, ``batchGenerateContent``) asks :class:`ModelSet`; the set is
configurable through ``EmulatorConfig.models`` / ``EmulatorConfig.shut_down`` (and the
``models`` / ``shut_down`` keys of a faults file), so tests can add a model or shut one
down without touching this module.

Facts, read on 2026-12-02:

- Resource shape: ``google/ai/generativelanguage/v1beta/model.proto`` (googleapis commit
  f8291d2b, 2026-08-22): ``name``, ``baseModelId``, ``version``, ``displayName``,
  ``description``, ``inputTokenLimit``, ``outputTokenLimit``,
  ``supportedGenerationMethods``, ``temperature``, ``maxTemperature``, ``topP``, ``topK``,
  ``thinking``. ``ListModelsRequest``: ``pageSize`` default 50, at most 1000;
  ``pageToken``; the reply is ``{"models": [...], "nextPageToken"}``, which the SDK's
  ``models.list`` (python-genai ``_ListModelsResponse_from_mldev``) reads through
  ``t_extract_models``.
- Which ids exist: https://ai.google.dev/gemini-api/docs/deprecations (the Gemini 3 table:
  gemini-3-pro-image and gemini-3.1-flash-image released 2026-05-28, gemini-3.5-flash
  2026-05-19, gemini-3.5-flash-lite 2026-07-21, gemini-3.8-flash 2026-09-02,
  gemini-3.1-flash-lite 2026-05-07; preview ids gemini-3-pro-image-preview and
  gemini-3.1-flash-image-preview shut down 2026-06-25; gemini-3-pro-preview shut down
  2026-03-09; gemini-2.5-flash-image shut down 2026-10-02), the changelog
  https://ai.google.dev/docs/changelog (gemini-2.5-flash-image-preview shut down
  2026-01-15; gemini-2.0-flash* shut down, dated 2026-03-31 there and 2026-06-01 on
  Firebase's banner).
- gemini-2.5-flash and gemini-2.5-pro: deprecated, with a shutdown on 2026-12-01 after
  which requests are *routed* to gemini-3.5-flash-lite / gemini-3.8-flash (a third-party
  summary of the deprecations page, dev.to/aideprecations, read 2026-11-10 there). Because
  routed calls still answer, the emulator keeps them answering; shut them down with
  ``shut_down`` to test the 404 path.
- The 404 text: "models/X is not found for API version v1beta, or is not supported for
  generateContent. Call ListModels to see the list of available models and their supported
  methods." (status NOT_FOUND; quoted in google/adk-python#200 and many other reports; the
  method name is the one called, e.g. StreamGenerateContent in ChatGPTNextWeb/NextChat#4699).
  The wording for ``models.get`` itself was not found in any report; the same sentence with
  the method ``getModel`` is used.
- Token limits are the documented figures of each family's model card (1,048,576 in /
  65,536 out for text; 65,536 / 32,768 for Gemini 3 image models); the emulator does not
  enforce them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chargen_es.emulator.wire import ApiError

TEXT_METHODS = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")
IMAGE_METHODS = ("generateContent", "countTokens", "batchGenerateContent")


@dataclass(frozen=True)
class ModelSpec:
    """One model the emulator serves.

    ``image`` makes plain requests (no ``responseModalities``) answer with an image.
    ``draft_images`` is how many interim ``thought`` images come before the final one (0-2,
    the Gemini 3 image models' thinking); ``thought_text`` sends a thought text part first.
    """

    id: str
    display_name: str
    version: str = "001"
    description: str = ""
    input_token_limit: int = 1_048_576
    output_token_limit: int = 65_536
    methods: tuple[str, ...] = TEXT_METHODS
    image: bool = False
    thinking: bool = True
    draft_images: int = 0
    thought_text: bool = False
    answered_by: str = ""  # a retired id Google routes: the ``modelVersion`` its answers carry
    # the final image's format: ``jpeg`` (Gemini 3 / 3.1 image models, real dimensions per
    # imageSize and aspect ratio) or ``png`` (the 2.5 generation: small pictures)
    image_format: str = "jpeg"
    # fields added to the Model resource as given: a test's way to play a field Google may add
    # tomorrow (a lifecycle stage, say); Google's resource has none today
    extra: dict[str, Any] = field(default_factory=dict)
    # ``modelStatus`` on every answer (google-genai 3.6.1 ``GenerateContentResponse.model_status``:
    # modelStage, retirementTime, message), where Google puts a model's lifecycle; none by default
    model_status: dict[str, Any] = field(default_factory=dict)

    def resource(self) -> dict[str, Any]:
        """The ``Model`` resource as ``models.get`` returns it."""
        out: dict[str, Any] = {
            "name": f"models/{self.id}", "baseModelId": self.id, "version": self.version,
            "displayName": self.display_name, "description": self.description or self.display_name,
            "inputTokenLimit": self.input_token_limit, "outputTokenLimit": self.output_token_limit,
            "supportedGenerationMethods": list(self.methods),
            "temperature": 1.0, "topP": 0.95, "topK": 64, "maxTemperature": 2.0,
        }
        if self.thinking:
            out["thinking"] = True
        return {**out, **self.extra}

    @classmethod
    def parse(cls, raw: Any) -> ModelSpec:
        """A spec from a dict (faults file or config); unknown keys are refused by name."""
        if isinstance(raw, ModelSpec):
            return raw
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise ValueError(f"model entry needs a non-empty string 'id': {raw!r}")
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(raw) - known)
        if extra:
            raise ValueError(f"model {raw['id']!r}: unknown field(s) {extra} (known: {sorted(known)})")
        values = dict(raw)
        values["id"] = str(values["id"]).removeprefix("models/")
        values.setdefault("display_name", values["id"])
        if "methods" in values:
            values["methods"] = tuple(values["methods"])
        return cls(**values)


def _image(id_: str, name: str, drafts: int) -> ModelSpec:
    return ModelSpec(id=id_, display_name=name, input_token_limit=65_536, output_token_limit=32_768,
                     methods=IMAGE_METHODS, image=True, draft_images=drafts, thought_text=drafts > 0)


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    _image("gemini-3-pro-image", "Nano Banana Pro (Gemini 3 Pro Image)", 2),
    _image("gemini-nano-banana-2.1", "Gemini Nano Banana 2.1", 1),
    _image("gemini-3.1-flash-image", "Nano Banana 2 (Gemini 3.1 Flash Image)", 1),
    ModelSpec(id="gemini-3.8-flash", display_name="Gemini 3.8 Flash", thought_text=True),
    ModelSpec(id="gemini-3.6-flash", display_name="Gemini 3.6 Flash", thought_text=True),
    ModelSpec(id="gemini-3.5-flash-lite", display_name="Gemini 3.5 Flash-Lite", thought_text=True),
    ModelSpec(id="gemini-3.1-flash-lite", display_name="Gemini 3.1 Flash-Lite", thought_text=True),
    # retired ids Google still answers, with another model (changelog 2026-10-08; 2.5: since
    # 2026-12-01, reported): their answers carry the answering model's ``modelVersion``
    ModelSpec(id="gemini-3.5-flash", display_name="Gemini 3.5 Flash", thought_text=True,
              answered_by="gemini-3.6-flash"),
    ModelSpec(id="gemini-3.7-flash", display_name="Gemini 3.7 Flash", thought_text=True,
              answered_by="gemini-3.8-flash"),
    ModelSpec(id="gemini-2.5-flash", display_name="Gemini 2.5 Flash", answered_by="gemini-3.5-flash-lite"),
    ModelSpec(id="gemini-2.5-pro", display_name="Gemini 2.5 Pro", answered_by="gemini-3.8-flash"),
)

DEFAULT_SHUT_DOWN: frozenset[str] = frozenset({
    "gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview", "gemini-3-pro-preview",
    "gemini-2.5-flash-image", "gemini-2.5-flash-image-preview",
    "gemini-2.0-flash", "gemini-2.0-flash-001", "gemini-2.0-flash-lite", "gemini-2.0-flash-lite-001",
})


def not_found(model: str, method: str, version: str = "v1beta") -> ApiError:
    """Google's 404 for a model that does not exist, is shut down, or lacks the method."""
    return ApiError(404, f"models/{model} is not found for API version {version}, or is not supported "
                         f"for {method}. Call ListModels to see the list of available models and their "
                         f"supported methods.")


@dataclass
class ModelSet:
    """The models that answer, by id; everything else (and every shut-down id) is a 404."""

    models: dict[str, ModelSpec] = field(default_factory=dict)
    shut_down: frozenset[str] = frozenset()

    @classmethod
    def build(cls, models: Iterable[Any] | None, shut_down: Iterable[str] | None,
              thoughts: bool = True) -> ModelSet:
        specs = [ModelSpec.parse(m) for m in (DEFAULT_MODELS if models is None else models)]
        if not thoughts:
            specs = [replace(s, draft_images=0, thought_text=False) for s in specs]
        for spec in specs:
            if not 0 <= spec.draft_images <= 2:
                raise ValueError(f"model {spec.id!r}: draft_images must be 0, 1 or 2")
        gone = frozenset(str(m).removeprefix("models/") for m in
                         (DEFAULT_SHUT_DOWN if shut_down is None else shut_down))
        return cls({s.id: s for s in specs if s.id not in gone}, gone)

    def require(self, model: str, method: str, version: str = "v1beta") -> ModelSpec:
        """The spec of ``model`` (``models/`` prefix allowed) if it serves ``method``, else 404."""
        short = model.removeprefix("models/")
        spec = self.models.get(short)
        if spec is None or method not in spec.methods:
            raise not_found(short, method, version)
        return spec

    def get(self, model: str, version: str) -> dict[str, Any]:
        """``models.get``: the resource, or the same 404 a call would get."""
        short = model.removeprefix("models/")
        spec = self.models.get(short)
        if spec is None:
            raise not_found(short, "getModel", version)
        return spec.resource()

    def list(self, query: Mapping[str, str]) -> dict[str, Any]:
        """One page, in a stable order (catalogue order); the token is the next index."""
        raw_size = query.get("pageSize", query.get("page_size"))
        try:
            size = int(raw_size) if raw_size not in (None, "") else 50
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Invalid pageSize {raw_size!r}.") from exc
        size = 50 if size <= 0 else min(size, 1000)
        token = query.get("pageToken", query.get("page_token")) or ""
        try:
            start = int(token) if token else 0
        except ValueError as exc:
            raise ApiError(400, f"Invalid pageToken {token!r}.") from exc
        specs = list(self.models.values())
        page = specs[start:start + size]
        out: dict[str, Any] = {"models": [s.resource() for s in page]}
        if start + size < len(specs):
            out["nextPageToken"] = str(start + size)
        return out
