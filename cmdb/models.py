"""Tables of the configuration database. Workflows live in services.py, never here."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from django.urls import reverse

from itsm.models import AuditEntry

from .choices import ChangeSource, CIRoleKind, CIStatus, ImpactDirection
from .identifiers import validate_hostname, validate_uuid


class Site(models.Model):
    """A physical location: an office, a data centre, a branch."""

    name = models.CharField("name", max_length=100, unique=True)
    slug = models.SlugField("slug", max_length=100, unique=True)
    address = models.CharField("address", max_length=255, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    """An organisational unit that owns CIs and raises incidents."""

    name = models.CharField("name", max_length=100, unique=True)
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="departments"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """Organisational facts about a user: department, job title, phone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person"
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="people"
    )
    job_title = models.CharField("job title", max_length=100, blank=True)
    phone = models.CharField("phone", max_length=40, blank=True)

    class Meta:
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class CIType(models.Model):
    """A class of configuration item (server, laptop, database…) with a JSON Schema for attributes."""

    name = models.CharField("name", max_length=100, unique=True)
    slug = models.SlugField("slug", max_length=100, unique=True)
    description = models.TextField("description", blank=True)
    attribute_schema = models.JSONField(
        "attribute schema",
        default=dict,
        blank=True,
        help_text="JSON Schema that CI attributes must satisfy.",
    )
    is_hardware = models.BooleanField(
        "hardware",
        default=False,
        help_text="Machines that agents report on (servers, desktops, laptops…).",
    )
    agent_capable = models.BooleanField(
        "can carry an agent",
        default=False,
        help_text="Its CIs can run an inventory agent: their page shows discovery, storage and "
        "installed software.",
    )
    impact_direction = models.CharField(
        "impact view opens",
        max_length=20,
        choices=ImpactDirection.choices,
        default=ImpactDirection.DOWNSTREAM,
        help_text="Direction the CI page's impact view shows first: upstream (what it depends "
        "on) suits business services and applications.",
    )
    builtin_key = models.CharField(
        "built-in key",
        max_length=50,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="Stable name of a standard type (agents find it by this, whatever its slug).",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "CI type"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The attribute schema is checked on every save path (services, admin, forms)."""
        from .schemas import check_attribute_schema

        check_attribute_schema(self.attribute_schema)

    @property
    def required_attributes(self) -> list[str]:
        return (
            list(self.attribute_schema.get("required", []))
            if isinstance(self.attribute_schema, dict)
            else []
        )


class ConfigurationItem(models.Model):
    """A configuration item: anything under configuration control, of any class."""

    name = models.CharField("name", max_length=200)
    description = models.TextField("description", blank=True)
    ci_type = models.ForeignKey(
        CIType, on_delete=models.PROTECT, related_name="cis", verbose_name="type"
    )
    status = models.CharField(
        "status", max_length=20, choices=CIStatus.choices, default=CIStatus.ORDERED
    )
    managed = models.BooleanField("managed", default=True, help_text="Under configuration control.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_cis",
    )
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="cis"
    )
    site = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, related_name="cis"
    )
    serial_number = models.CharField("serial number", max_length=100, blank=True)
    asset_tag = models.CharField("asset tag", max_length=100, blank=True)
    hostname = models.CharField(
        "hostname",
        max_length=255,
        blank=True,
        validators=[validate_hostname],
        help_text="RFC 1123, lower case; unique among CIs that are not disposed.",
    )
    uuid = models.CharField(
        "UUID",
        max_length=36,
        blank=True,
        validators=[validate_uuid],
        help_text="SMBIOS/system UUID, lower case.",
    )
    attributes = models.JSONField("attributes", default=dict, blank=True)
    version = models.PositiveIntegerField(
        "version", default=1, help_text="Optimistic concurrency counter."
    )
    created = models.DateTimeField("created", auto_now_add=True)
    updated = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name = "configuration item"
        ordering = ["name", "id"]
        permissions = [
            ("transition_ci", "Can move a CI through its lifecycle"),
            ("import_ci", "Can import CIs and relationships"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CIStatus.values), name="cmdb_ci_status_valid"
            ),
            models.UniqueConstraint(
                fields=["serial_number"],
                condition=~Q(serial_number=""),
                name="cmdb_ci_serial_unique",
            ),
            models.UniqueConstraint(
                fields=["asset_tag"], condition=~Q(asset_tag=""), name="cmdb_ci_asset_tag_unique"
            ),
            models.UniqueConstraint(
                fields=["uuid"], condition=~Q(uuid=""), name="cmdb_ci_uuid_unique"
            ),
            models.UniqueConstraint(
                Lower("hostname"),
                condition=~Q(hostname="") & ~Q(status=CIStatus.DISPOSED),
                name="cmdb_ci_hostname_unique",
                violation_error_message="Another CI that is not disposed has this host name.",
            ),
        ]
        indexes = [
            # The list's filters and its default order, so a page reads only its own rows.
            models.Index(
                fields=["ci_type", "status", "name", "id"], name="cmdb_ci_type_status_name"
            ),
            models.Index(fields=["status", "name", "id"], name="cmdb_ci_status_name"),
            models.Index(fields=["name", "id"], name="cmdb_ci_name_id"),
            models.Index(fields=["hostname"], name="cmdb_ci_hostname"),
            models.Index(Upper("serial_number"), name="cmdb_ci_serial_upper"),
            models.Index(fields=["updated"], name="cmdb_ci_updated"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cmdb:ci-detail", args=[self.pk])


class CIRole(models.Model):
    """A person's responsibility for a CI (several people, each with a role)."""

    ci = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ci_roles"
    )
    role = models.CharField("role", max_length=40, choices=CIRoleKind.choices)

    class Meta:
        verbose_name = "CI role"
        ordering = ["role", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["ci", "user", "role"], name="cmdb_cirole_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.ci}"


class StatusChange(models.Model):
    """One lifecycle move of a CI: who, when, from what to what, and why."""

    ci = models.ForeignKey(
        ConfigurationItem, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField("from", max_length=20, choices=CIStatus.choices)
    to_status = models.CharField("to", max_length=20, choices=CIStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    source = models.CharField(
        "source", max_length=20, choices=ChangeSource.choices, default=ChangeSource.USER
    )
    reason = models.TextField("reason", blank=True)
    at = models.DateTimeField("at", auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["ci", "at"], name="cmdb_statuschange_ci_at")]

    def __str__(self) -> str:
        return f"{self.ci}: {self.from_status} → {self.to_status}"


class RelationshipType(models.Model):
    """A kind of directional link. Impact flows from source to target (see the README)."""

    name = models.CharField("name", max_length=100, unique=True)
    slug = models.SlugField("slug", max_length=100, unique=True)
    forward_label = models.CharField("source → target", max_length=100, help_text="e.g. hosts")
    reverse_label = models.CharField(
        "target → source", max_length=100, help_text="e.g. is hosted on"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Relationship(models.Model):
    """A directional link between two CIs: a failure of `source` is felt by `target`."""

    source = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="outgoing")
    target = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="incoming")
    type = models.ForeignKey(
        RelationshipType, on_delete=models.PROTECT, related_name="relationships"
    )
    created = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "type"], name="cmdb_relationship_unique"
            ),
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="cmdb_relationship_not_self"
            ),
        ]
        indexes = [models.Index(fields=["target", "source"], name="cmdb_rel_target_source")]

    def __str__(self) -> str:
        return f"{self.source} —{self.type.forward_label}→ {self.target}"


def _ci_lookups(kwargs: dict) -> dict:
    """Translate the CI lookups HistoryEntry had as a table of its own (`ci`, `ci_id`,
    `ci__in`, `ci_name`) into the audit log's columns."""
    out = {}
    for key, value in kwargs.items():
        if key in ("ci", "ci_id", "ci__pk", "ci__id"):
            out["object_id"] = value.pk if isinstance(value, models.Model) else value
        elif key in ("ci__in", "ci_id__in"):
            if isinstance(value, models.QuerySet):
                value = value.values("pk")
            else:
                value = [v.pk if isinstance(v, models.Model) else v for v in value]
            out["object_id__in"] = value
        elif key == "ci_name" or key.startswith("ci_name__"):
            out["object_repr" + key[len("ci_name") :]] = value
        else:
            out[key] = value
    return out


class HistoryQuerySet(models.QuerySet):
    """Entries of the audit log about CIs, filterable by `ci` as before the move to itsm."""

    def _filter_or_exclude(self, negate, args, kwargs):
        return super()._filter_or_exclude(negate, args, _ci_lookups(kwargs))


class HistoryManager(models.Manager.from_queryset(HistoryQuerySet)):
    def get_queryset(self) -> HistoryQuerySet:
        from itsm.audit import content_type_id

        return super().get_queryset().filter(content_type_id=content_type_id(ConfigurationItem))


class HistoryEntry(AuditEntry):
    """The audit log's entries about CIs (a proxy of `itsm.AuditEntry`): the CI history.

    `changes` maps a field to `{"old": …, "new": …}`; software and relationship entries hold
    `{"added": […], "removed": […]}`, network and storage entries the same per section.
    Entries outlive the CI they describe.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        STATUS = "status", "Lifecycle move"
        RELATIONSHIP = "relationship", "Relationship"
        SOFTWARE = "software", "Installed software"
        NETWORK = "network", "Network interfaces"
        STORAGE = "storage", "Storage volumes"
        ROLE = "role", "Roles"
        DELETED = "deleted", "Deleted"

    objects = HistoryManager()

    class Meta:
        proxy = True
        verbose_name = "CI history entry"
        verbose_name_plural = "CI history entries"
        ordering = ["-at", "-id"]

    @property
    def ci_id(self) -> int | None:
        return self.object_id

    @property
    def ci_name(self) -> str:
        return self.object_repr

    @property
    def ci(self) -> ConfigurationItem | None:
        """The CI, if it still exists (a query)."""
        return ConfigurationItem.objects.filter(pk=self.object_id).first()

    def get_kind_display(self) -> str:
        return self.Kind(self.kind).label if self.kind in self.Kind.values else self.kind


class FieldOwner(models.Model):
    """Which source owns a CI field: what an agent owns is kept true by agents, what people own
    is never overwritten by them. A row without a CI type is the default for every type.

    Fields are named as on the CI (`hostname`), as `attributes.<key>` for attributes, or as a
    section: `software`, `network`, `storage`.
    """

    class Owner(models.TextChoices):
        AGENT = "agent", "Agents (discovery)"
        PEOPLE = "people", "People (manual)"

    ci_type = models.ForeignKey(
        CIType, on_delete=models.CASCADE, null=True, blank=True, related_name="field_owners"
    )
    field = models.CharField("field", max_length=100)
    owner = models.CharField("owner", max_length=10, choices=Owner.choices)

    class Meta:
        ordering = ["field"]
        constraints = [
            models.UniqueConstraint(fields=["ci_type", "field"], name="cmdb_fieldowner_unique"),
            models.UniqueConstraint(
                fields=["field"],
                condition=Q(ci_type__isnull=True),
                name="cmdb_fieldowner_default_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ci_type or 'all types'}: {self.field} → {self.owner}"


# What a machine carries: in its own module, offered here with the rest.
from .inventory_models import (  # noqa: E402, F401
    InstalledSoftware,
    NetworkInterface,
    SoftwareProduct,
    SoftwareVersion,
    StorageVolume,
    software_key,
)
