"""The JSON API for scripts, and its contract at `/api/openapi.json`.

The schema says exactly what the server takes: every rule a request must meet is in it
(types, lengths, the day and zone lists, the topic pattern), and the server checks the
same rules, so a request the schema allows is accepted (202, or 429 over a rate limit)
and one it refuses is answered 422 with the documented error body. `schemathesis run`
holds the two to that in the test suite (tests/test_api_contract.py).

The web form is more forgiving ("europe/berlin", "Monday", topics one per line); the API
takes the canonical forms only, since a script can send them.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from fastapi import APIRouter, BackgroundTasks, FastAPI, HTTPException, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from newsletter.delivery.sendtime import DAYS
from newsletter.digest import profile
from newsletter.ingest import ARXIV_ID
from newsletter.readers import examples
from newsletter.readers.validate import (
    MAX_TOPIC_LEN,
    MAX_TOPICS,
    InvalidInput,
    clean_topics,
    timezones,
)
from newsletter.text import STOPWORDS
from newsletter.web.pages import Refused
from newsletter.web.state import DB, State
from newsletter.web.subscribe import CHECK_INBOX, MAX_ANSWERS, SubscribeIn, subscribe_reader

router = APIRouter(prefix="/api")
OPENAPI_PATH = "/api/openapi.json"


def _any_case(word: str) -> str:
    return "".join(f"[{ch}{ch.upper()}]" if ch.isalpha() else ch for ch in word)


def _topic_pattern() -> str:
    """Printable ASCII holding a letter and a word that is not a stopword ("the", "of"):
    a topic of stopwords alone would match every paper or none. ECMA-262 syntax, which
    Python's `re` reads the same way."""
    stop = "|".join(_any_case(w) for w in sorted(STOPWORDS, key=len, reverse=True))
    gap = r"[ -/:-@\[-`{-~]"  # printable ASCII that is not a letter or digit
    return (
        rf"^(?=[ -~]*[A-Za-z])(?:[ -~]*{gap})?(?!(?:{stop})(?![A-Za-z0-9]))"
        rf"[A-Za-z0-9]+(?:{gap}[ -~]*)?$"
    )


def _email_pattern() -> str:
    """Not at a special-use domain ("x.test", "x.local"): no mail is ever delivered there."""
    names = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
    return rf"^(?![\s\S]*[.@](?:{names})$)"


TOPIC_PATTERN = _topic_pattern()
_TOPIC = re.compile(TOPIC_PATTERN)
Topic = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TOPIC_LEN, json_schema_extra={"pattern": TOPIC_PATTERN}),
]


def searchable(topics: list[str]) -> list[str]:
    """The topics if each is one the schema allows; else ValueError saying which is not."""
    try:  # the shared rules first: their messages say what is wrong more precisely
        clean_topics(topics)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from exc
    for topic in topics:
        if not _TOPIC.match(topic):
            raise ValueError(
                f"topic {topic[:40]!r} must be printable ASCII with a word that is not "
                "a stopword (such as 'the' or 'of')"
            )
    return topics


class ExampleAnswer(BaseModel):
    """A paper of a topic's preview (`GET /api/preview`), answered by the reader."""

    model_config = ConfigDict(strict=True, extra="forbid")

    topic: Topic = Field(description="The topic whose preview showed the paper.")
    arxiv_id: str = Field(max_length=32, json_schema_extra={"pattern": ARXIV_ID.pattern},
                          description="The paper, as the preview names it.")  # fmt: skip
    like: bool = Field(description='true for "Yes, like this", false for "Not this".')

    @field_validator("topic")
    @classmethod
    def _searchable(cls, topic: str) -> str:
        return searchable([topic])[0]


class Subscription(BaseModel):
    """A subscription request; the reader confirms it from the mail it sends."""

    model_config = ConfigDict(strict=True, extra="forbid")

    email: str = Field(
        max_length=254,
        json_schema_extra={"format": "email", "pattern": _email_pattern()},
        description="The reader's address (ASCII; an IDN domain as punycode).",
    )
    topics: list[Topic] = Field(
        min_length=1,
        max_length=MAX_TOPICS,
        description="Topics in plain words, such as 'retrieval augmented generation'.",
    )
    send_day: Literal[DAYS] = "mon"  # type: ignore[valid-type]
    send_hour: int = Field(8, ge=0, le=23, description="Hour of the day, in `timezone`.")
    timezone: str = Field(
        "UTC",
        json_schema_extra={"enum": list[JsonValue](sorted(timezones().values()))},
        description="An IANA zone name, such as Europe/Berlin, or UTC.",
    )
    examples: list[ExampleAnswer] = Field(
        default_factory=list,
        max_length=MAX_ANSWERS,
        description="Papers of the topics' previews the reader answered: with 3 liked, a "
        "topic ranks by what they marked.",
    )

    @field_validator("send_hour", mode="before")
    @classmethod
    def _whole(cls, hour: object) -> object:
        """JSON Schema counts 15.0 as an integer, so the API does too."""
        return int(hour) if isinstance(hour, float) and hour.is_integer() else hour

    @field_validator("topics")
    @classmethod
    def _searchable(cls, topics: list[str]) -> list[str]:
        return searchable(topics)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        if name not in timezones().values():
            raise ValueError("unknown timezone: an IANA name such as Europe/Berlin, or UTC")
        return name


class Accepted(BaseModel):
    status: Literal["check your inbox"]
    detail: str


class Problem(BaseModel):
    """Every refusal's body: what is wrong, in one line, and the field it is about."""

    detail: str
    field: str | None = None


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body cannot be read (not UTF-8 JSON)."},
    422: {"model": Problem, "description": "The request breaks a rule of this schema."},
    429: {"model": Problem, "description": "Too many requests from this client or for "
                                           "this address; try again later."},
}  # fmt: skip


UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "An answered paper is not known here."}
}


@router.post("/subscribe", status_code=202, response_model=Accepted,
             responses=REFUSALS | UNKNOWN)  # fmt: skip
def subscribe(
    data: Subscription, request: Request, session: DB, web: State, background: BackgroundTasks
) -> JSONResponse:
    """Ask for a subscription. The answer is the same whether the address is new, pending,
    subscribed or suppressed; the confirmation mail goes out after it."""
    form = SubscribeIn.model_validate(data.model_dump())
    try:
        subscribe_reader(form, request, session, web, background)
    except InvalidInput as exc:  # rules the schema states, checked here a second time
        body = {"detail": str(exc), "field": exc.field}
        status = 404 if isinstance(exc, examples.NotStored) else 422  # no schema can say it
        raise Refused(JSONResponse(body, status_code=status)) from exc  # rolls back
    return JSONResponse({"status": "check your inbox", "detail": CHECK_INBOX}, status_code=202)


class PaperPreview(BaseModel):
    arxiv_id: str
    title: str
    url: str
    why: str = Field(description="Why the topic picked it, quoting the paper's own words.")


class TopicPreview(BaseModel):
    """What one topic would have brought in the latest week with papers."""

    topic: str
    week: str = Field(description="The ISO week of the papers shown, such as 2026-W06.")
    dates: str = Field(description="Their days, as a reader reads them.")
    earlier: bool = Field(description="True when the current week has no papers yet.")
    matched: int = Field(description="How many of that week's papers the topic matched.")
    did_you_mean: str | None = Field(description="A likely fix when it matched none.")
    papers: list[PaperPreview] = Field(description="The best of them, best first (up to 8).")


@router.get("/preview", response_model=TopicPreview, responses=REFUSALS)
def preview(
    topic: Annotated[
        str,
        Query(min_length=1, max_length=MAX_TOPIC_LEN, json_schema_extra={"pattern": TOPIC_PATTERN},
              description="One topic as a reader would type it."),
    ],
    request: Request,
    session: DB,
    web: State,
    weeks: Annotated[int, Query(ge=1, le=profile.MAX_PREVIEW_WEEKS,
                                description="How many of the latest weeks to look in.")
                     ] = profile.PREVIEW_WEEKS,
) -> JSONResponse:  # fmt: skip
    """What a topic would find in the latest weeks: the subscribe and manage pages show it
    beside each topic as it is typed, so a typo or a wording that finds nothing is seen
    before subscribing, and the papers it finds can be answered as examples."""
    ip = request.client.host if request.client else "unknown"
    if not web.limiter.allow(f"preview:{ip}", web.settings.preview_limit_per_ip):
        raise HTTPException(429, "Too many previews from your address; try again later.")
    try:
        searchable([topic])
    except ValueError as exc:
        raise Refused(JSONResponse({"detail": str(exc), "field": "topic"}, 422)) from exc
    found = profile.topic_preview(topic, web.settings, session=session, cache=web.issues,
                                  weeks=weeks)  # fmt: skip
    return JSONResponse(found)


@lru_cache(maxsize=1)
def _document(title: str) -> str:
    """Generated once, from this module's routes only (the HTML pages are not an API)."""
    schema = get_openapi(title=title, version="1", routes=router.routes)
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's, never answered
        schema["components"]["schemas"].pop(name, None)
    return json.dumps(schema, separators=(",", ":"))


def install(app: FastAPI) -> None:
    app.include_router(router)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi() -> Response:
        return Response(_document(app.title), media_type="application/json")
