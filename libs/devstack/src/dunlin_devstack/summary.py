"""The table `dunlin-stack up` prints once everything is ready."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dunlin_devstack.stack import Stack


def render(stack: Stack) -> str:
    """Return the summary: services, URLs, database, broker, API key and a curl to try."""
    rows = [("SERVICE", "BASE URL", "API DOCS", "LOG")]
    rows += [
        (p.spec.name, p.spec.base_url, p.spec.docs_url, str(p.log_file)) for p in stack.running
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    if not stack.running:
        table.append("  (no services installed yet)")
    key = stack.api_key or "(none: the auth CLI is not installed)"
    first = stack.running[0].spec.base_url if stack.running else "http://127.0.0.1:8001"
    lines = [
        "",
        "Dunlin is running.",
        "",
        *table,
        "",
        f"  database  {stack.database_url}",
        f"  broker    {stack.bootstrap}",
        f"  API key   {key}",
        f"            (saved in {stack.home / 'dev-api-key'})",
        "",
        "  try:",
        f"    export KEY=$(cat {stack.home / 'dev-api-key'})",
        f'    curl -H "Authorization: Bearer $KEY" {first}/invoices',
        "",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    return "\n".join(line.rstrip() for line in lines)
