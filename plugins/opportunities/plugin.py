"""The opportunities plugin: leads, pipelines and stages, the kanban board, forecast and win/loss analysis.

Leads and opportunities are entities (``entities.py``): the kernel serves their lists, detail pages, forms,
trash, history, custom fields, import, export, REST API (``/api/v1/leads``, ``/api/v1/opportunities``) and search.
Customers are the contacts plugin's, reached only through ``plugins.contacts.public`` and its events.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from core.contributions import MenuItem, Permission, Setting
from core.hooks import hookimpl

TITLE = _l("Opportunities")

META = {
    "name": "opportunities",
    "title": TITLE,
    "version": "1.0.0",
    "description": _l(
        "Leads with web-to-lead forms and assignment rules, opportunities in configurable pipelines on a kanban "
        "board, sales forecast with quotas, and win/loss analysis."
    ),
    "requires": ("contacts",),
    "slots": ("lead.detail", "lead.actions", "opportunity.detail", "opportunity.actions"),
    "events": (
        "opportunities.lead.created",
        "opportunities.lead.updated",
        "opportunities.lead.deleted",
        "opportunities.lead.restored",
        "opportunities.lead.assigned",
        "opportunities.lead.converted",
        "opportunities.opportunity.created",
        "opportunities.opportunity.updated",
        "opportunities.opportunity.deleted",
        "opportunities.opportunity.restored",
        "opportunities.opportunity.stage_changed",
        "opportunities.opportunity.won",
        "opportunities.opportunity.lost",
    ),
}


@hookimpl
def register_models() -> list[type]:
    from plugins.opportunities import models

    return [
        models.Pipeline,
        models.Stage,
        models.WebForm,
        models.Lead,
        models.LeadActivity,
        models.Opportunity,
        models.OpportunityContact,
        models.StageHistory,
        models.Quota,
        models.AssignmentRule,
    ]


@hookimpl
def register_entities() -> list[Any]:
    from plugins.opportunities.entities import lead_entity, opportunity_entity

    return [lead_entity(), opportunity_entity()]


@hookimpl
def register_blueprints() -> list[Any]:
    from plugins.opportunities.forecast_views import api_bp
    from plugins.opportunities.views import bp

    return [bp, api_bp]


@hookimpl
def register_permissions() -> list[Permission]:
    from core.entities import entity_permissions

    # Sales reps work their own leads and deals and see their department's; managers get "department" or "all"
    # through their own group; marketing imports leads and sees every lead (it produced them).
    lead_defaults = {
        "view": {"sales": "department", "marketing": "all", "readonly": "all"},
        "create": {"sales": "all", "marketing": "all"},
        "edit": {"sales": "own", "marketing": "own"},
        "delete": {"sales": "own", "marketing": "own"},
        "export": {"marketing": "all"},
        "import": {"marketing": "all"},
    }
    opportunity_defaults = {
        "view": {"sales": "own", "readonly": "all"},
        "create": {"sales": "all"},
        "edit": {"sales": "own"},
        "delete": {"sales": "own"},
        "export": {},
        "import": {},
    }
    return [
        *entity_permissions("opportunities.lead", _l("Leads"), lead_defaults),
        *entity_permissions("opportunities.opportunity", _l("Opportunities"), opportunity_defaults),
        Permission(
            "opportunities.lead.convert",
            _l("Convert leads"),
            _l("Turn a qualified lead into a contact, a company and an opportunity."),
            defaults={"sales": "own"},
        ),
        Permission(
            "opportunities.forecast.view",
            _l("See the forecast and win/loss analysis"),
            _l("Figures cover the opportunities within the scope: own, the department's or all."),
            defaults={"sales": "own"},
        ),
        Permission(
            "opportunities.quotas.manage",
            _l("Set sales quotas"),
            _l("Set the targets of users and departments per month, quarter or year."),
            scoped=False,
        ),
        Permission(
            "opportunities.pipelines.manage",
            _l("Configure pipelines and stages"),
            _l("Add, rename, reorder and retire pipelines and their stages."),
            scoped=False,
        ),
        Permission(
            "opportunities.capture.manage",
            _l("Configure lead capture"),
            _l("Manage web-to-lead forms and lead assignment rules."),
            scoped=False,
        ),
    ]


@hookimpl
def register_menu_items() -> list[MenuItem]:
    return [
        MenuItem(
            "opportunities.leads",
            _l("Leads"),
            "opportunities_leads.list",
            order=20,
            permission="opportunities.lead.view",
            icon="inbox",
        ),
        MenuItem(
            "opportunities.opportunities",
            _l("Opportunities"),
            "opportunities_opportunities.list",
            order=21,
            permission="opportunities.opportunity.view",
            icon="target",
        ),
        MenuItem(
            "opportunities.board",
            _l("Board"),
            "opportunities.board_page",
            order=22,
            permission="opportunities.opportunity.view",
            icon="columns",
        ),
        MenuItem(
            "opportunities.pipelines",
            _l("Pipelines and stages"),
            "opportunities.pipelines_admin",
            order=61,
            permission="opportunities.pipelines.manage",
            section="admin",
        ),
        MenuItem(
            "opportunities.forecast",
            _l("Forecast"),
            "opportunities.forecast_page",
            order=24,
            permission="opportunities.forecast.view",
            icon="trending-up",
        ),
        MenuItem(
            "opportunities.analysis",
            _l("Win/loss analysis"),
            "opportunities.analysis_page",
            order=25,
            permission="opportunities.forecast.view",
            icon="pie-chart",
        ),
        MenuItem(
            "opportunities.quotas",
            _l("Sales quotas"),
            "opportunities.quotas_page",
            order=60,
            permission="opportunities.quotas.manage",
            section="admin",
        ),
        MenuItem(
            "opportunities.web_forms",
            _l("Web forms"),
            "opportunities.webforms_admin",
            order=62,
            permission="opportunities.capture.manage",
            section="admin",
        ),
        MenuItem(
            "opportunities.assignment_rules",
            _l("Lead assignment rules"),
            "opportunities.assignment_rules",
            order=63,
            permission="opportunities.capture.manage",
            section="admin",
        ),
    ]


@hookimpl
def register_settings() -> list[Setting]:
    from core.choice_lists import validate_list

    from .choices import (
        DEFAULT_CURRENCIES,
        DEFAULT_DISQUALIFY_REASONS,
        DEFAULT_EXCHANGE_RATES,
        DEFAULT_LEAD_SOURCES,
        DEFAULT_LOST_REASONS,
    )
    from .money import validate_rates

    return [
        Setting(
            "lead_sources",
            _l("Lead sources"),
            default=DEFAULT_LEAD_SOURCES,
            help=_l("Where leads and opportunities come from, separated by commas."),
            validate=validate_list,
        ),
        Setting(
            "lost_reasons",
            _l("Reasons for losing"),
            default=DEFAULT_LOST_REASONS,
            help=_l("Offered when an opportunity is marked lost, separated by commas."),
            validate=validate_list,
        ),
        Setting(
            "disqualify_reasons",
            _l("Reasons for disqualifying a lead"),
            default=DEFAULT_DISQUALIFY_REASONS,
            help=_l("Separated by commas."),
            validate=validate_list,
        ),
        Setting(
            "currencies",
            _l("Currencies of opportunities"),
            default=DEFAULT_CURRENCIES,
            help=_l("Three-letter codes, separated by commas; each needs an exchange rate."),
            validate=validate_list,
        ),
        Setting(
            "exchange_rates",
            _l("Exchange rates"),
            default=DEFAULT_EXCHANGE_RATES,
            help=_l(
                "Units of the workspace currency per unit of another currency, e.g. USD 32, JPY 0.21. Totals, "
                "the board and the forecast convert amounts with the rate in force when the amount was saved."
            ),
            validate=validate_rates,
        ),
    ]


@hookimpl
def page_panels(slot: str, context: dict[str, Any], user: Any, tenant: Any) -> list[Any]:
    from plugins.opportunities import lead_views, panels

    return [*panels.panels_for(slot, context, user), *lead_views.panels_for(slot, context, user)]


@hookimpl
def page_actions(slot: str, context: dict[str, Any], user: Any, tenant: Any) -> list[Any]:
    from plugins.opportunities import lead_views, panels

    return [*panels.actions_for(slot, context, user), *lead_views.actions_for(slot, context, user)]


@hookimpl
def handle_event(event: Any, tenant: Any) -> None:
    from plugins.opportunities import events

    events.handle(event)


@hookimpl
def plugin_enabled(tenant: Any) -> None:
    from flask_babel import force_locale

    from core import db

    from .pipelines import ensure_default_pipeline

    with force_locale(tenant.default_locale):  # the stage names are stored in the workspace's language
        ensure_default_pipeline()
    db.session.flush()


@hookimpl
def demo_data(tenant: Any, session: Any) -> None:
    from plugins.opportunities.demo import load

    load(tenant, session)
