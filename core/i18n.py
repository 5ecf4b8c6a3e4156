"""Locale and time zone selection: user setting, then Accept-Language, then the tenant default."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel, get_locale
from flask_login import current_user

from core.plugins import PluginHost

LOCALES = {"zh_Hant": "繁體中文", "zh_Hans": "简体中文", "en": "English"}
HTML_LANG = {"zh_Hant": "zh-Hant-TW", "zh_Hans": "zh-Hans-CN", "en": "en"}
CORE_TRANSLATIONS = str(__import__("pathlib").Path(__file__).resolve().parent / "translations")


def match_language(tag: str) -> str | None:
    """Map a browser language tag (``zh-TW``, ``zh-Hans-CN``, ``en-GB``) to a shipped locale."""
    tag = tag.replace("_", "-").lower()
    if tag.startswith("zh"):
        parts = tag.split("-")[1:]
        if any(p in ("hant", "tw", "hk", "mo") for p in parts):
            return "zh_Hant"
        return "zh_Hans"
    if tag.startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    if has_request_context():
        if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
            return current_user.locale
        for tag, _quality in request.accept_languages:
            locale = match_language(tag)
            if locale:
                return locale
        tenant = g.get("tenant")
        if tenant is not None and tenant.default_locale in LOCALES:
            return tenant.default_locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    if has_request_context():
        if current_user and current_user.is_authenticated and current_user.timezone:
            return current_user.timezone
        tenant = g.get("tenant")
        if tenant is not None:
            return tenant.default_timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


WTFORMS_LOCALES = {"zh_Hant": "zh_TW", "zh_Hans": "zh", "en": "en"}
_wtforms_catalogues: dict[str, object] = {}


def wtforms_translations() -> object:
    """WTForms' own messages in the right script: its "zh" catalogue is Simplified, Taiwan's is "zh_TW"."""
    from babel import support
    from wtforms.i18n import messages_path

    locale = WTFORMS_LOCALES.get(str(get_locale()), "en")
    if locale not in _wtforms_catalogues:
        _wtforms_catalogues[locale] = support.Translations.load(messages_path(), [locale], domain="wtforms")
    return _wtforms_catalogues[locale]


class _LazyWTFormsTranslations:
    def ugettext(self, string: str) -> str:
        return wtforms_translations().ugettext(string)  # type: ignore[attr-defined]

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return wtforms_translations().ungettext(singular, plural, n)  # type: ignore[attr-defined]


def init_i18n(app: Flask, host: PluginHost) -> Babel:
    from pathlib import Path

    import themes

    directories = [CORE_TRANSLATIONS]
    theme_translations = Path(themes.__file__).resolve().parent / "default" / "translations"
    if theme_translations.is_dir():
        directories.append(str(theme_translations))
    for info in host.plugins.values():
        if (info.path / "translations").is_dir():
            directories.append(str(info.path / "translations"))
    for _plugin, paths in host.call_each("register_translations"):
        directories.extend(str(p) for p in paths)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(directories)
    babel = Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)

    @app.before_request
    def _wtforms_locale() -> None:
        # Flask-WTF caches the catalogue on the request under this name; give it one that picks the right
        # script when a message is translated (the locale is not known yet: no tenant or user is loaded).
        request.wtforms_translations = _LazyWTFormsTranslations()  # type: ignore[attr-defined]

    return babel
