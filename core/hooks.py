"""pluggy markers. Plugins write ``from core.hooks import hookimpl``."""

import pluggy

PROJECT = "crm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
