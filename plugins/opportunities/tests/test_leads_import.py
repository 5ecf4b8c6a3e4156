"""Leads imported from a spreadsheet with Chinese headers go through the lead rules and the assignment rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import db
from core.cli import main as crm
from plugins.opportunities.models import AssignmentRule, Lead


def test_a_csv_with_chinese_headers_imports_leads_and_assigns_them(
    app: Any, tenant: Any, admin: Any, make_user: Any, tmp_path: Any, in_tenant: Any
) -> None:
    rep = make_user(tenant, name="Rep", departments=["North"], groups=["sales"])
    with in_tenant(tenant):
        db.session.add(AssignmentRule(name="Trade shows", source="Trade show", method="fixed", user_id=rep.id))
        db.session.commit()
    path = tmp_path / "leads.csv"
    rows = [
        "姓名,公司名稱,職稱,電子郵件,電話,來源,縣市,備註",
        "王小明,台積電,採購經理,Ming@TSMC.example.com,0912-345-678,Trade show,新竹市,展場名片",
        "林美玲,鴻海精密,,meiling@example.com,02 2345 6789,Website,台北市,",
    ]
    path.write_text("\n".join(rows), encoding="utf-8-sig")
    result = app.test_cli_runner().invoke(crm, ["import", "leads", str(path), "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    with in_tenant(tenant):
        ming, meiling = db.session.scalars(select(Lead).order_by(Lead.name.desc())).all()
        assert (ming.name, ming.company_name, ming.title, ming.email) == (
            "王小明",
            "台積電",
            "採購經理",
            "ming@tsmc.example.com",
        )
        assert (ming.phone_digits, ming.source, ming.address_city, ming.notes) == (
            "0912345678",
            "Trade show",
            "新竹市",
            "展場名片",
        )
        assert ming.owner_id == rep.id  # the rule for trade shows
        assert meiling.owner_id == admin.id  # no rule: the importer's
