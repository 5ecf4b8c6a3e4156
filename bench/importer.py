"""One import measured in a process of its own: ``python -m bench.importer --database URL --tenant SLUG
--user EMAIL --entity PLURAL FILE``.

The file is stored as an upload, then the import job's function (``core.entities.importing.jobs.run_import``)
runs it directly, as the job runner would, and the transaction is committed. Prints one JSON object: rows,
created, skipped, errors, seconds (job plus commit), rows per second and the process's peak resident memory
(``VmHWM``, which includes the app itself) and that of the forked checker process, if there was one, with the
process's CPU seconds and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from bench.harness import vm_hwm_mb


def run(
    database: str,
    tenant_slug: str,
    email: str,
    plural: str,
    path: str,
    secret_key: str,
    plugins: list[str] | None = None,
) -> dict[str, Any]:
    from sqlalchemy import select

    from core import db
    from core.app import create_app
    from core.entities.importing import default_match, open_table, suggest
    from core.entities.importing.engine import Plan
    from core.entities.importing.jobs import run_import
    from core.entities.importing.storage import create
    from core.entities.registry import all_entities
    from core.models import Tenant, User
    from core.tenancy import tenant_context

    app = create_app({"DATABASE_URL": database, "SECRET_KEY": secret_key}, plugins=plugins or None)
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
        with tenant_context(tenant):
            user = db.session.scalar(select(User).where(User.email == email))
            entity = all_entities()[plural]
            with open_table(path) as table:
                headers = list(table.headers)
            mapping = suggest(entity, headers)
            plan = Plan(mapping=mapping, on_duplicate="skip", match=default_match(entity, mapping))
            with open(path, "rb") as handle:
                upload = create(
                    handle,
                    {"user_id": user.id, "plan": plan.as_dict(), "encoding": "auto", "kind": "csv",
                     "filename": Path(path).name, "headers": headers},
                )  # fmt: skip
            user_id = user.id
            db.session.commit()
            load_before = os.getloadavg()
            started, cpu_started = time.perf_counter(), time.process_time()
            result = run_import(upload.id, plural, user_id)
            db.session.commit()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    rows = int(result.get("rows") or 0)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "rows": rows,
        "created": result.get("created"),
        "updated": result.get("updated"),
        "skipped": result.get("skipped"),
        "error_count": result.get("error_count"),
        "errors": (result.get("errors") or [])[:5],
        "mapping": dict(zip(headers, mapping, strict=False)),
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds) if seconds else None,
        # The machine may be shared: the importer's own CPU time and the load around it qualify rows/s.
        "cpu_s": round(cpu, 1),
        "rows_per_cpu_s": round(rows / cpu) if cpu else None,
        "checker_cpu_s": round(children.ru_utime + children.ru_stime, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb": vm_hwm_mb(),
        # The forked checker of a large import (core.entities.importing.checker); its resident pages include those
        # it still shares with this process, so the two figures overlap.
        "checker_peak_rss_mb": round(children.ru_maxrss / 1024, 1) or None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--entity", default="contacts")
    parser.add_argument("--plugins", help="Comma-separated plugin modules (default: the installed plugins).")
    parser.add_argument("file")
    args = parser.parse_args()
    secret = os.environ.get("CRM_SECRET_KEY", "bench-import")
    plugins = [p for p in (args.plugins or "").split(",") if p]
    result = run(args.database, args.tenant, args.user, args.entity, args.file, secret, plugins)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    # The import queued the search indexing of its rows, which a thread of this process would now run (a worker
    # does in production): the benchmark measures the import, so the process ends here.
    os._exit(0)


if __name__ == "__main__":
    main()
