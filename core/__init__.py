"""Guanxi CRM kernel. ``create_app`` builds an app; plugins use ``core.hooks.hookimpl`` and the public API."""

from core.app import create_app

__all__ = ["create_app"]
