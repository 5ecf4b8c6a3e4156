from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

STATUSES = [("open", _l("Open")), ("won", _l("Won")), ("lost", _l("Lost"))]


class ItemSchema(Schema):
    id = fields.Integer(dump_only=True)
    version = fields.Integer(dump_only=True)
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"label": _l("Name"), "synonyms": ["名稱", "Item name"]},
    )
    email = fields.Email(allow_none=True, metadata={"label": _l("E-mail"), "synonyms": ["電子郵件", "E-mail Address"]})
    phone = fields.String(
        allow_none=True,
        validate=validate.Length(max=50),
        metadata={"label": _l("Phone"), "widget": "phone", "synonyms": ["電話", "手機"]},
    )
    amount = fields.Decimal(allow_none=True, places=2, as_string=True, metadata={"label": _l("Amount")})
    due = fields.Date(allow_none=True, metadata={"label": _l("Due")})
    status = fields.String(
        load_default="open",
        validate=validate.OneOf([s for s, _ in STATUSES]),
        metadata={"label": _l("Status"), "choices": STATUSES},
    )
    notes = fields.String(allow_none=True, metadata={"label": _l("Notes"), "widget": "longtext"})
    owner_id = fields.Integer(allow_none=True, metadata={"label": _l("Owner"), "widget": "user"})
    department_id = fields.Integer(allow_none=True, metadata={"label": _l("Department"), "widget": "department"})
    tags = fields.List(fields.String(), load_default=None, metadata={"label": _l("Tags"), "widget": "tags"})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
