"""Finding a job by name: the CLI name or the canonical one; a near miss is named."""

from __future__ import annotations

import pytest

from gstjobs.errors import UsageError
from gstjobs.jobs import find


def test_a_job_is_found_by_either_name_and_a_typo_gets_a_suggestion() -> None:
    assert find("sla-check") is find("check-sla-and-overdue")
    with pytest.raises(UsageError, match="did you mean sla-check\\?"):
        find("sla-chek")
    with pytest.raises(UsageError) as unknown:
        find("zzz")
    assert "did you mean" not in str(unknown.value) and "prune" in str(unknown.value)
