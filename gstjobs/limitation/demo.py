"""Demo proceedings consistent with the statute, derived from the demo's cases.

``generate(conn, tenants, anchor)`` adds, in four set-based statements, one proceeding
(or two, for appeals: the order under challenge and, for some, the appeal filed) per
case of ``tenants`` that has none yet, chosen by the case's ``notice_type`` and dated
around the case's ``created_at``:

* ASMT-10 and DRC-01A notices with a reply date (a few without a communication date or
  a reply date, so ``DATA_MISSING`` shows);
* DRC-01 SCNs under s.73/74 for the financial year in the case number: as in practice,
  many of them fall after the s.73(2)/74(2) last date and show as defences;
* orders in DRC-07 (APL-01 matters) whose first appeal is open, filed in time, filed in
  the condonation month, or lapsed while still condonable ("lapsed in condonation");
* orders-in-appeal (GSTAT matters), some communicated before 01-04-2026 so the notified
  date of S.O. 4220(E) applies;
* taxpayer adjournments on a few SCNs (the s.75(5) warning and cap).

Choices come from a hash of the case id, so the same cases give the same proceedings
and a re-run adds nothing. The lead wires it into ``gstjobs demo`` (it is not called
there yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection, text

_PICK = "abs(hashtext(c.id::text || '/pick'))"

INSERT_PROCEEDINGS = text(
    f"""
    WITH picked AS (
        SELECT c.id AS case_id, c.tenant_id, c.notice_type, c.case_number, c.status,
               ((c.created_at AT TIME ZONE tn.timezone)::date) AS born,
               {_PICK} % 10 AS pick,
               (regexp_match(c.case_number, '/([0-9]{{4}}-[0-9]{{2}})/'))[1] AS fy,
               cl.gstin
        FROM cases c
        JOIN tenants tn ON tn.id = c.tenant_id
        LEFT JOIN clients cl ON cl.id = c.client_id AND cl.tenant_id = c.tenant_id
        WHERE c.tenant_id = ANY(:tenants)
          AND NOT EXISTS (SELECT 1 FROM proceedings p WHERE p.case_id = c.id)
    )
    INSERT INTO proceedings (id, tenant_id, case_id, kind, issued_by, authority, reference_no,
                             issue_date, communicated_date, reply_by_date, financial_years,
                             fraud_alleged, gstin, state_code, district, tax_cgst, tax_sgst,
                             tax_igst, penalty, admitted_tax, status)
    SELECT gen_random_uuid(), x.tenant_id, x.case_id, x.kind, 'department', x.authority,
           x.reference_no, x.issue_date, x.communicated_date, x.reply_by_date,
           COALESCE(ARRAY[x.fy], '{{}}'), x.kind = 'SCN_S74', x.gstin, left(x.gstin, 2),
           NULL, x.cgst, x.sgst, x.igst, x.penalty, 0,
           CASE WHEN x.status = 'Closed' THEN 'concluded' ELSE 'open' END
    FROM (
        SELECT pk.*,
               CASE pk.notice_type
                 WHEN 'ASMT-10' THEN 'ASMT_10' WHEN 'DRC-01A' THEN 'DRC_01A'
                 WHEN 'DRC-01 s.73' THEN 'SCN_S73' WHEN 'DRC-01 s.74' THEN 'SCN_S74'
                 WHEN 'APL-01' THEN CASE WHEN pk.pick < 7 THEN 'ORDER_S73' ELSE 'ORDER_S74' END
                 ELSE 'ORDER_IN_APPEAL' END AS kind,
               CASE WHEN pk.notice_type IN ('APL-01', 'GSTAT')
                    THEN 'Adjudicating authority' ELSE 'Proper officer' END AS authority,
               'ZD' || lpad((abs(hashtext(pk.case_id::text)) % 1000000000)::text, 12, '0')
                   AS reference_no,
               pk.born - CASE pk.notice_type
                   -- APL-01 matters: the order is 0-130 days old, so the appeal is open,
                   -- filed, in its condonation month or lapsed.
                   WHEN 'APL-01' THEN (pk.pick * 13)
                   -- GSTAT matters: some orders-in-appeal before 01-04-2026 (notified date).
                   WHEN 'GSTAT' THEN (pk.pick * 40)
                   ELSE 0 END AS issue_date,
               CASE WHEN pk.pick = 9 AND pk.notice_type IN ('ASMT-10', 'APL-01') THEN NULL
                    ELSE pk.born - CASE pk.notice_type WHEN 'APL-01' THEN pk.pick * 13
                                                        WHEN 'GSTAT' THEN pk.pick * 40
                                                        ELSE 0 END + 1 END
                   AS communicated_date,
               CASE WHEN pk.notice_type = 'DRC-01A' AND pk.pick = 9 THEN NULL
                    WHEN pk.notice_type IN ('DRC-01A', 'ASMT-10') THEN pk.born + 30
                    WHEN pk.notice_type LIKE 'DRC-01 %' AND pk.pick < 5 THEN pk.born + 30
                    END AS reply_by_date,
               CASE WHEN pk.notice_type IN ('APL-01', 'GSTAT') AND pk.pick <> 8
                    THEN 100000 * (1 + pk.pick) END AS cgst,
               CASE WHEN pk.notice_type IN ('APL-01', 'GSTAT') AND pk.pick <> 8
                    THEN 100000 * (1 + pk.pick) END AS sgst,
               CASE WHEN pk.notice_type IN ('APL-01', 'GSTAT') AND pk.pick = 3
                    THEN 250000 END AS igst,
               CASE WHEN pk.notice_type IN ('APL-01', 'GSTAT')
                    THEN 10000 * (1 + pk.pick) END AS penalty
        FROM picked pk
    ) AS x
    """
)

INSERT_EVENTS = text(
    f"""
    INSERT INTO proceeding_events (tenant_id, proceeding_id, kind, event_date, sought_by, amount)
    SELECT p.tenant_id, p.id, e.kind, e.event_date, e.sought_by, e.amount
    FROM proceedings p
    CROSS JOIN LATERAL (SELECT {_PICK.replace("c.id", "p.case_id")} % 10 AS pick) AS h
    CROSS JOIN LATERAL (
        -- APL-01 matters: appeal filed in time (pick 2-3) or in the condonation month
        -- (pick 8, order ~104 days old), with the pre-deposit paid the day before.
        SELECT v.kind, v.event_date, NULL::text AS sought_by, v.amount
        FROM (VALUES
            ('PRE_DEPOSIT_PAID', COALESCE(p.communicated_date, p.issue_date)
                + CASE WHEN h.pick = 8 THEN 100 ELSE 19 END, 20000::numeric),
            ('APPEAL_FILED', COALESCE(p.communicated_date, p.issue_date)
                + CASE WHEN h.pick = 8 THEN 101 ELSE 20 END, NULL)
        ) AS v (kind, event_date, amount)
        WHERE p.kind IN ('ORDER_S73', 'ORDER_S74') AND h.pick IN (2, 3, 8)
          AND COALESCE(p.communicated_date, p.issue_date)
              + CASE WHEN h.pick = 8 THEN 101 ELSE 20 END <= CAST(:today AS date)
        UNION ALL
        -- Replies filed on a few notices.
        SELECT 'REPLY_FILED', p.issue_date + 20, NULL, NULL
        WHERE p.kind IN ('ASMT_10', 'DRC_01A', 'SCN_S73', 'SCN_S74') AND h.pick IN (1, 4)
          AND p.issue_date + 20 <= CAST(:today AS date)
        UNION ALL
        -- Taxpayer adjournments: two (warning) or three (the s.75(5) cap).
        SELECT 'ADJOURNMENT_GRANTED', p.issue_date + 10 * g, 'taxpayer', NULL
        FROM generate_series(1, CASE WHEN h.pick = 6 THEN 3 ELSE 2 END) AS g
        WHERE p.kind IN ('SCN_S73', 'SCN_S74') AND h.pick IN (5, 6)
    ) AS e
    WHERE p.tenant_id = ANY(:tenants)
      AND NOT EXISTS (SELECT 1 FROM proceeding_events x WHERE x.proceeding_id = p.id)
    """
)


@dataclass(frozen=True)
class Generated:
    proceedings: int
    events: int


def generate(conn: Connection, tenants: Sequence[UUID], anchor: datetime) -> Generated:
    """Add demo proceedings and their events for the cases of ``tenants`` that have none."""
    params = {"tenants": list(tenants), "today": anchor.date()}
    added = conn.execute(INSERT_PROCEEDINGS, params).rowcount
    events = conn.execute(INSERT_EVENTS, params).rowcount
    return Generated(added, events)
