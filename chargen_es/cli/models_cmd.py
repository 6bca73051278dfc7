"""``chargen-es models``: the models this key can use, next to what the catalogue knows.

Why: model ids change every few months and a key may not see every model (preview
access, region, a shut-down model answering 404). One ``models.list`` shows what the key
can use, whether each model takes batch jobs (``batchGenerateContent`` among its
supported methods), and the catalogue's status, shutdown date, replacement and prices.
Catalogue models the key cannot see are listed as such, so a user learns before a run
that the model in ``chargen.yaml`` is not available to them. ``--json`` gives the same as
one document. Reads only; the backend flags are those of ``run`` (``--emulator``,
``--base-url``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import msgspec

from chargen_es import catalogue
from chargen_es.cli.common import root_option
from chargen_es.cli.execute import ExecSettings, backend_options, open_gateway

if TYPE_CHECKING:
    from chargen_es.gateway import RemoteModel

BATCH_METHOD = "batchGenerateContent"
LIVE_METHOD = "generateContent"
_JSON = msgspec.json.Encoder()


def _prices(info: catalogue.ModelInfo) -> dict[str, Any] | None:
    if not info.priced:
        return None
    live = {"input": info.input_usd, "output": info.output_usd, "image_output": info.image_output_usd}
    out: dict[str, Any] = {"live": live,
                           "batch": {k: round(v * catalogue.BATCH_DISCOUNT, 6) for k, v in live.items()}}
    if info.image_output_usd and any(info.image_sizes.values()):
        # one generated image at each size (its output tokens at the image price), live and batch
        per_image = {size: round(tokens * info.image_output_usd / 1e6, 6)
                     for size, tokens in info.image_sizes.items() if tokens}
        out["per_image"] = {"live": per_image,
                            "batch": {k: round(v * catalogue.BATCH_DISCOUNT, 6) for k, v in per_image.items()}}
    return out


def _catalogue_data(info: catalogue.ModelInfo | None, today: date) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"purpose": info.purpose, "status": info.status, "usable": info.usable_on(today),
            "shutdown": info.shutdown.isoformat() if info.shutdown else None,
            "replacement": info.replacement, "answered_by": info.routed_on(today), "prices": _prices(info),
            "sizes": dict(info.image_sizes), "aspect_ratios": list(info.aspect_ratios),
            "max_reference_images": info.max_reference_images, "sources": dict(info.sources), "note": info.note}


def models_document(remote: list[RemoteModel], today: date) -> dict[str, Any]:
    """Visible models first (as the key lists them, sorted), then catalogue models it cannot see.

    ``usable`` is the catalogue's verdict on ``today`` (false once the shutdown date has come,
    even while the service still lists the model).
    """
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for m in sorted(remote, key=lambda r: r.model_id):
        seen.add(m.model_id)
        rows.append({"id": m.model_id, "visible": True, "batch": m.supports(BATCH_METHOD),
                     "live": m.supports(LIVE_METHOD), "methods": list(m.supported_methods),
                     "display_name": m.display_name, "catalogue": _catalogue_data(catalogue.lookup(m.model_id), today)})
    hidden = [info for mid, info in sorted(catalogue.MODELS.items()) if mid not in seen]
    for info in hidden:
        rows.append({"id": info.id, "visible": False, "batch": None, "live": None, "methods": [],
                     "display_name": "", "catalogue": _catalogue_data(info, today)})
    return {"visible": len(seen), "not_visible": len(hidden), "models": rows,
            "catalogue_read": catalogue.READ_ON.isoformat(), "catalogue": catalogue_state(remote, today)}


def catalogue_state(remote: list[RemoteModel], today: date) -> dict[str, Any]:
    """The catalogue's age, the override file in use, and every disagreement with the live list."""
    listed = {m.model_id: (m.supported_methods, m.extra) for m in remote}
    return {"read_on": catalogue.READ_ON.isoformat(), "age_days": catalogue.age_days(today),
            "override": catalogue.OVERRIDE, "override_problem": catalogue.PROBLEM,
            "disagreements": [msgspec.to_builtins(d) for d in catalogue.compare(listed, today)]}


def age_line(state: dict[str, Any]) -> str:
    """``catalogue read 2026-12-07 (3 days ago)``, and the override file when one is laid over it."""
    days = state["age_days"]
    text = f"catalogue read {state['read_on']} ({days} day{'s' if days != 1 else ''} ago)"
    if state["override"]:
        text += f", with {state['override']} laid over it"
    if state["override_problem"]:
        text += f"; the override is NOT used: {state['override_problem']}"
    return text


def _usd(value: float) -> str:
    return f"{value:g}"


def _row_text(row: dict[str, Any]) -> str:
    cat = row["catalogue"]
    batch = ("batch" if row["batch"] else "no batch") if row["visible"] else "not visible to this key"
    if cat is None:
        fate = "not in the catalogue"
        price = ""
    else:
        fate = cat["status"].replace("_", " ") if cat["usable"] else "shut down"
        if cat["answered_by"]:
            fate += f", answered by {cat['answered_by']}"
        if cat["shutdown"]:
            fate += f", shutdown {cat['shutdown']}"
        if cat["replacement"]:
            fate += f", use {cat['replacement']}"
        p = cat["prices"]
        if p is None:
            price = "; price unknown"
        else:
            live = p["live"]
            price = f"; ${_usd(live['input'])} in / ${_usd(live['output'])} out"
            if live["image_output"]:
                price += f" / ${_usd(live['image_output'])} image"
            price += " per 1M live (batch 50 %)"
            if p.get("per_image"):
                price += "; per image " + ", ".join(f"{k} ${_usd(v)}" for k, v in p["per_image"]["live"].items())
    return f"  {row['id']}  [{batch}]  {fate}{price}"


def render_models(doc: dict[str, Any]) -> list[str]:
    lines = [f"Models this key can use: {doc['visible']}"]
    lines += [_row_text(r) for r in doc["models"] if r["visible"]]
    lines.append(f"Catalogue models this key cannot see: {doc['not_visible']}")
    lines += [_row_text(r) for r in doc["models"] if not r["visible"]]
    state = doc["catalogue"]
    lines.append(f"({age_line(state)}; prices USD)")
    drift = state["disagreements"]
    lines.append(f"Disagreements between the catalogue and this key's models: {len(drift)}")
    lines += [f"  {d['text']}" for d in drift]
    return lines


@click.command("models")
@root_option(tree="exists")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@backend_options
def models(root: Path, as_json: bool, **kwargs: Any) -> int:
    """List the models this key can use, with batch support, catalogue status and prices."""
    # ``models`` runs nothing: the execution settings open_gateway carries stay at run's defaults.
    settings = ExecSettings(use_emulator=kwargs["use_emulator"], base_url=kwargs["base_url"],
                            api_version=kwargs["api_version"], emulator_job_seconds=kwargs["emulator_job_seconds"],
                            workers=5, poll_interval=30.0, upload_concurrency=5, no_cleanup=False, detach=False,
                            reuse_margin_hours=25.0)
    with open_gateway(settings, root) as gateway:
        remote = gateway.list_models()
    doc = models_document(remote, date.today())
    if as_json:
        click.echo(_JSON.encode(doc).decode("utf-8"))
    else:
        for line in render_models(doc):
            click.echo(line)
    return 0


COMMANDS: list[click.Command] = [models]
