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


class Throttled(RetryableError):
    """A rate limit (ours in Redis, or the remote one's 429) has no room now: try again in `retry_after` s.

    Jobs defer the work instead of sleeping on it, so other companies' work is not held up."""

    def __init__(self, message: str, *, retry_after: float = 5.0, limit: str = "", **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.limit = limit  # which limit: "qbo", "qbo-batch", "fusebill" (ours), or "" (the remote's 429)
