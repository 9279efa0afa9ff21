"""Creating a contact records exactly one contact.created carrying what was stored, with one primary email
and phone, duplicates folded."""

from __future__ import annotations

from cdp_common.contracts import REGISTRY
from cdp_common.contracts.contacts import ContactCreated, EmailOut, PhoneOut
from cdp_common.events import utcnow
from cdp_contacts.domain.model import Contact


def test_create_records_one_event_matching_the_record() -> None:
    now = utcnow()
    c = Contact.create(
        full_name="Nguyễn Thị Minh Khai",
        emails=[
            EmailOut(address="khai@example.vn"),
            EmailOut(address="KHAI@example.vn"),
            EmailOut(address="k@x.vn", primary=True),
        ],
        phones=[PhoneOut(number="+84912345678")],
        source="staff",
        now=now,
    )
    assert [e.address for e in c.emails] == ["khai@example.vn", "k@x.vn"]
    assert [e.primary for e in c.emails] == [False, True]
    assert c.phones[0].primary
    assert c.search_name == "nguyen thi minh khai"
    assert len(c.events) == 1
    event = c.events[0]
    assert (event.type, event.subject, event.time) == ("contact.created", c.id, now)
    payload = REGISTRY.parse(event)
    assert isinstance(payload, ContactCreated)
    assert payload.full_name == "Nguyễn Thị Minh Khai" and payload.emails == c.emails


def test_ids_are_unique_unless_given() -> None:
    a = Contact.create(full_name="A", emails=[], phones=[], source="staff", now=utcnow())
    b = Contact.create(full_name="A", emails=[], phones=[], source="staff", now=utcnow())
    c = Contact.create(full_name="A", emails=[], phones=[], source="staff", now=utcnow(), contact_id="fixed")
    assert a.id != b.id and c.id == "fixed"
