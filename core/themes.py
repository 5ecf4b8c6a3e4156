"""Themes: one Jinja environment per theme, template lookup theme -> default theme -> plugins -> core."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_request_context, template_rendered
from flask.signals import before_render_template
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

import themes as themes_package
from core.plugins import PluginHost

CORE_TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_THEME = "default"


class Themes:
    def __init__(self, app: Flask, host: PluginHost) -> None:
        self.app = app
        self.dirs: dict[str, Path] = {}
        for root in [Path(themes_package.__file__).resolve().parent, app.config.get("THEMES_DIR")]:
            if not root:
                continue
            for child in sorted(Path(root).iterdir()):
                if (child / "templates").is_dir():
                    self.dirs[child.name] = child
        if DEFAULT_THEME not in self.dirs:
            raise RuntimeError("the default theme is missing from themes/")
        self.plugin_dirs = [
            info.path / "templates" for info in host.plugins.values() if (info.path / "templates").is_dir()
        ]
        self._envs: dict[str, Environment] = {}
        self._lock = threading.Lock()
        app.jinja_env.loader = self.loader(DEFAULT_THEME)
        app.extensions["crm.themes"] = self

    def loader(self, theme: str) -> ChoiceLoader:
        chain = []
        if theme != DEFAULT_THEME and theme in self.dirs:
            chain.append(FileSystemLoader(self.dirs[theme] / "templates"))
        chain.append(FileSystemLoader(self.dirs[DEFAULT_THEME] / "templates"))
        chain.extend(FileSystemLoader(path) for path in self.plugin_dirs)
        chain.append(FileSystemLoader(CORE_TEMPLATES))
        return ChoiceLoader(chain)

    def names(self) -> list[str]:
        return list(self.dirs)

    def static_dir(self, theme: str) -> Path | None:
        path = self.dirs.get(theme)
        return path / "static" if path else None

    def environment(self, theme: str) -> Environment:
        theme = theme if theme in self.dirs else DEFAULT_THEME
        env = self._envs.get(theme)
        if env is not None:
            return env
        with self._lock:
            env = self._envs.get(theme)
            if env is None:
                env = self._build(theme)
                self._envs[theme] = env
        return env

    def _build(self, theme: str) -> Environment:
        base = self.app.jinja_env
        env = self.app.create_jinja_environment()
        env.loader = self.loader(theme)
        env.add_extension("jinja2.ext.i18n")
        env.newstyle_gettext = True  # type: ignore[attr-defined]
        env.globals.update(base.globals)
        env.filters.update(base.filters)
        env.tests.update(base.tests)
        env.policies.update(base.policies)
        return env


def current_theme() -> str:
    if has_request_context():
        tenant = g.get("tenant")
        if tenant is not None:
            return tenant.theme
    return DEFAULT_THEME


def render(template_name: str | list[str], **context: Any) -> str:
    """Render a template through the current tenant's theme (use this instead of ``render_template``)."""
    app = current_app._get_current_object()
    env = app.extensions["crm.themes"].environment(current_theme())
    template = env.get_or_select_template(template_name)
    app.update_template_context(context)
    before_render_template.send(app, _async_wrapper=app.ensure_sync, template=template, context=context)
    html = template.render(context)
    template_rendered.send(app, _async_wrapper=app.ensure_sync, template=template, context=context)
    return html
