"""Identification data normalises the same way everywhere: names keep diacritics, search keys fold them,
phones become E.164 with Vietnam as the default region, emails are syntax-checked."""

from __future__ import annotations

import unicodedata

import pytest
from cdp_common.identifiers import fold, normalise_email, normalise_name, normalise_phone


class TestNames:
    """Diacritics are kept exactly (NFC); only whitespace is tidied."""

    def test_decomposed_input_is_stored_composed(self) -> None:
        decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Minh Khai")
        assert decomposed != "Nguyễn Thị Minh Khai"
        assert normalise_name(decomposed) == "Nguyễn Thị Minh Khai"

    def test_whitespace_is_collapsed(self) -> None:
        assert normalise_name("  Nguyễn   Thị\tMinh Khai ") == "Nguyễn Thị Minh Khai"

    @pytest.mark.parametrize("bad", ["", "   ", "An\x00Nguyen"])
    def test_blank_or_control_characters_are_refused(self, bad: str) -> None:
        with pytest.raises(ValueError):
            normalise_name(bad)

    def test_fold_removes_accents_and_maps_d_stroke(self) -> None:
        assert fold("Đặng Thị Ngọc Hân") == "dang thi ngoc han"
        assert fold("Nguyễn Văn An") == "nguyen van an"


class TestPhones:
    """Every accepted format of one number gives the same E.164 string."""

    @pytest.mark.parametrize("raw", ["0912 345 678", "+84 912 345 678", "84912345678", "(+84) 912-345-678"])
    def test_vietnamese_formats(self, raw: str) -> None:
        assert normalise_phone(raw) == "+84912345678"

    def test_other_regions_keep_their_country_code(self) -> None:
        assert normalise_phone("+1 (415) 555-2671") == "+14155552671"

    @pytest.mark.parametrize("bad", ["12", "not a phone", "0000000000"])
    def test_invalid_numbers_are_refused(self, bad: str) -> None:
        with pytest.raises(ValueError):
            normalise_phone(bad)


class TestEmails:
    def test_domain_is_lower_cased(self) -> None:
        assert normalise_email(" Khai.Nguyen@Example.VN ") == "Khai.Nguyen@example.vn"

    @pytest.mark.parametrize("bad", ["no-at-sign", "a@", "@b.vn", "a b@c.vn"])
    def test_invalid_addresses_are_refused(self, bad: str) -> None:
        with pytest.raises(ValueError):
            normalise_email(bad)
