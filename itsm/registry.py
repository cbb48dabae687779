"""Registries through which a higher app adds panels and cards to a lower app's pages.

NetBox's template extensions, kept tiny: an app registers, in its `AppConfig.ready()`, a callable
for a *slot* (`"cmdb.ci_detail"`, `"home"`); the page's view collects the slot's panels and its
template renders them in order with `{% render_panel %}`. So `cmdb` shows what `agents` knows
about a CI without importing `agents`, and `itsm`'s dashboard shows CMDB figures without
importing `cmdb`.

An extension is called as `extension(request=..., obj=..., context=...)` (`obj` is the page's
object or None, `context` the page's context, read-only) and returns a `Panel` or None (nothing
to show: not applicable, or not allowed for this user).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    """What an extension shows: a template rendered with the page's context plus its own."""

    template_name: str
    context: dict[str, Any] = field(default_factory=dict)


Extension = Callable[..., Panel | None]


class Registry:
    """Extensions per slot, in the order of `order` then registration."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._slots: dict[str, list[tuple[int, int, Extension]]] = {}
        self._counter = 0

    def register(self, slot: str, extension: Extension | None = None, *, order: int = 100):
        """Add `extension` to `slot` (usable as a decorator). Registering it twice is a no-op."""

        def add(func: Extension) -> Extension:
            entries = self._slots.setdefault(slot, [])
            if all(existing is not func for _, _, existing in entries):
                self._counter += 1
                entries.append((order, self._counter, func))
                entries.sort(key=lambda entry: entry[:2])
            return func

        return add(extension) if extension is not None else add

    def unregister(self, slot: str, extension: Extension) -> None:
        """Remove `extension` from `slot` (tests)."""
        self._slots[slot] = [e for e in self._slots.get(slot, []) if e[2] is not extension]

    def extensions(self, slot: str) -> list[Extension]:
        """The extensions of `slot`, in order."""
        return [func for _, _, func in self._slots.get(slot, [])]

    def collect(
        self,
        slot: str,
        *,
        request: HttpRequest,
        obj: Any = None,
        context: dict[str, Any] | None = None,
    ) -> list[Panel]:
        """The panels the extensions of `slot` have to show on this page, in order."""
        panels = []
        for extension in self.extensions(slot):
            panel = extension(request=request, obj=obj, context=context or {})
            if panel is not None:
                panels.append(panel)
        return panels


#: Panels on object pages, e.g. slot "cmdb.ci_detail" (the CI page).
panels = Registry("panels")
#: Cards on the dashboard, slot "home".
dashboard_cards = Registry("dashboard cards")
