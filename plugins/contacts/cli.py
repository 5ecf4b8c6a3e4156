"""``crm contacts ...``: commands of the contacts plugin."""

from __future__ import annotations

import click
from flask.cli import AppGroup


@click.group("contacts", cls=AppGroup)
def contacts_group() -> None:
    """Contacts: task reminders."""


@contacts_group.command("remind")
@click.option("--tenant", "slug", default=None, help="Only this tenant (default: every tenant using contacts).")
def remind(slug: str | None) -> None:
    """Send the in-app reminders of tasks whose reminder time has come (run it every minute from cron)."""
    from sqlalchemy import select

    from core import db
    from core.models import Tenant
    from core.tenancy import tenant_context
    from core.tenant_plugins import is_enabled

    from .timeline import send_due_reminders

    statement = select(Tenant).where(Tenant.active.is_(True)).order_by(Tenant.id)
    if slug is not None:
        statement = select(Tenant).where(Tenant.slug == slug)
    tenants = list(db.session.scalars(statement))
    if slug is not None and not tenants:
        raise click.ClickException(f"no tenant is called {slug!r} (see `crm tenants list`)")
    total = 0
    for tenant in tenants:
        if not is_enabled(tenant, "contacts"):
            if slug is not None:
                raise click.ClickException(f"contacts is not enabled for {slug}")
            continue
        with tenant_context(tenant):
            sent = send_due_reminders()
            db.session.commit()
        total += sent
        if sent:
            click.echo(f"{tenant.slug}: {sent} reminder(s) sent")
    click.echo(f"{total} reminder(s) sent")
