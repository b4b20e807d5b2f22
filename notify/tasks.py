"""Thin Celery tasks over notify.sending and notify.digests. Each takes ids and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from notify import digests, sending
from notify.services import SEND_BATCH_SIZE

# A batch is up to SEND_BATCH_SIZE mails, each bounded by EMAIL_TIMEOUT; the claim's lease
# (sending.claim_lease) outlasts the hard limit, so a killed task's rows wait for the sweep, not a race.
MAIL_LIMITS = {"soft_time_limit": 300, "time_limit": 360}


# Late ack: sending is idempotent per row (claimed, skipped once sent), so a lost worker's batch is redone.
# The number of tries is the row's own (MAIL_MAX_ATTEMPTS), not Celery's, hence max_retries=None.
@shared_task(bind=True, acks_late=True, max_retries=None, **MAIL_LIMITS)
def send_mail_task(self, sent_mail_ids: list[int]) -> dict:
    result = sending.mails_send(sent_mail_ids=list(sent_mail_ids))
    if result.retry:
        raise self.retry(args=[result.retry], countdown=result.countdown)
    return {"sent": len(result.sent), "failed": len(result.failed)}


@shared_task(acks_late=True)
def mails_sweep_task() -> int:
    """Queued mails whose task was lost (a worker died) are queued again; sending them twice sends once."""
    ids = sending.mails_stale()
    for start in range(0, len(ids), SEND_BATCH_SIZE):
        send_mail_task.delay(ids[start:start + SEND_BATCH_SIZE])
    return len(ids)


@shared_task(acks_late=True)
def attention_digest_task() -> int:
    """One mail to staff listing the orders that need a person and no earlier digest listed."""
    return digests.attention_digest()
