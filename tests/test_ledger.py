"""The ledger on its own, on both databases: two sessions racing for the same deliveries,
a lease that runs out, and outcomes written (with the readers' bounce counts) only when
the batch commits."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import update
from sqlmodel import Session

from newsletter import db
from newsletter.delivery import issues, ledger
from newsletter.models import Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from newsletter.readers import store
from tests.helpers import count


def planned(session: Session, readers: int) -> list[int]:
    ids = [
        store.upsert(
            f"r{n}@example.com",
            ["agents"],
            keys=("test-secret-key",),
            confirmed=True,
            session=session,
        ).id
        for n in range(readers)
    ]
    issue = issues.for_date(dt.date(2026, 5, 12), 7, session=session, create=True)
    assert issue.id is not None
    pending = ledger.ensure_pending(issue.id, [i for i in ids if i], session=session)
    session.commit()
    return pending


def test_two_sessions_claiming_the_same_rows_only_one_wins(settings, session) -> None:
    ids = planned(session, 40)
    engine = db.get_engine(settings.database_url)
    start, won = threading.Barrier(2), {}

    def claim(name: str) -> None:
        with Session(engine, expire_on_commit=False) as mine:
            start.wait()
            won[name] = [d.id for d in ledger.claim(ids, session=mine)]
            mine.commit()

    threads = [threading.Thread(target=claim, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(won["a"] + won["b"]) == sorted(ids)  # every row to exactly one claimant
    assert not set(won["a"]) & set(won["b"])
    assert count(session, Delivery, Delivery.status == DeliveryStatus.SENDING) == len(ids)
    with Session(engine) as late:  # a third claim finds nothing left
        assert ledger.claim(ids, session=late) == []


def test_a_claim_whose_lease_ran_out_can_be_taken_again(settings, session) -> None:
    ids = planned(session, 3)
    lease = dt.timedelta(minutes=10)
    first = ledger.claim(ids, session=session, lease=lease)
    session.commit()
    assert len(first) == 3 and ledger.claim(ids, session=session, lease=lease) == []
    # The worker that claimed them died 11 minutes ago.
    gone = ledger.utcnow() - dt.timedelta(minutes=11)
    session.execute(
        update(Delivery).values(claimed_at=gone, updated_at=gone),
        execution_options={"synchronize_session": False},
    )
    session.commit()
    assert sorted(ledger.stale(["2026-W20"], session=session, lease=lease)) == sorted(ids)
    again = ledger.claim(ids, session=session, lease=lease)
    session.commit()
    assert [d.id for d in again] == sorted(ids) and all(d.attempts == 2 for d in again)


def test_outcomes_and_bounces_are_written_together_at_commit(settings, session) -> None:
    ids = planned(session, 2)
    batch = ledger.claim(ids, session=session)
    session.commit()
    outcomes = ledger.Outcomes(every=2)
    outcomes.failed(batch[0], "550 no such user", bounced=True)
    assert not outcomes.due
    outcomes.sent(batch[1], paper_ids=[], picks=[], message_id="<m@x>")
    assert outcomes.due
    ledger.write(outcomes, session=session)
    store.record_bounces(outcomes.bounced, 1, session=session)
    with Session(db.get_engine(settings.database_url)) as other:  # nothing visible before commit
        assert count(other, Delivery, Delivery.status == DeliveryStatus.SENDING) == 2
    session.commit()
    assert count(session, Delivery, Delivery.status == DeliveryStatus.SENT) == 1
    assert count(session, Subscriber, Subscriber.status == SubscriberStatus.SUPPRESSED) == 1
