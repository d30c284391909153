"""The one error tree of Passerelle; each adapter maps it once (web, CLI, jobs)."""


class PasserelleError(Exception):
    """Base of every error the product raises on purpose.

    The message is an English message id; values that vary go in `params` and are named in
    it as `%(name)s`, so that the console can show it in the person's language."""

    def __init__(self, message: str = "", **params: object) -> None:
        super().__init__(message % params if params else message)
        self.template = message
        self.params = params


class InvalidInput(PasserelleError):
    """The input is unusable; the message is safe to show to the person who sent it."""

    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        super().__init__(message, **params)
        self.field = field


class TooLarge(InvalidInput):
    """The input is over a size limit (a request body, an upload): HTTP 413."""


class NotAcceptable(InvalidInput):
    """The client accepts none of the media types the answer could be written in."""


class NotFound(PasserelleError):
    """The object does not exist, or is not visible to the caller (same answer on purpose)."""


class Conflict(PasserelleError):
    """The change contradicts the current state (duplicate, wrong status, race)."""


class PermissionDenied(PasserelleError):
    """The caller is known but may not do this."""


class AuthenticationFailed(PasserelleError):
    """Login failed; deliberately says nothing about why."""


class RateLimited(PasserelleError):
    """Too many requests from one source in a short time; try again later."""


class ExternalServiceError(PasserelleError):
    """A service outside Passerelle (a web host, an SMTP server, a partner) failed."""


class DatabaseUnavailable(PasserelleError):
    """The database could not be reached or is not at the expected schema."""


class WrongSecret(PasserelleError):
    """PASSERELLE_SECRET_KEY does not open what this instance sealed with its secret (the agency
    keys, the audit chain's keys, preserved content): it was changed without a rotation."""
