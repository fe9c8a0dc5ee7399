"""A deterministic GST litigation data set a practitioner would believe.

* ``vocabulary``: states, forums, entity types, names, holidays, task chains, rules;
* ``identity``: PANs and GSTINs (valid check character, PAN status letter);
* ``calendar``: working days, office hours, financial years and SCN time limits;
* ``matters`` and ``generator``: pure functions from a seeded ``random.Random`` and
  "now" to rows;
* ``loader``: COPY, a chunk of practices at a time; the demo's marker table.
"""

from __future__ import annotations

from gstjobs.demo.identity import gstin, gstin_check_char
from gstjobs.demo.ids import tenant_ids
from gstjobs.demo.loader import DemoSummary, delete, foreign_practices, load
from gstjobs.demo.vocabulary import DEMO_RULES

__all__ = [
    "DEMO_RULES",
    "DemoSummary",
    "delete",
    "foreign_practices",
    "gstin",
    "gstin_check_char",
    "load",
    "tenant_ids",
]
