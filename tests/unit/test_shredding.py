"""Crypto-shredding, the part without Kafka: data sealed under a subject's key reads back only with that key, only
under the envelope it was sealed in, and never once the key is destroyed."""

from __future__ import annotations

import json

import pytest
from cdp_common.contracts.contacts import ContactCreated
from cdp_common.events import EventEnvelope, make_event, utcnow
from cdp_common.shredding import Keyring, SubjectShredded, key_encryption_key
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def event(subject: str = "c1") -> EventEnvelope:
    return make_event(
        source="test",
        event_type="contact.created",
        subject=subject,
        data=ContactCreated(contact_id=subject, full_name="Nguyễn Thị Minh Khai", source="staff", created_at=utcnow()),
    )


def ring_with(subject: str, kid: str = "k1") -> Keyring:
    ring = Keyring(key_encryption_key("a platform secret of at least 32 characters"))
    ring.keys[subject] = {kid: AESGCM.generate_key(bit_length=256)}
    return ring


class TestSealing:
    """What an event carries on the wire is ciphertext; the subject's key turns it back into the same data."""

    def test_round_trip_and_no_plaintext_on_the_wire(self) -> None:
        ring = ring_with("c1")
        e = event()
        sealed = ring.encrypt(e, "k1")
        wire = sealed.model_dump_json()
        assert "Nguy" not in wire and "Khai" not in wire and sealed.datakeyid == "k1"
        assert set(sealed.data) == {"alg", "ciphertext"}
        opened = ring.decrypt(EventEnvelope.model_validate_json(wire))
        assert opened.data == e.data and opened.datakeyid is None

    def test_ciphertext_is_bound_to_its_envelope(self) -> None:
        ring = ring_with("c1")
        sealed = ring.encrypt(event(), "k1")
        moved = sealed.model_copy(update={"type": "contact.updated"})
        with pytest.raises(InvalidTag):
            ring.decrypt(moved)

    def test_destroyed_key_makes_the_data_unreadable(self) -> None:
        ring = ring_with("c1")
        sealed = ring.encrypt(event(), "k1")
        ring.apply(b"c1|k1", None)  # the tombstone
        assert "c1" not in ring.keys
        with pytest.raises(SubjectShredded):
            ring.decrypt(sealed)


class TestWrappedKeys:
    """Keys travel wrapped with the platform key; another secret cannot unwrap them and is not fatal."""

    def test_a_published_key_is_usable_by_another_process(self) -> None:
        writer = ring_with("c1")
        wrapped = writer.wrap("c1", "k1", writer.keys["c1"]["k1"])
        reader = Keyring(key_encryption_key("a platform secret of at least 32 characters"))
        reader.apply(b"c1|k1", json.dumps({"wrapped": wrapped}).encode())
        assert reader.keys["c1"]["k1"] == writer.keys["c1"]["k1"]

    def test_a_key_wrapped_under_another_secret_is_ignored(self) -> None:
        writer = ring_with("c1")
        wrapped = writer.wrap("c1", "k1", writer.keys["c1"]["k1"])
        reader = Keyring(key_encryption_key("some other secret, also 32 characters long"))
        reader.apply(b"c1|k1", json.dumps({"wrapped": wrapped}).encode())
        assert reader.keys == {}
