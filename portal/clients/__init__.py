"""One adapter per external API: Fusebill (`fusebill.py`) and Intuit OAuth + QuickBooks Online (`qbo.py`).

Adapters translate the outside world's errors into ours: retryable (try again later), permanent
(this request will never work as sent) or authentication (the user must act).
"""


class ExternalError(Exception):
    """A call to an outside service failed; `message` is fit to show a user."""

    retryable = False

    def __init__(self, message: str, *, detail: str = "", status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.status = status
        self.code = code


class RetryableError(ExternalError):
    retryable = True


class PermanentError(ExternalError):
    pass


class AuthenticationError(ExternalError):
    pass
