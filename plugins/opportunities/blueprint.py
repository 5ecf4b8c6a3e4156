"""The plugin's blueprint; the page modules (leads, board, forecast, administration) add their routes to it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("opportunities", __name__, url_prefix="/opportunities", static_folder="static")
