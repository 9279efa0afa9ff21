"""The envelope is CloudEvents 1.0 and refuses what would break ordering or dedup downstream."""

from __future__ import annotations

from datetime import datetime

import pytest
from cdp_common.contracts import REGISTRY
from cdp_common.events import EventEnvelope, UnknownEventType, utcnow
from pydantic import ValidationError


def envelope(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "specversion": "1.0",
        "id": "e1",
        "source": "cdp/contacts",
        "type": "contact.created",
        "subject": "c1",
        "time": "2026-11-22T10:00:00+07:00",
        "datacontenttype": "application/json",
        "schemaversion": 1,
        "data": {},
    }
    base.update(over)
    return base


class TestEnvelope:
    def test_time_is_normalised_to_utc(self) -> None:
        e = EventEnvelope.model_validate(envelope())
        assert e.time == datetime.fromisoformat("2026-11-22T03:00:00+00:00")
        assert e.time.utcoffset() is not None and e.time.utcoffset().total_seconds() == 0  # type: ignore[union-attr]

    def test_naive_time_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="timezone"):
            EventEnvelope.model_validate(envelope(time="2026-11-22T10:00:00"))

    @pytest.mark.parametrize("field", ["id", "source", "type", "subject"])
    def test_required_attributes(self, field: str) -> None:
        data = envelope()
        del data[field]
        with pytest.raises(ValidationError):
            EventEnvelope.model_validate(data)

    def test_unknown_attributes_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            EventEnvelope.model_validate(envelope(surprise=1))

    def test_key_is_the_subject(self) -> None:
        assert EventEnvelope.model_validate(envelope(subject="contact-42")).key() == b"contact-42"

    def test_utcnow_has_millisecond_precision(self) -> None:
        assert utcnow().microsecond % 1000 == 0


class TestRegistry:
    def test_unknown_type_is_reported_as_such(self) -> None:
        with pytest.raises(UnknownEventType):
            REGISTRY.parse(EventEnvelope.model_validate(envelope(type="contact.teleported")))

    def test_payload_is_validated_against_its_type(self) -> None:
        with pytest.raises(ValidationError):
            REGISTRY.parse(EventEnvelope.model_validate(envelope(data={"contact_id": "c1"})))
