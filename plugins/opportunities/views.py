"""The plugin's pages beyond the kernel's entity pages: each module adds its routes to the one blueprint."""

from __future__ import annotations

from . import board_views, forecast_views, lead_views, panels, pipeline_admin, webforms  # noqa: F401
from .blueprint import bp

__all__ = ["bp"]
