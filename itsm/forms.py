"""Browser forms of the core app."""

from __future__ import annotations

from django import forms

from .models import ApiToken


class ApiTokenForm(forms.Form):
    """A new API token: a name, and optionally when it stops working."""

    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What it is for, e.g. the script or machine that uses it.",
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    expires = forms.DateTimeField(
        required=False,
        label="Expires",
        help_text="Optional. Leave empty for a token that does not expire.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "class": "form-control"}),
    )
