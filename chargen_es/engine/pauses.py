"""Pauses both runners make the same way: ``run.paused`` with a reason and a message that
says what to do, nothing lost.

Account-level refusals (prepaid credit used up, a spend cap, a billing account problem,
an exhausted per-day quota), which no retry frees, and stopOnError's first permanent
failure.
"""

from __future__ import annotations

from typing import Literal

from chargen_es import events as ev
from chargen_es.errors import BillingError, DailyQuotaExhausted

# a run.paused reason and a call.failed kind alike (events.PauseReason, events.CallFailureKind)
AccountStop = Literal["billing", "daily_quota"]


def pause_message(exc: BillingError | DailyQuotaExhausted) -> tuple[AccountStop, str]:
    """(reason, message) of the pause an account-level refusal causes."""
    if isinstance(exc, BillingError):
        return "billing", (f"billing: Google refused the call for a billing reason ({exc}): prepaid credit "
                           "used up, a spend cap reached or a billing account problem; fix it in AI Studio or "
                           "Cloud billing, then resume; nothing was lost")
    return "daily_quota", f"per-day quota exhausted ({exc}); resume when it resets"


def stop_on_error_message(failure: ev.ItemFailed) -> str:
    """The message of the pause stopOnError makes at its first permanent failure."""
    return (f"stopOnError: {failure.key} failed permanently ({failure.code}: {failure.message}); "
            "fix or drop it, then `resume` continues the rest")
