"""The Batch API: create, get, list, cancel, delete, and the job clock.

A job's life is ``job_seconds`` long (or a ``job`` fault's ``delay_s``): pending for the
first half, running for the second, then final. Its results are computed by a background
worker right after create (so a large job does not stall the first poll after it is due)
but revealed only once due; with ``job_seconds=0`` the first get after create waits for
them. Output lines are shuffled with a seeded RNG because Google does not keep input
order, and clients must join on ``key``. Job faults (FAILED, EXPIRED, held PENDING, late
SUCCEEDED) and line faults are drawn at create time and stored with the job, so they are
deterministic and survive a restart.

Lifetimes follow Google's, on the emulator's clock: a job still PENDING or RUNNING
``job_ttl_s`` (48 h) after create ends EXPIRED; a results file is created when its job
ended and expires ``file_ttl_s`` later, so a client polling days later finds the job
SUCCEEDED and its results file gone (404). The model must be served and support
``batchGenerateContent``; otherwise create answers Google's 404 before reading the input.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chargen_es.emulator import content
from chargen_es.emulator.catalog import ModelSet, ModelSpec
from chargen_es.emulator.clock import Clock
from chargen_es.emulator.config import EmulatorConfig
from chargen_es.emulator.faults import Faults
from chargen_es.emulator.files import FilesApi
from chargen_es.emulator.state import BatchRec, Store, paginate, sha256_hex
from chargen_es.emulator.wire import ApiError, canonical, decode, encode, field, new_id, rfc3339

_META_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
_OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"


class BatchesApi:
    """Batch operations over the shared :class:`Store`."""

    def __init__(self, store: Store, config: EmulatorConfig, files: FilesApi, faults: Faults, clock: Clock,
                 catalog: Callable[[], ModelSet]) -> None:
        self.store = store
        self.config = config
        self.files = files
        self.faults = faults
        self.clock = clock
        self.catalog = catalog
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-batch")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    # -- create ---------------------------------------------------------------------------

    def _entries(self, input_config: Any) -> tuple[list[dict[str, Any]], bool, str, dict[str, Any]]:
        file_name = field(input_config, "fileName")
        if file_name:
            fid = content.file_id_of(str(file_name)) or str(file_name)
            rec = self.files.require(fid)
            entries = []
            for lineno, raw in enumerate(rec.data.splitlines(), 1):
                if not raw.strip():
                    continue
                try:
                    line = decode(raw)
                except Exception as exc:
                    raise ApiError(400, f"files/{fid} line {lineno}: not JSON ({exc}).") from exc
                if not isinstance(line, dict):
                    raise ApiError(400, f"files/{fid} line {lineno}: not a JSON object.")
                key = field(line, "key")
                entries.append({"key": str(key) if key is not None else str(lineno - 1),
                                "request": field(line, "request")})
            return entries, False, rec.sha256, {"fileName": f"files/{fid}"}
        requests = field(input_config, "requests")
        items = field(requests, "requests") if isinstance(requests, dict) else requests
        if not isinstance(items, list):
            raise ApiError(400, "batch.inputConfig needs fileName or requests.")
        entries = []
        for i, item in enumerate(items):
            metadata = field(item, "metadata")
            key = field(metadata, "key") if isinstance(metadata, dict) else None
            entry = {"key": str(key) if key is not None else str(i), "request": field(item, "request")}
            if metadata is not None:
                entry["metadata"] = metadata
            entries.append(entry)
        return entries, True, sha256_hex(canonical(items)), {}

    def create(self, model: str, body: Any, version: str = "v1beta") -> BatchRec:
        spec = self.catalog().require(model, "batchGenerateContent", version)
        batch = field(body, "batch") or {}
        entries, inline, sha, input_config = self._entries(field(batch, "inputConfig") or {})
        if not entries:
            raise ApiError(400, "The batch has no requests.")
        display = str(field(batch, "displayName") or "")
        for entry in entries:
            self.store.note_store(entry.get("request"), self.config.stores_by_default)
        for entry in entries:  # drawn now, in input order: deterministic, and persisted with the job
            fault = content.LineFault.draw(self.faults, entry["key"], live=False)
            if fault is not None:
                entry["fault"] = fault.to_json()
        now = self.clock.now()
        job_rule = self.faults.take_job(display)
        seconds = self.config.job_seconds
        if job_rule is not None and job_rule.delay_s is not None:
            seconds = job_rule.delay_s
        job_fault = job_rule.job_state if job_rule and job_rule.job_state != "SUCCEEDED" else None
        rec = BatchRec(id=new_id(), seq=self.store.next_seq(), model=f"models/{spec.id}",
                       display_name=display, create_ts=now, due_ts=now + seconds,
                       input_config=input_config, entries=entries, inline=inline, input_sha256=sha,
                       job_fault=job_fault, spec=dataclasses.asdict(spec))
        with self.store.lock:
            self.store.batch_inputs_by_sha256[sha] += 1
            self.store.batch_keys.update(entry["key"] for entry in entries)
            for entry in entries:
                self.store.safety_settings.update(content.safety_of(entry.get("request") or {}))
        self.store.count_name(display, "jobs_created")
        self.store.put_batch(rec, with_input=True)
        if rec.job_fault is None:
            rec.future = self.pool.submit(self._compute, rec)
        return rec

    # -- the job clock and results --------------------------------------------------------

    def _compute(self, rec: BatchRec) -> tuple[list[dict[str, Any]], int, int]:
        results: list[dict[str, Any]] = []
        ok = bad = 0
        spec = _spec_of(rec)
        for entry in rec.entries:
            out = content.generate(rec.model, entry["request"],
                                   fault=content.LineFault.from_json(entry.get("fault")),
                                   live_file_sha=self._live_file_sha, image_bytes=self.config.image_bytes,
                                   signature_bytes=self.config.signature_bytes,
                                   spec=spec, file_bytes=self._live_file_bytes)
            line: dict[str, Any] = {} if rec.inline else {"key": entry["key"]}
            if out.error is not None:
                line["error"] = out.error
                bad += 1
            else:
                line["response"] = out.response
                ok += 1
            if rec.inline and "metadata" in entry:
                line["metadata"] = entry["metadata"]
            results.append(line)
        if not rec.inline and self.config.shuffle:
            random.Random(f"{self.config.seed}:{rec.id}").shuffle(results)
        return results, ok, bad

    def _live_file_sha(self, fid: str) -> str | None:
        rec = self.store.live_file(fid)
        return rec.sha256 if rec is not None else None

    def _live_file_bytes(self, fid: str) -> bytes | None:
        rec = self.store.live_file(fid)
        return rec.data if rec is not None else None

    def _settle(self, rec: BatchRec) -> None:
        """Make a due job final: its outputs, its FAILED/EXPIRED ending, or EXPIRED by age."""
        if rec.final_state is not None:
            return
        now = self.clock.now()
        expire_at = rec.create_ts + self.config.job_ttl_s
        held = rec.job_fault == "PENDING"
        if now >= expire_at and (held or rec.due_ts > expire_at):
            with rec.finish_lock:
                if rec.final_state is None:
                    self._end(rec, "EXPIRED", expire_at)
            return
        if held or now < rec.due_ts:
            return
        with rec.finish_lock:
            if rec.final_state is not None:
                return
            if rec.job_fault in ("FAILED", "EXPIRED"):
                rec.final_state = rec.job_fault
                rec.failed = len(rec.entries) if rec.job_fault == "FAILED" else 0
            else:
                future = rec.future
                results, ok, bad = future.result() if future is not None else self._compute(rec)
                rec.succeeded, rec.failed = ok, bad
                if rec.inline:
                    rec.inline_responses = results
                else:
                    data = b"".join(encode(line) + b"\n" for line in results)
                    out = self.files.commit(f"batch-{rec.id}", data, "application/jsonl",
                                            f"batch-{rec.id}-output", source="GENERATED",
                                            created=rec.due_ts)  # it expires counting from then
                    rec.output_file = f"files/{out.id}"
                rec.final_state = "SUCCEEDED"
            rec.future = None
            rec.end_ts = rec.due_ts  # the job ended when due, however late it is looked at
            self.store.put_batch(rec)

    def _end(self, rec: BatchRec, state: str, when: float) -> None:
        """A final state without results (caller holds ``finish_lock``)."""
        rec.final_state = state
        rec.end_ts = when
        if rec.future is not None:
            rec.future.cancel()
            rec.future = None
        self.store.put_batch(rec)

    def release(self, body: Any) -> list[str]:
        """``POST /_emulator/release``: end or deliver jobs that are not final yet.

        ``{"name": "batches/x"}`` or ``{"display_name_contains": "..."}`` (neither: every
        unfinished job), ``"state"``: ``SUCCEEDED`` (default; results after ``delay_s``
        more seconds, default 0), ``EXPIRED`` or ``FAILED`` (now). Held PENDING jobs are what
        this is for; a running job can be ended early the same way.
        """
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        state = str(body.get("state", "SUCCEEDED")).upper().removeprefix("JOB_STATE_").removeprefix("BATCH_STATE_")
        if state not in ("SUCCEEDED", "EXPIRED", "FAILED"):
            raise ValueError(f"state must be SUCCEEDED, EXPIRED or FAILED, got {state!r}")
        delay = float(body.get("delay_s", 0.0))
        name = body.get("name")
        contains = body.get("display_name_contains")
        with self.store.lock:
            records = sorted(self.store.batches.values(), key=lambda r: r.seq)
        released: list[str] = []
        for rec in records:
            self._settle(rec)
            if name is not None and f"batches/{rec.id}" != str(name) and rec.id != str(name):
                continue
            if contains is not None and str(contains) not in rec.display_name:
                continue
            with rec.finish_lock:
                if rec.final_state is not None:
                    continue
                now = self.clock.now()
                rec.due_ts = now + delay
                if state == "SUCCEEDED":
                    rec.job_fault = None
                    if rec.future is None:
                        rec.future = self.pool.submit(self._compute, rec)
                else:
                    rec.job_fault = state
                self.store.put_batch(rec)
            released.append(f"batches/{rec.id}")
        for rec in records:
            self._settle(rec)
        return released

    def state_of(self, rec: BatchRec) -> str:
        if rec.final_state is not None:
            return rec.final_state
        if rec.job_fault == "PENDING":
            return "PENDING"
        half = rec.create_ts + (rec.due_ts - rec.create_ts) / 2
        return "PENDING" if self.clock.now() < half or rec.due_ts <= rec.create_ts else "RUNNING"

    def operation(self, rec: BatchRec) -> dict[str, Any]:
        """The Operation envelope of protocol §5, exactly."""
        state = self.state_of(rec)
        n = len(rec.entries)
        if state in ("PENDING", "RUNNING") or state == "CANCELLED":
            stats = {"requestCount": str(n), "pendingRequestCount": str(n)}
        else:
            stats = {"requestCount": str(n)}
            if rec.succeeded:
                stats["successfulRequestCount"] = str(rec.succeeded)
            if rec.failed:
                stats["failedRequestCount"] = str(rec.failed)
        updated = rec.end_ts or (rec.create_ts if state == "PENDING" else rec.create_ts +
                                 (rec.due_ts - rec.create_ts) / 2)
        meta: dict[str, Any] = {"@type": _META_TYPE, "name": f"batches/{rec.id}", "model": rec.model,
                                "displayName": rec.display_name, "inputConfig": rec.input_config,
                                "createTime": rfc3339(rec.create_ts), "updateTime": rfc3339(updated),
                                "batchStats": stats, "state": f"BATCH_STATE_{state}"}
        op: dict[str, Any] = {"name": f"batches/{rec.id}", "metadata": meta}
        if rec.final_state is None:
            return op
        meta["endTime"] = rfc3339(rec.end_ts or rec.create_ts)
        op["done"] = True
        if state == "SUCCEEDED":
            output: dict[str, Any] = (
                {"inlinedResponses": {"inlinedResponses": rec.inline_responses or []}} if rec.inline
                else {"responsesFile": rec.output_file})
            meta["output"] = output
            op["response"] = {"@type": _OUTPUT_TYPE, **output}
        elif state == "CANCELLED":
            op["error"] = {"code": 1, "message": "The batch was cancelled."}
        elif state == "FAILED":
            op["error"] = {"code": 13, "message": "The batch failed (injected fault)."}
        elif state == "EXPIRED":
            op["error"] = {"code": 4, "message": "The batch expired before it finished."}
        return op

    # -- get, list, cancel, delete ------------------------------------------------------

    def require(self, bid: str) -> BatchRec:
        with self.store.lock:
            rec = self.store.batches.get(bid)
        if rec is None:
            raise ApiError(404, f"Batch batches/{bid} not found.")
        return rec

    def get(self, bid: str) -> dict[str, Any]:
        rec = self.require(bid)
        self._settle(rec)
        return self.operation(rec)

    def list(self, query: dict[str, str]) -> dict[str, Any]:
        with self.store.lock:
            records = list(self.store.batches.values())
        page, token = paginate(records, query.get("pageSize", query.get("page_size")),
                               query.get("pageToken", query.get("page_token")))
        for rec in page:
            self._settle(rec)
        out: dict[str, Any] = {}
        if page:
            out["operations"] = [self.operation(r) for r in page]
        if token:
            out["nextPageToken"] = token
        return out

    def cancel(self, bid: str) -> dict[str, Any]:
        rec = self.require(bid)
        self._settle(rec)
        with rec.finish_lock:
            if rec.final_state is None:
                self._end(rec, "CANCELLED", self.clock.now())
        return {}

    def delete(self, bid: str) -> dict[str, Any]:
        rec = self.require(bid)
        if rec.future is not None:
            rec.future.cancel()
        self.store.drop_batch(bid)
        with self.store.lock:
            self.store.totals["deletes"] += 1
        return {}


def _spec_of(rec: BatchRec) -> ModelSpec | None:
    """The model's spec stored with the job (None for jobs persisted before specs were)."""
    if not rec.spec:
        return None
    raw = dict(rec.spec)
    raw["methods"] = tuple(raw.get("methods", ()))
    return ModelSpec(**raw)
