"""The embedded Gemini API emulator: the unmodified google-genai SDK works against it.

Nothing in this project can reach Google in tests, benchmarks or the demo, so this package
speaks the Gemini API's wire protocol on 127.0.0.1: resumable upload, files
get/list/delete/download, models get/list, generateContent, batches
create/get/list/cancel/delete, ``/v1`` and ``/v1beta``, google.rpc error bodies, Gemini 3
thought parts, Google's 48 h lifetimes on an adjustable clock, and faults on demand
(README.md in this folder documents every shape and each known difference from Google). It is a standalone
component: it imports nothing from chargen_es outside this package and never imports
google.genai. Use it in-process::

    from chargen_es.emulator import Emulator, EmulatorConfig
    with Emulator(EmulatorConfig(job_seconds=0)) as emu:
        client = genai.Client(api_key="test", http_options={"base_url": emu.base_url})

or as ``chargen-es emulator`` (prints the base URL as the first line of stdout).

Control endpoints (no key needed): ``GET /_emulator/stats`` (counters by operation, by
display name, by SHA-256 of uploaded bytes and of batch input files; ``calls``,
``calls_rejected``, ``downloads``, ``deletes``), ``GET /_emulator/faults`` and
``POST /_emulator/faults`` (replaces the fault set; same JSON as ``--faults FILE``),
``GET|POST /_emulator/clock`` (``{"advance_s": N}`` or ``{"set": T}``),
``POST /_emulator/release`` (end or deliver held jobs) and ``GET|POST /_emulator/models``
(the served and the shut-down model ids).

Fault format: a JSON list of rules, or ``{"faults": [rules]}``. Each rule is an object::

    {"op": "batches.create", "kind": "status", "status": 503, "count": 2}
    {"op": "files.download", "kind": "status", "status": 429, "rate": 0.3}

``op`` names an operation (``files.upload_start``, ``files.upload_chunk``, ``files.get``,
``files.list``, ``files.delete``, ``files.download``, ``batches.create``, ``batches.get``,
``batches.list``, ``batches.cancel``, ``batches.delete``, ``models.get``, ``models.list``,
``models.generateContent``) or
``*``. Selection: ``count`` N fires on the next N matching requests then stops; ``rate`` p
fires with probability p (seeded RNG, ``EmulatorConfig.seed``); with both, each of the N
firings is drawn with p; with neither, the rule fires every time. Rules are tried in order;
per request, every firing ``latency`` applies plus at most one other kind. Kinds:

- ``status``: reply ``status`` (default 503) with a google.rpc body (``message`` optional);
  a 429 carries QuotaFailure + RetryInfo (``retry_delay_s``, default 7). On
  ``files.upload_chunk`` the reply also has ``x-goog-upload-status: final`` so the SDK
  fails at once instead of re-sending for 7 s.
- ``drop``: close the connection without a reply (the SDK raises a transport error).
- ``latency``: sleep ``seconds`` before handling.
- ``drop_after_commit``: perform the operation (file stored, job created, ...), then close
  the connection before replying: the exactly-once window.
- ``daily_quota`` (op defaults to ``models.generateContent``): answer 429 with the per-day
  quota id ``GenerateRequestsPerDayPerProjectPerModel`` (retrying is pointless).
- ``line``: per-item failure in batch output lines and generateContent replies.
  ``line_kind``: ``error`` (a Status with ``code``, default 13; on generateContent the
  matching HTTP error), ``safety`` (no candidates, ``promptFeedback.blockReason``),
  ``image_safety`` (``finishReason: IMAGE_SAFETY``, no image), ``text_only`` (a text part
  instead of the image), ``no_image`` (``NO_IMAGE``), ``max_tokens`` (``MAX_TOKENS``),
  ``drafts_only`` (thought drafts and no final image; ``finish_reason``, default STOP).
  ``key_contains`` matches a substring of the batch line key, or of
  the prompt text for generateContent. ``op`` ``*`` (default) applies to both;
  ``batches.line`` to batch lines only; ``models.generateContent`` to live calls only.
- ``job``: a new batch job (matched by ``display_name_contains``, ``count`` or ``rate``)
  ends with ``job_state`` ``FAILED`` or ``EXPIRED``, is held ``PENDING`` (until released
  or 48 h old), or with ``SUCCEEDED`` and ``delay_s`` is delivered late.
- ``preset``: one of Google's real error bodies by name (``batch_concurrency``,
  ``enqueued_tokens``: create-time 429 with RetryInfo; ``prepay_depleted``, ``spend_cap``:
  billing 429 without details); see ``presets.py``.

The RPM quota (``rpm``, window ``quota_window_s``) answers 429 RESOURCE_EXHAUSTED with the
per-minute quota id ``GenerateRequestsPerMinutePerProjectPerModel`` and a RetryInfo
``retryDelay`` equal to the time until a slot frees up.
"""

from chargen_es.emulator.config import EmulatorConfig
from chargen_es.emulator.faults import FaultError
from chargen_es.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "FaultError"]
