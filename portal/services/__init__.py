"""Use cases. Each takes a SQLAlchemy session and plain arguments, never `request` or `flash`.

Services raise `ServiceError` subclasses with a message fit to show the user; views turn them into
form errors or flashed messages.
"""


class ServiceError(Exception):
    """A use case refused: the message is written for the person who asked."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    pass


class NotAllowed(ServiceError):
    pass
