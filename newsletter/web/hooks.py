"""`POST /hooks/bounces`: bounce and complaint events pushed by a mail relay, signed.

One generic JSON shape, onto which a relay's own webhook maps in a few lines:

    {"id": "evt-1", "type": "hard_bounce" | "soft_bounce" | "complaint",
     "return_path": "bounces+1234-…@papers.example.com", "recipient": "reader@example.com",
     "detail": "550 5.1.1 user unknown"}

`return_path` (the envelope sender, a VERP address: SES's `mail.source`) or `recipient`
names the reader. The body is signed with HMAC-SHA256 under NEWSLETTER_WEBHOOK_SECRET, in
the header `X-Newsletter-Signature: sha256=<hex>`. A bad signature is 401 and changes
nothing; an event whose id was seen before changes nothing either. Events go through the
same code as the bounce mailbox (delivery/returns.py). Unset secret: the route is a 404.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from newsletter.db import session_scope
from newsletter.delivery import returns, verp
from newsletter.delivery.bounces import Report
from newsletter.models import MailEventKind
from newsletter.settings import Settings
from newsletter.text import one_line
from newsletter.web.state import State

router = APIRouter()
SIGNATURE = "X-Newsletter-Signature"


class BounceEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")  # relays add fields of their own

    id: str = Field(min_length=1, max_length=200)
    type: MailEventKind
    return_path: str | None = Field(None, max_length=320)
    recipient: str | None = Field(None, max_length=320)
    detail: str = Field("", max_length=2000)


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@router.post("/hooks/bounces", status_code=204, include_in_schema=False)
async def bounce_event(request: Request, web: State) -> Response:
    secret = web.settings.webhook_secret.get_secret_value()
    if not secret:
        raise HTTPException(404)
    body = await request.body()
    if not hmac.compare_digest(request.headers.get(SIGNATURE, ""), signature(body, secret)):
        raise HTTPException(401, f"missing or wrong {SIGNATURE}")
    try:
        event = BounceEvent.model_validate_json(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"])) or "body"
        raise HTTPException(422, f"{where}: {err['msg']}") from exc
    await run_in_threadpool(_record, event, web.settings)
    return Response(status_code=204)


def _record(event: BounceEvent, settings: Settings) -> None:
    report = Report(
        kind=event.type,
        key=hashlib.sha256(f"webhook:{event.id}".encode()).hexdigest(),
        delivery_id=verp.delivery_of(settings, event.return_path or ""),
        detail=one_line(event.detail, 300),
        recipient=event.recipient,
    )
    with session_scope(settings.database_url) as session:
        returns.handle(report, "webhook", settings, session=session, summary=returns.Summary())
