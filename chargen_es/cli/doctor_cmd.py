"""``chargen-es doctor``: is this machine ready to spend money? One line per check.

Checks, in order, each ``ok`` or ``FAIL: what is wrong; what to do``:

1. ``environment`` (only when set): ``GOOGLE_GENAI_USE_VERTEXAI`` / ``..._ENTERPRISE`` are
   ignored (the gateway always passes ``vertexai=False``); said so nobody wonders.
2. ``api key``: present (which variable), or the emulator's.
3. ``base url``: answers at all (a transport error names the URL and what to check).
4. ``key accepted``: ``models.list`` succeeds with it.
5. ``catalogue``: its age (the day its facts were read, and the override file laid over
   it), then one ``catalogue drift`` line per disagreement with this key's ``models.list``
   (a catalogue model the key cannot see, a listed model it does not know, one listed
   after its shutdown, batch support, fields the Model resource carries that it does not
   read). Information, not failures: only an unreadable override file fails.
6. ``model <id>``: each model the tree would use (``chargen.yaml`` under ``--root``,
   else the catalogue's defaults) exists for this key and supports
   ``batchGenerateContent`` (batch) and ``generateContent`` (live); the catalogue's status
   (deprecated, shutdown date, replacement) is added.
7. ``privacy``: what Google keeps of the requests (``store: false`` unless chargen.yaml
   says ``store: true``).
8. ``roundtrip`` (``--roundtrip``): one inline batch of one text line on the cheapest
   text model, carrying the tree's ``store``: create, poll, read the answer, delete; its
   cost from ``usageMetadata`` at catalogue batch prices.

Exit code 1 when any check fails. ``--json`` prints the same as one document. No key,
no file, nothing is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from chargen_es import catalogue
from chargen_es.cli.common import root_option
from chargen_es.cli.execute import EMULATOR_KEY, backend_options
from chargen_es.errors import BillingError, ConfigError, GeminiError, NotFound, PermanentError, TransientError

# Batch requests cost half the standard price (ai.google.dev/gemini-api/docs/optimization,
# table "Batch: 50% discount", read 2026-12-02); the catalogue stores live prices.
BATCH_DISCOUNT = 0.5
ROUNDTRIP_PROMPT = "Reply with the single word: ok"
KEY_HELP = "create one at https://aistudio.google.com/apikey"


@dataclass
class Check:
    check: str
    ok: bool
    detail: str

    def line(self) -> str:
        if not self.ok:
            return f"{self.check}: FAIL: {self.detail}"
        return f"{self.check}: ok ({self.detail})" if self.detail else f"{self.check}: ok"


@dataclass
class Report:
    checks: list[Check]
    roundtrip: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, check: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(check, ok, detail))
        return ok


@contextlib.contextmanager
def _gateway(use_emulator: bool, base_url: str | None, api_version: str, job_seconds: float,
             key: str) -> Iterator[Any]:
    from chargen_es.gateway import Backend, Gateway  # the SDK loads only when a check needs it

    if use_emulator:
        from chargen_es.emulator import Emulator, EmulatorConfig

        with Emulator(EmulatorConfig(job_seconds=job_seconds)) as emu:
            gateway = Gateway(Backend(api_key=key, base_url=emu.base_url, api_version=api_version))
            try:
                yield gateway
            finally:
                gateway.close()
        return
    gateway = Gateway(Backend(api_key=key, base_url=base_url, api_version=api_version))
    try:
        yield gateway
    finally:
        gateway.close()


def _models_to_check(root: Path, report: Report) -> tuple[list[tuple[str, str]], bool]:
    """(purpose, model id) pairs the tree would use (chargen.yaml's, else the defaults), and its ``store``."""
    if (root / "chargen.yaml").is_file():
        from chargen_es.planner.tree import load_workspace

        ws, problems = load_workspace(root)
        for p in problems:
            report.add("chargen.yaml", False, f"{p}; fix the file, then run doctor again")
        return [("generate", ws.generate_model), ("analyze", ws.analyze_model)], ws.store
    return [("generate", catalogue.DEFAULT_GENERATE_MODEL), ("analyze", catalogue.DEFAULT_ANALYZE_MODEL)], False


def _catalogue_note(model_id: str, today: date) -> str:
    info = catalogue.lookup(model_id)
    if info is None:
        return "not in the catalogue: no known prices (add prices to chargen.yaml)"
    if info.status == "deprecated" or (info.shutdown and info.usable_on(today)):
        shut = f", shuts down {info.shutdown.isoformat()}" if info.shutdown else ""
        instead = f"; move to {info.replacement}" if info.replacement else ""
        return f"deprecated{shut}{instead}"
    return info.status


def _check_model(gateway: Any, purpose: str, model_id: str, report: Report) -> None:
    name = f"model {model_id} ({purpose})"
    info = catalogue.lookup(model_id)
    try:
        remote = gateway.get_model(model_id)
    except NotFound:
        instead = f"use {info.replacement}" if info and info.replacement else "pick another from `chargen-es models`"
        report.add(name, False, f"not found for this key (shut down, renamed or not enabled); {instead} "
                                f"(models.{purpose} in chargen.yaml)")
        return
    except GeminiError as exc:
        report.add(name, False, f"models.get failed: {exc}")
        return
    missing = [m for m in ("batchGenerateContent", "generateContent") if not remote.supports(m)]
    if "generateContent" in missing:
        report.add(name, False, "does not support generateContent; pick another model")
    elif missing:
        report.add(name, False, "does not support batchGenerateContent: use `--runner live` or another model")
    else:
        report.add(name, True, f"batch and live; {_catalogue_note(model_id, datetime.now(UTC).date())}")


def _answer_text(response: dict[str, Any]) -> str:
    for cand in response.get("candidates") or []:
        parts = (cand.get("content") or {}).get("parts") or []
        text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
        if text:
            return text.strip()
    return ""


def batch_cost(model_id: str, usage: dict[str, Any]) -> float | None:
    """USD of one batch answer from its usageMetadata (thinking billed as output), or None."""
    info = catalogue.lookup(model_id)
    if info is None or not (info.input_usd or info.output_usd):
        return None
    inp = int(usage.get("promptTokenCount") or 0)
    out = int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
    return (inp * info.input_usd + out * info.output_usd) / 1e6 * BATCH_DISCOUNT


def roundtrip(gateway: Any, model_id: str, timeout_s: float, poll_s: float,
              store: bool = False) -> tuple[bool, str, dict[str, Any]]:
    """One inline batch of one line, end to end, with the tree's ``store``. Returns (ok, detail, facts)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()
    job = gateway.create_inline_batch(model=model_id, texts=[ROUNDTRIP_PROMPT], display_name=f"chargen-es:doctor:{stamp}",
                                      store=store)
    facts: dict[str, Any] = {"model": model_id, "job": job.name, "store": store}
    try:
        while not job.done:
            if time.monotonic() - started > timeout_s:
                with contextlib.suppress(GeminiError):
                    gateway.cancel_batch(job.name)
                return False, (f"{job.name} still {job.state} after {timeout_s:.0f} s (batch jobs may take up to "
                               "24 h); it was cancelled: try again later or raise --roundtrip-timeout"), facts
            time.sleep(poll_s)
            job = gateway.get_batch(job.name)
        facts["state"] = job.state
        facts["seconds"] = round(time.monotonic() - started, 1)
        if job.state != "SUCCEEDED" or not job.inline_responses:
            return False, f"{job.name} ended {job.state}: {job.error or 'no answer'}", facts
        line = job.inline_responses[0]
        if "error" in line:
            return False, f"the line failed: {(line['error'] or {}).get('message', line['error'])}", facts
        response = line.get("response") or {}
        usage = response.get("usageMetadata") or {}
        facts.update(answer=_answer_text(response), usage=usage, cost_usd=batch_cost(model_id, usage),
                     model_version=response.get("modelVersion", ""), model_status=response.get("modelStatus"))
    finally:
        with contextlib.suppress(GeminiError):
            gateway.delete_batch(job.name)
    if not facts["answer"]:
        return False, f"{job.name} succeeded without an answer text", facts
    cost = facts["cost_usd"]
    spent = (f"${cost:.6f} at batch prices" if cost is not None
             else "cost unknown: no catalogue prices for this model")
    tokens = (f"{usage.get('promptTokenCount', 0)} in, {usage.get('candidatesTokenCount', 0)} out, "
              f"{usage.get('thoughtsTokenCount', 0)} thinking")
    return True, (f"{model_id} answered {facts['answer'][:40]!r} in {facts['seconds']} s; {tokens}; {spent}"
                  + _lifecycle(model_id, facts)), facts


def _lifecycle(model_id: str, facts: dict[str, Any]) -> str:
    """What the answer itself says about the model: who answered (``modelVersion``) and
    Google's lifecycle metadata (``modelStatus``: stage, retirement), which rides on
    responses, not on the Model resource (google-genai 3.6.1 types, read 2026-12-07)."""
    text = ""
    version = str(facts.get("model_version") or "")
    if version and version.removeprefix("models/") != model_id:
        text += f"; answered by {version}"
    status = facts.get("model_status") or {}
    if status:
        parts = [f"{k} {status[k]}" for k in ("modelStage", "retirementTime", "message") if status.get(k)]
        text += f"; Google says: {', '.join(parts)}"
    return text


def diagnose(root: Path, use_emulator: bool, base_url: str | None, api_version: str, job_seconds: float,
             do_roundtrip: bool, timeout_s: float, poll_s: float) -> Report:
    """Run every check; never raises for a failed check (each becomes a FAIL line)."""
    from chargen_es.credentials import credentials_path, find_api_key
    from chargen_es.gateway import GOOGLE_BASE_URL

    report = Report(checks=[])
    for var in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"):
        if os.environ.get(var, "").lower() in ("1", "true"):
            report.add("environment", True, f"{var}={os.environ[var]} is ignored: chargen-es always uses the "
                                            "Gemini Developer API")
    if use_emulator:
        key = EMULATOR_KEY
        report.add("api key", True, "the embedded emulator's")
    else:
        try:
            found = find_api_key(root)
        except ConfigError as exc:  # a key file that must not be used: say why, never the key
            report.add("api key", False, str(exc))
            return report
        key = found.value if found else ""
        if not report.add("api key", bool(key), f"from {found.source}" if found else
                          f"no API key: set GEMINI_API_KEY ({KEY_HELP}), put `api_key: <key>` in "
                          f"{credentials_path()} (chmod 600), or pass --emulator"):
            return report
    url = "the embedded emulator" if use_emulator else (base_url or GOOGLE_BASE_URL)
    models, store = _models_to_check(root, report)
    from chargen_es.cli.plan_view import store_note

    report.add("privacy", True, store_note(store))
    with _gateway(use_emulator, base_url, api_version, job_seconds, key) as gateway:
        try:
            listed = gateway.list_models()
        except TransientError as exc:
            if exc.reason in ("TRANSPORT", "TIMEOUT"):
                report.add("base url", False, f"cannot reach {url} ({exc}); check --base-url, "
                                              "GOOGLE_GEMINI_BASE_URL, the network and any proxy")
            else:
                report.add("base url", True, f"{url} answers")
                report.add("key accepted", False, f"models.list failed: {exc}; try again later")
            return report
        except BillingError as exc:
            report.add("base url", True, f"{url} answers")
            report.add("key accepted", False, f"{exc}; fix billing in AI Studio, then run doctor again")
            return report
        except PermanentError as exc:
            report.add("base url", True, f"{url} answers")
            report.add("key accepted", False, f"the key was refused ({exc}); check it or {KEY_HELP}")
            return report
        report.add("base url", True, f"{url} answers")
        report.add("key accepted", True, f"{len(listed)} models available")
        from chargen_es.cli.models_cmd import age_line, catalogue_state

        state = catalogue_state(listed, datetime.now(UTC).date())
        report.add("catalogue", state["override_problem"] is None,
                   f"{age_line(state)}; {len(state['disagreements'])} disagreement(s) with this key's models"
                   + ("" if state["override_problem"] is None else "; fix or remove the override file"))
        for d in state["disagreements"]:
            report.add("catalogue drift", True, d["text"])
        for purpose, model_id in dict.fromkeys(models):
            _check_model(gateway, purpose, model_id, report)
        if do_roundtrip:
            if not report.ok:
                report.add("roundtrip", False, "not run: fix the failures above first")
                return report
            try:
                ok, detail, facts = roundtrip(gateway, catalogue.CHEAPEST_TEXT_MODEL, timeout_s, poll_s, store)
            except GeminiError as exc:
                ok, detail, facts = False, f"{exc}", {"model": catalogue.CHEAPEST_TEXT_MODEL}
            report.add("roundtrip", ok, detail)
            report.roundtrip = facts
    return report


@click.command("doctor")
@root_option(tree="exists")
@click.option("--roundtrip", "do_roundtrip", is_flag=True,
              help="Also run one tiny real batch (one text line, cheapest text model) and show its cost.")
@click.option("--roundtrip-timeout", type=float, default=1800.0, show_default=True, metavar="SECONDS",
              help="Cancel the roundtrip job if it has not finished by then.")
@click.option("--poll-interval", type=float, default=10.0, show_default=True, help="Seconds between job checks.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
@backend_options
def doctor(root: Path, do_roundtrip: bool, roundtrip_timeout: float, poll_interval: float, as_json: bool,
           use_emulator: bool, base_url: str | None, api_version: str, emulator_job_seconds: float) -> int:
    """Check the key, the base URL and the models (and with --roundtrip, one real batch)."""
    report = diagnose(root, use_emulator, base_url, api_version, emulator_job_seconds, do_roundtrip,
                      roundtrip_timeout, poll_interval)
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "checks": [asdict(c) for c in report.checks],
                               "roundtrip": report.roundtrip}, indent=2, sort_keys=True))
    else:
        for c in report.checks:
            click.echo(c.line())
    return 0 if report.ok else 1


COMMANDS: list[click.Command] = [doctor]
