"""PANs and GSTINs whose structure tells the truth about the taxpayer.

A PAN is five letters, four digits and a letter: the 4th letter is the holder's status
(C company, F firm or LLP, P individual, H HUF, …) and the 5th the first letter of the
surname (individuals) or of the name (everyone else: "Pooja Khanna HUF" takes P). A
GSTIN is the state code, the PAN, the registration number within the state (1-9, then
A-Z), 'Z', and a mod-36 check character (the GSTN algorithm, a Luhn variant).
"""

from __future__ import annotations

import random

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def pan(rng: random.Random, holder_letter: str, name_initial: str) -> str:
    """A well-formed PAN for a holder of this status whose (sur)name starts so."""
    initial = name_initial.upper() if name_initial.upper() in LETTERS else "X"
    return (
        "".join(rng.choice(LETTERS) for _ in range(3))
        + holder_letter
        + initial
        + f"{rng.randrange(1, 10000):04d}"
        + rng.choice(LETTERS)
    )


def gstin_check_char(first14: str) -> str:
    """The 15th character of a GSTIN whose first 14 are given."""
    total = 0
    for i, c in enumerate(first14):
        v = _CHARS.index(c) * (2 if i % 2 else 1)
        total += v // 36 + v % 36
    return _CHARS[(36 - total % 36) % 36]


def gstin_for(state_code: str, pan_: str, number: int = 1) -> str:
    body = state_code + pan_ + _CHARS[number] + "Z"
    return body + gstin_check_char(body)


def gstin(rng: random.Random, state_code: str = "27") -> str:
    """A well-formed GSTIN of a company in ``state_code`` (kept for callers and tests)."""
    return gstin_for(state_code, pan(rng, "C", rng.choice(LETTERS)), rng.randint(1, 9))
