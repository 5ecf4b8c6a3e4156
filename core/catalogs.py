"""Translation catalogues: extract messages, update the zh_Hant/zh_Hans/en ``.po`` files, compile ``.mo``.

``crm i18n update`` does it for core and the default theme, ``crm i18n update --plugin NAME`` for a plugin's
own ``translations/`` folder. The test suite uses :func:`missing` to prove the catalogues are complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

LOCALES = ("zh_Hant", "zh_Hans", "en")
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
DOMAIN = "messages"

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE_SOURCES = (
    ("core/**.py", "python"),
    ("core/templates/**.html", "jinja2"),
    ("themes/**/templates/**.html", "jinja2"),
)
PLUGIN_SOURCES = (("**.py", "python"), ("templates/**.html", "jinja2"))


def extract(root: Path, sources: Iterable[tuple[str, str]]) -> Catalog:
    """Every translatable message under ``root``, with its source locations."""
    template = Catalog(project="guanxi", charset="utf-8")
    skip = ("scaffold", "tests", "migrations", "__pycache__")
    for filename, lineno, message, comments, context in extract_from_dir(
        root,
        method_map=list(sources),
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        directory_filter=lambda path: not any(part in skip for part in Path(path).parts),
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _po_path(translations: Path, locale: str) -> Path:
    return translations / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(translations: Path, locale: str) -> Catalog:
    path = _po_path(translations, locale)
    if not path.exists():
        return Catalog(locale=locale, project="guanxi", charset="utf-8")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def update(translations: Path, template: Catalog) -> None:
    """Merge ``template`` into each locale's ``.po`` (keeping translations) and compile the ``.mo``."""
    for locale in LOCALES:
        catalog = read(translations, locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        path = _po_path(translations, locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=120, omit_header=False, sort_output=True)
    compile_all(translations)


def compile_all(translations: Path) -> None:
    for locale in LOCALES:
        catalog = read(translations, locale)
        with (_po_path(translations, locale).with_suffix(".mo")).open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)


def missing(translations: Path, template: Catalog) -> dict[str, list[str]]:
    """Messages of ``template`` that a Chinese catalogue lacks, leaves empty or marks fuzzy."""
    gaps: dict[str, list[str]] = {}
    for locale in LOCALES:
        if locale == "en":
            continue
        catalog = read(translations, locale)
        for message in template:
            if not message.id:
                continue
            found = catalog.get(message.id, context=message.context)
            strings = found.string if found is not None else None
            empty = not strings or (isinstance(strings, tuple) and not all(strings))
            if found is None or empty or found.fuzzy:
                gaps.setdefault(locale, []).append(message.id if isinstance(message.id, str) else message.id[0])
    return gaps
