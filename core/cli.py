"""The ``crm`` command, built on Flask's CLI. Errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import secrets
import string
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.plugins import PluginError
from core.provisioning import ProvisioningError


def _create_app() -> Any:
    from core.app import create_app

    return create_app()


class CRMGroup(FlaskGroup):
    """Turns expected failures into ``Error: <one line>`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except (ProvisioningError, PluginError, SQLAlchemyError, ValueError, LookupError, OSError) as exc:
            if os.environ.get("CRM_DEBUG"):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(message) from None
        except Exception as exc:
            if os.environ.get("CRM_DEBUG"):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise click.ClickException(f"{type(exc).__name__}: {first} (set CRM_DEBUG=1 for the traceback)") from None


@click.group(cls=CRMGroup, create_app=_create_app, add_version_option=False, load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Guanxi CRM: run `crm quickstart` to try it, `crm serve` in production."""


# ------------------------------------------------------------------------------------------ helpers


def _tenant(slug: str) -> Any:
    from core import db
    from core.models import Tenant

    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise click.ClickException(f"no tenant is called {slug!r} (see `crm tenants list`)")
    return tenant


def new_password(length: int = 16) -> str:
    """A random password of letters and digits: no leading ``-`` that a shell or `--password` would misread."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _commit() -> None:
    from core import db

    db.session.commit()


def _require_schema() -> None:
    from core.migrate import pending

    if pending(current_app):
        raise click.ClickException("the database schema is not up to date: run `crm db upgrade` first")


# ------------------------------------------------------------------------------------------- db


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.argument("target", default="heads")
def db_upgrade(target: str) -> None:
    """Create or upgrade the tables of core and every installed plugin."""
    from core.migrate import upgrade

    upgrade(current_app, target)
    click.echo("Database is up to date.")


@db.command("downgrade")
@click.argument("target")
def db_downgrade(target: str) -> None:
    """Go back to TARGET (a revision, `PLUGIN@base` to drop a plugin's tables, or `base`)."""
    from core.migrate import downgrade

    downgrade(current_app, target)
    click.echo(f"Downgraded to {target}.")


@db.command("current")
def db_current() -> None:
    """Show the revisions the database is at."""
    from core.migrate import current_heads

    for head in sorted(current_heads(current_app)):
        click.echo(head)


@db.command("revision")
@click.option("--plugin", required=True, help="The plugin whose branch gets the revision (or `core`).")
@click.option("-m", "--message", required=True)
@click.option("--empty", is_flag=True, help="Do not compare models with the database.")
def db_revision(plugin: str, message: str, empty: bool) -> None:
    """Write a new migration for PLUGIN, comparing its models with the database."""
    from core.migrate import new_revision

    script = new_revision(current_app, plugin, message, autogenerate=not empty)
    click.echo(f"Created {script.path}")


# ------------------------------------------------------------------------------------------ tenants


@main.group()
def tenants() -> None:
    """Tenants (companies) hosted on this installation."""


@tenants.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The company's display name.")
@click.option("--host", default=None, help="The host name this tenant answers on (e.g. crm.example.com).")
@click.option("--locale", default="zh_Hant", type=click.Choice(["zh_Hant", "zh_Hans", "en"]))
@click.option("--timezone", default="Asia/Taipei")
@click.option("--plugin", "plugins", multiple=True, help="Enable only these modules (default: all).")
def tenants_create(
    slug: str, name: str, host: str | None, locale: str, timezone: str, plugins: tuple[str, ...]
) -> None:
    """Create a tenant with the default groups and modules."""
    from core.provisioning import create_tenant

    _require_schema()
    tenant = create_tenant(slug, name, host=host, plugins=list(plugins) or None, locale=locale, timezone=timezone)
    _commit()
    click.echo(f"Created tenant {tenant.slug} ({tenant.name})" + (f" on {tenant.host}" if tenant.host else ""))


@tenants.command("list")
def tenants_list() -> None:
    """List tenants with their hosts and enabled modules."""
    from core import db
    from core.models import Tenant
    from core.tenant_plugins import enabled_plugins

    rows = db.session.scalars(select(Tenant).order_by(Tenant.slug)).all()
    if not rows:
        click.echo("No tenants yet: `crm tenants create SLUG --name NAME`.")
    for tenant in rows:
        state = "" if tenant.active else " (inactive)"
        click.echo(
            f"{tenant.slug}\t{tenant.name}\t{tenant.host or '-'}\t"
            f"{','.join(sorted(enabled_plugins(tenant))) or '-'}{state}"
        )


# ------------------------------------------------------------------------------------------ plugins


@main.group()
def plugins() -> None:
    """Installed modules and their state per tenant."""


@plugins.command("list")
@click.option("--tenant", "slug", default=None, help="Show whether each module is enabled for this tenant.")
def plugins_list(slug: str | None) -> None:
    """List installed plugins (and their state for a tenant)."""
    from core.tenant_plugins import enabled_plugins, host

    enabled = enabled_plugins(_tenant(slug)) if slug else None
    if not host().plugins:
        click.echo("No plugins are installed: `pip install` one, or write one with `crm plugins new NAME`.")
    for name, info in host().plugins.items():
        requires = f" requires {','.join(info.requires)}" if info.requires else ""
        state = "" if enabled is None else ("\tenabled" if name in enabled else "\tdisabled")
        click.echo(f"{name}\t{info.version}\t{info.title}{requires}{state}")


@plugins.command("enable")
@click.argument("name")
@click.option("--tenant", "slug", required=True)
def plugins_enable(name: str, slug: str) -> None:
    """Enable plugin NAME for a tenant (its requirements must be enabled)."""
    from core.tenant_plugins import enable_plugin

    enable_plugin(_tenant(slug), name)
    _commit()
    click.echo(f"Enabled {name} for {slug}.")


@plugins.command("disable")
@click.argument("name")
@click.option("--tenant", "slug", required=True)
def plugins_disable(name: str, slug: str) -> None:
    """Disable plugin NAME for a tenant; its data stays and returns when re-enabled."""
    from core.tenant_plugins import disable_plugin

    disable_plugin(_tenant(slug), name)
    _commit()
    click.echo(f"Disabled {name} for {slug}; its data is kept.")


@plugins.command("new", with_appcontext=False)
@click.argument("name")
@click.option("--directory", default=".", type=click.Path(file_okay=False), help="Where to create the package.")
@click.option("--title", default=None)
def plugins_new(name: str, directory: str, title: str | None) -> None:
    """Scaffold an installable plugin package NAME that passes its own tests."""
    from core.scaffold import scaffold

    path = scaffold(name, directory, title)
    click.echo(f"Created {path}. Next: pip install -e {path} && crm db upgrade && pytest {path}")


# ------------------------------------------------------------------------------------------ users


@main.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.argument("email")
@click.option("--tenant", "slug", required=True)
@click.option("--group", "groups", multiple=True, help="Group name or role (administrators, sales, ...).")
@click.option("--password", default=None, help="Without it a password is generated and printed.")
@click.option("--name", default="")
def users_create(email: str, slug: str, groups: tuple[str, ...], password: str | None, name: str) -> None:
    """Create a user in a tenant."""
    from core.provisioning import create_user
    from core.tenancy import tenant_context

    generated = password is None
    password = password or new_password()
    with tenant_context(_tenant(slug)):
        user = create_user(email, password=password, name=name, groups=groups)
        _commit()
    click.echo(f"Created {user.email} in {slug}" + (f" with password {password}" if generated else ""))


@users.command("set-password")
@click.argument("email")
@click.option("--tenant", "slug", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_set_password(email: str, slug: str, password: str) -> None:
    """Set a user's password (and unlock the account)."""
    from core import db
    from core.models import User
    from core.provisioning import validate_password
    from core.tenancy import tenant_context

    with tenant_context(_tenant(slug)):
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"no user {email} in {slug}")
        validate_password(password)
        user.set_password(password)
        user.failed_logins = 0
        user.locked_until = None
        _commit()
    click.echo(f"Password of {email} set.")


# ------------------------------------------------------------------------------------------ tokens


@main.group()
def tokens() -> None:
    """Personal API tokens (the REST API under /api/v1/)."""


@tokens.command("create")
@click.argument("email")
@click.option("--tenant", "slug", required=True)
@click.option("--name", default="Command line", help="What the token is for.")
def tokens_create(email: str, slug: str, name: str) -> None:
    """Create an API token for a user and print it (it is shown only this once)."""
    from core import db
    from core.api.tokens import issue_token
    from core.models import User
    from core.tenancy import tenant_context

    with tenant_context(_tenant(slug)):
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"no user {email} in {slug}")
        if not user.active:
            raise click.ClickException(f"{email} is deactivated in {slug}")
        if not name.strip():
            raise click.ClickException("the token needs a name")
        token, secret = issue_token(user, name)
        _commit()
    click.echo(f"Created API token {token.prefix}... ({token.name}) for {user.email} in {slug}.")
    click.echo("Copy it now, it is not shown again:")
    click.echo(secret)


@tokens.command("revoke")
@click.argument("prefix")
@click.option("--tenant", "slug", required=True)
def tokens_revoke(prefix: str, slug: str) -> None:
    """Revoke the API token starting with PREFIX (the first 8 characters shown on the tokens page)."""
    from core import db
    from core.api.tokens import PREFIX_LENGTH, revoke_token
    from core.models import ApiToken
    from core.tenancy import tenant_context

    prefix = prefix.strip().rstrip(".…")[:PREFIX_LENGTH]
    if len(prefix) < PREFIX_LENGTH:
        raise click.ClickException(f"give the first {PREFIX_LENGTH} characters of the token")
    with tenant_context(_tenant(slug)):
        found = db.session.scalars(
            select(ApiToken).where(ApiToken.prefix == prefix, ApiToken.revoked_at.is_(None))
        ).all()
        if not found:
            raise click.ClickException(f"no active API token starts with {prefix} in {slug}")
        if len(found) > 1:
            raise click.ClickException(f"{len(found)} active tokens start with {prefix}: revoke it on the tokens page")
        revoke_token(found[0])
        _commit()
    click.echo(f"Revoked API token {prefix}... ({found[0].name}).")


# ------------------------------------------------------------------------------------------ import


def _importing_user(email: str | None) -> Any:
    """The user an import acts as: ``email``, or the first administrator of the tenant."""
    from core import db
    from core.models import Group, User, UserGroup

    if email:
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None or not user.active:
            raise click.ClickException(f"no active user {email} in this tenant")
        return user
    stmt = (
        select(User)
        .join(UserGroup, UserGroup.user_id == User.id)
        .join(Group, Group.id == UserGroup.group_id)
        .where(Group.is_superuser.is_(True), User.active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    user = db.session.scalar(stmt)
    if user is None:
        raise click.ClickException("the tenant has no active administrator: name the acting user with --as EMAIL")
    return user


@main.command("import")
@click.argument("entity_name", metavar="ENTITY")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--tenant", "slug", required=True)
@click.option("--encoding", default="auto", show_default=True, type=click.Choice(["auto", "utf-8", "big5", "gb18030"]))
@click.option("--on-duplicate", default="skip", show_default=True, type=click.Choice(["skip", "update", "create"]))
@click.option("--match", default=None, help="Field that identifies duplicates (default: the entity's match fields).")
@click.option(
    "--map", "overrides", multiple=True, metavar="HEADER=FIELD", help="Map a column yourself; FIELD empty ignores it."
)
@click.option("--as", "as_email", default=None, help="E-mail of the acting user (default: the first administrator).")
@click.option("--dry-run", is_flag=True, help="Check every row and store nothing.")
def import_file_command(
    entity_name: str,
    path: str,
    slug: str,
    encoding: str,
    on_duplicate: str,
    match: str | None,
    overrides: tuple[str, ...],
    as_email: str | None,
    dry_run: bool,
) -> None:
    """Import a CSV or XLSX FILE into ENTITY (plural name, e.g. contacts): every row, or none if any has an error."""
    import time

    from flask_babel import force_locale

    from core import db
    from core.audit import Actor, reset_actor, set_actor
    from core.entities.importing import (
        Importer,
        Plan,
        ReadError,
        default_match,
        import_file,
        mapping_text,
        normalise,
        open_table,
        read_error_message,
        suggest,
    )
    from core.entities.registry import all_entities
    from core.permissions import has_permission
    from core.plugins import CORE
    from core.tenancy import tenant_context
    from core.tenant_plugins import is_enabled

    entities = all_entities()
    entity = entities.get(entity_name) or next((e for e in entities.values() if e.name == entity_name), None)
    if entity is None:
        known = ", ".join(sorted(entities)) or "none"
        raise click.ClickException(f"no entity is called {entity_name!r} (registered: {known})")
    tenant = _tenant(slug)
    if entity.plugin != CORE and not is_enabled(tenant, entity.plugin):
        raise click.ClickException(f"the {entity.plugin} module is disabled for {slug}")
    with tenant_context(tenant), force_locale("en"):
        user = _importing_user(as_email)
        permission = entity.permission("import")
        if not has_permission(permission, user):
            raise click.ClickException(f"{user.email} may not import {entity.plural} (needs {permission})")
        try:
            with open_table(path, encoding=encoding) as table:
                headers = table.headers
                detected = table.encoding_name
        except ReadError as exc:
            raise click.ClickException(read_error_message(exc)) from None
        mapping = suggest(entity, headers)
        for override in overrides:
            header, sep, field = override.partition("=")
            wanted = [i for i, h in enumerate(headers) if normalise(h) == normalise(header)]
            if not sep or not wanted:
                raise click.ClickException(f"--map {override!r}: no column {header!r} in the file")
            for index in wanted:
                mapping[index] = field.strip()
        plan = Plan(
            mapping, on_duplicate, match or (default_match(entity, mapping) if on_duplicate != "create" else None)
        )
        importer = Importer(entity, user, headers, plan)
        click.echo(
            f"Importing {path} into {entity.plural} of {slug} as {user.email}" + (f" ({detected})" if detected else "")
        )
        click.echo("Columns:")
        for line in mapping_text(importer):
            click.echo(f"  {line}")
        if importer.match is not None:
            click.echo(f"Duplicates ({on_duplicate}) are matched on {importer.match.label} ({importer.match.name}).")

        def progress(phase: str, rows: int, fraction: float) -> None:
            if rows % 50000 == 0:
                click.echo(f"  {'checked' if phase == 'check' else 'saved'} {rows:,} rows", err=True)

        token = set_actor(Actor(user.id, user.email, None))
        started = time.monotonic()
        try:
            result, _importer = import_file(
                entity, user, path, plan, encoding=encoding, dry_run=dry_run, progress=progress
            )
            db.session.commit()
        finally:
            reset_actor(token)
        seconds = time.monotonic() - started
    for error in result.errors:
        where = ", ".join(part for part in (f"row {error.row}" if error.row else "", error.column) if part)
        click.echo(f"{where}: {error.message}" if where else error.message)
    if result.error_count > len(result.errors):
        click.echo(f"... and {result.error_count - len(result.errors)} more errors.")
    if not result.ok:
        noun = "error" if result.error_count == 1 else "errors"
        click.echo(f"Nothing was imported: {result.error_count} {noun}.")
        sys.exit(1)
    rate = f" in {seconds:.1f} s ({result.rows / seconds:,.0f} rows/s)" if seconds > 0 and result.rows else ""
    if dry_run:
        click.echo(
            f"Dry run: {result.rows} rows checked, no errors; {result.created} would be created, "
            f"{result.updated} updated, {result.skipped} skipped{rate}."
        )
    else:
        click.echo(
            f"{result.rows} rows: {result.created} created, {result.updated} updated, {result.skipped} skipped{rate}."
        )


# ------------------------------------------------------------------------------------------ serving


def _gunicorn(host: str, port: int, workers: int, dev_cookies: bool) -> None:
    from gunicorn.app.base import BaseApplication

    if dev_cookies:
        # Plain http on this machine: a Secure cookie would not come back from a browser on another host.
        os.environ["CRM_SESSION_COOKIE_SECURE"] = "false"
        os.environ["CRM_REMEMBER_COOKIE_SECURE"] = "false"

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            self.cfg.set("timeout", 60)

        def load(self) -> Any:
            from core.app import create_app

            return create_app()

    Server().run()


@main.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--workers", default=2, type=int)
@click.option("--insecure-cookies", is_flag=True, help="Allow session cookies over plain http (testing only).")
def serve(host: str, port: int, workers: int, insecure_cookies: bool) -> None:
    """Serve the app with gunicorn (put nginx with TLS in front of it in production)."""
    _gunicorn(host, port, workers, insecure_cookies)


@main.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker for background jobs (needs CRM_REDIS_URL)."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException("CRM_REDIS_URL is not set: without Redis, jobs run in a background thread")
    from redis import Redis
    from rq import Worker

    from core import jobs

    jobs._worker_apps["app"] = current_app._get_current_object()
    Worker(["crm"], connection=Redis.from_url(url)).work(burst=burst)


@main.command("quickstart")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--admin-password", default=None, help="Default: a new random password, printed.")
@click.option("--admin-email", default="admin@example.com")
@click.option("--no-demo", is_flag=True, help="Create no sample data.")
@click.option("--no-serve", is_flag=True, help="Set everything up, print the credentials, and exit.")
def quickstart(
    host: str, port: int, admin_password: str | None, admin_email: str, no_demo: bool, no_serve: bool
) -> None:
    """Create the database, a demo tenant with sample data and an administrator, then serve."""
    from core import db as database
    from core.migrate import upgrade
    from core.models import Tenant, User
    from core.provisioning import create_tenant, create_user, validate_password
    from core.tenancy import tenant_context

    app = current_app._get_current_object()
    upgrade(app)
    slug = app.config["DEFAULT_TENANT"] or "demo"
    tenant = database.session.scalar(select(Tenant).where(Tenant.slug == slug))
    fresh = tenant is None
    if fresh:
        tenant = create_tenant(slug, "示範貿易股份有限公司 Demo Trading Co.", locale="zh_Hant")
        database.session.commit()
    password = admin_password or new_password()
    with tenant_context(tenant):
        validate_password(password)
        admin = database.session.scalar(select(User).where(User.email == admin_email))
        if admin is None:
            admin = create_user(admin_email, password=password, name="系統管理員", groups=["administrators"])
        else:
            admin.set_password(password)
            admin.active = True
            admin.locked_until = None
        database.session.commit()
        if fresh and not no_demo:
            from core.demo import load_demo_data

            click.echo("Loading demo data ...")
            load_demo_data(tenant)
    url = f"http://{host}:{port}/"
    click.echo("")
    click.echo(f"  Guanxi CRM is ready at {url}")
    click.echo(f"  Sign in as {admin_email} with password {password}")
    click.echo("")
    sys.stdout.flush()
    if not no_serve:
        _gunicorn(host, port, 2, dev_cookies=True)


# ------------------------------------------------------------------------------------------ search


@main.group(name="search")
def search_group() -> None:
    """The search index behind the search box and list searches."""


@search_group.command("reindex")
@click.option("--tenant", "slug", default=None, help="Only this tenant (default: every tenant).")
@click.option("--entity", "plural", default=None, help="Only this entity, by plural name (default: all).")
@click.option("--batch", default=2000, show_default=True, help="Records read and written per transaction.")
def search_reindex(slug: str | None, plural: str | None, batch: int) -> None:
    """Rebuild the search index in batches (search keeps working meanwhile)."""
    from core import db
    from core.entities.registry import all_entities
    from core.entities.search_index import reindex
    from core.models import Tenant
    from core.tenancy import tenant_context

    entities = all_entities()
    if plural is not None and plural not in entities:
        known = ", ".join(sorted(entities)) or "none"
        raise click.ClickException(f"no entity is called {plural!r} (registered: {known})")
    chosen = [entities[plural]] if plural else list(entities.values())
    tenants = [_tenant(slug)] if slug else list(db.session.scalars(select(Tenant).order_by(Tenant.slug)))
    for tenant in tenants:
        with tenant_context(tenant):
            for entity in chosen:
                count = reindex(entity, batch=max(1, batch))
                click.echo(f"{tenant.slug}\t{entity.plural}\t{count} records indexed")


# ------------------------------------------------------------------------------------------ i18n


@main.group(name="i18n")
def i18n() -> None:
    """Translation catalogues (zh_Hant, zh_Hans, en)."""


@i18n.command("update", with_appcontext=False)
@click.option(
    "--plugin",
    "plugin_dir",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    help="A plugin package folder; default: core and the default theme.",
)
def i18n_update(plugin_dir: str | None) -> None:
    """Extract messages, merge them into the .po files and compile the .mo files."""
    from pathlib import Path

    from core.catalogs import CORE_SOURCES, PLUGIN_SOURCES, REPO_ROOT, extract, missing, update

    if plugin_dir:
        root, sources = Path(plugin_dir).resolve(), PLUGIN_SOURCES
    else:
        root, sources = REPO_ROOT, CORE_SOURCES
    translations = (root / "translations") if plugin_dir else (REPO_ROOT / "core" / "translations")
    template = extract(root, sources)
    update(translations, template)
    gaps = missing(translations, template)
    click.echo(
        f"{len(template)} messages; untranslated: " + (", ".join(f"{k} {len(v)}" for k, v in gaps.items()) or "none")
    )


@i18n.command("compile", with_appcontext=False)
@click.option("--plugin", "plugin_dir", default=None, type=click.Path(exists=True, file_okay=False))
def i18n_compile(plugin_dir: str | None) -> None:
    """Compile the .po files to .mo."""
    from pathlib import Path

    from core.catalogs import REPO_ROOT, compile_all

    compile_all(Path(plugin_dir).resolve() / "translations" if plugin_dir else REPO_ROOT / "core" / "translations")
    click.echo("Compiled.")
