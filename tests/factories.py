"""factory-boy factories. CIs and relationships go through the services, as users' do."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from cmdb import services
from cmdb.history import ChangeContext
from cmdb.models import CIType, ConfigurationItem, Department, Relationship, RelationshipType, Site

SYSTEM = ChangeContext(source="system", source_ref="tests")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Site {n}")
    slug = factory.Sequence(lambda n: f"site-{n}")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Department {n}")


class CITypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CIType
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Type {n}")
    slug = factory.Sequence(lambda n: f"type-{n}")
    attribute_schema = factory.LazyFunction(dict)


SERVER_SCHEMA = {
    "type": "object",
    "properties": {
        "os": {"type": "string"},
        "cpu_cores": {"type": "integer", "minimum": 1},
        "memory_mb": {"type": "integer", "minimum": 0},
    },
    "required": ["os"],
}


def server_type() -> CIType:
    return CITypeFactory(
        name="Test server",
        slug="test-server",
        attribute_schema=SERVER_SCHEMA,
        is_hardware=True,
        agent_capable=True,
    )


class RelationshipTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RelationshipType
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Rel {n}")
    slug = factory.Sequence(lambda n: f"rel-{n}")
    forward_label = "affects"
    reverse_label = "is affected by"


class CIFactory(factory.Factory):
    """Builds CIs through `services.ci_create`, so history is recorded as in real use."""

    class Meta:
        model = ConfigurationItem

    name = factory.Sequence(lambda n: f"ci-{n:05d}")
    ci_type = factory.SubFactory(CITypeFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        context = kwargs.pop("context", SYSTEM)
        return services.ci_create(context=context, **kwargs)

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        kwargs.pop("context", None)
        return model_class(**kwargs)


def link(
    source: ConfigurationItem, target: ConfigurationItem, type_slug: str = "depends"
) -> Relationship:
    rel_type = RelationshipTypeFactory(slug=type_slug, name=type_slug.title())
    return services.relationship_create(context=SYSTEM, source=source, target=target, type=rel_type)
