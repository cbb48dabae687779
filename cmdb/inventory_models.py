"""Tables of what a machine carries: the software catalogue and installations, network
interfaces and storage volumes (offered by `cmdb.models` too). Written by
`cmdb.software_services` and `cmdb.inventory_services`."""

from __future__ import annotations

from django.db import models

from .choices import ChangeSource


def software_key(value: str) -> str:
    """The case-insensitive key of a product or vendor name (Unicode-aware, unlike SQL lower())."""
    return " ".join(value.casefold().split())[:255]


class SoftwareProduct(models.Model):
    """A software product of the catalogue, unique by (vendor, name) ignoring case and spacing."""

    name = models.CharField("name", max_length=255)
    vendor = models.CharField("vendor", max_length=255, blank=True)
    name_key = models.CharField("name key", max_length=255, editable=False)
    vendor_key = models.CharField("vendor key", max_length=255, editable=False, blank=True)

    class Meta:
        ordering = ["name", "vendor"]
        constraints = [
            models.UniqueConstraint(
                fields=["name_key", "vendor_key"], name="cmdb_softwareproduct_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.name}".strip()

    def save(self, *args, **kwargs):
        self.name_key, self.vendor_key = software_key(self.name), software_key(self.vendor)
        super().save(*args, **kwargs)


class SoftwareVersion(models.Model):
    """One version of a product: the unit that is installed on CIs."""

    product = models.ForeignKey(SoftwareProduct, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField("version", max_length=100, blank=True)

    class Meta:
        ordering = ["product", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "version"], name="cmdb_softwareversion_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.version}".strip()


class InstalledSoftware(models.Model):
    """A software version installed on a CI ("which CIs run X at Y" is a join on indexes)."""

    # Both foreign keys lead a composite index (the unique pair, and software then CI): no
    # index on either alone, which would only slow down inserting hundreds per machine.
    ci = models.ForeignKey(
        "cmdb.ConfigurationItem",
        on_delete=models.CASCADE,
        related_name="installed_software",
        db_index=False,
    )
    software = models.ForeignKey(
        SoftwareVersion, on_delete=models.PROTECT, related_name="installations", db_index=False
    )
    source = models.CharField(
        "source", max_length=20, choices=ChangeSource.choices, default=ChangeSource.USER
    )
    installed_at = models.DateTimeField("recorded", auto_now_add=True)

    class Meta:
        verbose_name_plural = "installed software"
        constraints = [
            models.UniqueConstraint(fields=["ci", "software"], name="cmdb_installedsoftware_unique")
        ]
        indexes = [models.Index(fields=["software", "ci"], name="cmdb_installed_software_ci")]

    def __str__(self) -> str:
        return f"{self.software} on {self.ci}"


class NetworkInterface(models.Model):
    """A network interface of a machine, as its agent reported it."""

    ci = models.ForeignKey(
        "cmdb.ConfigurationItem", on_delete=models.CASCADE, related_name="interfaces"
    )
    name = models.CharField("name", max_length=100)
    mac = models.CharField("MAC address", max_length=17, blank=True, db_index=True)
    ipv4 = models.JSONField("IPv4 addresses", default=list, blank=True)
    ipv6 = models.JSONField("IPv6 addresses", default=list, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["ci", "name", "mac"], name="cmdb_interface_unique")
        ]

    def __str__(self) -> str:
        return f"{self.ci} {self.name}"


class StorageVolume(models.Model):
    """A mounted file system of a machine with its size and use, as its agent reported it."""

    ci = models.ForeignKey(
        "cmdb.ConfigurationItem", on_delete=models.CASCADE, related_name="volumes"
    )
    mount = models.CharField("mount point", max_length=255)
    device = models.CharField("device", max_length=255, blank=True)
    filesystem = models.CharField("file system", max_length=50, blank=True)
    size_mb = models.BigIntegerField("size (MB)", null=True, blank=True)
    used_mb = models.BigIntegerField("used (MB)", null=True, blank=True)

    class Meta:
        ordering = ["mount"]
        constraints = [models.UniqueConstraint(fields=["ci", "mount"], name="cmdb_volume_unique")]

    def __str__(self) -> str:
        return f"{self.ci} {self.mount}"

    @property
    def used_percent(self) -> float | None:
        if not self.size_mb or self.used_mb is None:
            return None
        return round(100.0 * self.used_mb / self.size_mb, 1)
