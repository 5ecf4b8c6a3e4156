"""The kanban board: columns and totals within the user's scope, moves by drag and drop (JSON) and by the phone's
stage picker, optimistic locking, the required lost reason, the won event on the timeline, and more cards by
keyset pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

OPP = "opportunities.opportunity"


def _deal(create: Any, tenant: Any, user: Any, name: str, **fields: Any) -> int:
    return create(tenant, "opportunities", {"name": name, **fields}, user)


def _version(in_tenant: Any, tenant: Any, deal_id: int) -> int:
    from core import db
    from plugins.opportunities.models import Opportunity

    with in_tenant(tenant):
        return db.session.get(Opportunity, deal_id).version


def _totals(html: str, stage_id: int) -> tuple[str, str]:
    """The count shown in a column's header, and the column's HTML."""
    start = html.index('<section class="board-column board-')
    column = html[html.index(f'data-stage-id="{stage_id}" data-kind') :]
    column = column[: column.index("</section>")]
    count = column.split('data-total="count">', 1)[1].split("<", 1)[0]
    assert start >= 0
    return count, column


def test_board_shows_columns_with_totals_and_cards(
    admin: Any, admin_client: Any, create: Any, tenant: Any, stages: dict[str, Any]
) -> None:
    _deal(create, tenant, admin, "晶圓檢測設備", amount="1000", currency="TWD")
    _deal(create, tenant, admin, "產線自動化", amount="3000", currency="TWD", stage_id=stages["open"][2])
    page = admin_client.get("/opportunities/board/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    count, column = _totals(html, stages["open"][0])
    assert count == "1" and "晶圓檢測設備" in column and "1,000" in column
    count, column = _totals(html, stages["open"][2])
    assert count == "1" and "產線自動化" in column
    assert "1,500" in column  # weighted: 3000 at 50 %
    assert 'action="/opportunities/board/move/' in html  # the phone's stage picker


def test_json_move_with_a_stale_version_is_refused_and_changes_nothing(
    admin: Any, admin_client: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any
) -> None:
    deal = _deal(create, tenant, admin, "Stale deal")
    version = _version(in_tenant, tenant, deal)
    moved = admin_client.post(
        f"/opportunities/board/move/{deal}", json={"stage_id": stages["open"][1], "version": version}
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["card"]["stage_id"] == stages["open"][1]
    assert moved.json["totals"][str(stages["open"][1])]["count"] == 1
    stale = admin_client.post(
        f"/opportunities/board/move/{deal}", json={"stage_id": stages["open"][2], "version": version}
    )
    assert stale.status_code == 409
    assert "changed" in stale.json["error"]["message"]
    assert stale.json["card"]["stage_id"] == stages["open"][1]  # where the card snaps back to
    assert _version(in_tenant, tenant, deal) == version + 1


def test_lost_without_a_reason_is_refused_with_a_field_error(
    admin: Any, admin_client: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any
) -> None:
    deal = _deal(create, tenant, admin, "Lost deal")
    version = _version(in_tenant, tenant, deal)
    refused = admin_client.post(
        f"/opportunities/board/move/{deal}", json={"stage_id": stages["lost"], "version": version}
    )
    assert refused.status_code == 422
    assert "lost_reason" in refused.json["errors"]
    assert _version(in_tenant, tenant, deal) == version
    done = admin_client.post(
        f"/opportunities/board/move/{deal}",
        json={"stage_id": stages["lost"], "version": version, "lost_reason": "No budget"},
    )
    assert done.status_code == 200, done.json
    assert done.json["card"]["status"] == "lost"


def _department_id(in_tenant: Any, tenant: Any, name: str) -> int:
    from sqlalchemy import select

    from core import db
    from core.models import Department

    with in_tenant(tenant):
        return db.session.scalar(select(Department.id).where(Department.name == name))


def test_board_cards_and_totals_follow_the_view_scope(
    admin: Any, make_user: Any, client_as: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any
) -> None:
    rep_grants = {f"{OPP}.view": "own", f"{OPP}.edit": "own", f"{OPP}.create": "all"}
    rep = make_user(tenant, email="rep@acme.example.com", grants=rep_grants, departments=["North"])
    peer = make_user(tenant, email="peer@acme.example.com", grants=rep_grants, departments=["North"])
    south = make_user(tenant, email="south@acme.example.com", grants=rep_grants, departments=["South"])
    manager = make_user(
        tenant, email="boss@acme.example.com", grants={f"{OPP}.view": "department"}, departments=["North"]
    )
    north = _department_id(in_tenant, tenant, "North")
    southern = _department_id(in_tenant, tenant, "South")
    first = stages["open"][0]
    _deal(create, tenant, rep, "Rep deal A", amount="100", owner_id=rep.id, department_id=north)
    _deal(create, tenant, rep, "Rep deal B", amount="200", owner_id=rep.id, department_id=north)
    _deal(create, tenant, peer, "Peer deal", amount="400", owner_id=peer.id, department_id=north)
    _deal(create, tenant, south, "South deal", amount="800", owner_id=south.id, department_id=southern)

    expectations = [
        (rep, {"Rep deal A", "Rep deal B"}, "300"),
        (manager, {"Rep deal A", "Rep deal B", "Peer deal"}, "700"),
        (admin, {"Rep deal A", "Rep deal B", "Peer deal", "South deal"}, "1,500"),
    ]
    everyone = {"Rep deal A", "Rep deal B", "Peer deal", "South deal"}
    for user, visible, amount in expectations:
        html = client_as(user).get("/opportunities/board/").get_data(as_text=True)
        count, column = _totals(html, first)
        assert count == str(len(visible)), user.email
        assert f'data-total="amount">{amount}<' in column, user.email
        assert {name for name in everyone if name in column} == visible, user.email

    # The owner filter narrows the admin's board and its totals alike.
    html = client_as(admin).get(f"/opportunities/board/?owner_id={peer.id}").get_data(as_text=True)
    count, column = _totals(html, first)
    assert count == "1" and "Peer deal" in column and "Rep deal A" not in column


def test_a_rep_cannot_move_a_colleagues_card(
    make_user: Any, client_as: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any
) -> None:
    grants = {f"{OPP}.view": "all", f"{OPP}.edit": "own", f"{OPP}.create": "all"}
    rep = make_user(tenant, email="rep@acme.example.com", grants=grants)
    other = make_user(tenant, email="other@acme.example.com", grants=grants)
    deal = _deal(create, tenant, other, "Not yours", owner_id=other.id)
    version = _version(in_tenant, tenant, deal)
    response = client_as(rep).post(
        f"/opportunities/board/move/{deal}", json={"stage_id": stages["open"][1], "version": version}
    )
    assert response.status_code == 403
    assert _version(in_tenant, tenant, deal) == version
    assert 'action="/opportunities/board/move/' not in client_as(rep).get("/opportunities/board/").get_data(
        as_text=True
    )


def test_won_from_the_board_lands_on_the_contacts_timeline_and_in_the_won_column(
    admin: Any, admin_client: Any, api_as: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any
) -> None:
    api = api_as(admin)
    contact = api.post("/api/v1/contacts", json={"name": "王小明"}).json["id"]
    deal = api.post("/api/v1/opportunities", json={"name": "年度維護合約", "contact_id": contact, "amount": "5000"})
    deal = deal.json["id"]
    version = _version(in_tenant, tenant, deal)
    # The phone's stage picker: a plain form that redirects back to the board.
    response = admin_client.post(
        f"/opportunities/board/move/{deal}", data={"stage_id": stages["won"], "version": version}
    )
    assert response.status_code == 302
    html = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    count, column = _totals(html, stages["won"])
    assert count == "1" and "年度維護合約" in column
    from sqlalchemy import select

    from core import db
    from plugins.contacts.models import Interaction

    with in_tenant(tenant):
        subjects = list(db.session.scalars(select(Interaction.subject).where(Interaction.contact_id == contact)))
    assert "Opportunity won: 年度維護合約" in subjects


def test_the_phone_form_asks_for_the_lost_reason_on_a_page_of_its_own(
    admin: Any, admin_client: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any
) -> None:
    deal = _deal(create, tenant, admin, "Phone lost deal")
    version = _version(in_tenant, tenant, deal)
    response = admin_client.post(
        f"/opportunities/board/move/{deal}", data={"stage_id": stages["lost"], "version": version}
    )
    assert response.status_code == 302 and "/opportunities/board/lost/" in response.headers["Location"]
    page = admin_client.get(response.headers["Location"])
    assert page.status_code == 200 and "Chose a competitor" in page.get_data(as_text=True)
    empty = admin_client.post(
        f"/opportunities/board/lost/{deal}", data={"stage_id": stages["lost"], "version": version, "lost_reason": ""}
    )
    assert empty.status_code == 422
    assert 'class="error"' in empty.get_data(as_text=True)
    assert _version(in_tenant, tenant, deal) == version
    done = admin_client.post(
        f"/opportunities/board/lost/{deal}",
        data={"stage_id": stages["lost"], "version": version, "lost_reason": "Chose a competitor", "next": "/x"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/x")
    with in_tenant(tenant):
        from core import db
        from plugins.opportunities.models import Opportunity

        record = db.session.get(Opportunity, deal)
        assert record.status == "lost" and record.lost_reason == "Chose a competitor"


def test_columns_load_more_cards_a_keyset_page_at_a_time(
    admin: Any, admin_client: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any
) -> None:
    from core import db
    from core.db import utcnow
    from plugins.opportunities.models import Opportunity

    first = stages["open"][0]
    with in_tenant(tenant):
        for n in range(30):
            close = dt.date(2030, 1, 1) + dt.timedelta(days=n % 12) if n % 3 else None
            db.session.add(
                Opportunity(
                    name=f"Bulk {n:02d}",
                    pipeline_id=stages["pipeline"],
                    stage_id=first,
                    probability=10,
                    expected_close_date=close,
                    owner_id=admin.id,
                    stage_entered_at=utcnow(),
                )
            )
        db.session.commit()
    html = admin_client.get("/opportunities/board/").get_data(as_text=True)
    count, column = _totals(html, first)
    assert count == "30"
    seen = [name for name in (f"Bulk {n:02d}" for n in range(30)) if name in column]
    assert len(seen) == 20
    names = []
    url = column.split('data-fragment-url="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    while url:
        fragment = admin_client.get(url).get_data(as_text=True)
        names += [name for name in (f"Bulk {n:02d}" for n in range(30)) if name in fragment]
        url = (
            fragment.split('data-fragment-url="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
            if "data-fragment-url" in fragment
            else ""
        )
    assert sorted(seen + names) == sorted(f"Bulk {n:02d}" for n in range(30))  # each card exactly once
    assert len(set(seen + names)) == 30


def test_stage_history_records_every_stay_and_the_time_spent(
    admin: Any, admin_client: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any, monkeypatch: Any
) -> None:
    from sqlalchemy import select

    from core import db
    from plugins.opportunities import pipelines
    from plugins.opportunities.models import StageHistory
    from plugins.opportunities.panels import stage_history

    start = dt.datetime(2030, 3, 1, 9, 0, tzinfo=dt.UTC)
    clock = {"now": start}
    monkeypatch.setattr(pipelines, "utcnow", lambda: clock["now"])
    deal = _deal(create, tenant, admin, "History deal")
    clock["now"] = start + dt.timedelta(days=2, hours=3)
    version = _version(in_tenant, tenant, deal)
    assert (
        admin_client.post(
            f"/opportunities/board/move/{deal}", json={"stage_id": stages["open"][1], "version": version}
        ).status_code
        == 200
    )
    clock["now"] = start + dt.timedelta(days=5)
    assert (
        admin_client.post(
            f"/opportunities/board/move/{deal}", json={"stage_id": stages["won"], "version": version + 1}
        ).status_code
        == 200
    )
    with in_tenant(tenant):
        rows = list(
            db.session.scalars(
                select(StageHistory).where(StageHistory.opportunity_id == deal).order_by(StageHistory.entered_at)
            )
        )
        assert [r.stage_id for r in rows] == [stages["open"][0], stages["open"][1], stages["won"]]
        assert rows[0].entered_at == start and rows[0].left_at == rows[1].entered_at
        assert rows[1].left_at == rows[2].entered_at == start + dt.timedelta(days=5) and rows[2].left_at is None
        history = stage_history(deal, now=start + dt.timedelta(days=6))
        assert [h["duration"] for h in history] == [
            dt.timedelta(days=2, hours=3),
            dt.timedelta(days=2, hours=21),
            dt.timedelta(days=1),
        ]
    detail = admin_client.get(f"/opportunities/opportunities/{deal}").get_data(as_text=True)
    assert "Stage history" in detail and "2 d 3 h" in detail and "2 d 21 h" in detail


def test_every_stage_change_emits_stage_changed_with_both_stages(
    admin: Any, admin_client: Any, create: Any, tenant: Any, stages: dict[str, Any], in_tenant: Any, monkeypatch: Any
) -> None:
    from plugins.opportunities import events

    heard: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(events, "handle", lambda event: heard.append((event.name, dict(event.payload))))
    deal = _deal(create, tenant, admin, "Evented deal")
    version = _version(in_tenant, tenant, deal)
    admin_client.post(f"/opportunities/board/move/{deal}", json={"stage_id": stages["open"][1], "version": version})
    changed = [payload for name, payload in heard if name == "opportunities.opportunity.stage_changed"]
    assert changed == [
        {"id": deal, "from_stage_id": stages["open"][0], "to_stage_id": stages["open"][1], "status": "open"}
    ]


@pytest.mark.parametrize("path", ["/opportunities/board/", "/opportunities/board/999999"])
def test_board_needs_the_view_permission_and_an_existing_pipeline(
    path: str, make_user: Any, client_as: Any, tenant: Any, stages: dict[str, Any]
) -> None:
    nobody = client_as(make_user(tenant, email="nobody@acme.example.com"))
    assert nobody.get("/opportunities/board/").status_code == 403
    viewer = client_as(make_user(tenant, email="viewer@acme.example.com", grants={f"{OPP}.view": "own"}))
    assert viewer.get(path).status_code == (200 if path.endswith("/") else 404)
