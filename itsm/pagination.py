"""Page-number pagination per the public contract: ?page=N&page_size=M (max 1000)."""

from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_lazily(self, queryset, request, view=None):
        """Like `paginate_queryset`, but return the page as an unevaluated queryset slice.

        The caller shapes the rows (e.g. with `values_list`), while the count runs on the
        plain filtered queryset, without the joins a values_list would add to it.
        """
        from django.core.paginator import InvalidPage
        from rest_framework.exceptions import NotFound

        page_size = self.get_page_size(request)
        paginator = self.django_paginator_class(queryset, page_size)
        page_number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise NotFound(f"Invalid page: {exc}") from exc
        self.request = request
        return self.page.object_list
