"""Reads of problem management: the problem lists, the known errors a user may read, the
known-error search (PostgreSQL full text, `icontains` on SQLite) and the suggestions shown
while a help-desk agent types an incident's title."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Case, Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from cmdb.models import ConfigurationItem

from .models import KnownError, Problem

#: Words shorter than this are ignored by the search (and a query of only such words finds
#: nothing through the text).
MIN_WORD = 2
MAX_WORDS = 8


def problem_list_queryset() -> QuerySet[Problem]:
    """Problems with what their list shows (owner, number of incidents) in one query."""
    return Problem.objects.select_related("owner", "known_error").annotate(
        incident_count=Count("incidents", distinct=True)
    )


def problem_detail_queryset() -> QuerySet[Problem]:
    return Problem.objects.select_related("owner", "known_error")


def problem_affected_cis(problem: Problem) -> QuerySet[ConfigurationItem]:
    """The CIs of the problem's incidents: the affected set of its root-cause comparison."""
    return ConfigurationItem.objects.filter(
        pk__in=Problem.incidents.through.objects.filter(problem=problem)
        .values("incident__cis")
        .exclude(incident__cis=None)
    )


def known_errors_visible_to(user) -> QuerySet[KnownError]:
    """Every known error for staff who may view them; published ones only for end users
    (`incidents.view_published_knownerror`); none for anyone else."""
    queryset = KnownError.objects.all()
    if user is not None and user.has_perm("incidents.view_knownerror"):
        return queryset
    if user is not None and user.has_perm("incidents.view_published_knownerror"):
        return queryset.filter(published=True)
    return queryset.none()


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", (text or "").lower()) if len(w) >= MIN_WORD][:MAX_WORDS]


def _tsquery(words: list[str], operator: str):
    """A prefix query (`printe:*` finds "printer"), so suggestions work while typing."""
    from django.contrib.postgres.search import SearchQuery

    return SearchQuery(
        f" {operator} ".join(f"{w}:*" for w in words), search_type="raw", config="english"
    )


def known_error_search(queryset: QuerySet[KnownError], text: str) -> QuerySet[KnownError]:
    """Known errors matching every word of `text` (prefixes), best first.

    PostgreSQL: the GIN-indexed `search_vector`, ranked with `SearchRank` (title above
    symptoms above the rest). SQLite: each word `icontains` one of the text columns, newest
    first.
    """
    words = _words(text)
    if not words:
        return queryset if not (text or "").strip() else queryset.none()
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchRank

        query = _tsquery(words, "&")
        return (
            queryset.filter(search_vector=query)
            .annotate(rank=SearchRank(F("search_vector"), query))
            .order_by("-rank", "-updated", "-id")
        )
    for word in words:
        queryset = queryset.filter(_text_contains(word))
    return queryset.order_by("-updated", "-id")


def _text_contains(word: str) -> Q:
    return (
        Q(title__icontains=word)
        | Q(symptoms__icontains=word)
        | Q(root_cause__icontains=word)
        | Q(workaround__icontains=word)
        | Q(solution__icontains=word)
    )


def known_error_suggest(
    *,
    text: str,
    cis: Iterable[ConfigurationItem | int] = (),
    category: str = "",
    limit: int = 5,
    user=None,
) -> list[KnownError]:
    """Known errors that may explain a new incident, best first: those whose text matches any
    word of `text` (the title being typed), that apply to one of `cis` or to their CI types,
    or to `category`. Scored in one query: text rank (PostgreSQL) or matching words (SQLite),
    +1 for a CI or CI type in common, +1 for the same category. `user`, when given, limits
    the suggestions to what they may read."""
    ci_ids = [c.pk if isinstance(c, ConfigurationItem) else int(c) for c in cis]
    words = _words(text)
    category = (category or "").strip()
    if not (words or ci_ids or category):
        return []
    queryset = known_errors_visible_to(user) if user is not None else KnownError.objects.all()
    matches = Q(pk__in=[])
    score: Any = Value(0.0, output_field=FloatField())
    if words:
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchRank

            query = _tsquery(words, "|")
            matches |= Q(search_vector=query)
            score = Coalesce(SearchRank(F("search_vector"), query), 0.0) * 10.0
        else:
            for word in words:
                cond = _text_contains(word)
                matches |= cond
                score = score + Case(When(cond, then=1.0), default=0.0, output_field=FloatField())
    if ci_ids:
        through_ci = KnownError.cis.through.objects.filter(
            knownerror=OuterRef("pk"), configurationitem_id__in=ci_ids
        )
        types = ConfigurationItem.objects.filter(pk__in=ci_ids).values("ci_type_id")
        through_type = KnownError.ci_types.through.objects.filter(
            knownerror=OuterRef("pk"), citype_id__in=types
        )
        queryset = queryset.annotate(on_ci=Exists(through_ci), on_type=Exists(through_type))
        matches |= Q(on_ci=True) | Q(on_type=True)
        score = score + Case(
            When(Q(on_ci=True) | Q(on_type=True), then=1.0), default=0.0, output_field=FloatField()
        )
    if category:
        matches |= Q(category__iexact=category)
        score = score + Case(
            When(category__iexact=category, then=1.0), default=0.0, output_field=FloatField()
        )
    return list(
        queryset.filter(matches)
        .annotate(score=score)
        .order_by("-score", "-published", "-updated", "-id")[: max(1, min(limit, 50))]
    )
