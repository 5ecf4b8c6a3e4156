"""Demo data for crm quickstart: realistic, spread over the demo colleagues, quick to load."""

import re

from sqlalchemy import func, select

from core import db
from core.demo import load_demo_data
from core.models import User
from plugins.contacts.models import Company, Contact, ContactPhone, Interaction
from plugins.contacts.normalise import valid_tw_tax_id


def test_demo_data_looks_real(app, make_tenant, in_tenant):
    tenant = make_tenant("demo", locale="zh_Hant")
    with app.app_context():
        load_demo_data(tenant)
    with in_tenant(tenant):
        assert db.session.scalar(select(func.count(Company.id))) == 300
        assert db.session.scalar(select(func.count(Contact.id))) == 2000
        companies = db.session.scalars(select(Company).limit(50)).all()
        assert all(valid_tw_tax_id(c.tax_id) for c in companies)
        assert all(re.fullmatch(r"\(0\d\) \d{3,4}-\d{4}", c.phone) for c in companies)
        mobiles = db.session.scalars(select(ContactPhone.number).where(ContactPhone.label == "mobile").limit(50))
        assert all(re.fullmatch(r"09\d\d-\d{3}-\d{3}", m) for m in mobiles)
        owners = set(db.session.scalars(select(Contact.owner_id).distinct()))
        assert len(owners) >= 4 and owners <= set(db.session.scalars(select(User.id)))
        assert db.session.scalar(select(func.count(Contact.id)).where(Contact.department_id.is_not(None))) > 1500
        tasks = db.session.scalar(select(func.count(Interaction.id)).where(Interaction.kind == "task"))
        assert tasks > 200
        assert db.session.scalar(select(func.count(Interaction.id)).where(Interaction.kind != "task")) > 3000
        industries = set(db.session.scalars(select(Company.industry).distinct()))
        assert "半導體" in industries  # the tenant's language


def test_demo_records_are_searchable_and_have_open_tasks(app, make_tenant, make_user, client_as):
    tenant = make_tenant("demo", locale="zh_Hant")
    with app.app_context():
        load_demo_data(tenant)
    admin = make_user(tenant, groups=["administrators"])
    client = client_as(admin)
    assert "股份有限公司" in client.get("/search", query_string={"q": "股份"}).get_data(as_text=True)
    listing = client.get("/contacts/contacts/").get_data(as_text=True)
    assert listing.count('href="/contacts/contacts/') >= 20
