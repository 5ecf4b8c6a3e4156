"""The search token index: one portable table that makes free-text search fast on every database.

Each searchable record is cut into tokens, stored as ``(tenant_id, entity, token, record_id)`` rows:

- Chinese, Japanese and Korean text: every overlapping pair of characters ("王小明" gives 王小, 小明) and the
  last character of each run, so any two adjacent characters are found by one index lookup and a single
  character by a prefix lookup. Traditional and Simplified characters are folded to one form first
  (:mod:`core.entities.search_hanzi`), so 台積電 and 台积电 find each other.
- Latin text and numbers: each word, lower-cased and without accents ("Chen Wei-Ting" gives chen, wei, ting and
  weiting); a query word matches by prefix ("che" finds Chen, "hen" does not).
- E-mail addresses, domains and other dotted words: the whole address, the local part, the domain and its parent
  domains, and every part ("wang.xm@example.com" gives wang.xm@example.com, wang.xm, example.com, com, wang, xm,
  example).
- Phone numbers (fields whose widget is ``phone``, and values that are mostly digits): the digits and every
  trailing fragment of at least three digits, plus the national form of numbers written with a country code
  (+886 912 345 678 also gives 0912345678), so any run of digits in the number finds it by prefix.

A query is cut the same way and a record must hold every query token. Tokens are compared with ``=`` (pairs of
characters) or a range ``token >= 'chen' AND token < 'chem'`` (prefixes), which a plain B-tree index answers on
SQLite, PostgreSQL and MariaDB alike; the ``token`` column compares by code point everywhere (``COLLATE "C"`` on
PostgreSQL, ``utf8mb4_bin`` on MariaDB) so that the range is exactly the set of strings with that prefix.

The index is kept up to date in one place: an ``after_flush`` listener on :class:`~core.db.TenantSession` that
re-tokenises records of registered entities when they are created, when a search field changes, and removes their
tokens when they are deleted (records in the trash keep theirs; queries join through the entity's own table, which
hides the trash). Bulk writers that bypass the ORM call :func:`index_records` and :func:`remove_records`, and
``crm search reindex`` rebuilds everything.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import (
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    and_,
    delete,
    event,
    false,
    func,
    inspect,
    intersect,
    literal,
    select,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from core.db import Base, TenantOwned, TenantSession
from core.entities.definition import Entity
from core.entities.search_hanzi import fold_hanzi
from core.tenancy import require_tenant_id

TOKEN_LENGTH = 64
MIN_PHONE_FRAGMENT = 3
# Rows per INSERT statement and ids per IN list: well inside every backend's limit on bound parameters.
INSERT_BATCH = 2000
ID_BATCH = 500
# A query token held by at least this many index entries is "common": rather than collecting the ids of its
# records, each row a query reads is checked for it (see match()).
COMMON = 5000
# Beyond this many, a token is too common to read all its records when the others are common too.
VERY_COMMON = 50_000

# A token column that sorts by code point on every backend (see the module docstring).
TokenType = (
    String(TOKEN_LENGTH)
    .with_variant(postgresql.VARCHAR(TOKEN_LENGTH, collation="C"), "postgresql")
    .with_variant(mysql.VARCHAR(TOKEN_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb")
)


class SearchToken(TenantOwned, Base):
    """One token of one record of one entity (``entity`` is the entity's plural name).

    The primary key ``(tenant_id, entity, token, record_id)`` answers queries; the second index finds a record's
    tokens to replace or delete them and to check the other tokens of a multi-word query. There is no foreign key
    to the records: the table serves every entity.
    """

    __tablename__ = "search_tokens"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "entity", "token", "record_id"),
        Index(None, "tenant_id", "entity", "record_id", "token"),
        # SQLite keeps the rows in primary-key order: a prefix range is one sequential read.
        {"sqlite_with_rowid": False},
    )
    __audit__ = False

    entity: Mapped[str] = mapped_column(String(63), nullable=False)
    token: Mapped[str] = mapped_column(TokenType, nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)


TOKENS = SearchToken.__table__
COPY_TOKENS = f"COPY {TOKENS.name} (tenant_id, entity, token, record_id) FROM STDIN"


# ---------------------------------------------------------------------------------------------- tokens

_CJK = (
    "\u2e80-\u2fdf"  # radicals
    "\u3005\u3007\u3021-\u3029\u3038-\u303b"  # 々 〇 and Hangzhou numerals
    "\u3040-\u30ff\u31f0-\u31ff"  # kana
    "\u3130-\u318f\u1100-\u11ff\uac00-\ud7af"  # hangul
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\U00020000-\U0003134f"  # Han, extensions B to H (many Taiwanese names)
)
CJK_RUN = re.compile(f"[{_CJK}]+")
WORD = re.compile(f"[^\\W_{_CJK}]+")
# Words joined by . @ _ + - ' (e-mail addresses, domains, hyphenated names, O'Brien).
COMPOUND = re.compile(f"[^\\W_{_CJK}]+(?:[.@_+'\u2019-][^\\W_{_CJK}]+)*")
NON_DIGIT = re.compile(r"[^0-9]")
DIGIT = re.compile(r"[0-9]")
PHONE_SEPARATORS = re.compile(r"[,;/\n]|\s{2,}")
PHONE_QUERY = re.compile(r"^\+?[0-9\s().\-/#]+$")
COUNTRY_CODES = ("886", "852", "853", "86")
# Digits of a full number after each country code: (minimum, maximum) without the code.
NATIONAL_LENGTHS = {"886": (8, 10), "852": (8, 8), "853": (8, 8), "86": (10, 11)}


def normalize(text: str) -> str:
    """Full-width to half-width and compatibility forms (NFKC), case folded, Chinese folded to one script."""
    return fold_hanzi(unicodedata.normalize("NFKC", text).casefold())


def fold_latin(word: str) -> str:
    """A word without accents: "José" -> "jose" (only for non-CJK words: NFKD would split hangul and kana)."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _cut(token: str) -> str:
    return token[:TOKEN_LENGTH]


def _cjk_tokens(run: str, out: set[str]) -> None:
    for i in range(len(run) - 1):
        out.add(run[i : i + 2])
    out.add(run[-1])


def _dotted_tokens(whole: str, out: set[str]) -> None:
    """An address, a domain or another dotted word: the whole, local part, domain, parent domains."""
    out.add(_cut(whole))
    local, at, domain = whole.rpartition("@")
    if at:
        if local:
            out.add(_cut(local))
        out.add(_cut(domain))
    else:
        domain = whole
    while "." in domain:
        domain = domain.split(".", 1)[1]
        if domain:
            out.add(_cut(domain))


def text_tokens(value: str, out: set[str] | None = None) -> set[str]:
    """The tokens of a piece of free text (names, company names, e-mail addresses, notes)."""
    out = set() if out is None else out
    text = normalize(value)
    for run in CJK_RUN.findall(text):
        _cjk_tokens(run, out)
    for match in COMPOUND.finditer(text):
        compound = fold_latin(match.group())
        parts = WORD.findall(compound)
        out.update(_cut(part) for part in parts)
        if len(parts) > 1:
            if "@" in compound or "." in compound:
                _dotted_tokens(compound, out)
            else:  # Wei-Ting is also found as weiting, O'Brien as obrien
                out.add(_cut("".join(parts)))
    return out


def _national(digits: str, international: bool) -> str | None:
    """``0912345678`` for ``886912345678`` (and the like for 86, 852, 853), or ``None``."""
    for code in COUNTRY_CODES:
        if digits.startswith(code):
            rest = digits[len(code) :]
            low, high = NATIONAL_LENGTHS[code]
            if international or low <= len(rest) <= high and len(digits) >= 11:
                return rest.lstrip("0") if rest else None
            return None
    return None


def phone_tokens(value: str, out: set[str] | None = None) -> set[str]:
    """The digits of each number in ``value`` and every trailing fragment of at least three digits."""
    out = set() if out is None else out
    for piece in PHONE_SEPARATORS.split(unicodedata.normalize("NFKC", value)):
        digits = NON_DIGIT.sub("", piece)
        if not digits:
            continue
        out.add(_cut(digits))
        for start in range(1, len(digits) - MIN_PHONE_FRAGMENT + 1):
            out.add(_cut(digits[start:]))
        stripped = piece.strip()
        national = _national(digits, stripped.startswith("+") or stripped.startswith("00"))
        if national:
            out.add(_cut("0" + national))
            out.add(_cut(national))
        # Words next to the number ("ext", "office") are searchable too.
        for word in WORD.findall(normalize(piece)):
            if not word.isdigit():
                out.add(_cut(fold_latin(word)))
    return out


def looks_like_phone(value: str) -> bool:
    """Mostly digits: at least six of them, and at least 60% of the non-space characters."""
    digits = len(value) - len(DIGIT.sub("", value))
    return digits >= 6 and digits >= 0.6 * (len(value) - value.count(" "))


def value_tokens(value: Any, kind: str = "text", out: set[str] | None = None) -> set[str]:
    """Tokens of one field value: a string, a number, or a list of them (the addresses of child rows)."""
    out = set() if out is None else out
    if value is None or value == "":
        return out
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        if kind == "phone":
            phone_tokens(text, out)
        else:
            text_tokens(text, out)
            if looks_like_phone(text):
                phone_tokens(text, out)
        return out
    if isinstance(value, Mapping):
        return out
    if isinstance(value, Iterable):
        for item in value:
            value_tokens(item, kind, out)
    return out


# ----------------------------------------------------------------------------------------- query terms


@dataclass(frozen=True)
class Term:
    """One query token: matched exactly (a pair of CJK characters) or as a prefix (words, digits)."""

    token: str
    prefix: bool


def _successor(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (in code point order)."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates cannot be stored
        last = 0xE000
    return prefix[:-1] + chr(min(last, 0x10FFFF))


def _phone_query(text: str) -> Term | None:
    """A query that is a phone number or part of one ("0912-345-678", "+886 912", "345678"): its digits."""
    stripped = text.strip()
    digits = NON_DIGIT.sub("", stripped)
    if not PHONE_QUERY.match(stripped) or len(digits) < MIN_PHONE_FRAGMENT:
        return None
    if len(digits) < 6 and "." in stripped:
        return None  # 3.14 is a number, not a phone
    international = stripped.startswith("+") or stripped.startswith("00")
    if stripped.startswith("00"):
        digits = digits[2:]
    national = _national(digits, international)
    return Term(_cut(national if national else digits), prefix=True)


def query_terms(text: str) -> list[Term]:
    """The tokens a record must hold to match ``text``, most specific first."""
    phone = _phone_query(unicodedata.normalize("NFKC", text))
    if phone is not None:
        return [phone]
    normalized = normalize(text)
    terms: dict[str, Term] = {}
    for run in CJK_RUN.findall(normalized):
        if len(run) == 1:
            terms.setdefault(run, Term(run, prefix=True))
        for i in range(len(run) - 1):
            terms.setdefault(run[i : i + 2], Term(run[i : i + 2], prefix=False))
    for match in COMPOUND.finditer(normalized):
        compound = fold_latin(match.group())
        parts = WORD.findall(compound)
        if len(parts) > 1 and ("@" in compound or "." in compound):
            terms.setdefault(_cut(compound), Term(_cut(compound), prefix=True))
            continue
        for part in parts:
            terms.setdefault(_cut(part), Term(_cut(part), prefix=True))
    # A prefix implied by a longer one ("che" next to "chen") adds nothing but work.
    kept = [
        t
        for t in terms.values()
        if not (t.prefix and any(o is not t and o.token.startswith(t.token) for o in terms.values()))
    ]
    return sorted(kept, key=lambda t: (t.prefix, -len(t.token)))


def term_condition(column: Any, term: Term) -> ColumnElement:
    if not term.prefix:
        return column == term.token
    return and_(column >= term.token, column < _successor(term.token))


# ------------------------------------------------------------------------------------- entity fields


@dataclass(frozen=True)
class SearchSpec:
    """What the index needs to know about one entity: its plural name and each search field's kind."""

    entity: Entity
    fields: tuple[tuple[str, str], ...]  # (name, "text" | "phone")
    columns: frozenset[str]  # search fields that are plain columns (others: properties, custom.<key>)

    @property
    def plural(self) -> str:
        return self.entity.plural


def _kind(entity: Entity, name: str) -> str:
    from core.entities.schemas import widget

    field = entity.schema._declared_fields.get(name) if hasattr(entity.schema, "_declared_fields") else None
    if field is not None and widget(field) == "phone":
        return "phone"
    return "text"


def spec_for(entity: Entity) -> SearchSpec | None:
    """The entity's search fields with their kinds (``None`` when it has no search fields)."""
    if not entity.search_fields:
        return None
    column_names = {attr.key for attr in inspect(entity.model).column_attrs}
    return SearchSpec(
        entity=entity,
        fields=tuple((name, _kind(entity, name)) for name in entity.search_fields),
        columns=frozenset(name for name in entity.search_fields if name in column_names),
    )


def searchable_models() -> dict[type, SearchSpec]:
    """Model class -> search spec of every registered entity with search fields (cached on the app)."""
    cache = current_app.extensions.get("crm.search_specs")
    if cache is None:
        cache = {}
        for entity in current_app.extensions.get("crm.entities", {}).values():
            spec = spec_for(entity)
            if spec is not None:
                cache[entity.model] = spec
        current_app.extensions["crm.search_specs"] = cache
    return cache


def spec_of(entity: Entity) -> SearchSpec | None:
    spec = searchable_models().get(entity.model)
    return spec if spec is not None and spec.plural == entity.plural else spec_for(entity)


def _value(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        if name.startswith("custom."):
            return (record.get("custom") or {}).get(name[7:])
        return record.get(name)
    if name.startswith("custom."):
        return (getattr(record, "custom", None) or {}).get(name[7:])
    return getattr(record, name, None)


def record_tokens(spec: SearchSpec, record: Any) -> set[str]:
    """Every token of one record (a model instance or a mapping of field values)."""
    out: set[str] = set()
    for name, kind in spec.fields:
        value_tokens(_value(record, name), kind, out)
    out.discard("")
    return out


# ------------------------------------------------------------------------------------------- writing


def _record_id(record: Any) -> int:
    return int(record["id"] if isinstance(record, Mapping) else record.id)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _delete(connection: Connection, tenant_id: int, plural: str, ids: Sequence[int]) -> None:
    for chunk in _chunks(list(ids), ID_BATCH):
        connection.execute(
            delete(TOKENS).where(
                TOKENS.c.tenant_id == tenant_id, TOKENS.c.entity == plural, TOKENS.c.record_id.in_(chunk)
            )
        )


def _insert(connection: Connection, rows: list[tuple[int, str, str, int]]) -> None:
    """Write ``(tenant_id, entity, token, record_id)`` rows at driver speed: COPY on PostgreSQL (psycopg 3),
    the driver's executemany elsewhere (pymysql turns it into multi-row INSERTs). Sorted by token, so the
    primary key is filled page after page rather than all over."""
    if not rows:
        return
    rows.sort(key=lambda row: row[2])
    dbapi = connection.connection.driver_connection
    if connection.dialect.name == "postgresql" and hasattr(dbapi, "cursor") and hasattr(dbapi, "pgconn"):
        with dbapi.cursor() as cursor, cursor.copy(COPY_TOKENS) as copy:
            for row in rows:
                copy.write_row(row)
        return
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO {TOKENS.name} (tenant_id, entity, token, record_id) VALUES ({', '.join([marker] * 4)})"
    for chunk in _chunks(rows, INSERT_BATCH):
        connection.exec_driver_sql(statement, list(chunk))


def _write(connection: Connection, tenant_id: int, spec: SearchSpec, records: Iterable[Any], fresh: bool) -> int:
    rows: list[tuple[int, str, str, int]] = []
    ids: list[int] = []
    plural = spec.plural
    for record in records:
        record_id = _record_id(record)
        ids.append(record_id)
        rows.extend((tenant_id, plural, token, record_id) for token in record_tokens(spec, record))
    if not fresh:
        _delete(connection, tenant_id, plural, ids)
    _insert(connection, rows)
    return len(rows)


def index_records(entity: Entity, records: Iterable[Any], fresh: bool = False, session: Session | None = None) -> int:
    """(Re)index ``records`` of ``entity`` in the current tenant; returns the number of tokens written.

    ``records`` are model instances or mappings with ``id`` and the search fields (rows of a bulk insert).
    ``fresh=True`` skips deleting old tokens, for records inserted in this transaction. Writes go through the
    session's connection, so they commit or roll back with the records. For bulk writers that bypass the ORM
    (imports); records written through the session are indexed automatically.
    """
    from core import db

    spec = spec_of(entity)
    if spec is None:
        return 0
    tenant_id = require_tenant_id()
    connection = (session or db.session).connection()
    return _write(connection, tenant_id, spec, records, fresh)


def remove_records(entity: Entity, ids: Iterable[int], session: Session | None = None) -> None:
    """Forget the tokens of records deleted without the ORM (a bulk purge of the trash)."""
    from core import db

    connection = (session or db.session).connection()
    _delete(connection, require_tenant_id(), entity.plural, list(ids))


def reindex(entity: Entity, batch: int = 2000, session: Session | None = None) -> int:
    """Rebuild the entity's tokens in the current tenant, ``batch`` records at a time (constant memory).

    Each batch replaces its records' tokens and is committed, so search keeps working during the rebuild; tokens
    of records that no longer exist are removed at the end. Trashed records are indexed too (restoring one
    must find it again). Returns the number of records indexed.
    """
    from core import db

    session = session or db.session
    spec = spec_of(entity)
    tenant_id = require_tenant_id()
    model = entity.model
    if spec is None:
        session.connection().execute(
            delete(TOKENS).where(TOKENS.c.tenant_id == tenant_id, TOKENS.c.entity == entity.plural)
        )
        session.commit()
        return 0
    done = 0
    last_id = 0
    while True:
        records = list(
            session.scalars(
                select(model)
                .where(model.id > last_id)
                .order_by(model.id)
                .limit(batch)
                .execution_options(include_deleted=True)
            )
        )
        if not records:
            break
        _write(session.connection(), tenant_id, spec, records, fresh=False)
        last_id = records[-1].id
        done += len(records)
        session.commit()
        session.expunge_all()
    table = model.__table__
    orphan = ~select(literal(1)).select_from(table).where(table.c.id == TOKENS.c.record_id).exists()
    session.connection().execute(
        delete(TOKENS).where(TOKENS.c.tenant_id == tenant_id, TOKENS.c.entity == entity.plural, orphan)
    )
    session.commit()
    return done


# --------------------------------------------------------------------------------------------- reading


def term_filter(column: Any, term: Term) -> ColumnElement:
    """``term`` as a filter on the tokens of records already chosen (``record_id = ...``).

    On PostgreSQL a prefix is written ``substr(token, 1, n) = 'wang'``: its planner misjudges how many tokens a
    range holds and would otherwise read the whole range of a common prefix for every record; as a plain filter
    it can only be checked on the record's own few tokens. SQLite and MariaDB pick the record index for the range
    by themselves, and a range is cheaper there.
    """
    if not term.prefix:
        return column == term.token
    from core import db

    if db.session.get_bind().dialect.name == "postgresql":
        return func.substr(column, 1, len(term.token)) == term.token
    return term_condition(column, term)


def _probe(tenant_id: int, plural: str, term: Term) -> list[int]:
    """The ids of records holding ``term``, from at most :data:`COMMON` index entries (one range read)."""
    from core import db

    statement = (
        select(TOKENS.c.record_id)
        .where(TOKENS.c.tenant_id == tenant_id, TOKENS.c.entity == plural, term_condition(TOKENS.c.token, term))
        .limit(COMMON)
    )
    return list(db.session.scalars(statement))


def _frequency(tenant_id: int, plural: str, term: Term) -> int:
    """How many index entries hold ``term``, counted up to :data:`VERY_COMMON`."""
    from core import db

    capped = (
        select(literal(1))
        .select_from(TOKENS)
        .where(TOKENS.c.tenant_id == tenant_id, TOKENS.c.entity == plural, term_condition(TOKENS.c.token, term))
        .limit(VERY_COMMON)
        .subquery()
    )
    return db.session.scalar(select(func.count()).select_from(capped)) or 0


def _restrict(tenant_id: int, plural: str, ids: Iterable[int], term: Term) -> set[int]:
    """Those of ``ids`` whose records hold ``term`` (point reads of the record index)."""
    from core import db

    kept: set[int] = set()
    for chunk in _chunks(sorted(set(ids)), COMMON):
        kept.update(
            db.session.scalars(
                select(TOKENS.c.record_id).where(
                    TOKENS.c.tenant_id == tenant_id,
                    TOKENS.c.entity == plural,
                    TOKENS.c.record_id.in_(chunk),
                    term_filter(TOKENS.c.token, term),
                )
            )
        )
    return kept


def _holds(tenant_id: int, plural: str, record_id: Any, term: Term, name: str) -> ColumnElement:
    """EXISTS: the record ``record_id`` (a column of the outer query) holds ``term``."""
    tokens = TOKENS.alias(name)
    return (
        select(literal(1))
        .select_from(tokens)
        .where(
            tokens.c.tenant_id == tenant_id,
            tokens.c.entity == plural,
            tokens.c.record_id == record_id,
            term_filter(tokens.c.token, term),
        )
        .exists()
    )


def _intersection(tenant_id: int, plural: str, terms: Sequence[Term]) -> list[int]:
    """The ids of records holding all of ``terms`` (at most :data:`COMMON` of them), by the database's INTERSECT:
    each term's index range is read once, with no join order for a planner to get wrong."""
    from core import db

    arms = [
        select(TOKENS.c.record_id).where(
            TOKENS.c.tenant_id == tenant_id, TOKENS.c.entity == plural, term_condition(TOKENS.c.token, term)
        )
        for term in terms
    ]
    both = (intersect(*arms) if len(arms) > 1 else arms[0].distinct()).subquery()
    return list(db.session.scalars(select(both.c.record_id).limit(COMMON)))


def matching_ids(entity: Entity, text: str) -> set[int] | None:
    """The ids of the entity's records holding every token of ``text``, worked out with a few capped index reads;
    ``None`` when too many records match to list them (or ``text`` has no tokens).

    Tokens are looked up in turn (pairs of characters first, then the longest prefixes). The first one that fewer
    than :data:`COMMON` index entries hold gives the candidate ids, and each other token keeps those of the
    candidates that hold it. When every token is common, those held by fewer than :data:`VERY_COMMON` entries are
    intersected by the database (their index ranges read in order), then with the very common ones too if that
    still leaves thousands; when even that leaves thousands of records, or every token is very common, there is no
    list.
    """
    terms = query_terms(text)
    if not terms:
        return None
    tenant_id = require_tenant_id()
    plural = entity.plural
    candidates: set[int] | None = None
    common: dict[Term, list[int]] = {}
    for term in terms:
        if candidates is None:
            found = _probe(tenant_id, plural, term)
            if len(found) >= COMMON:
                common[term] = found
                continue
            candidates = set(found)
            for earlier in common:
                if candidates:
                    candidates = _restrict(tenant_id, plural, candidates, earlier)
        elif candidates:
            candidates = _restrict(tenant_id, plural, candidates, term)
        if not candidates:
            return set()
    if candidates is not None:
        return candidates
    if len(terms) == 1:
        return None
    frequency = {term: _frequency(tenant_id, plural, term) for term in terms}
    known = [term for term in terms if frequency[term] < VERY_COMMON]
    if not known:
        return None
    if len(known) == 1:
        # One less common word next to very common ones: check a sample of its records for the others. Many hold
        # them all: every row will do (no list); few: the database intersects them all.
        sample = set(common[known[0]])
        hits = sample
        for term in terms:
            if term is not known[0] and hits:
                hits = _restrict(tenant_id, plural, hits, term)
        if len(hits) * frequency[known[0]] >= COMMON * len(sample):
            return None
        known = terms
    found = _intersection(tenant_id, plural, known)
    if len(found) >= COMMON and len(known) < len(terms):
        # Thousands hold the less common words: let the very common ones narrow them down as well.
        found = _intersection(tenant_id, plural, terms)
    if len(found) >= COMMON:
        return None
    candidates = set(found)
    for term in terms:
        if term not in known and candidates:
            candidates = _restrict(tenant_id, plural, candidates, term)
    return candidates


def match(entity: Entity, text: str) -> ColumnElement | None:
    """The SQL condition "this row of the entity's table holds every token of ``text``" (``None``: no tokens).

    When :func:`matching_ids` can list the matching records, the condition is ``id IN (<those ids>)``. When too
    many records match ("有限", "chen"), it checks each row's own tokens (one ``EXISTS`` per token on the record
    index), so a page read in its own order stops as soon as it is full instead of collecting a hundred thousand
    ids first. Neither depends on the database's estimates for token ranges, which are poor.
    """
    terms = query_terms(text)
    if not terms:
        return None
    record_id = entity.model.id
    ids = matching_ids(entity, text)
    if ids is not None:
        return record_id.in_(sorted(ids)) if ids else false()
    tenant_id = require_tenant_id()
    return and_(*[_holds(tenant_id, entity.plural, record_id, t, f"st{n}") for n, t in enumerate(terms)])


# ------------------------------------------------------------------------------------ automatic upkeep


def _changed(session: Session, spec: SearchSpec, obj: Any) -> bool:
    """Whether a flushed update touched a search field."""
    names = [name for name, _kind in spec.fields]
    if any(name not in spec.columns and not name.startswith("custom.") for name in names):
        # A search field that is a property (over child rows, say): any change to the record counts.
        return session.is_modified(obj, include_collections=True)
    watched = set(spec.columns) | ({"custom"} if any(n.startswith("custom.") for n in names) else set())
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in watched)


@event.listens_for(TenantSession, "after_flush")
def _keep_index(session: Session, flush_context: Any) -> None:
    if not has_app_context() or "crm.entities" not in current_app.extensions:
        return
    specs = searchable_models()
    if not specs:
        return
    written: dict[tuple[int, str], tuple[SearchSpec, list[Any]]] = {}
    gone: dict[tuple[int, str], list[int]] = {}
    for obj in session.new:
        spec = specs.get(type(obj))
        if spec is not None:
            written.setdefault((obj.tenant_id, spec.plural), (spec, []))[1].append(obj)
    for obj in session.dirty:
        spec = specs.get(type(obj))
        if spec is not None and _changed(session, spec, obj):
            written.setdefault((obj.tenant_id, spec.plural), (spec, []))[1].append(obj)
    for obj in session.deleted:
        spec = specs.get(type(obj))
        if spec is not None:
            gone.setdefault((obj.tenant_id, spec.plural), []).append(obj.id)
    if not (written or gone):
        return
    connection = session.connection()
    for (tenant_id, plural), ids in gone.items():
        _delete(connection, tenant_id, plural, ids)
    for (tenant_id, _plural), (spec, objs) in written.items():
        # New records too: SQLite reuses the id of a deleted last row, whose tokens a bulk delete may have left.
        _write(connection, tenant_id, spec, objs, fresh=False)
