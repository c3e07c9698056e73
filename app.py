"""Entry point: `flask --app app …` and `gunicorn app:app`."""

from panel import create_app

app = create_app()
