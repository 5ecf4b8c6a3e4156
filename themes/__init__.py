"""Themes shipped with Guanxi. Each folder holds ``templates/`` and ``static/``; ``default`` is the fallback."""
