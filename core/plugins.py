"""The plugin host: one pluggy manager per app, plugins sorted by ``requires``, owners recorded."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from core import hookspecs
from core.hooks import PROJECT

ENTRY_POINT_GROUP = "crm.plugins"
CORE = "core"


class PluginError(RuntimeError):
    """A plugin cannot be loaded, or a requirement between plugins is not met."""


@dataclass
class PluginInfo:
    name: str
    module: ModuleType
    title: Any
    version: str
    description: Any
    requires: tuple[str, ...]
    slots: tuple[str, ...]
    events: tuple[str, ...]
    path: Path

    @property
    def package_dir(self) -> Path:
        return self.path


@dataclass
class Ownership:
    """What each plugin contributed, so the kernel can hide it where the plugin is disabled."""

    blueprints: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    menu_items: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    entities: dict[str, str] = field(default_factory=dict)


def _meta(module: ModuleType) -> PluginInfo:
    meta = getattr(module, "META", None)
    if not isinstance(meta, Mapping) or "name" not in meta:
        raise PluginError(f"{module.__name__} has no META mapping with a 'name'")
    name = meta["name"]
    if not name.isidentifier() or name == CORE:
        raise PluginError(f"plugin name {name!r} must be an identifier other than 'core'")
    return PluginInfo(
        name=name,
        module=module,
        title=meta.get("title", name),
        version=str(meta.get("version", "0")),
        description=meta.get("description", ""),
        requires=tuple(meta.get("requires", ())),
        slots=tuple(meta.get("slots", ())),
        events=tuple(meta.get("events", ())),
        path=Path(module.__file__).resolve().parent,
    )


def discover() -> list[ModuleType]:
    """Load every plugin module declared under the ``crm.plugins`` entry-point group."""
    modules = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            modules.append(entry_point.load())
        except Exception as exc:  # one clear line naming the plugin
            raise PluginError(f"plugin {entry_point.name!r} ({entry_point.value}) failed to import: {exc}") from exc
    return modules


def _load(spec: ModuleType | str) -> ModuleType:
    if isinstance(spec, ModuleType):
        return spec
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == spec:
            return entry_point.load()
    return importlib.import_module(spec)


def sort_by_requires(infos: Iterable[PluginInfo]) -> list[PluginInfo]:
    """Order plugins so each comes after what it requires; name missing or cyclic requirements."""
    by_name = {info.name: info for info in infos}
    missing = sorted(
        f"{info.name} requires {req}" for info in by_name.values() for req in info.requires if req not in by_name
    )
    if missing:
        raise PluginError("missing plugin requirement: " + "; ".join(missing))
    ordered: list[PluginInfo] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = chain[chain.index(name) :] + [name]
            raise PluginError("cyclic plugin requirement: " + " -> ".join(cycle))
        state[name] = "visiting"
        for req in sorted(by_name[name].requires):
            visit(req, chain + [name])
        state[name] = "done"
        ordered.append(by_name[name])

    for name in sorted(by_name):
        visit(name, [])
    return ordered


class PluginHost:
    """Owns the app's pluggy manager and answers "which hooks run for this tenant?"."""

    def __init__(self, plugins: Iterable[ModuleType | str] | None = None) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        from core import builtin

        self.pm.register(builtin, name=CORE)
        modules = discover() if plugins is None else [_load(p) for p in plugins]
        infos = [_meta(m) for m in modules]
        names = [i.name for i in infos]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise PluginError("plugin registered twice: " + ", ".join(duplicates))
        self.plugins: dict[str, PluginInfo] = {}
        for info in sort_by_requires(infos):
            self.pm.register(info.module, name=info.name)
            self.plugins[info.name] = info
        self.pm.check_pending()
        self.owners = Ownership()
        self._subset_cache: dict[tuple[str, frozenset[str]], Any] = {}

    @property
    def names(self) -> list[str]:
        return list(self.plugins)

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call an app-level hook implementation by implementation, keeping who answered what."""
        caller = getattr(self.pm.hook, hook_name)
        results = []
        for impl in reversed(caller.get_hookimpls()):
            value = impl.function(*[kwargs[arg] for arg in impl.argnames])
            if value is not None:
                results.append((impl.plugin_name, value))
        return results

    def call_one(self, plugin: str, hook_name: str, **kwargs: Any) -> Any:
        """Call one plugin's implementation of a hook, if it has one."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            if impl.plugin_name == plugin:
                return impl.function(*[kwargs[arg] for arg in impl.argnames])
        return None

    def hooks_for(self, enabled: frozenset[str]) -> _TenantHooks:
        """Hook callers that reach only ``core`` and the given enabled plugins."""
        return _TenantHooks(self, frozenset(self.plugins) - enabled)

    def subset_caller(self, hook_name: str, disabled: frozenset[str]) -> Any:
        key = (hook_name, disabled)
        caller = self._subset_cache.get(key)
        if caller is None:
            modules = [self.plugins[name].module for name in disabled]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=modules)
            self._subset_cache[key] = caller
        return caller

    def dependents(self, name: str) -> list[str]:
        return sorted(info.name for info in self.plugins.values() if name in info.requires)


class _TenantHooks:
    def __init__(self, host: PluginHost, disabled: frozenset[str]) -> None:
        self._host = host
        self._disabled = disabled

    def __getattr__(self, hook_name: str) -> Any:
        return self._host.subset_caller(hook_name, self._disabled)
