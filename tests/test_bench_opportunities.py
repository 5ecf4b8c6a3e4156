"""The opportunities benchmark runs end to end on a small data set and reports every figure (no timings asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_bench import ROOT, _database

PAGES = ("board", "board_more", "forecast", "analysis")


@pytest.mark.slow
def test_opportunities_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRM_")}
    command = [sys.executable, "-m", "bench", "opportunities", "--rows", "300", "--noise-rows", "50", "--quick"]
    command += ["--database", _database(tmp_path), "--output", str(report_path)]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["rows"] == 300
    assert report["generation"]["opportunities"] == 400
    assert report["generation"]["stage_history_rows"] >= 400  # every deal has at least the stage it is in
    for name in PAGES:
        result = report["operations"][name]
        assert "error" not in result, (name, result)
        assert result["median_ms"] is not None and result["p95_ms"] is not None, name
        assert result["sql_floor_ms"] is not None and result["queries"] > 0, name
        assert "meets_target" in result, name
    assert len(report["worker_peak_rss_mb"]) == 2
    assert "operation" in finished.stdout  # the table follows the JSON
