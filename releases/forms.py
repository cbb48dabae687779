"""Forms of the release UI: they validate input only; the views call the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from . import executors
from .choices import ReadinessDecision
from .models import ReadinessReview


class ReadinessForm(forms.Form):
    """The Release Readiness Review checklist, notes, and the go / no-go."""

    deployment_order = forms.BooleanField(required=False, label="Deployment order agreed")
    plans_signed_off = forms.BooleanField(required=False, label="Plans signed off")
    resources = forms.BooleanField(required=False, label="Resources available")
    communications = forms.BooleanField(required=False, label="Communications ready")
    training = forms.BooleanField(required=False, label="Training done")
    environment_ready = forms.BooleanField(required=False, label="Environment ready")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    decision = forms.ChoiceField(
        required=False,
        choices=[("", "Save the checklist only")]
        + [(v, label) for v, label in ReadinessDecision.choices if v],
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, review: ReadinessReview | None = None, **kwargs: Any) -> None:
        if review is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                **{item: getattr(review, item) for item in ReadinessReview.CHECKLIST},
                "notes": review.notes,
                "decision": "",
            }
        super().__init__(*args, **kwargs)
        _bootstrap(self)


def _bootstrap(form: forms.Form) -> None:
    """Bootstrap classes on the widgets (the templates render fields as they are)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput | forms.RadioSelect):
            widget.attrs.setdefault("class", "form-check-input")
        else:
            widget.attrs.setdefault("class", "form-control")


class DeployForm(forms.Form):
    """Start a deployment: the executor, and the simulation's parameters."""

    executor = forms.ChoiceField(choices=())
    failure_rate = forms.FloatField(
        required=False, min_value=0.0, max_value=1.0, initial=0.0, label="Failure rate (0 to 1)"
    )
    step_delay_ms = forms.IntegerField(
        required=False, min_value=0, max_value=600_000, initial=100, label="Step delay (ms)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["executor"].choices = [(name, name) for name in executors.names()]
        self.fields["executor"].initial = "simulated"

    def simulation(self) -> dict[str, Any]:
        """The `simulation` object `deployment_start` takes."""
        data = self.cleaned_data
        return {
            "failure_rate": data.get("failure_rate") or 0.0,
            "step_delay_ms": data.get("step_delay_ms") or 0,
        }


class ReasonForm(forms.Form):
    """The reason typed when pausing, cancelling or marking a deployment failed (optional here:
    mark failed's service requires one and says so)."""

    reason = forms.CharField(required=False, max_length=1000, strip=True)


#: What a datetime-local input sends (with or without seconds), and the API's spelling.
WINDOW_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
WINDOW_FIELDS = ("window_start", "window_end")


def _window_field(label: str, input_id: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        required=False,
        label=label,
        input_formats=WINDOW_INPUT_FORMATS,
        widget=forms.DateTimeInput(
            format="%Y-%m-%dT%H:%M",
            attrs={
                "type": "datetime-local",
                "class": "form-control form-control-sm",
                "id": input_id,
            },
        ),
    )


class DeploymentWindowForm(forms.Form):
    """A new window for the deployment under way: local times (the current time zone) in
    datetime-local inputs; an empty field leaves that end open. The inputs start from the
    deployment's current window (`current`), so a field left as shown keeps its value — to the
    second, though the input shows minutes. The rules (the end after the start, not already
    ended) are the service's."""

    window_start = _window_field("Opens", "window-start")
    window_end = _window_field("Closes", "window-end")
    #: The window as the page showed it (exact ISO times, "|"-separated): the service refuses
    #: the change if the window changed meanwhile, rather than overwrite what someone else set.
    shown = forms.CharField(required=False, widget=forms.HiddenInput, max_length=200)

    def __init__(
        self,
        *args: Any,
        current: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
        **kwargs: Any,
    ) -> None:
        self.current = dict(zip(WINDOW_FIELDS, current, strict=True))
        kwargs.setdefault(
            "initial",
            {**self.current, "shown": "|".join(v.isoformat() if v else "" for v in current)},
        )
        super().__init__(*args, **kwargs)

    def clean_shown(self) -> tuple[dt.datetime | None, dt.datetime | None] | None:
        """The window the user saw, or None when the form did not say (a script's POST)."""
        text = self.cleaned_data.get("shown") or ""
        if "|" not in text:
            return None
        try:
            start, end = (dt.datetime.fromisoformat(v) if v else None for v in text.split("|", 1))
        except ValueError as exc:
            raise forms.ValidationError(
                "Reload the page: the window it showed is unreadable."
            ) from exc
        return start, end

    def _kept(self, name: str) -> dt.datetime | None:
        value: dt.datetime | None = self.cleaned_data.get(name)
        now = self.current[name]
        if value is not None and now is not None and value == now.replace(second=0, microsecond=0):
            return now  # shown to the minute, left as it was
        return value

    def clean_window_start(self) -> dt.datetime | None:
        return self._kept("window_start")

    def clean_window_end(self) -> dt.datetime | None:
        return self._kept("window_end")


class ArtifactForm(forms.Form):
    """Add a version of an artifact to the library: a file, or a reference with its SHA-256."""

    name = forms.CharField(max_length=200)
    version = forms.CharField(max_length=100)
    author = forms.CharField(max_length=200)
    source = forms.CharField(max_length=500, help_text="Where it comes from (vendor, URL, build).")
    licence = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(required=False)
    reference_url = forms.URLField(
        required=False, max_length=1000, label="Reference URL", assume_scheme="https"
    )
    sha256 = forms.CharField(
        required=False,
        max_length=64,
        label="SHA-256",
        help_text="Optional with a file (checked against the bytes); required with a reference.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _bootstrap(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("file")) == bool(data.get("reference_url")):
            raise forms.ValidationError("Give either a file or a reference URL.")
        return data
