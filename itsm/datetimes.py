"""Date-time input every database can store: one validation for filters, serializers and forms.

Python accepts UTC offsets up to ±23:59 and years 1 to 9999 in any offset; PostgreSQL refuses
offsets past ±15:59 (`+20:00`), and `9999-12-31T23:59:59-12:00` lies past year 9999 once in
UTC. Either reached the database as a 500 (or broke off a streamed CSV export). Here a value is
converted to UTC up front, and one that cannot be is a validation error (400, form error).
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

OUT_OF_RANGE = "Enter a date and time between the years 1 and 9999 (in UTC)."
BAD_OFFSET = "Enter a UTC offset between -15:59 and +15:59."
#: The widest UTC offset PostgreSQL takes; real time zones stay within -12:00 and +14:00.
MAX_OFFSET = dt.timedelta(hours=15, minutes=59)


def to_storable(value: dt.datetime | None) -> dt.datetime | None:
    """`value` as an aware UTC datetime (naive values are in the current time zone), or a
    ValidationError when it has no UTC equivalent within years 1 to 9999."""
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise ValidationError(BAD_OFFSET, code="bad_offset")
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(dt.UTC)
    except (OverflowError, ValueError) as exc:
        raise ValidationError(OUT_OF_RANGE, code="out_of_range") from exc


class StorableDateTimeFormField(forms.DateTimeField):
    """A form DateTimeField whose clean value is in UTC and within the database's range."""

    def to_python(self, value):
        return to_storable(super().to_python(value))


class StorableIsoDateTimeFormField(django_filters.fields.IsoDateTimeField):
    """django-filter's ISO 8601 field, with the same range check."""

    def to_python(self, value):
        return to_storable(super().to_python(value))


class StorableIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter (`?updated_after=`) that answers 400, not 500, on a value
    the database cannot take."""

    field_class = StorableIsoDateTimeFormField


class StorableDateTimeField(serializers.DateTimeField):
    """A DRF DateTimeField with the same range check."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                given = parse_datetime(value.strip())
            except ValueError:
                given = None  # DRF's own parsing answers with its message
            if given is not None:
                try:
                    to_storable(given)
                except ValidationError as exc:
                    raise serializers.ValidationError(exc.messages) from exc
        parsed = super().to_internal_value(value)
        try:
            return to_storable(parsed)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
