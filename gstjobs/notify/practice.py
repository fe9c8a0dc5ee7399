"""What a hearing reminder says about the matter, in a GST practitioner's words.

The reminder's payload carries facts as the database holds them (the proceeding's
kind, the forum's level, the adjournments counted); this module turns them into the
lines an advocate reads at 8 am: the notice or order by its form and section, the
forum, adjournments used against the statutory cap, and a checklist chosen by the
forum and the stage of the matter. Rendering calls ``brief(payload)``; a payload
without those facts (a contract-only database, a reminder queued before the upgrade)
gives a brief that leaves out what it cannot say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    label: str
    """The document, by its form: what a practitioner calls it."""
    section: str | None
    """The provision it is issued or filed under."""
    forum: str | None
    """The level of the forum that hears it (courts.forum's values)."""
    stage: str
    """adjudication, scrutiny, appeal, order, writ, registration, refund, rectification."""


KINDS: Mapping[str, Kind] = {
    "ASMT_10": Kind("Scrutiny notice (ASMT-10)", "s.61", "adjudicating_authority", "scrutiny"),
    "DRC_01A": Kind("Pre-SCN intimation (DRC-01A)", None, "adjudicating_authority", "adjudication"),
    "SCN_S73": Kind("Show-cause notice (DRC-01)", "s.73", "adjudicating_authority", "adjudication"),
    "SCN_S74": Kind("Show-cause notice (DRC-01)", "s.74", "adjudicating_authority", "adjudication"),
    "SCN_S74A": Kind(
        "Show-cause notice (DRC-01)", "s.74A", "adjudicating_authority", "adjudication"
    ),
    "ORDER_S73": Kind("Order (DRC-07)", "s.73", "adjudicating_authority", "order"),
    "ORDER_S74": Kind("Order (DRC-07)", "s.74", "adjudicating_authority", "order"),
    "ORDER_S74A": Kind("Order (DRC-07)", "s.74A", "adjudicating_authority", "order"),
    "ORDER_OTHER": Kind("Order", None, "adjudicating_authority", "order"),
    "APL_01_FILED": Kind("First appeal (APL-01)", "s.107", "appellate_authority", "appeal"),
    "ORDER_IN_APPEAL": Kind(
        "Order-in-appeal (APL-04)", "s.107(11)", "appellate_authority", "order"
    ),
    "APL_05_FILED": Kind("Appeal to the GSTAT (APL-05)", "s.112", "gstat", "appeal"),
    "APL_06_NOTICE": Kind("Cross-objections (APL-06)", "s.112(5)", "gstat", "appeal"),
    "GSTAT_ORDER": Kind("GSTAT order", "s.113", "gstat", "order"),
    "HC_APPEAL_FILED": Kind("Appeal to the High Court", "s.117", "high_court", "appeal"),
    "WRIT_FILED": Kind("Writ petition", "Art. 226", "high_court", "writ"),
    "REMAND_DIRECTION": Kind("Remand direction", None, "adjudicating_authority", "adjudication"),
    "RECTIFICATION_APPLIED": Kind("Rectification application", "s.161", None, "rectification"),
    "REG_17": Kind(
        "Cancellation notice (REG-17)", "s.29", "adjudicating_authority", "registration"
    ),
    "RFD_08": Kind("Refund show-cause notice (RFD-08)", "s.54", "adjudicating_authority", "refund"),
}

FORUMS: Mapping[str, str] = {
    "adjudicating_authority": "the adjudicating authority",
    "appellate_authority": "the Appellate Authority",
    "gstat": "the GST Appellate Tribunal",
    "high_court": "the High Court",
    "supreme_court": "the Supreme Court",
}

ADJOURNMENT_CAP = 3
CAPPED: Mapping[str, str] = {
    # "not more than three times to a person during the proceedings"
    "SCN_S73": "s.75(5)",
    "SCN_S74": "s.75(5)",
    "SCN_S74A": "s.75(5)",
    "REMAND_DIRECTION": "s.75(5)",
    # "no such adjournment shall be granted more than three times to a party"
    "APL_01_FILED": "s.107(9)",
}
"""Proceedings whose hearings the Act allows to be adjourned at most three times."""

REPLIES: Mapping[str, str] = {
    "scrutiny": "the ASMT-11 reply",
    "adjudication": "the DRC-06 reply",
    "registration": "the REG-18 reply",
    "refund": "the RFD-09 reply",
}

GENERIC = (
    "Review the case file and the notice or order under challenge",
    "Prepare the written submissions and the list of dates",
    "Carry the vakalatnama / authorisation letter and ID",
    "Keep copies of the documents relied upon, indexed and paginated",
    "Confirm the bench, item number and cause list on the day",
)
"""When neither the forum nor the proceeding is known."""


@dataclass(frozen=True)
class Brief:
    rows: tuple[tuple[str, str], ...]
    """(label, value) lines about the matter, in reading order; empty values left out."""
    checklist_title: str
    checklist: tuple[str, ...]


def brief(payload: Mapping[str, Any]) -> Brief:
    """The lines of a hearing reminder about its matter, and its checklist."""
    kind = KINDS.get(str(payload.get("proceeding_kind") or ""))
    forum = _forum_level(payload, kind)
    rows: list[tuple[str, str | None]] = []
    client = payload.get("client_name")
    gstin = payload.get("gstin")
    if client or gstin:
        rows.append(
            ("Client", f"{client or 'not recorded'}" + (f" (GSTIN {gstin})" if gstin else ""))
        )
    rows.append(("Matter", f"{payload['case_number']} - {payload['case_title']}"))
    rows.append(("Reference", _reference(payload)))
    rows.append(("Notice", _notice(payload, kind)))
    rows.append(("FY", payload.get("financial_years")))
    rows.append(("Tax", _tax(payload)))
    rows.append(("Forum", _place(payload)))
    rows.append(("Address", payload.get("court_address")))
    rows.append(("Appearing", payload.get("representative")))
    rows.append(("Adjournments", _adjournments(payload)))
    rows.append(("Purpose", payload.get("purpose")))
    title, items = checklist(
        forum,
        kind.stage if kind else None,
        _used(payload),
        CAPPED.get(str(payload.get("proceeding_kind"))),
    )
    return Brief(tuple((k, v) for k, v in rows if v), title, items)


def checklist(
    forum: str | None, stage: str | None, adjournments: int | None, capped_by: str | None
) -> tuple[str, tuple[str, ...]]:
    """A checklist title and items for a hearing before ``forum`` at ``stage``."""
    items: list[str]
    if forum == "adjudicating_authority":
        reply = REPLIES.get(stage or "", "the reply")
        title = "Checklist for a personal hearing before the adjudicating authority"
        items = [
            "Authorisation letter for the authorised representative (s.116), with ID",
            f"The notice, {reply} as filed with its annexures, and the filing acknowledgment",
            "Reconciliations and the documents relied upon, indexed and paginated",
            "Written submissions to hand over; ask that the record of the hearing notes them",
        ]
    elif forum == "appellate_authority":
        title = "Checklist for a hearing before the Appellate Authority"
        items = [
            "Authorisation letter for the authorised representative (s.116), with ID",
            "APL-01 as filed: grounds of appeal, the impugned order and the annexures",
            "Proof of the pre-deposit (10% of the tax in dispute, s.107(6)): DRC-03 or ledger",
            "Written submissions and copies of the case law relied upon",
        ]
    elif forum == "gstat":
        title = "Checklist for a hearing before the GST Appellate Tribunal"
        items = [
            "Vakalatnama or authorisation, and the memo of appearance",
            "Paper book: APL-05, the order-in-original, the order-in-appeal and the annexures",
            "Proof of both pre-deposits (10% before the Appellate Authority, a further 10%, "
            "s.112(8))",
            "Cause list: the bench, court hall and item number on the day",
            "Written submissions and the case law compilation, with copies for the bench",
        ]
    elif forum in ("high_court", "supreme_court"):
        court = FORUMS[forum]
        title = f"Checklist for a hearing before {court}"
        items = [
            "Vakalatnama and the memo of appearance",
            "Paper book: the petition or appeal with annexures, synopsis and list of dates",
            "Cause list: the court hall and item number on the day",
            "Case law compilation, with copies for the bench",
        ]
        if stage == "appeal":
            items.insert(2, "Proof of the pre-deposits made below (s.107(6), s.112(8))")
    else:
        return "Preparation checklist", GENERIC
    if capped_by and adjournments is not None and adjournments >= ADJOURNMENT_CAP:
        items.append(f"No further adjournment can be granted ({capped_by}): be ready to argue")
    elif capped_by and adjournments == ADJOURNMENT_CAP - 1:
        items.append(f"Only one adjournment is left ({capped_by}), and it need not be granted")
    return title, tuple(items)


def _forum_level(payload: Mapping[str, Any], kind: Kind | None) -> str | None:
    level = payload.get("court_forum")
    if level in FORUMS:
        return str(level)
    return kind.forum if kind else None


def _reference(payload: Mapping[str, Any]) -> str | None:
    reference = payload.get("reference")
    if not reference:
        return None
    dated = payload.get("reference_date")
    return f"{reference}" + (f" dt {dated}" if dated else "")


def _notice(payload: Mapping[str, Any], kind: Kind | None) -> str | None:
    if kind is None:
        notice = payload.get("notice_type")
        return str(notice) if notice else None
    section = kind.section
    demand = payload.get("demand_section")
    if kind.stage in ("appeal", "order") and demand and demand != section:
        return f"{kind.label}, {section}, against a demand u/s {str(demand).removeprefix('s.')}"
    return f"{kind.label}, {section}" if section else kind.label


def _tax(payload: Mapping[str, Any]) -> str | None:
    amount = payload.get("amount")
    if not amount:
        return None
    heads = payload.get("amounts") or {}
    parts = [
        f"{head.upper()} {heads[head]}"
        for head in ("igst", "cgst", "sgst", "cess")
        if heads.get(head)
    ]
    return f"{amount}" + (f" ({', '.join(parts)})" if len(parts) > 1 else "")


def _place(payload: Mapping[str, Any]) -> str:
    return ", ".join(x for x in (payload["court_name"], payload.get("court_city")) if x)


def _used(payload: Mapping[str, Any]) -> int | None:
    value = payload.get("adjournments")
    return int(value) if value is not None else None


def _adjournments(payload: Mapping[str, Any]) -> str | None:
    used = _used(payload)
    if not used:
        return None
    capped_by = CAPPED.get(str(payload.get("proceeding_kind")))
    if capped_by is None:
        return f"{used} so far"
    left = ADJOURNMENT_CAP - used
    tail = "none left" if left <= 0 else ("one left" if left == 1 else f"{left} left")
    return f"{used} of {ADJOURNMENT_CAP} used ({capped_by}): {tail}"
