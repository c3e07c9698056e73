"""What the store sells: licenses, their modules, activations, trials (once per license and module)
and single-use coupons; and the signed token that tells a panel what it may run.

Every refusal is a `Refused` with an HTTP status, a reason code and one English sentence (the
store's API language; a panel shows its own translation by reason code).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from ..licensing import keys, token
from . import db
from .store import Store

TRIAL_DAYS = 14
INSTALLATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

# The demo the embedded store seeds on first start (quoted in the README): a license owning nothing
# paid, for 3 installations, and two coupons, each adding invoices_pro for ever.
DEMO_OWNER = "Demo"
DEMO_LICENSE_KEY = "PANEL-DEMKY-TRYME-ABCDE-FGHJ6"
DEMO_INSTALLATIONS = 3
DEMO_COUPONS = ("PANELUPD-DEMCP-FRST2-TRY2Z", "PANELUPD-DEMCP-SCND2-TRY2E")
DEMO_COUPON_MODULES = ("invoices_pro",)

FORMAT_PROBLEMS = {"empty": "it is empty", "prefix": "it starts otherwise", "length": "it has too few or too many characters",
                   "character": "it holds a character they never use (0, O, 1, I, L…)",
                   "typo": "its check character does not match: there is a typo"}


@dataclass(eq=False)
class Refused(Exception):
    status: int
    reason: str
    error: str
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.error

    def body(self) -> dict:
        return {"error": self.error, "reason": self.reason, **self.details}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _stored(moment: datetime | None) -> datetime | None:
    """Naive UTC, the way the columns keep it (SQLite has no time zones)."""
    return None if moment is None else moment.astimezone(timezone.utc).replace(tzinfo=None)


def _loaded(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=timezone.utc)


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


def _later(first: datetime | None, second: datetime | None) -> bool:
    """Is `first` a later end than `second` (None: never ends)?"""
    if first is None:
        return second is not None
    return second is not None and first > second


class LicenseStore:
    def __init__(self, database: db.HubDatabase, catalog: Store):
        self.database = database
        self.catalog = catalog

    @property
    def engine(self):
        return self.database.engine

    # --- checks -------------------------------------------------------------------------------
    @staticmethod
    def _checked(check, text, what: str) -> str:
        try:
            return check(text)
        except keys.KeyFormatError as exc:
            raise Refused(400, "bad_format", f"This is not {what}; {FORMAT_PROBLEMS[exc.problem]}.") from None

    @classmethod
    def _key(cls, text) -> str:
        return cls._checked(keys.check_key, text, "a license key: a key looks like PANEL-XXXXX-XXXXX-XXXXX-XXXXX")

    @classmethod
    def _code(cls, text) -> str:
        return cls._checked(keys.check_coupon, text, "a coupon code: a code looks like PANELUPD-XXXXX-XXXXX-XXXXX")

    @staticmethod
    def _installation(value) -> str:
        if not isinstance(value, str) or not INSTALLATION_ID.match(value):
            raise Refused(400, "bad_installation", "The installation id is missing or malformed.")
        return value

    def paid_module(self, slug) -> str:
        entry = self.catalog.get(slug) if isinstance(slug, str) else None
        if entry is None:
            raise Refused(404, "unknown_module", f"The store has no module {slug!r}.")
        if not entry.meta.get("paid"):
            raise Refused(400, "free_module", f"{slug} is free: it needs no license.")
        return slug

    def _license(self, connection, key: str):
        row = connection.execute(select(db.licenses).where(db.licenses.c.key == key)).first()
        if row is None:
            raise Refused(404, "unknown_key", "The store knows no license with this key.")
        return row

    def _activated(self, connection, license_row, installation: str) -> None:
        found = connection.execute(select(db.activations.c.id).where(
            db.activations.c.license_id == license_row.id, db.activations.c.installation == installation)).first()
        if found is None:
            raise Refused(403, "not_activated", "This installation has not activated this key: activate it first.")

    # --- the token ----------------------------------------------------------------------------
    def modules_of(self, connection, license_id: int, now: datetime) -> dict:
        """slug -> the best entitlement: one in force over one that ended, the longest in force."""
        candidates = []
        for row in connection.execute(select(db.grants).where(db.grants.c.license_id == license_id)):
            candidates.append((row.slug, row.kind, _loaded(row.until), _loaded(row.updates_until)))
        for row in connection.execute(select(db.trials).where(db.trials.c.license_id == license_id)):
            candidates.append((row.slug, "trial", _loaded(row.ends_at), None))
        best: dict[str, tuple] = {}
        for slug, kind, until, updates_until in candidates:
            active = until is None or until > now
            current = best.get(slug)
            if current is None or (active and not current[0]) or (
                    active == current[0] and _later(until, current[2])):
                best[slug] = (active, kind, until, updates_until)
        return {slug: {"kind": kind, "until": token.format_time(until),
                       "updates_until": token.format_time(updates_until)}
                for slug, (_active, kind, until, updates_until) in sorted(best.items())}

    def _token(self, connection, license_row, installation: str, now: datetime) -> tuple[str, dict]:
        connection.execute(update(db.activations).where(
            db.activations.c.license_id == license_row.id, db.activations.c.installation == installation
        ).values(last_seen_at=_stored(now)))
        claims = token.make_claims(license_row.id, license_row.owner, installation,
                                   self.modules_of(connection, license_row.id, now), now)
        return token.sign(claims, self.catalog.key), claims

    # --- the API ------------------------------------------------------------------------------
    def activate(self, key, installation) -> tuple[str, dict]:
        key, installation, now = self._key(key), self._installation(installation), now_utc()
        with self.engine.begin() as connection:
            license_row = self._license(connection, key)
            known = connection.execute(select(db.activations.c.id).where(
                db.activations.c.license_id == license_row.id,
                db.activations.c.installation == installation)).first()
            if known is None:
                # One statement counts and inserts, so two installations racing for the last place
                # cannot both get it.
                added = connection.execute(text(
                    "INSERT INTO activations (license_id, installation, activated_at, last_seen_at) "
                    "SELECT :license, :installation, :now, :now WHERE "
                    "(SELECT count(*) FROM activations WHERE license_id = :license) < :most"),
                    {"license": license_row.id, "installation": installation, "now": _stored(now),
                     "most": license_row.max_installations})
                if added.rowcount != 1:
                    raise Refused(409, "no_installation_left",
                                  f"This key is already used by {license_row.max_installations} installation(s), "
                                  "the most it allows.")
            return self._token(connection, license_row, installation, now)

    def refresh(self, key, installation) -> tuple[str, dict]:
        key, installation, now = self._key(key), self._installation(installation), now_utc()
        with self.engine.begin() as connection:
            license_row = self._license(connection, key)
            self._activated(connection, license_row, installation)
            return self._token(connection, license_row, installation, now)

    def start_trial(self, key, installation, slug) -> tuple[str, dict, dict]:
        key, installation, now = self._key(key), self._installation(installation), now_utc()
        slug = self.paid_module(slug)
        days = int(self.catalog.get(slug).meta.get("trial_days") or TRIAL_DAYS)
        try:
            with self.engine.begin() as connection:
                license_row = self._license(connection, key)
                self._activated(connection, license_row, installation)
                owned = connection.execute(select(db.grants.c.until).where(
                    db.grants.c.license_id == license_row.id, db.grants.c.slug == slug)).first()
                if owned is not None and (owned.until is None or _loaded(owned.until) > now):
                    raise Refused(409, "already_licensed", f"{slug} is already part of this license: it needs no trial.")
                connection.execute(insert(db.trials).values(
                    license_id=license_row.id, slug=slug, started_at=_stored(now),
                    ends_at=_stored(now + timedelta(days=days))))
                token_text, claims = self._token(connection, license_row, installation, now)
        except IntegrityError:  # the trial of this license and module exists: never a second one
            with self.engine.connect() as connection:
                trial = connection.execute(select(db.trials).join(db.licenses).where(
                    db.licenses.c.key == key, db.trials.c.slug == slug)).first()
            ends = _loaded(trial.ends_at)
            verb = "ended" if ends <= now else "ends"
            raise Refused(409, "trial_used", f"The trial of {slug} was already used: it {verb} on {_day(ends)}.",
                          {"started_at": token.format_time(_loaded(trial.started_at)),
                           "ended_at": token.format_time(ends)}) from None
        trial = {"module": slug, "started_at": token.format_time(now),
                 "ends_at": token.format_time(now + timedelta(days=days)), "days": days}
        return token_text, claims, trial

    def redeem(self, key, installation, code) -> tuple[str, dict, dict]:
        key, installation, now = self._key(key), self._installation(installation), now_utc()
        code = self._code(code)
        with self.engine.connect() as connection:
            license_row = self._license(connection, key)
            self._activated(connection, license_row, installation)
        with self.engine.begin() as connection:
            # The claiming UPDATE comes first: whoever's UPDATE matches the unused row wins, the
            # other finds it used (rowcount 0), on every worker and every node at once.
            claimed = connection.execute(update(db.coupons).where(
                db.coupons.c.code == code, db.coupons.c.redeemed_at.is_(None)).values(
                redeemed_at=_stored(now), redeemed_by=license_row.id, redeemed_installation=installation))
            if claimed.rowcount == 1:
                coupon = connection.execute(select(db.coupons).where(db.coupons.c.code == code)).one()
                added = self._apply_coupon(connection, license_row.id, coupon, now)
                token_text, claims = self._token(connection, license_row, installation, now)
                return token_text, claims, added
        with self.engine.connect() as connection:
            coupon = connection.execute(select(db.coupons).where(db.coupons.c.code == code)).first()
        if coupon is None:
            raise Refused(404, "unknown_coupon", "The store knows no coupon with this code.")
        raise Refused(409, "coupon_used", f"This coupon was already used on {_day(_loaded(coupon.redeemed_at))}.",
                      {"used_at": token.format_time(_loaded(coupon.redeemed_at))})

    def _apply_coupon(self, connection, license_id: int, coupon, now: datetime) -> dict:
        """Add the coupon's modules (for ever, or for its days); days alone extend every dated module."""
        days = timedelta(days=coupon.days) if coupon.days else None
        current = {row.slug: row for row in connection.execute(
            select(db.grants).where(db.grants.c.license_id == license_id))}
        slugs = list(coupon.modules) or [slug for slug, row in current.items() if row.until or row.updates_until]
        for slug in slugs:
            row = current.get(slug)
            if row is None:
                until = None if days is None else now + days
                connection.execute(insert(db.grants).values(license_id=license_id, slug=slug, kind="coupon",
                                                            until=_stored(until), updates_until=_stored(until)))
                continue
            until, updates_until = _loaded(row.until), _loaded(row.updates_until)
            if days is None:
                until = updates_until = None
            elif until is not None:
                until = updates_until = max(now, until) + days
            elif updates_until is not None:
                updates_until = max(now, updates_until) + days
            connection.execute(update(db.grants).where(db.grants.c.id == row.id).values(
                until=_stored(until), updates_until=_stored(updates_until)))
        return {"modules": sorted(slugs), "days": coupon.days}

    # --- the operator -------------------------------------------------------------------------
    def create_license(self, owner: str, modules=(), installations: int = 1, until: datetime | None = None,
                       updates_until: datetime | None = None, key: str | None = None) -> str:
        owner = (owner or "").strip()
        if not owner:
            raise Refused(400, "bad_owner", "A license needs an owner's name.")
        if installations < 1:
            raise Refused(400, "bad_installations", "A license allows at least 1 installation.")
        slugs = [self.paid_module(slug) for slug in dict.fromkeys(modules)]
        key = self._key(key) if key else keys.new_key()
        with self.engine.begin() as connection:
            license_id = connection.execute(insert(db.licenses).values(
                key=key, owner=owner, max_installations=installations, created_at=_stored(now_utc()))
            ).inserted_primary_key[0]
            for slug in slugs:
                connection.execute(insert(db.grants).values(license_id=license_id, slug=slug, kind="owned",
                                                            until=_stored(until),
                                                            updates_until=_stored(updates_until or until)))
        return key

    def create_coupon(self, modules=(), days: int | None = None, code: str | None = None) -> str:
        slugs = [self.paid_module(slug) for slug in dict.fromkeys(modules)]
        if not slugs and not days:
            raise Refused(400, "empty_coupon", "A coupon adds at least one module or some days.")
        if days is not None and days < 1:
            raise Refused(400, "bad_days", "A coupon adds at least 1 day.")
        code = self._code(code) if code else keys.new_coupon()
        with self.engine.begin() as connection:
            connection.execute(insert(db.coupons).values(code=code, modules=slugs, days=days,
                                                         created_at=_stored(now_utc())))
        return code

    def set_trial(self, key, slug, started: datetime) -> dict:
        """Start (or move) the trial of `slug` on this license to `started`: to correct one, or to try expiry."""
        key, slug = self._key(key), self.paid_module(slug)
        started = token.parse_time(started)
        ends = started + timedelta(days=int(self.catalog.get(slug).meta.get("trial_days") or TRIAL_DAYS))
        with self.engine.begin() as connection:
            license_row = self._license(connection, key)
            moved = connection.execute(update(db.trials).where(
                db.trials.c.license_id == license_row.id, db.trials.c.slug == slug).values(
                started_at=_stored(started), ends_at=_stored(ends)))
            if moved.rowcount == 0:
                connection.execute(insert(db.trials).values(license_id=license_row.id, slug=slug,
                                                            started_at=_stored(started), ends_at=_stored(ends)))
        return {"module": slug, "started_at": token.format_time(started), "ends_at": token.format_time(ends)}

    def license_count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(db.licenses)).scalar_one()


def seed_demo(engine) -> None:
    """The demo license and coupons, once: idempotent, safe when several workers start together
    (they run under the migration lock, and the unique key/code columns refuse a second copy)."""
    now = _stored(now_utc())
    with engine.begin() as connection:
        if connection.execute(select(db.licenses.c.id).where(db.licenses.c.key == DEMO_LICENSE_KEY)).first() is None:
            connection.execute(insert(db.licenses).values(key=DEMO_LICENSE_KEY, owner=DEMO_OWNER,
                                                          max_installations=DEMO_INSTALLATIONS, created_at=now))
        for code in DEMO_COUPONS:
            if connection.execute(select(db.coupons.c.id).where(db.coupons.c.code == code)).first() is None:
                connection.execute(insert(db.coupons).values(code=code, modules=list(DEMO_COUPON_MODULES),
                                                             days=None, created_at=now))
