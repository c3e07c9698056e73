"""Entry point: `flask --app app …` and `gunicorn app:app`."""

from panel import create_app
from panel.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a bad setting is one readable line, not a traceback
    raise SystemExit(f"Configuration error: {exc}") from None
