"""``crm plugins new NAME``: write an installable plugin package that passes its own tests.

The files come from ``core/scaffold/*.tmpl`` (``string.Template``: ``${name}`` placeholders, ``$$`` for a
literal dollar sign). The generated migration ``depends_on`` the core revision(s) that are the head(s) *now*,
read with Alembic's ``ScriptDirectory`` over ``core/migrations/versions``, because a migration file cannot
refer to ``core@head``: the head moves when core gains a revision, and the plugin's first revision must keep
depending on the schema it was written against.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import keyword
import re
from pathlib import Path
from string import Template

from core.plugins import CORE, ENTRY_POINT_GROUP

TEMPLATES = Path(__file__).resolve().parent / "scaffold"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 24  # keeps generated constraint names under MariaDB's and PostgreSQL's 63/64-character limits
MAX_TITLE = 40  # the title is a menu label; a Chinese one is still well within the line length
# Names a plugin cannot take: core itself, core's blueprints and URL prefixes.
RESERVED = frozenset({CORE, "accounts", "admin", "home", "static", "api", "theme_static"})
VERSION = "0.1.0"

# template file (under core/scaffold/) -> path in the generated project
FILES: dict[str, str] = {
    "setup.cfg.tmpl": "setup.cfg",
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "babel.cfg.tmpl": "babel.cfg",
    "ruff.toml.tmpl": "ruff.toml",
    "package/__init__.py.tmpl": "crm_{name}/__init__.py",
    "package/plugin.py.tmpl": "crm_{name}/plugin.py",
    "package/models.py.tmpl": "crm_{name}/models.py",
    "package/forms.py.tmpl": "crm_{name}/forms.py",
    "package/views.py.tmpl": "crm_{name}/views.py",
    "package/templates/index.html.tmpl": "crm_{name}/templates/{name}/index.html",
    "package/templates/detail.html.tmpl": "crm_{name}/templates/{name}/detail.html",
    "package/templates/form.html.tmpl": "crm_{name}/templates/{name}/form.html",
    "package/templates/panel.html.tmpl": "crm_{name}/templates/{name}/panel.html",
    "package/migrations/initial.py.tmpl": "crm_{name}/migrations/versions/{name}_0001_initial.py",
    "tests/test_plugin.py.tmpl": "tests/test_{name}.py",
}


class ScaffoldError(ValueError):
    """The plugin cannot be created; the message says why (the CLI prints it as one line)."""


def validate_name(name: str) -> None:
    """A plugin name is a short lower-case identifier that no installed plugin or core part uses."""
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"invalid plugin name {name!r}: use a lower-case Python identifier (letters, digits, underscores), "
            "starting with a letter"
        )
    if len(name) > MAX_NAME:
        raise ScaffoldError(f"plugin name {name!r} is longer than {MAX_NAME} characters")
    if name in RESERVED:
        raise ScaffoldError(f"plugin name {name!r} is reserved by the kernel")
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == name:
            raise ScaffoldError(f"a plugin called {name!r} is already installed ({entry_point.value})")


def core_heads() -> tuple[str, ...]:
    """The current head revision(s) of core's migration branch, read from ``core/migrations/versions``."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from core.migrate import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))  # its versions/ folder holds core's revisions
    heads = ScriptDirectory.from_config(config).get_heads()
    if not heads:
        raise ScaffoldError("core has no migration revisions")
    return tuple(sorted(heads))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def context(name: str, title: str | None = None) -> dict[str, str]:
    """The values substituted into the templates."""
    title = (title or name.replace("_", " ").title()).strip()
    if not title or "\n" in title or "\r" in title or len(title) > MAX_TITLE:
        raise ScaffoldError(f"the title must be one line of 1 to {MAX_TITLE} characters")
    return {
        "name": name,
        "title": title,
        "title_literal": json.dumps(title, ensure_ascii=False),
        "title_cfg": title.replace("%", "%%"),  # setup.cfg interpolates %
        "version": VERSION,
        "model": f"{_camel(name)}Item",
        "table": f"{name}_items",
        "table_stem": "item",
        "url_prefix": name.replace("_", "-"),
        "revision": f"{name}_0001",
        "depends_on": repr(core_heads()).replace("'", '"'),
        "create_date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }


def scaffold(name: str, directory: str | Path = ".", title: str | None = None) -> Path:
    """Write the package ``crm-<name>`` into ``directory`` and return its path.

    Refuses (with :class:`ScaffoldError`) an invalid or reserved name, a name an installed plugin already uses,
    and an existing target directory.
    """
    validate_name(name)
    target = Path(directory).expanduser().resolve() / f"crm-{name}"
    if target.exists():
        raise ScaffoldError(f"{target} already exists")
    values = context(name, title)
    rendered = {
        target / destination.format(name=name): Template((TEMPLATES / source).read_text(encoding="utf-8")).substitute(
            values
        )
        for source, destination in FILES.items()
    }
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
