"""The three catalogues are complete for everything built, compiled, and chosen the documented way."""

import io
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo

from core.catalogs import CORE_SOURCES, LOCALES, PLUGIN_SOURCES, REPO_ROOT, extract, missing, read

CATALOGUES = [("core", REPO_ROOT, CORE_SOURCES, REPO_ROOT / "core" / "translations")] + [
    (path.name, path, PLUGIN_SOURCES, path / "translations")
    for path in sorted((REPO_ROOT / "plugins").glob("*"))
    if (path / "plugin.py").exists()
]


@pytest.mark.parametrize("name,root,sources,translations", CATALOGUES, ids=[c[0] for c in CATALOGUES])
def test_chinese_catalogues_translate_every_message(name, root, sources, translations):
    gaps = missing(translations, extract(root, sources))
    assert not gaps, f"untranslated in {name}: " + "; ".join(f"{k}: {v[:5]}" for k, v in gaps.items())


def _messages(compiled: io.BytesIO) -> dict[tuple[object, object], object]:
    """A compiled catalogue's translations (its header aside: it names the Babel version that compiled it)."""
    return {(m.context, _plain(m.id)): _plain(m.string) for m in read_mo(compiled) if m.id}


def _plain(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


@pytest.mark.parametrize("name,root,sources,translations", CATALOGUES, ids=[c[0] for c in CATALOGUES])
def test_compiled_catalogues_match_their_sources(name, root, sources, translations):
    for locale in LOCALES:
        fresh = io.BytesIO()
        write_mo(fresh, read(translations, locale), use_fuzzy=False)
        fresh.seek(0)
        stored = io.BytesIO(Path(translations / locale / "LC_MESSAGES" / "messages.mo").read_bytes())
        assert _messages(stored) == _messages(fresh), f"{name}/{locale}: run `crm i18n update` (or compile)"


def test_sign_in_page_speaks_the_visitors_language(app, tenant, client_as):
    client = client_as(tenant=tenant)
    taiwan = client.get("/login", headers={"Accept-Language": "zh-TW,zh;q=0.9"}).get_data(as_text=True)
    mainland = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert 'lang="zh-Hant-TW"' in taiwan and "登入" in taiwan
    assert 'lang="zh-Hans-CN"' in mainland and "登录" in mainland
    assert 'lang="en"' in english and "Sign in" in english


def test_form_errors_use_traditional_characters_for_taiwan(app, make_tenant, make_user, client_as):
    tenant = make_tenant("acme", locale="zh_Hant")
    user = make_user(tenant, groups=["administrators"])
    client = client_as(user)
    page = client.post(
        "/account",
        data={"form": "profile", "profile-name": "王小明", "profile-locale": "xx", "profile-timezone": ""},
        headers={"Accept-Language": "zh-TW"},
    ).get_data(as_text=True)
    assert "不是有效的選擇。" in page  # WTForms' own message, in Traditional characters
    assert "选择" not in page
