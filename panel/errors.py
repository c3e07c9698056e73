"""Errors that carry one sentence for the administrator, and the HTTP status that fits."""


class PanelError(Exception):
    status = 400

    def __init__(self, message, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return str(self.message)


class NotFound(PanelError):
    status = 404


class Conflict(PanelError):
    status = 409


class ManifestError(PanelError):
    status = 422


class PackageError(PanelError):
    """An archive or install step was refused; nothing was changed."""

    status = 422


class FormError(PanelError):
    """Invalid form input; `errors` maps each field to its message, `submitted` keeps what was typed."""

    status = 422

    def __init__(self, errors: dict, submitted: dict | None = None):
        super().__init__(next(iter(errors.values())))
        self.errors = errors
        self.submitted = submitted or {}
