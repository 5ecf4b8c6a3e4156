"""Pages and API of the forecast, the win/loss analysis and the quotas.

Pages: ``/opportunities/forecast``, ``/opportunities/analysis`` (``?format=csv&table=...`` downloads a table),
``/opportunities/quotas``. API (bearer token or session): ``/api/v1/opportunities/forecast`` and
``/api/v1/opportunities/analysis``; the entity API's ``/api/v1/opportunities/<int:record_id>`` only matches
numbers, so the two paths cannot collide with it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DecimalField, HiddenField
from wtforms.validators import NumberRange, Optional

from core import db
from core.api.errors import api_requires, plain, validation_errors
from core.api.tokens import prefer_bearer
from core.permissions import requires
from core.themes import render

from . import charts, periods
from .analysis import analyse
from .blueprint import bp
from .forecast import GROUPS, Filters, forecast_and_months
from .money import workspace_currency
from .pipelines import ensure_default_pipeline, pipelines
from .quotas import MAX_AMOUNT, YearTargets, cell_periods, field_name, fingerprint, reachable, save_year

api_bp = Blueprint("opportunities_figures_api", __name__)
api_bp.before_request(prefer_bearer)

GROUP_LABELS = {
    "none": _l("Nothing (totals)"),
    "owner": _l("Owner"),
    "department": _l("Department"),
    "pipeline": _l("Pipeline"),
}
# Headings of the grouped table, whole phrases so each language can word them its own way.
GROUP_HEADINGS = {
    "owner": _l("By owner"),
    "department": _l("By department"),
    "pipeline": _l("By pipeline"),
}
FORECAST_TABLES = ("groups", "months")
ANALYSIS_TABLES = ("owners", "sources", "reasons", "funnel", "trend")


class ArgumentError(ValueError):
    """A query argument that makes no sense: ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------------------------------- arguments


def _int_arg(name: str) -> int | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ArgumentError(name, _("Must be a whole number."))
    return int(value)


def read_period(default_kind: str = "quarter") -> periods.Period:
    """``?period=2026-Q4`` (or 2026-11, 2026), else the current period of ``?kind=`` (default a quarter)."""
    key = request.args.get("period")
    if key:
        try:
            return periods.parse(key)
        except ValueError:
            raise ArgumentError("period", _("Write a period as 2026, 2026-Q4 or 2026-11.")) from None
    kind = request.args.get("kind") or default_kind
    if kind not in periods.KINDS:
        raise ArgumentError("kind", _("Choose month, quarter or year."))
    return periods.containing(periods.today(), kind)


def read_filters() -> Filters:
    return Filters(pipeline_id=_int_arg("pipeline"), owner_id=_int_arg("owner"), department_id=_int_arg("department"))


def read_group() -> str:
    group = request.args.get("group") or "owner"
    if group not in GROUPS:
        raise ArgumentError("group", _("Choose none, owner, department or pipeline."))
    return group


def filter_options() -> dict[str, Any]:
    """Choices of the filter form: pipelines, and the owners and departments within the user's reach."""
    from core.models import Department, User

    users, departments = reachable()
    user_query = select(User.id, User.name, User.email).where(User.active.is_(True)).order_by(User.name, User.email)
    if users is not None:
        user_query = user_query.where(User.id.in_(users or {0}))
    department_query = select(Department.id, Department.name).order_by(Department.name)
    if departments is not None:
        department_query = department_query.where(Department.id.in_(departments or {0}))
    return {
        "pipelines": [(p.id, p.name) for p in pipelines()],
        "owners": [(row.id, row.name or row.email) for row in db.session.execute(user_query)],
        "departments": [tuple(row) for row in db.session.execute(department_query)],
    }


def period_links(endpoint: str, period: periods.Period) -> dict[str, Any]:
    """Previous/next links and the month/quarter/year switch, keeping the other arguments."""
    args = {k: v for k, v in request.args.items() if k not in ("period", "kind", "format", "table")}

    def link(target: periods.Period) -> str:
        return url_for(endpoint, period=target.key, **args)

    return {
        "previous": link(period.shifted(-1)),
        "next": link(period.shifted(1)),
        "kinds": [
            (kind, label, link(periods.containing(period.start, kind)), kind == period.kind)
            for kind, label in (("month", _("Month")), ("quarter", _("Quarter")), ("year", _("Year")))
        ],
        "csv": lambda table: url_for(endpoint, period=period.key, format="csv", table=table, **args),
    }


def _page_arguments(endpoint: str) -> tuple[Any, ...] | Any:
    """The period and filters of a page; a bad argument falls back to the current quarter with a message."""
    try:
        return read_period(), read_filters(), None
    except ArgumentError as problem:
        return periods.containing(periods.today()), Filters(), str(problem)


# ------------------------------------------------------------------------------------------- forecast


def forecast_figures(period: periods.Period, group: str, filters: Filters) -> dict[str, Any]:
    figures, months = forecast_and_months(period, group, filters)
    return {"forecast": figures, "months": months}


def _heading(period: periods.Period) -> dict[str, Any]:
    """What every figures answer starts with: the period and the currency of its amounts."""
    return {
        "period": {"key": period.key, "kind": period.kind, "start": period.start, "end": period.end},
        "currency": workspace_currency(),
    }


def forecast_json(period: periods.Period, group: str, filters: Filters) -> dict[str, Any]:
    figures = forecast_figures(period, group, filters)
    return plain(
        {
            **_heading(period),
            "group": group,
            "total": figures["forecast"].total.as_dict(),
            "rows": [row.as_dict() for row in figures["forecast"].rows],
            "by_month": [
                {"month": m.month.strftime("%Y-%m"), "weighted": m.weighted, "committed": m.committed, "won": m.won}
                for m in figures["months"]
            ],
        }
    )


@bp.route("/forecast")
@requires("opportunities.forecast.view")
def forecast_page() -> Any:
    period, filters, problem = _page_arguments("opportunities.forecast_page")
    group = request.args.get("group") if request.args.get("group") in GROUPS else "owner"
    figures = forecast_figures(period, group, filters)
    if request.args.get("format") == "csv":
        return _forecast_csv(period, figures, request.args.get("table", "groups"))
    months = figures["months"]
    labels = [charts.month_label(m.month) for m in months]
    chart = charts.bar_chart(
        labels,
        [
            ("chart-weighted", _("Weighted"), [m.weighted for m in months]),
            ("chart-committed", _("Committed"), [m.committed for m in months]),
            ("chart-won", _("Won"), [m.won for m in months]),
        ],
    )
    return render(
        "opportunities/forecast/index.html",
        period=period,
        links=period_links("opportunities.forecast_page", period),
        group=group,
        groups=GROUP_LABELS,
        group_headings=GROUP_HEADINGS,
        filters=filters,
        options=filter_options(),
        problem=problem,
        figures=figures["forecast"],
        months=months,
        chart=chart,
        currency=workspace_currency(),
    )


def _forecast_csv(period: periods.Period, figures: dict[str, Any], table: str) -> Any:
    if table == "months":
        header = [_("Month"), _("Weighted"), _("Committed"), _("Won")]
        rows = [(m.month.strftime("%Y-%m"), m.weighted, m.committed, m.won) for m in figures["months"]]
        return charts.csv_download(f"forecast-by-month-{period.key}.csv", header, rows)
    if table != "groups":
        abort(404)
    header = [
        _("Name"),
        _("Open deals"),
        _("Open amount"),
        _("Weighted"),
        _("Best case"),
        _("Committed"),
        _("Won deals"),
        _("Won"),
        _("Quota"),
        _("Attainment %"),
    ]
    result = figures["forecast"]
    every = [*result.rows, result.total]
    rows = [
        (
            row.name if row is not result.total else _("Total"),
            row.open_count,
            row.open_amount,
            row.weighted,
            row.best_case,
            row.committed,
            row.won_count,
            row.won,
            row.quota,
            row.attainment,
        )
        for row in every
    ]
    return charts.csv_download(f"forecast-{period.key}.csv", header, rows)


# ------------------------------------------------------------------------------------------- analysis


def _analysis_pipeline() -> int:
    wanted = _int_arg("pipeline")
    known = {p.id for p in pipelines(active_only=False)}
    if wanted is not None and wanted not in known:
        raise ArgumentError("pipeline", _("No such pipeline."))
    return wanted if wanted is not None else ensure_default_pipeline().id


def analysis_json(period: periods.Period, pipeline_id: int, filters: Filters) -> dict[str, Any]:
    result = analyse(period, pipeline_id, filters)
    return plain(
        {
            **_heading(period),
            "pipeline_id": pipeline_id,
            "total": result.total.as_dict(),
            "owners": [o.as_dict() for o in result.owners],
            "sources": [o.as_dict() for o in result.sources],
            "loss_reasons": [{"reason": r.key, "count": r.lost_count, "amount": r.lost} for r in result.reasons],
            "funnel": [step.as_dict() for step in result.funnel],
            "win_rate_by_month": [
                {"month": o.key.strftime("%Y-%m"), "won": o.won_count, "lost": o.lost_count, "win_rate": o.win_rate}
                for o in result.trend
            ],
        }
    )


@bp.route("/analysis")
@requires("opportunities.forecast.view")
def analysis_page() -> Any:
    period, filters, problem = _page_arguments("opportunities.analysis_page")
    try:
        pipeline_id = _analysis_pipeline()
    except ArgumentError as error:
        pipeline_id, problem = ensure_default_pipeline().id, str(error)
    # The pipeline chooses the funnel; the other figures cover every pipeline unless narrowed on purpose.
    result = analyse(period, pipeline_id, Filters(owner_id=filters.owner_id, department_id=filters.department_id))
    if request.args.get("format") == "csv":
        return _analysis_csv(period, result, request.args.get("table", "owners"))
    trend_labels = [charts.month_label(o.key) for o in result.trend]
    return render(
        "opportunities/analysis/index.html",
        period=period,
        links=period_links("opportunities.analysis_page", period),
        filters=filters,
        pipeline_id=pipeline_id,
        options=filter_options(),
        problem=problem,
        result=result,
        funnel_chart=charts.funnel_chart(result.funnel),
        trend_chart=charts.line_chart(trend_labels, [o.win_rate for o in result.trend]),
        currency=workspace_currency(),
    )


def _analysis_csv(period: periods.Period, result: Any, table: str) -> Any:
    outcome_header = [_("Won deals"), _("Won"), _("Lost deals"), _("Lost"), _("Win rate %"), _("Average deal size")]

    def outcome_cells(o: Any) -> list[Any]:
        return [o.won_count, o.won, o.lost_count, o.lost, o.win_rate, o.average_size]

    if table == "owners":
        rows = [[o.name, *outcome_cells(o), o.average_cycle] for o in result.owners]
        header = [_("Owner"), *outcome_header, _("Average sales cycle (days)")]
    elif table == "sources":
        rows = [[o.name, *outcome_cells(o)] for o in result.sources]
        header = [_("Source"), *outcome_header]
    elif table == "reasons":
        rows = [[r.name, r.lost_count, r.lost] for r in result.reasons]
        header = [_("Reason for loss"), _("Lost deals"), _("Lost")]
    elif table == "funnel":
        rows = [[s.name, s.reached, s.conversion] for s in result.funnel]
        header = [_("Stage"), _("Deals that reached it"), _("Conversion from the previous step %")]
    elif table == "trend":
        rows = [[o.key.strftime("%Y-%m"), o.won_count, o.lost_count, o.win_rate] for o in result.trend]
        header = [_("Month"), _("Won deals"), _("Lost deals"), _("Win rate %")]
    else:
        abort(404)
    return charts.csv_download(f"analysis-{table}-{period.key}.csv", header, rows)


# ------------------------------------------------------------------------------------------------ API


def _api_error(error: ArgumentError) -> Any:
    return validation_errors({error.field: [str(error)]}, 400)


@api_bp.route("/api/v1/opportunities/forecast")
@api_requires("opportunities.forecast.view")
def forecast_api() -> Any:
    try:
        period, group, filters = read_period(), read_group(), read_filters()
    except ArgumentError as error:
        return _api_error(error)
    return jsonify(forecast_json(period, group, filters))


@api_bp.route("/api/v1/opportunities/analysis")
@api_requires("opportunities.forecast.view")
def analysis_api() -> Any:
    try:
        period, filters, pipeline_id = read_period(), read_filters(), _analysis_pipeline()
    except ArgumentError as error:
        return _api_error(error)
    filters = Filters(owner_id=filters.owner_id, department_id=filters.department_id)
    return jsonify(analysis_json(period, pipeline_id, filters))


# --------------------------------------------------------------------------------------------- quotas


def quota_subjects() -> list[tuple[tuple[str, int], str]]:
    """Rows of the grid: departments first, then active users, each as ((kind, id), name)."""
    from core.models import Department, User

    departments = db.session.execute(select(Department.id, Department.name).order_by(Department.name))
    users = db.session.execute(
        select(User.id, User.name, User.email).where(User.active.is_(True)).order_by(User.name, User.email)
    )
    return [(("department", row.id), row.name) for row in departments] + [
        (("user", row.id), row.name or row.email) for row in users
    ]


def quota_form(year: int, subjects: list[tuple[tuple[str, int], str]]) -> FlaskForm:
    """A form with one optional, non-negative amount per subject and column of the year (built per request:
    the rows are the workspace's users and departments)."""
    fields: dict[str, Any] = {"fingerprint": HiddenField()}
    for subject, _name in subjects:
        for column, period in cell_periods(year):
            fields[field_name(subject, column)] = DecimalField(
                period.label,
                places=2,
                validators=[
                    Optional(),
                    NumberRange(min=0, max=MAX_AMOUNT, message=_l("Enter an amount of 0 or more.")),
                ],
            )
    return type("QuotaGridForm", (FlaskForm,), fields)()


@bp.route("/quotas", methods=["GET", "POST"])
@requires("opportunities.quotas.manage")
def quotas_page() -> Any:
    try:
        year = int(request.values.get("year") or periods.today().year)
    except ValueError:
        abort(404)
    if not 1900 <= year <= 9998:
        abort(404)
    subjects = quota_subjects()
    form = quota_form(year, subjects)
    conflict = False
    if request.method == "GET":
        targets = YearTargets.load(year)
        for subject, _name in subjects:
            for column, period in cell_periods(year):
                value = targets.explicit.get(subject, {}).get((period.kind, period.start))
                form[field_name(subject, column)].data = value
        form.fingerprint.data = fingerprint(year)
    elif form.validate_on_submit():
        if form.fingerprint.data != fingerprint(year):
            conflict = True
        else:
            values = {name: form[name].data for name in form.data if name not in ("fingerprint", "csrf_token")}
            changed = save_year(year, [subject for subject, _name in subjects], values)
            db.session.commit()
            flash(_("Quotas saved (%(count)s changed).", count=changed), "success")
            return redirect(url_for("opportunities.quotas_page", year=year))
    derived = YearTargets.load(year)
    return render(
        "opportunities/quotas/index.html",
        year=year,
        form=form,
        subjects=subjects,
        columns=cell_periods(year),
        field_name=field_name,
        derived=derived,
        conflict=conflict,
        currency=workspace_currency(),
        today=dt.date.today(),
        zero=Decimal("0"),
    )
