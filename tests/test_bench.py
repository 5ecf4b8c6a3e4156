"""The benchmark runs end to end on a small data set and reports every figure (it asserts no timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
READS = (
    "list_page1",
    "list_deep",
    "list_filtered",
    "search_chinese",
    "search_chinese_common",
    "search_latin",
    "search_phone",
    "detail",
    "api_list",
)


def _database(tmp_path: Path) -> str:
    """The test database's server with a database of the benchmark's own (SQLite: a file in tmp_path)."""
    url = os.environ.get("CRM_TEST_DATABASE_URL")
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_bench").render_as_string(hide_password=False)


@pytest.mark.slow
def test_contacts_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRM_")}
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "contacts",
            "--rows",
            "200",
            "--noise-rows",
            "50",
            "--quick",
            "--database",
            _database(tmp_path),
            "--output",
            str(report_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["rows"] == 200
    operations = report["operations"]
    for name in READS:
        result = operations[name]
        assert "error" not in result, (name, result)
        assert result["median_ms"] is not None and result["p95_ms"] is not None, name
        assert result["sql_floor_ms"] is not None and result["queries"] > 0, name
        assert "meets_target" in result, name
        if name.startswith("search"):
            assert result["hits"] > 0, (name, result)  # the generated rows are in the search index
    panels = operations["detail_lazy_panels"]
    assert "error" not in panels and panels["median_ms"] is not None and panels["sql_all_ms"] is not None, panels
    assert "error" not in operations["api_create"], operations["api_create"]
    assert operations["api_create"]["median_ms"] is not None
    imported = report["import"]
    assert imported.get("rows") == 200 and imported.get("error_count") == 0, imported
    assert imported["created"] == 200 and imported["rows_per_s"] and imported["peak_rss_mb"]
    assert imported["peak_pss_mb"] > 0  # the importer's memory with its checker's, sampled from outside
    floor = imported["db_floor"]  # the import's rows inserted again without the import around them
    assert floor["contacts"] == 200 and floor["tables"]["contacts_emails"]["rows"] == 200, floor
    assert floor["tables"]["contacts_contacts"]["us_per_row"] > 0 and floor["rows_per_s_at_most"] > 0, floor
    assert len(report["worker_peak_rss_mb"]) == 2
    assert "operation" in finished.stdout  # the table follows the JSON
