"""What an import did, or would do in a dry run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ImportResult:
    """What an import did, or would do in a dry run.

    `row_errors` lists every bad row as `{"row": n, "errors": {column: [messages]}}` with `n`
    the spreadsheet row (the header is row 1). `rows` is the plan of the good rows:
    `{"row", "action": "create" | "update" | "unchanged", …}`; a CI update names the CI
    (`id`, `name`, `ci_type`), its changed `fields` and `changes`: `{column: {"old", "new"}}`
    with readable values (user names, slugs, `attr:<key>` per attribute). `match_on` is the
    key rows were matched on. Nothing is written unless `written` is true: not a dry run and
    no bad row (one bad row refuses the whole file).
    """

    kind: str
    dry_run: bool
    match_on: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    row_errors: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return len(self.row_errors)

    @property
    def ok(self) -> bool:
        return not self.row_errors

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(errors=self.errors, written=self.written)
        return data

    def summary(self) -> str:
        """One sentence for a message, a log line or the command's output."""
        if not self.ok:
            return (
                f"Nothing was imported: {self.errors} row(s) have errors. "
                f"The other rows would create {self.created}, update {self.updated} and leave "
                f"{self.unchanged} unchanged."
            )
        verbs = ("would create", "would update", "would leave") if self.dry_run else None
        created, updated, left = verbs or ("created", "updated", "left")
        prefix = "Dry run, nothing written: " if self.dry_run else "Imported: "
        return f"{prefix}{created} {self.created}, {updated} {self.updated}, {left} {self.unchanged} unchanged."
