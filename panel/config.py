"""Where settings come from: defaults, then `instance/config.py`, then the environment, which wins.

Every default lives in DEFAULTS; code reads `app.config[KEY]` with no default of its own. A setting
in ENV_KEYS may come from the environment, typed like its default (int, float, bool, list).
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "MARKETPLACE_URL": "http://127.0.0.1:5000/store",
    "CATALOG_TTL_SECONDS": 3600,
    "MAX_PACKAGE_BYTES": 50 * 1024 * 1024,
    "MAX_UNPACKED_BYTES": 200 * 1024 * 1024,
    "MAX_ARCHIVE_ENTRIES": 5000,
    "MAX_COMPRESSION_RATIO": 200,
    "PENDING_UPLOAD_TTL_SECONDS": 3600,
    "LANGUAGES": ["en", "fr", "ru"],
    "BABEL_DEFAULT_LOCALE": "en",
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_CSRF_SSL_STRICT": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # No ping on every checkout: an idle connection is tested instead (panel/__init__.py).
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
    "EMBEDDED_HUB": True,
    "HUB_CONFIG": {},  # passed to the embedded hub's create_hub (see panel/hub)
    "LOG_LEVEL": "INFO",
    "MARKETPLACE_CONNECT_TIMEOUT": 3.05,
    "MARKETPLACE_READ_TIMEOUT": 10.0,
    # The whole of one store request a page waits for (connecting, retries, body): well below
    # gunicorn's 30-second worker time-out. Package downloads run in jobs and have their own limit.
    "MARKETPLACE_TOTAL_TIMEOUT": 20.0,
    "MARKETPLACE_DOWNLOAD_TIMEOUT": 300.0,
    "MARKETPLACE_RETRIES": 2,
    "MARKETPLACE_BACKOFF": 0.3,
    "MARKETPLACE_MAX_JSON_BYTES": 64 * 1024 * 1024,  # a 60,000-module catalog is about 46 MB
    "MARKETPLACE_RETRY_FAILED_SECONDS": 60,  # a failed catalog refresh is retried this soon
    "JOB_HEARTBEAT_SECONDS": 2.0,  # a running job writes its heartbeat this often
    "JOB_DEAD_AFTER_SECONDS": 30.0,  # a job without a heartbeat for this long is marked failed, on any node
    "DATABASE_URL": "",  # empty: SQLite in the instance folder
    "SECRET_KEY": "",  # empty: generated once into instance/secret_key
    "SESSION_HOURS": 12,  # a sign-in without "keep me signed in" ends after this long
    "REMEMBER_DAYS": 14,  # … and with it
    "REMEMBER_COOKIE_DURATION": timedelta(days=14),
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "SIGN_IN_LOCKOUT_SECONDS": 900,  # the longest wait after repeated failed sign-ins
    # How long a request waits for another's write lock before answering "busy" (503): well
    # below gunicorn's 30-second worker time-out.
    "DATABASE_BUSY_TIMEOUT": 5.0,
    # Starting the panel applies pending migrations under a lock (once, however many nodes start);
    # off for operators who run `flask --app app db upgrade` themselves.
    "MIGRATE_AT_START": True,
}

# The settings README documents; each may be set from the environment.
ENV_KEYS = (
    "SECRET_KEY", "DATABASE_URL", "MARKETPLACE_URL", "EMBEDDED_HUB", "CATALOG_TTL_SECONDS",
    "MAX_PACKAGE_BYTES", "MAX_UNPACKED_BYTES", "MAX_ARCHIVE_ENTRIES", "MAX_COMPRESSION_RATIO",
    "PENDING_UPLOAD_TTL_SECONDS", "MARKETPLACE_CONNECT_TIMEOUT", "MARKETPLACE_READ_TIMEOUT",
    "MARKETPLACE_TOTAL_TIMEOUT", "MARKETPLACE_RETRIES", "MARKETPLACE_BACKOFF", "MARKETPLACE_MAX_JSON_BYTES",
    "MARKETPLACE_RETRY_FAILED_SECONDS", "LOG_LEVEL", "SESSION_HOURS", "REMEMBER_DAYS", "SIGN_IN_LOCKOUT_SECONDS",
    "DATABASE_BUSY_TIMEOUT", "JOB_HEARTBEAT_SECONDS", "JOB_DEAD_AFTER_SECONDS", "MARKETPLACE_DOWNLOAD_TIMEOUT", "MIGRATE_AT_START",
)
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(ValueError):
    """A setting with a value the panel cannot use; the message is one sentence naming it."""


def from_environment(key: str, text: str):
    """`text` (an environment variable) as the type of the setting's default."""
    default = DEFAULTS.get(key)
    text = text.strip()
    if isinstance(default, bool):
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ConfigError(f"{key} from the environment must be true or false, not {text!r}.")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key} from the environment must be a whole number, not {text!r}.") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key} from the environment must be a number, not {text!r}.") from None
    if isinstance(default, list):
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def instance_path_from_env() -> str:
    return os.path.abspath(os.environ.get("PANEL_INSTANCE_PATH") or PROJECT_ROOT / "instance")


def load_secret_key(instance_path: Path) -> str:
    """A key generated once per installation and kept in the instance folder."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def configure(app, test_config=None) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for key in ENV_KEYS:
        if os.environ.get(key):
            app.config[key] = from_environment(key, os.environ[key])
    if test_config:
        app.config.from_mapping(test_config)
    if app.config.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{instance / 'panel.db'}")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                                   "connect_args": {"timeout": app.config["DATABASE_BUSY_TIMEOUT"]}}
    elif app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # The same bound on PostgreSQL: a wait for another's row lock ends in "lock timeout" (503).
        lock_ms = int(app.config["DATABASE_BUSY_TIMEOUT"] * 1000)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                                   "connect_args": {"options": f"-c lock_timeout={lock_ms}"}}
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=app.config["REMEMBER_DAYS"])
    if not app.config.get("SECRET_KEY"):
        try:
            app.config["SECRET_KEY"] = load_secret_key(instance)
        except FileExistsError:  # another worker wrote it between our check and create
            app.config["SECRET_KEY"] = load_secret_key(instance)
    app.config.setdefault("MODULES_PATH", str(instance / "modules"))
    app.config.setdefault("STAGING_PATH", str(instance / "staging"))
    app.config.setdefault("BACKUPS_PATH", str(instance / "backups"))
    app.config.setdefault("CACHE_PATH", str(instance / "cache"))
    for key in ("MODULES_PATH", "STAGING_PATH", "BACKUPS_PATH", "CACHE_PATH"):
        Path(app.config[key]).mkdir(parents=True, exist_ok=True)
