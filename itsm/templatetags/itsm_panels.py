"""`{% render_panel panel %}`: render a registered panel (itsm.registry) inside the page."""

from __future__ import annotations

from django import template

from itsm.registry import Panel

register = template.Library()


@register.simple_tag(takes_context=True)
def render_panel(context: template.Context, panel: Panel) -> str:
    """The panel's template with the page's context (user, perms, csrf) plus its own."""
    panel_template = context.template.engine.get_template(panel.template_name)
    with context.push(**panel.context):
        return panel_template.render(context)
