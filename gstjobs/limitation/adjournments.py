"""How many adjournments a proceeding has had, as one SQL fragment.

Section 75(5) caps adjournments at the taxpayer's request at three (s.107(9) the same
before the appellate authority). Where the practice records adjournments as
proceeding events (``ADJOURNMENT_GRANTED`` / ``ADJOURNMENT_REFUSED``), those granted
at the taxpayer's request count; where none is recorded either way, the case's
``Adjourned`` hearings stand in for them. The limitation watch (the cap's alert) and
the hearing reminder (the count a partner reads before appearing) share this one
definition, so they never disagree.
"""

from __future__ import annotations


def adjournments(
    proceeding: str, case_id: str, tenant_id: str, *, hearings_before: str | None = None
) -> str:
    """A scalar SQL expression: the adjournment count of the proceeding whose id is
    the SQL expression ``proceeding``, in the case ``case_id`` of ``tenant_id``.
    ``hearings_before`` (a timestamp expression) counts only Adjourned hearings held
    before it: a reminder of the third hearing speaks of the adjournments before it."""
    before = f" AND a.hearing_date < {hearings_before}" if hearings_before else ""
    return f"""CASE WHEN EXISTS (SELECT 1 FROM proceeding_events e
                                 WHERE e.proceeding_id = {proceeding}
                                   AND e.kind IN ('ADJOURNMENT_GRANTED', 'ADJOURNMENT_REFUSED'))
                    THEN (SELECT count(*) FROM proceeding_events e
                          WHERE e.proceeding_id = {proceeding}
                            AND e.kind = 'ADJOURNMENT_GRANTED' AND e.sought_by = 'taxpayer')
                    ELSE (SELECT count(*) FROM hearings a
                          WHERE a.case_id = {case_id} AND a.tenant_id = {tenant_id}
                            AND a.status = 'Adjourned'{before})
               END"""
