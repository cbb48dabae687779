"""REST endpoints of the CSV import and export. The column contract is in cmdb/imports/__init__.py.

    POST /api/v1/cmdb/import/cis/?dry_run=true&match_on=id  body: text/csv, or multipart `file`
    POST /api/v1/cmdb/import/relationships/?dry_run=false
    GET  /api/v1/cmdb/export/cis/?status=production       same filters as /cis/
    GET  /api/v1/cmdb/export/relationships/?type=hosts    same filters as /relationships/

An import answers 200 with the result, or 400 with every bad row (nothing written). Its `rows`
name every CI a row creates or changes, with each changed field's `changes: {old, new}`.
"""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from itsm.permissions import HasPerm

from .. import imports
from ..choices import ChangeSource
from ..filtersets import CIFilterSet, RelationshipFilterSet
from ..history import ChangeContext
from ..models import ConfigurationItem, Relationship

IMPORT_QUERY_PARAMS = {"dry_run", "format", "match_on"}


class CSVParser(BaseParser):
    """A `text/csv` request body, read as bytes up to the import size limit."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        if stream is None:
            return b""
        data = stream.read(imports.MAX_IMPORT_BYTES + 1)
        if len(data) > imports.MAX_IMPORT_BYTES:
            raise imports.ImportFileError(
                f"The file is larger than {imports.MAX_IMPORT_BYTES // (1024 * 1024)} MB."
            )
        return data


def _dry_run(request) -> bool:
    unknown = sorted(set(request.query_params) - IMPORT_QUERY_PARAMS)
    if unknown:
        raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
    value = request.query_params.get("dry_run", "false")
    try:
        return imports.parse_bool(value)
    except ValueError as exc:
        raise ValidationError({"dry_run": ["Must be true or false."]}) from exc


def _upload(request) -> tuple[bytes, str]:
    """The CSV bytes of the request and a name for the history (the file name if any)."""
    if isinstance(request.data, bytes):
        data, name = request.data, "API upload"
    else:
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError(
                {"file": ["Send the CSV as a text/csv body or as a multipart field `file`."]}
            )
        if upload.size > imports.MAX_IMPORT_BYTES:
            raise imports.ImportFileError(
                f"The file is larger than {imports.MAX_IMPORT_BYTES // (1024 * 1024)} MB."
            )
        data, name = upload.read(), f"API {upload.name}"
    if not data.strip():
        raise ValidationError({"file": ["The file is empty."]})
    return data, name[:100]


IMPORT_SCHEMA: dict[str, Any] = {
    "request": {
        "text/csv": OpenApiTypes.STR,
        "multipart/form-data": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        },
    },
    "parameters": [
        OpenApiParameter(
            "dry_run", OpenApiTypes.BOOL, description="Check only, write nothing (default false)."
        ),
        OpenApiParameter(
            "match_on",
            OpenApiTypes.STR,
            enum=list(imports.MATCH_CHOICES),
            description="CIs only: the key a row is matched to an existing CI on. Default: `id` "
            "when the file has an id column, else `none` (every row creates a CI). A row whose "
            "identifiers belong to two CIs, that would create a CI with another CI's "
            "identifier, or that would change a CI's type is refused.",
        ),
    ],
    "responses": {
        200: OpenApiResponse(OpenApiTypes.OBJECT, description="The import result."),
        400: OpenApiResponse(
            OpenApiTypes.OBJECT, description="Bad file or bad rows: every error, nothing written."
        ),
    },
}


class _ImportView(APIView):
    kind = ""
    permission_classes = [IsAuthenticated, HasPerm("cmdb.import_ci")]
    parser_classes = [CSVParser, MultiPartParser]

    def post(self, request, *args, **kwargs):
        dry_run = _dry_run(request)
        match_on = request.query_params.get("match_on") or None
        if match_on is not None and self.kind != "cis":
            raise ValidationError({"match_on": ["Only CI imports are matched on a key."]})
        if match_on is not None and match_on not in imports.MATCH_CHOICES:
            raise ValidationError(
                {"match_on": [f"Choose one of: {', '.join(imports.MATCH_CHOICES)}."]}
            )
        data, name = _upload(request)
        context = ChangeContext(actor=request.user, source=ChangeSource.IMPORT, source_ref=name)
        result = imports.import_csv(
            context=context, kind=self.kind, data=data, dry_run=dry_run, match_on=match_on
        )
        body = {"detail": result.summary(), **result.as_dict()}
        return Response(body, status=200 if result.ok else 400)


class ImportCIsView(_ImportView):
    """Create or update CIs from CSV, all or nothing. Columns: see the import page."""

    kind = "cis"

    @extend_schema(operation_id="cmdb_import_cis", **IMPORT_SCHEMA)
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ImportRelationshipsView(_ImportView):
    """Create relationships from CSV (`source,target,type`), all or nothing."""

    kind = "relationships"

    @extend_schema(operation_id="cmdb_import_relationships", **IMPORT_SCHEMA)
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


def csv_response(lines, stem: str) -> StreamingHttpResponse:
    """A streamed CSV download named `<stem>-<date>.csv`."""
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.csv"'
    return response


class _ExportView(GenericAPIView):
    """Errors (bad filters) answer JSON whatever the Accept header; success streams CSV."""

    pagination_class = None

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class ExportCIsView(_ExportView):
    """CIs as CSV (the columns the import accepts), with the filters of `/cis/`."""

    permission_classes = [IsAuthenticated, HasPerm("cmdb.view_configurationitem")]
    queryset = ConfigurationItem.objects.all()
    filterset_class = CIFilterSet
    ordering_fields = ["name", "status", "hostname", "created", "updated", "id"]
    ordering = ["id"]

    @extend_schema(
        operation_id="cmdb_export_cis",
        filters=True,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        return csv_response(imports.export_cis(queryset), "cis")


class ExportRelationshipsView(_ExportView):
    """Relationships as CSV (`source,target,type` with CI ids), with the filters of `/relationships/`."""

    permission_classes = [
        IsAuthenticated,
        HasPerm("cmdb.view_configurationitem", "cmdb.view_relationship"),
    ]
    queryset = Relationship.objects.all()
    filterset_class = RelationshipFilterSet
    ordering_fields = ["id", "created"]
    ordering = ["id"]

    @extend_schema(
        operation_id="cmdb_export_relationships",
        filters=True,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        return csv_response(imports.export_relationships(queryset), "relationships")
