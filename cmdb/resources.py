"""django-import-export resources of the admin's reference tables (issue 6 part 2 item 4).

Sites, departments and relationship types: import and export in the admin (CSV, XLSX, JSON…),
each row matched on its natural key (`slug`, or `name` for departments), never on the database
id, validated with `full_clean` (unique names and slugs, lengths) and refused when a cell holds
text the database cannot store. CI types: export only; they are written through the services
(their schemas are checked there). CIs keep their own CSV import (`cmdb.imports`): bulk,
through the CI services, with history.
"""

from __future__ import annotations

from typing import Any

from import_export import fields, resources, widgets

from itsm.audit import ChangeContext, record
from itsm.choices import ChangeSource

from .imports.reading import text_problem
from .models import CIType, Department, RelationshipType, Site


class CheckedResource(resources.ModelResource):
    """Refuses a row with a NUL character or a lone surrogate before it reaches the database."""

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        for column, value in row.items():
            if isinstance(value, str) and (problem := text_problem(value)):
                raise ValueError(f"{column}: {problem}")

    def after_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        """Every imported row is in the audit log (a dry run's entries roll back with it)."""
        context = ChangeContext(
            actor=kwargs.get("user"), source=ChangeSource.ADMIN, reason="admin import"
        )
        changes = {str(k): {"old": None, "new": v} for k, v in dict(row).items() if k != "id"}
        record(obj=instance, kind="imported", changes=changes, context=context)


class SiteResource(CheckedResource):
    class Meta:
        model = Site
        fields = ("name", "slug", "address")
        import_id_fields = ("slug",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True


class DepartmentResource(CheckedResource):
    site = fields.Field(
        attribute="site", column_name="site", widget=widgets.ForeignKeyWidget(Site, field="slug")
    )

    class Meta:
        model = Department
        fields = ("name", "site")
        import_id_fields = ("name",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True


class RelationshipTypeResource(CheckedResource):
    class Meta:
        model = RelationshipType
        fields = ("name", "slug", "forward_label", "reverse_label")
        import_id_fields = ("slug",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True


class CITypeResource(resources.ModelResource):
    """Export only: CI types are written through `services.ci_type_create` and its siblings."""

    attribute_schema = fields.Field(
        attribute="attribute_schema", column_name="attribute_schema", widget=widgets.JSONWidget()
    )

    class Meta:
        model = CIType
        fields = ("name", "slug", "description", "is_hardware", "attribute_schema")
        import_id_fields = ("slug",)
