"""Uploaded import files: kept under the instance folder (``uploads/<tenant id>/<uuid>``), never served.

Next to each file a small JSON document holds who uploaded it, its name, encoding and headers, and the mapping
chosen so far, so the upload, mapping, preview and run pages need no table. Uploads older than two days are removed
when the same tenant uploads again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app

from core.tenancy import require_tenant_id

MAX_AGE = 2 * 24 * 3600
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Upload:
    id: str
    folder: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / self.id

    @property
    def meta_path(self) -> Path:
        return self.folder / f"{self.id}.json"

    def save(self) -> None:
        temporary = self.meta_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.meta, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, self.meta_path)

    def delete(self) -> None:
        for path in (self.path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def folder(tenant_id: int | None = None) -> Path:
    tenant_id = tenant_id if tenant_id is not None else require_tenant_id()
    path = Path(current_app.instance_path) / "uploads" / str(int(tenant_id))
    path.mkdir(parents=True, exist_ok=True)
    return path


def create(stream: Any, meta: dict[str, Any]) -> Upload:
    """Store an uploaded file (a werkzeug ``FileStorage`` or a binary file object) in the current tenant."""
    where = folder()
    purge(where)
    upload = Upload(uuid.uuid4().hex, where, {**meta, "created": time.time()})
    if hasattr(stream, "save"):
        stream.save(str(upload.path))
    else:
        with open(upload.path, "wb") as handle:
            while chunk := stream.read(1024 * 1024):
                handle.write(chunk)
    upload.save()
    return upload


def load(upload_id: str, user_id: int | None) -> Upload | None:
    """The current tenant's upload ``upload_id`` if ``user_id`` made it, else ``None``."""
    if not _ID.match(upload_id or ""):
        return None
    upload = Upload(upload_id, folder())
    try:
        upload.meta = json.loads(upload.meta_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if upload.meta.get("user_id") != user_id or not upload.path.exists():
        return None
    return upload


def purge(where: Path, max_age: int = MAX_AGE) -> None:
    """Remove uploads older than ``max_age`` seconds."""
    limit = time.time() - max_age
    for path in where.iterdir():
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < limit:
                path.unlink()
