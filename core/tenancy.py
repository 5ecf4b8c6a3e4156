"""The current tenant: a context variable set per request, per CLI command, per job and per test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.models.tenants import Tenant

_current: ContextVar[Tenant | None] = ContextVar("crm_tenant", default=None)


class TenantRequired(RuntimeError):
    """Raised when tenant-owned data is touched with no tenant in context (fail closed)."""


def current_tenant() -> Tenant | None:
    return _current.get()


def current_tenant_id() -> int | None:
    tenant = _current.get()
    return tenant.id if tenant is not None else None


def require_tenant_id() -> int:
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantRequired("tenant-owned data was accessed with no tenant in context")
    return tenant_id


def set_tenant(tenant: Tenant | None):
    """Set the tenant and return the token to reset it with."""
    return _current.set(tenant)


def reset_tenant(token) -> None:
    _current.reset(token)


@contextlib.contextmanager
def tenant_context(tenant: Tenant | None) -> Iterator[Tenant | None]:
    """``with tenant_context(t):`` runs a block as tenant ``t`` (CLI commands, jobs, tests)."""
    token = _current.set(tenant)
    try:
        yield tenant
    finally:
        _current.reset(token)
