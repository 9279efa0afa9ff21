"""Realistic synthetic customers of a Vietnamese retailer: names with their real frequency (Nguyễn is about 4 in
10), +84 mobiles in the formats people type, emails, birth dates, cities. Deterministic for a seed."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

FAMILY = [
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9.5),
    ("Phạm", 7.1),
    ("Hoàng", 3.1),
    ("Huỳnh", 2.1),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
]
MIDDLE_M = ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Xuân", "Công", "Gia"]
MIDDLE_F = ["Thị", "Ngọc", "Thanh", "Thu", "Kim", "Minh", "Bảo", "Phương"]
GIVEN_M = [
    "An",
    "Bình",
    "Dũng",
    "Hải",
    "Hiếu",
    "Hùng",
    "Khải",
    "Khánh",
    "Long",
    "Minh",
    "Nam",
    "Phong",
    "Phúc",
    "Quân",
    "Quang",
    "Sơn",
    "Thắng",
    "Trung",
    "Tuấn",
    "Tú",
    "Việt",
    "Đạt",
    "Duy",
    "Huy",
    "Lộc",
]
GIVEN_F = [
    "An",
    "Châu",
    "Giang",
    "Hà",
    "Hân",
    "Hoa",
    "Hương",
    "Lan",
    "Linh",
    "Mai",
    "Nga",
    "Ngọc",
    "Nhung",
    "Phương",
    "Tâm",
    "Thảo",
    "Trang",
    "Vân",
    "Vy",
    "Yến",
    "Hạnh",
    "Diệp",
    "Quyên",
    "Uyên",
    "Thư",
]
WESTERN_GIVEN = ["John", "Emma", "Michael", "Sophie", "David", "Anna", "James", "Laura"]
WESTERN_FAMILY = ["Smith", "Müller", "Martin", "Brown", "García", "Rossi", "Dubois", "Wilson"]
CITIES = ["Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Huế", "Nha Trang", "Vũng Tàu"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "fpt.vn", "vnn.vn"]
PREFIXES = ["90", "91", "93", "94", "96", "97", "98", "86", "88", "89", "70", "77", "79", "81", "83", "85", "32", "33"]


@dataclass
class Person:
    full_name: str
    gender: str
    birth_date: date
    phone: str  # E.164
    email: str
    city: str
    western: bool


def ascii_fold(s: str) -> str:
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in s if unicodedata.category(c) != "Mn")


def person(rng: random.Random, i: int) -> Person:
    western = rng.random() < 0.05
    female = rng.random() < 0.52
    if western:
        name = f"{rng.choice(WESTERN_GIVEN)} {rng.choice(WESTERN_FAMILY)}"
        local = ascii_fold(name).lower().replace(" ", ".")
    else:
        family = rng.choices([f for f, _ in FAMILY], weights=[w for _, w in FAMILY])[0]
        middle = rng.choice(MIDDLE_F if female else MIDDLE_M)
        given = rng.choice(GIVEN_F if female else GIVEN_M)
        name = f"{family} {middle} {given}"
        local = ascii_fold(f"{given}{family}").lower()
    phone = valid_mobile(rng)
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 45))
    email = f"{local}{birth.year % 100:02d}{i % 1000}@{rng.choice(DOMAINS)}"
    return Person(name, "female" if female else "male", birth, phone, email, rng.choice(CITIES), western)


def valid_mobile(rng: random.Random) -> str:
    import phonenumbers

    while True:
        candidate = "+84" + rng.choice(PREFIXES) + f"{rng.randrange(10**7):07d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


def phone_as_typed(rng: random.Random, e164: str) -> str:
    national = "0" + e164[3:]
    return rng.choice(
        [
            e164,
            national,
            f"{national[:4]} {national[4:7]} {national[7:]}",
            f"+84 {e164[3:5]} {e164[5:8]} {e164[8:]}",
            f"(+84) {e164[3:]}",
            f"84{e164[3:]}",
        ]
    )
