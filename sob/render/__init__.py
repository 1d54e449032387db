"""Rendering: findings and quarter closes as text, JSON, annotations or Rich renderables.

This package and the CLI are the only places that import Rich.  Nothing here
prints on its own: functions return strings or renderables, or write to a
``Console`` the caller passes in, so every output can be tested and routed
(report to stdout, summary to stderr) by the command line.
"""

from sob.render.console import make_consoles, print_plain, progress_enabled
from sob.render.findings import (
    file_line_reader,
    format_github,
    format_json,
    format_text,
    printable,
    sort_findings,
    summary_line,
)
from sob.render.pay import PayerReconciliation, pay_renderables, reconcile, render_pay

__all__ = [
    "PayerReconciliation",
    "file_line_reader",
    "format_github",
    "format_json",
    "format_text",
    "make_consoles",
    "pay_renderables",
    "print_plain",
    "printable",
    "progress_enabled",
    "reconcile",
    "render_pay",
    "sort_findings",
    "summary_line",
]
