"""HTML to PDF without a browser, through WeasyPrint (the optional extra ``sob[pdf]``).

WeasyPrint is pure Python over Pango; it honours the print CSS of the report
and the statement (``@page { size: A4 landscape }``) and loads nothing from
the network here, because the pages are self-contained and no base URL is
given.  It is an optional extra because it pulls in a dozen packages and
system libraries that a finance team running ``sob pay`` does not need.
"""

from __future__ import annotations

from typing import Any

from sob.findings import UsageError

MISSING = (
    "writing PDF needs the optional extra: pip install 'sob[pdf]' (WeasyPrint); "
    "or write .html and print it to PDF from a browser"
)


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    """WeasyPrint's URL fetcher: refuses every load, so a PDF never reaches out to a network or a file."""
    raise ValueError(f"sob PDFs load nothing: {url!r} refused")


def require_pdf() -> None:
    """A UsageError naming the extra unless WeasyPrint can be loaded: checked before a close, not after it.

    ``--close --statement P --export F.pdf`` must not close the quarter and
    then fail for want of the extra: the user would read exit 2 as nothing
    done.
    """
    try:
        import weasyprint  # noqa: F401  (optional: the `pdf` extra)
    except ImportError as exc:
        raise UsageError(MISSING) from exc
    except OSError as exc:
        raise UsageError(f"{MISSING} ({exc})") from exc


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained page; a UsageError (exit 2) naming the extra when WeasyPrint is missing."""
    try:
        import weasyprint  # optional: the `pdf` extra
    except ImportError as exc:  # also OSError-free: WeasyPrint reports missing system libraries as ImportError/OSError
        raise UsageError(MISSING) from exc
    except OSError as exc:
        raise UsageError(f"{MISSING} ({exc})") from exc
    document = weasyprint.HTML(string=html, url_fetcher=_no_fetch)
    return bytes(document.write_pdf())


__all__ = ["MISSING", "html_to_pdf", "require_pdf"]
