"""Marshmallow schemas of leads and opportunities: the one description of their fields (forms, API, import,
export and the API documentation read them; see ``core.entities.schemas`` for the metadata conventions)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates, validates_schema

from core.entities.schemas import RecordSchema, tenant_rows_exist

from .choices import CONTACT_ROLES, CURRENCIES, DISQUALIFY_REASONS, LEAD_SOURCES, LEAD_STATUSES, LOST_REASONS
from .pipelines import PipelineChoices, StageChoices


class _OwnedSchema(RecordSchema):
    """Id, owner, department, tags, created and updated: the same on leads and opportunities."""

    id = fields.Integer(dump_only=True, metadata={"label": "ID"})

    owner_id = fields.Integer(
        allow_none=True,
        metadata={"label": _l("Owner"), "widget": "user", "synonyms": ["負責人", "负责人", "業務", "Owner"]},
    )
    department_id = fields.Integer(
        allow_none=True,
        metadata={"label": _l("Department"), "widget": "department", "synonyms": ["部門", "部门"]},
    )
    tags = fields.List(
        fields.String(validate=validate.Length(max=50)),
        load_default=None,
        metadata={"label": _l("Tags"), "widget": "tags", "synonyms": ["標籤", "标签", "Labels"]},
    )
    created_at = fields.DateTime(dump_only=True, metadata={"label": _l("Created")})
    updated_at = fields.DateTime(dump_only=True, metadata={"label": _l("Updated")})


def _in_list(choices: Any, value: str | None, message: Any) -> None:
    if value is not None and choices.matching(value) is None:
        raise ValidationError(str(message))


class LeadSchema(_OwnedSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"label": _l("Name"), "synonyms": ["姓名", "聯絡人", "联系人", "Full Name", "Contact Name", "Name"]},
    )
    company_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"label": _l("Company"), "synonyms": ["公司", "公司名稱", "公司名称", "Company", "Organization"]},
    )
    title = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Job title"), "synonyms": ["職稱", "职称", "Job Title", "Title"]},
    )
    email = fields.Email(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={"label": _l("E-mail"), "synonyms": ["電子郵件", "电子邮件", "Email", "E-mail Address"]},
    )
    phone = fields.String(
        allow_none=True,
        validate=validate.Length(max=50),
        metadata={
            "label": _l("Phone"),
            "widget": "phone",
            "synonyms": ["電話", "电话", "手機", "手机", "Phone", "Mobile", "Mobile Phone"],
        },
    )
    website = fields.String(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={"label": _l("Website"), "widget": "url", "synonyms": ["網站", "网站", "Website"]},
    )
    address_city = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("City"), "synonyms": ["縣市", "城市", "City"]},
    )
    source = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Source"), "choices": LEAD_SOURCES, "synonyms": ["來源", "来源", "Lead Source"]},
    )
    status = fields.String(
        load_default="new",
        validate=validate.OneOf([value for value, _label in LEAD_STATUSES]),
        metadata={"label": _l("Status"), "choices": LEAD_STATUSES, "synonyms": ["狀態", "状态", "Status"]},
    )
    disqualify_reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Reason for disqualifying"), "choices": DISQUALIFY_REASONS},
    )
    notes = fields.String(
        allow_none=True,
        validate=validate.Length(max=20000),
        metadata={"label": _l("Notes"), "widget": "longtext", "synonyms": ["備註", "备注", "Notes", "Message"]},
    )
    converted_at = fields.DateTime(dump_only=True, metadata={"label": _l("Converted")})
    contact_id = fields.Integer(dump_only=True, metadata={"label": _l("Contact")})
    company_id = fields.Integer(dump_only=True, metadata={"label": _l("Company record")})
    opportunity_id = fields.Integer(dump_only=True, metadata={"label": _l("Opportunity")})

    @validates("source")
    def _source(self, value: str | None, **kwargs: Any) -> None:
        _in_list(LEAD_SOURCES, value, _l("Choose one of the workspace's lead sources."))

    @validates_schema
    def _reason(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("status") == "disqualified" and not data.get("disqualify_reason") and not self.partial:
            raise ValidationError({"disqualify_reason": [str(_l("Say why the lead is disqualified."))]})
        if data.get("disqualify_reason"):
            _in_list(DISQUALIFY_REASONS, data["disqualify_reason"], _l("Choose one of the listed reasons."))


class OpportunityContactSchema(RecordSchema):
    contact_id = fields.Integer(required=True, metadata={"label": _l("Contact")})
    role = fields.String(
        allow_none=True,
        validate=validate.OneOf([value for value, _label in CONTACT_ROLES]),
        metadata={"label": _l("Role"), "choices": CONTACT_ROLES},
    )


class OpportunitySchema(_OwnedSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"label": _l("Opportunity name"), "synonyms": ["商機", "商机", "案名", "Opportunity", "Deal", "Name"]},
    )
    company_id = fields.Integer(
        allow_none=True,
        metadata={"label": _l("Company"), "widget": "reference", "entity": "companies"},
    )
    company_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        load_only=True,
        metadata={
            "label": _l("Company name"),
            "help": _l("Links the company of this name when there is one."),
            "synonyms": ["公司", "公司名稱", "公司名称", "客戶", "客户", "Company", "Account Name"],
        },
    )
    contact_id = fields.Integer(
        allow_none=True,
        metadata={"label": _l("Main contact"), "widget": "reference", "entity": "contacts"},
    )
    contacts = fields.List(
        fields.Nested(OpportunityContactSchema),
        allow_none=True,
        load_default=None,
        metadata={"label": _l("Contacts and their roles"), "widget": "opportunity_contacts"},
    )
    amount = fields.Decimal(
        allow_none=True,
        places=2,
        as_string=True,
        validate=validate.Range(min=0, max=10**15),
        metadata={
            "label": _l("Amount"),
            "widget": "money",
            "currency_field": "currency",
            "synonyms": ["金額", "金额", "Amount", "Value"],
        },
    )
    currency = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"label": _l("Currency"), "choices": CURRENCIES, "synonyms": ["幣別", "币种", "Currency"]},
    )
    amount_base = fields.Decimal(
        dump_only=True, places=2, as_string=True, metadata={"label": _l("Amount in workspace currency")}
    )
    expected_close_date = fields.Date(
        allow_none=True,
        metadata={
            "label": _l("Expected close date"),
            "synonyms": ["預計成交日", "预计成交日", "Close Date", "Expected Close Date"],
        },
    )
    pipeline_id = fields.Integer(
        allow_none=True,
        metadata={"label": _l("Pipeline"), "choices": PipelineChoices(), "synonyms": ["銷售流程", "销售流程"]},
    )
    stage_id = fields.Integer(
        allow_none=True,
        metadata={"label": _l("Stage"), "choices": StageChoices(), "synonyms": ["階段", "阶段", "Stage"]},
    )
    probability = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=0, max=100),
        metadata={
            "label": _l("Probability (%)"),
            "help": _l("Leave empty to use the stage's probability."),
            "synonyms": ["機率", "概率", "Probability"],
        },
    )
    status = fields.String(dump_only=True, metadata={"label": _l("Status")})
    lost_reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Reason for losing"), "choices": LOST_REASONS, "synonyms": ["輸單原因", "丢单原因"]},
    )
    lost_note = fields.String(
        allow_none=True,
        validate=validate.Length(max=5000),
        metadata={"label": _l("About the loss"), "widget": "longtext"},
    )
    source = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"label": _l("Source"), "choices": LEAD_SOURCES, "synonyms": ["來源", "来源", "Lead Source"]},
    )
    campaign_id = fields.Integer(allow_none=True, metadata={"label": _l("Campaign")})
    next_step = fields.String(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={"label": _l("Next step"), "synonyms": ["下一步", "Next Step"]},
    )
    description = fields.String(
        allow_none=True,
        validate=validate.Length(max=20000),
        metadata={"label": _l("Description"), "widget": "longtext", "synonyms": ["說明", "说明", "Description"]},
    )
    closed_on = fields.Date(dump_only=True, metadata={"label": _l("Closed on")})
    stage_entered_at = fields.DateTime(dump_only=True, metadata={"label": _l("In this stage since")})
    lead_id = fields.Integer(dump_only=True, metadata={"label": _l("Lead")})

    @validates("currency")
    def _currency(self, value: str | None, **kwargs: Any) -> None:
        from .money import exchange_rates

        if value is not None and value.upper() not in exchange_rates():
            raise ValidationError(str(_l("The workspace has no exchange rate for this currency.")))

    @validates("source")
    def _source(self, value: str | None, **kwargs: Any) -> None:
        _in_list(LEAD_SOURCES, value, _l("Choose one of the workspace's lead sources."))

    @validates("lost_reason")
    def _lost_reason(self, value: str | None, **kwargs: Any) -> None:
        _in_list(LOST_REASONS, value, _l("Choose one of the listed reasons."))

    @validates_schema
    def _references(self, data: dict[str, Any], **kwargs: Any) -> None:
        """The stage belongs to the pipeline, the company and contacts are this workspace's, and a lost deal says
        why."""
        from plugins.contacts.models import Company, Contact

        from . import pipelines
        from .models import LOST

        errors: dict[str, list[str]] = {}
        wanted = pipelines.stage(data.get("stage_id")) if data.get("stage_id") is not None else None
        if data.get("stage_id") is not None and wanted is None:
            errors["stage_id"] = [str(_l("Choose a stage from the list."))]
        pipeline_ids = {p.id for p in pipelines.pipelines()}
        if data.get("pipeline_id") is not None and data["pipeline_id"] not in pipeline_ids:
            errors["pipeline_id"] = [str(_l("Choose a pipeline from the list."))]
        elif wanted is not None and data.get("pipeline_id") not in (None, wanted.pipeline_id):
            errors["stage_id"] = [str(_l("This stage belongs to another pipeline."))]
        if wanted is not None and wanted.kind == LOST and not data.get("lost_reason"):
            errors["lost_reason"] = [str(_l("Say why the opportunity was lost."))]
        if data.get("company_id") is not None and not tenant_rows_exist(Company, [data["company_id"]]):
            errors["company_id"] = [str(_l("No such company."))]
        if data.get("contact_id") is not None and not tenant_rows_exist(Contact, [data["contact_id"]]):
            errors["contact_id"] = [str(_l("No such contact."))]
        people = [item["contact_id"] for item in data.get("contacts") or []]
        if len(set(people)) != len(people):
            errors["contacts"] = [str(_l("Each contact can be listed once."))]
        elif people and len(tenant_rows_exist(Contact, people)) != len(set(people)):
            errors["contacts"] = [str(_l("No such contact."))]
        if errors:
            raise ValidationError(errors)
