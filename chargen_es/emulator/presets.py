"""Error bodies Google really sends, as named presets for ``{"kind": "preset"}`` fault rules.

Two families a client must tell apart (the gateway classifies them by this shape):

- **Quota 429s on batch create** (too many concurrent batch jobs, too many enqueued
  tokens): ``RESOURCE_EXHAUSTED`` with ``QuotaFailure`` + ``Help`` + ``RetryInfo``. They
  free up as other jobs finish, so waiting (long) is right. The message is Google's generic
  quota text, which itself mentions "plan and billing details": a classifier must not go
  by the words "billing" alone. The text was read in a live batches 429 quoted in
  langchain4j/langchain4j#3942 (2026-01-12); the quota ids below are the emulator's own
  (Google's ids for batch limits were not found in any public report, read 2026-12-02).
- **Billing 429s** (prepaid credit used up, spend cap reached): ``RESOURCE_EXHAUSTED`` with
  no ``details`` at all, so no RetryInfo; retrying does not help until a human acts.
  "Your prepayment credits are depleted ..." is quoted verbatim from live replies in
  https://discuss.ai.google.dev/t/169215 and /170775 (June 2026, read 2026-12-02); the
  monthly spending cap text from https://help.apiyi.com/en/ai-studio-monthly-spending-cap-429-solution-en.html
  (a third-party page quoting the reply, read 2026-12-02).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chargen_es.emulator.wire import duration

QUOTA_MESSAGE = ("You exceeded your current quota, please check your plan and billing details. For more "
                 "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
                 "To monitor your current usage, head to: https://ai.dev/rate-limit. ")
PREPAY_MESSAGE = ("Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects "
                  "to manage your project and billing. Learn more at "
                  "https://ai.google.dev/gemini-api/docs/billing#prepay. ")
SPEND_CAP_MESSAGE = ("Your billing account has exceeded its monthly spending cap. Please go to AI Studio at "
                     "https://aistudio.google.com to manage your billing. Learn more at "
                     "https://ai.google.dev/gemini-api/docs/billing.")


@dataclass(frozen=True)
class Preset:
    """One canned error reply: HTTP status, message, and whether it carries quota details."""

    status: int
    message: str
    default_op: str
    quota_metric: str | None = None
    quota_id: str | None = None

    def details(self, model: str, retry_s: float) -> list[dict[str, Any]]:
        if self.quota_id is None:
            return []
        return [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"quotaMetric": self.quota_metric, "quotaId": self.quota_id,
                             "quotaDimensions": {"location": "global", "model": model}}]},
            {"@type": "type.googleapis.com/google.rpc.Help",
             "links": [{"description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": duration(retry_s)},
        ]


PRESETS: dict[str, Preset] = {
    "batch_concurrency": Preset(429, QUOTA_MESSAGE, "batches.create",
                                "generativelanguage.googleapis.com/batch_concurrent_jobs",
                                "BatchConcurrentJobsPerProject"),
    "enqueued_tokens": Preset(429, QUOTA_MESSAGE, "batches.create",
                              "generativelanguage.googleapis.com/batch_enqueued_tokens",
                              "BatchEnqueuedTokensPerProjectPerModel"),
    "prepay_depleted": Preset(429, PREPAY_MESSAGE, "*"),
    "spend_cap": Preset(429, SPEND_CAP_MESSAGE, "*"),
}
