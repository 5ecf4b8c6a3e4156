"""Reading import files in constant memory: CSV row by row, XLSX through openpyxl's read-only mode.

CSV encodings: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark (Excel's "Unicode text"),
Big5 (Windows code page 950, or Big5-HKSCS when a file needs it) and GB18030, detected or chosen. Detection looks at
the first megabyte: a byte-order mark decides; otherwise strict UTF-8; otherwise the Chinese encodings that decode it
cleanly compete on how many of their characters are the commonly used ones of that encoding (Big5's "frequently
used" block, GB2312's level 1), which a wrong guess turns into rare characters. Delimiters (comma, semicolon, tab)
are sniffed from the first lines.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

SAMPLE = 1024 * 1024
DELIMITERS = (",", ";", "\t")
# What a user may choose on the upload page; "auto" detects.
ENCODINGS = ("auto", "utf-8", "big5", "gb18030")
XLSX_MAGIC = b"PK\x03\x04"
csv.field_size_limit(16 * 1024 * 1024)


class ReadError(ValueError):
    """The file cannot be read as a table (wrong encoding, not CSV or XLSX, empty); the message is for the user."""


# --------------------------------------------------------------------------------------------- encodings


def _common_big5(char: str) -> bool:
    """In Big5's block of 5,401 frequently used characters (0xA440-0xC67E)."""
    try:
        encoded = char.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2 and 0xA440 <= int.from_bytes(encoded, "big") <= 0xC67E


def _common_gb(char: str) -> bool:
    """In GB2312's level 1, its 3,755 most used characters (lead bytes 0xB0-0xD7)."""
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2 and 0xB0 <= encoded[0] <= 0xD7


CHINESE = (("cp950", _common_big5), ("big5hkscs", _common_big5), ("gb18030", _common_gb))


def _decodes(data: bytes, encoding: str) -> str | None:
    """``data`` decoded strictly, allowing a character cut in half at the end of the sample; else ``None``."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        return decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return None


def common_share(text: str, common: Any) -> float:
    """The share of non-ASCII characters of ``text`` that ``common`` counts as commonly used."""
    wide = [char for char in text if ord(char) > 0x7F]
    if not wide:
        return 0.0
    return sum(1 for char in wide if common(char)) / len(wide)


def detect_encoding(sample: bytes) -> str:
    """The Python codec to read a file whose first bytes are ``sample``."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(sample, "utf-8") is not None:
        return "utf-8-sig"
    best, best_score = None, -1.0
    for encoding, common in CHINESE:
        text = _decodes(sample, encoding)
        if text is None:
            continue
        score = common_share(text, common)
        if score > best_score:  # ties keep the earlier candidate: Big5 (Taiwan) before GB18030
            best, best_score = encoding, score
    if best is None:
        raise ReadError("unknown-encoding")
    return best


def resolve_encoding(choice: str, sample: bytes) -> str:
    """The codec for a user's choice ("auto", "utf-8", "big5", "gb18030") and the file's first bytes."""
    choice = (choice or "auto").lower().replace("_", "-")
    if choice in ("utf-16", "big5hkscs"):  # codecs a detection chose, stored with an upload
        return choice
    if choice == "auto":
        return detect_encoding(sample)
    if choice in ("utf-8", "utf8", "utf-8-sig"):
        return "utf-16" if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    if choice in ("big5", "cp950", "big5hkscs"):
        # Windows' Big5 (with its extra symbols) when it reads the file, else Big5-HKSCS.
        return "cp950" if _decodes(sample, "cp950") is not None else "big5hkscs"
    if choice in ("gb18030", "gbk", "gb2312"):
        return "gb18030"
    raise ReadError("unknown-encoding")


ENCODING_NAMES = {
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "cp950": "Big5",
    "big5hkscs": "Big5-HKSCS",
    "gb18030": "GB18030",
}


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one that splits the first lines into the most, and most regular, columns."""
    lines = text.splitlines()[:50]
    if len(text) >= SAMPLE // 2 and len(lines) > 1:
        lines = lines[:-1]  # the last line of a sample may be cut short
    best, best_score = ",", (0, 0.0)
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(lines, delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        regular = sum(1 for row in rows if len(row) == width) / len(rows)
        score = (width if width > 1 and regular >= 0.8 else 1, regular)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ------------------------------------------------------------------------------------------------ values


def plain(value: Any) -> Any:
    """A spreadsheet cell as import text: dates in ISO form, whole numbers without ".0", the rest as text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, decimal.Decimal | int):
        return str(value)
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


# ------------------------------------------------------------------------------------------------ tables


@dataclass
class Table:
    """An open import file: its header row and an iterator over the data rows.

    ``rows()`` yields ``(row_number, cells)`` where ``row_number`` is the row as a spreadsheet numbers it (the header
    is row 1). ``fraction()`` is how far through the file reading has got, for progress bars.
    """

    kind: str
    headers: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    size: int = 0
    _rows: Iterator[tuple[int, list[Any]]] = field(default_factory=lambda: iter(()))
    _position: Any = None
    _close: list[Any] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        return self._rows

    def fraction(self) -> float:
        if self._position is None:
            return 0.0
        try:
            return max(0.0, min(1.0, self._position()))
        except (OSError, ValueError):
            return 0.0

    @property
    def encoding_name(self) -> str | None:
        return ENCODING_NAMES.get(self.encoding or "", self.encoding)

    def close(self) -> None:
        while self._close:
            try:
                self._close.pop()()
            except Exception:  # closing must not hide the result
                pass

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _headers(cells: list[Any]) -> list[str]:
    headers = []
    for index, cell in enumerate(cells, start=1):
        text = " ".join(str(cell).split()) if cell is not None else ""
        headers.append(text or f"#{index}")
    return headers


def _blank(cells: list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def kind_of(path: str, filename: str = "") -> str:
    """The kind of an import file, ``xlsx`` or ``csv``, from its first bytes and its name."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    name = (filename or path).lower()
    if head.startswith(XLSX_MAGIC) or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise ReadError("xls")
    return "csv"


def open_table(path: str, encoding: str = "auto", kind: str | None = None, filename: str = "") -> Table:
    """Open an import file (close it with ``table.close()`` or a ``with`` block)."""
    kind = kind or kind_of(path, filename)
    if kind == "xlsx":
        return _open_xlsx(path)
    return _open_csv(path, encoding)


def _open_csv(path: str, choice: str) -> Table:
    size = os.path.getsize(path)
    raw = open(path, "rb", buffering=256 * 1024)  # noqa: SIM115 (closed by Table.close)
    try:
        sample = raw.read(SAMPLE)
        encoding = resolve_encoding(choice, sample)
        text_sample = sample.decode(encoding, errors="replace")
        delimiter = sniff_delimiter(text_sample.lstrip("\ufeff"))
        raw.seek(0)
        text: IO[str] = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
        reader = csv.reader(text, delimiter=delimiter)
        header_row: list[Any] | None = None
        number = 0
        try:
            for row in reader:
                number += 1
                if not _blank(row):
                    header_row = row
                    break
        except UnicodeDecodeError as exc:
            raise ReadError("decode") from exc
        except csv.Error as exc:
            raise ReadError("csv") from exc
        if header_row is None:
            raise ReadError("empty")
    except BaseException:
        raw.close()
        raise

    def rows(start: int = number) -> Iterator[tuple[int, list[Any]]]:
        current = start
        try:
            for row in reader:
                current += 1
                yield current, row
        except UnicodeDecodeError as exc:
            raise ReadError(f"decode-at:{current + 1}") from exc
        except csv.Error as exc:
            raise ReadError(f"csv-at:{current + 1}") from exc

    return Table(
        kind="csv",
        headers=_headers(header_row),
        encoding=encoding,
        delimiter=delimiter,
        size=size,
        _rows=rows(),
        _position=lambda: raw.tell() / size if size else 1.0,
        _close=[raw.close],
    )


def _open_xlsx(path: str) -> Table:
    from zipfile import BadZipFile

    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ReadError("xlsx") from exc
    try:
        if not book.worksheets:
            raise ReadError("empty")
        sheet = book.worksheets[0]
        iterator = sheet.iter_rows(values_only=True)
        header_row: list[Any] | None = None
        number = 0
        for values in iterator:
            number += 1
            cells = [plain(v) for v in values]
            if not _blank(cells):
                header_row = cells
                break
        if header_row is None:
            raise ReadError("empty")
        while header_row and (header_row[-1] is None or header_row[-1] == ""):
            header_row.pop()
    except BaseException:
        book.close()
        raise
    total = sheet.max_row or 0
    state = {"row": number}

    def rows(start: int = number) -> Iterator[tuple[int, list[Any]]]:
        current = start
        for values in iterator:
            current += 1
            state["row"] = current
            yield current, [plain(v) for v in values]

    return Table(
        kind="xlsx",
        headers=_headers(header_row),
        size=os.path.getsize(path),
        _rows=rows(),
        _position=lambda: state["row"] / total if total else 0.0,
        _close=[book.close],
    )


def read_error_message(error: ReadError) -> str:
    """A translated sentence for a :class:`ReadError`."""
    from flask_babel import gettext as _

    code, _sep, where = str(error).partition(":")
    messages = {
        "unknown-encoding": _("The file's encoding could not be recognised. Choose it on the upload form."),
        "decode": _("The file cannot be read with this encoding. Choose another one on the upload form."),
        "decode-at": _(
            "Row %(row)s cannot be read with this encoding. Choose another one on the upload form.", row=where
        ),
        "csv": _("The file is not a readable CSV file."),
        "csv-at": _("Row %(row)s is not valid CSV.", row=where),
        "xlsx": _("The file is not a readable Excel (.xlsx) workbook."),
        "xls": _("Old Excel (.xls) files cannot be read. Save the sheet as .xlsx or CSV and upload that."),
        "empty": _("The file has no header row."),
    }
    return messages.get(code, messages["csv"])
