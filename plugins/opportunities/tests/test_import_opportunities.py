"""Opportunities from a spreadsheet: companies named by title (resolved within the importer's scope, a batch at a
time), and the rules only the stored deal can tell (a lost deal keeps its reason) reported for their row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import db


def _run(entity_plural: str, user: Any, path: Any, on_duplicate: str = "skip") -> Any:
    from core.entities.importing import Plan, import_file, suggest
    from core.entities.importing.readers import open_table
    from core.entities.registry import all_entities
    from core.models import User

    entity = all_entities()[entity_plural]
    with open_table(str(path)) as table:
        mapping = suggest(entity, table.headers)
    plan = Plan(mapping=mapping, on_duplicate=on_duplicate, match="name" if on_duplicate != "create" else None)
    result, _importer = import_file(entity, db.session.get(User, user.id), str(path), plan=plan)
    if result.ok:
        db.session.commit()
    else:
        db.session.rollback()
    return result


def test_companies_are_named_by_title_and_unknown_or_hidden_ones_are_row_errors(
    admin: Any, create: Any, tenant: Any, in_tenant: Any, make_user: Any, tmp_path: Any
) -> None:
    from plugins.opportunities.models import Opportunity

    tsmc = create(tenant, "companies", {"name": "台積電"}, admin)
    create(tenant, "companies", {"name": "鴻海精密"}, admin)
    path = tmp_path / "deals.csv"
    path.write_text("案名,公司,金額\n晶圓檢測,台積電,1200000\n產線升級,鴻海精密,800000\n", encoding="utf-8-sig")
    with in_tenant(tenant):
        result = _run("opportunities", admin, path)
        assert result.ok, result.as_dict()
        rows = dict(db.session.execute(select(Opportunity.name, Opportunity.company_id)).all())
    assert rows["晶圓檢測"] == tsmc

    # A rep who sees no company cannot attach one by typing its name: the row names the problem, nothing is stored.
    rep = make_user(
        tenant,
        email="rep@acme.example.com",
        grants={"opportunities.opportunity.create": "all", "opportunities.opportunity.import": "all"},
    )
    other = tmp_path / "rep.csv"
    other.write_text("案名,公司,金額\n新案,台積電,1\n另一案,不存在公司,2\n", encoding="utf-8-sig")
    with in_tenant(tenant):
        refused = _run("opportunities", rep, other)
        errors = refused.as_dict()["errors"]
        assert not refused.ok
        assert {e["row"] for e in errors} == {2, 3}
        assert all("No record called" in e["message"] for e in errors)
        assert db.session.scalar(select(Opportunity.id).where(Opportunity.name == "新案")) is None


def test_a_row_the_entitys_apply_refuses_is_reported_and_nothing_is_stored(
    admin: Any, tenant: Any, in_tenant: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    """``apply`` may refuse a row for a rule only the stored data can tell (raising marshmallow's ValidationError):
    the import names the row and the field, and stores none of the file."""
    from marshmallow import ValidationError

    from plugins.opportunities import pipelines
    from plugins.opportunities.models import Opportunity

    original = pipelines._copy_names

    def refuse_one(record: Any, data: Any) -> None:
        if record.name == "壞案":
            raise ValidationError({"next_step": ["This next step is not allowed here."]})
        original(record, data)

    monkeypatch.setattr(pipelines, "_copy_names", refuse_one)
    path = tmp_path / "deals.csv"
    path.write_text("Opportunity name,Next step\n好案,call\n壞案,visit\n", encoding="utf-8")
    with in_tenant(tenant):
        result = _run("opportunities", admin, path, on_duplicate="create")
        assert not result.ok
        (error,) = result.as_dict()["errors"]
        assert error["row"] == 3 and error["column"] == "Next step" and "not allowed" in error["message"]
        assert db.session.scalars(select(Opportunity.name)).all() == []
