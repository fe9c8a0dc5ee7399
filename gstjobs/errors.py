"""The one exception hierarchy of gstjobs.

Library code raises these; ``cli.main`` alone turns them into a one-line message on
stderr and an exit code (CONTRACT §2). The docstring of each class is its default
message.
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of a (driver) error: what a one-line message can show."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


class GstjobsError(Exception):
    """gstjobs failed."""

    exit_code = 1

    def __init__(self, message: str | None = None, *, details: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.details = details

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(GstjobsError):
    """Invalid command line; see `gstjobs --help`."""

    exit_code = 2


class ConfigError(GstjobsError):
    """Invalid configuration; check the environment and .env file."""

    exit_code = 78


class DatabaseUnavailable(GstjobsError):
    """The database could not be reached; check DATABASE_URL and that PostgreSQL is running."""

    exit_code = 69


class JobFailed(GstjobsError):
    """The job ran and failed; see `gstjobs history --status failed`."""

    exit_code = 1

    def __init__(
        self,
        message: str | None = None,
        *,
        details: str | None = None,
        results: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.results = dict(results or {})
        """What the job did before it failed; recorded with the failure."""


class RuleError(GstjobsError):
    """The automation rule is malformed."""

    exit_code = 2
