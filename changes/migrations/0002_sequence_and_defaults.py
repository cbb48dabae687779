"""RFC numbers from a sequence, and the shipped approval defaults (all editable in the admin):

- a CAB (members: the CAB Member role; quorum 2; more than half) and an emergency CAB (the same
  role, quorum 1: the fast path with fewer voters needed);
- rules: standard → pre-approved (from the template catalogue), low-risk routine normal → the
  owner of the CIs (inactive by default: enable it in the admin), normal → CAB,
  emergency → ECAB;
- a few standard-change templates.
"""

from django.db import migrations

from itsm.numbering import create_sequence

TEMPLATES = [
    (
        "Install approved desktop software",
        "software_install",
        "Install the package from the software library through the agent.",
        "Uninstall the package.",
        "0.50",
    ),
    (
        "Add memory to a desktop or laptop",
        "hardware_for_demand",
        "Fit the module from stock; check the BIOS sees it.",
        "Remove the module.",
        "1.00",
    ),
    (
        "Monthly operating-system patches",
        "software_update",
        "Apply the month's vendor patches in the maintenance window.",
        "Uninstall the patches; restore the snapshot if needed.",
        "2.00",
    ),
]


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    ApprovalBody = apps.get_model("changes", "ApprovalBody")
    ApprovalRule = apps.get_model("changes", "ApprovalRule")
    Template = apps.get_model("changes", "StandardChangeTemplate")
    group, _ = Group.objects.get_or_create(name="CAB Member")
    cab, _ = ApprovalBody.objects.get_or_create(
        name="Change Advisory Board",
        defaults={"kind": "cab", "group": group, "quorum": 2, "majority": "0.50"},
    )
    ecab, _ = ApprovalBody.objects.get_or_create(
        name="Emergency CAB",
        defaults={"kind": "ecab", "group": group, "quorum": 1, "majority": "0.50"},
    )
    if not ApprovalRule.objects.exists():
        ApprovalRule.objects.create(
            name="Standard changes are pre-approved",
            change_type="standard",
            approver="none",
            order=10,
        )
        ApprovalRule.objects.create(
            name="Low-risk routine normal changes go to the CI owner",
            change_type="normal",
            priority="routine",
            max_risk="low",
            approver="ci_owner",
            order=20,
            active=False,
        )
        ApprovalRule.objects.create(
            name="Normal changes go to the CAB",
            change_type="normal",
            approver="cab",
            body=cab,
            order=30,
        )
        ApprovalRule.objects.create(
            name="Emergency changes go to the ECAB",
            change_type="emergency",
            approver="ecab",
            body=ecab,
            order=40,
        )
    for name, category, plan, backout, hours in TEMPLATES:
        Template.objects.get_or_create(
            name=name,
            defaults={
                "category": category,
                "implementation_plan": plan,
                "backout_plan": backout,
                "estimated_hours": hours,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("changes", "0001_initial"),
        ("itsm", "0005_number_counter"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        create_sequence("changes_change_number"),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
