"""Licensing: licenses, their modules, activations, trials and coupons.

Revision ID: hub_0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "hub_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "licenses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(40), nullable=False, unique=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("max_installations", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "license_modules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("license_id", sa.Integer(), sa.ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slug", sa.String(48), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=True),
        sa.Column("updates_until", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("license_id", "slug", name="uq_license_modules_license_slug"),
    )
    op.create_table(
        "activations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("license_id", sa.Integer(), sa.ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("installation", sa.String(64), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("license_id", "installation", name="uq_activations_license_installation"),
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("license_id", sa.Integer(), sa.ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slug", sa.String(48), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("license_id", "slug", name="uq_trials_license_slug"),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False, unique=True),
        sa.Column("modules", sa.JSON(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(), nullable=True),
        sa.Column("redeemed_by", sa.Integer(), sa.ForeignKey("licenses.id", ondelete="SET NULL"), nullable=True),
        sa.Column("redeemed_installation", sa.String(64), nullable=True),
    )


def downgrade():
    for table in ("coupons", "trials", "activations", "license_modules", "licenses"):
        op.drop_table(table)
