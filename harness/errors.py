"""Errors a user can cause or fix, and the exit codes of the CLI.

A ``UserError`` ends the CLI with its one-sentence message and no traceback.
"""

# Exit codes (documented in docs/exit-codes.md and README)
EXIT_OK = 0            # every claim checked agrees with its measurement
EXIT_VIOLATED = 1      # at least one claim is violated (a test or checker failed)
EXIT_USAGE = 2         # bad input: unknown design, missing override file, bad option
EXIT_HARNESS = 3       # the harness or host failed: Docker down, build failed, fault not applied
EXIT_UNKNOWN = 4       # nothing violated, but some verdicts stayed unknown
EXIT_INTERRUPTED = 130


class MailhaError(Exception):
    """Base class: ``str(err)`` is one sentence saying what happened and what to do."""

    exit_code = EXIT_HARNESS


class UserError(MailhaError):
    """Bad input the user can fix (unknown design, bad override file, port in use...)."""

    exit_code = EXIT_USAGE


class HostError(MailhaError):
    """The host cannot do what is needed (Docker not reachable, image build failed)."""

    exit_code = EXIT_HARNESS


class FaultError(MailhaError):
    """A fault could not be applied or healed: the test must fail, never pass silently."""

    exit_code = EXIT_HARNESS


class WaitTimeout(HostError, TimeoutError):
    """What a wait expected did not happen before its deadline (``harness.wait.until``).

    Also a ``TimeoutError``, so code that catches the builtin keeps working. The message says in
    one sentence what was awaited, for how long, and the last error or answer seen.
    """


class ContainerGone(WaitTimeout):
    """A wait gave up early: the container it depended on is no longer running (exited, dead or
    removed), so waiting longer could not help."""
