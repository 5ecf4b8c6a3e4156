"""Lead assignment rules: a fair round robin, fixed users, sources, and who gets notified."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core import db
from plugins.opportunities.models import AssignmentRule, Lead


@pytest.fixture
def reps(tenant: Any, make_user: Any) -> list[Any]:
    return [make_user(tenant, name=f"Rep {n}", departments=["North"], groups=["sales"]) for n in range(1, 4)]


def add_rule(admin_client: Any, **data: Any) -> None:
    response = admin_client.post("/opportunities/admin/assignment-rules/new", data={"active": "y", **data})
    assert response.status_code == 302, response.get_data(as_text=True)


def department_id(tenant: Any, in_tenant: Any, name: str) -> int:
    from core.models import Department

    with in_tenant(tenant):
        return db.session.scalar(select(Department.id).where(Department.name == name))


def owners(tenant: Any, in_tenant: Any) -> list[int | None]:
    with in_tenant(tenant):
        return list(db.session.scalars(select(Lead.owner_id).order_by(Lead.id)))


def test_round_robin_is_fair_and_skips_a_deactivated_rep(
    admin: Any, admin_client: Any, api_as: Any, reps: list[Any], tenant: Any, in_tenant: Any
) -> None:
    from core.models import User

    add_rule(admin_client, name="North", method="round_robin", department_id=department_id(tenant, in_tenant, "North"))
    api = api_as(admin)
    for number in range(9):
        assert api.post("/api/v1/leads", json={"name": f"Lead {number}"}).status_code == 201
    ids = [rep.id for rep in reps]
    assert owners(tenant, in_tenant) == ids * 3  # each in turn, three each
    with in_tenant(tenant):
        db.session.get(User, ids[1]).active = False
        db.session.commit()
    for number in range(4):
        api.post("/api/v1/leads", json={"name": f"Later {number}"})
    assert owners(tenant, in_tenant)[9:] == [ids[0], ids[2], ids[0], ids[2]]
    with in_tenant(tenant):
        department = department_id(tenant, in_tenant, "North")
        assert set(db.session.scalars(select(Lead.department_id))) == {department}


def test_the_assignee_is_notified_in_their_bell(
    admin: Any, admin_client: Any, api_as: Any, reps: list[Any], tenant: Any, in_tenant: Any, client_as: Any
) -> None:
    add_rule(admin_client, name="Fixed", method="fixed", user_id=reps[2].id)
    lead = api_as(admin).post("/api/v1/leads", json={"name": "王小明"}).json["id"]
    page = client_as(reps[2]).get("/contacts/notifications").get_data(as_text=True)
    assert "New lead assigned to you: 王小明" in page
    from plugins.contacts.models import Notification

    with in_tenant(tenant):
        (note,) = db.session.scalars(select(Notification).where(Notification.user_id == reps[2].id))
        assert note.url == f"/opportunities/leads/{lead}"


def test_rules_match_by_source_in_order_and_an_explicit_owner_wins(
    admin: Any, admin_client: Any, api_as: Any, reps: list[Any], tenant: Any, in_tenant: Any
) -> None:
    add_rule(admin_client, name="Trade shows", source="Trade show", method="fixed", user_id=reps[0].id)
    add_rule(admin_client, name="Everything else", method="fixed", user_id=reps[1].id)
    api = api_as(admin)
    api.post("/api/v1/leads", json={"name": "A", "source": "Trade show"})
    api.post("/api/v1/leads", json={"name": "B", "source": "Website"})
    api.post("/api/v1/leads", json={"name": "C", "source": "Trade show", "owner_id": reps[2].id})
    assert owners(tenant, in_tenant) == [reps[0].id, reps[1].id, reps[2].id]
    # Moving the catch-all rule first makes it win.
    with in_tenant(tenant):
        catch_all = db.session.scalar(select(AssignmentRule.id).where(AssignmentRule.name == "Everything else"))
    admin_client.post(f"/opportunities/admin/assignment-rules/{catch_all}/move", data={"direction": "up"})
    api.post("/api/v1/leads", json={"name": "D", "source": "Trade show"})
    assert owners(tenant, in_tenant)[-1] == reps[1].id


def test_a_lead_entered_on_a_page_stays_with_its_author_unless_the_owner_is_emptied(
    admin_client: Any, reps: list[Any], tenant: Any, in_tenant: Any, admin: Any, client_as: Any
) -> None:
    add_rule(admin_client, name="Fixed", method="fixed", user_id=reps[0].id)
    rep = client_as(reps[1])
    form = rep.get("/opportunities/leads/new").get_data(as_text=True)
    assert f'<option value="{reps[1].id}" selected' in form
    assert rep.post("/opportunities/leads/new", data={"name": "Mine", "owner_id": str(reps[1].id)}).status_code == 302
    assert rep.post("/opportunities/leads/new", data={"name": "Anyone's", "owner_id": ""}).status_code == 302
    assert owners(tenant, in_tenant) == [reps[1].id, reps[0].id]


def test_a_rule_needs_its_department_or_user(admin_client: Any) -> None:
    response = admin_client.post(
        "/opportunities/admin/assignment-rules/new", data={"name": "Broken", "method": "round_robin", "active": "y"}
    )
    assert response.status_code == 400
    assert "Choose the department" in response.get_data(as_text=True)
