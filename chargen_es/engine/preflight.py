"""Pre-flight: every model a run is about to send work to exists and takes that kind of call.

Why: Google shuts models down every few months, and ``batchGenerateContent`` on a
shut-down model answers 404 only at create time, after every reference was uploaded. One
``models.get`` per distinct model of the work about to be sent (the batch runner needs
``batchGenerateContent``, the live runner ``generateContent``), before the first upload,
turns that into one line per model naming it and, when the catalogue knows one, its
replacement; nothing is uploaded.

Where it sits in the journal: a passing check writes nothing; a failing one ends the
invocation with ``run.failed`` (code ``model_unavailable``) carrying those lines. The run
stays resumable, and ``resume`` checks again (the key may have changed); a plan whose
model is gone for good is planned again with another model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from chargen_es import catalogue
from chargen_es import events as ev
from chargen_es.engine.recorder import Recorder
from chargen_es.errors import NotFound, PermanentError
from chargen_es.gateway import RemoteModel

BATCH_METHOD = "batchGenerateContent"
LIVE_METHOD = "generateContent"
FAILED_CODE = ev.MODEL_UNAVAILABLE

GetModel = Callable[[str], Awaitable[RemoteModel]]


def _hint(model: str) -> str:
    info = catalogue.lookup(model)
    if info is not None and info.replacement:
        return f"its replacement is {info.replacement}: plan a new run with that model"
    return "`chargen-es models` lists the models this key can use"


async def check(models: Iterable[str], method: str, get_model: GetModel) -> list[str]:
    """One problem line per model that is missing or cannot take ``method`` (empty: all fine)."""
    problems = []
    for model in sorted(set(models)):
        try:
            remote = await get_model(model)
        except NotFound as exc:
            problems.append(f"model {model} is not available ({exc}); {_hint(model)}")
            continue
        except PermanentError as exc:  # 400/403: a key or project that may not use it
            problems.append(f"model {model} cannot be used with this key ({exc}); {_hint(model)}")
            continue
        # an answer that lists no methods says nothing against the model
        if remote.supported_methods and not remote.supports(method):
            offers = ", ".join(remote.supported_methods)
            also = " (try --runner live)" if method == BATCH_METHOD and remote.supports(LIVE_METHOD) else ""
            problems.append(f"model {model} does not support {method}{also}; it offers {offers}; {_hint(model)}")
    return problems


async def models_ready(recorder: Recorder, get_model: GetModel, models: Iterable[str], method: str) -> bool:
    """The check, for a runner: a failure is journaled as ``run.failed`` (both runners)."""
    problems = await check(models, method, get_model)
    if problems:
        recorder.record(ev.RunFailed(code=FAILED_CODE, message="; ".join(problems)))
    return not problems
