"""Account-level refusals: no retry frees them, so the run pauses, resumably.

A billing refusal (prepaid credit used up, a spend cap, a billing account problem) and
an exhausted per-day quota stop both runners the same way: ``run.paused`` with a reason
and a message that says what to do, nothing lost.
"""

from __future__ import annotations

from typing import Literal

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
