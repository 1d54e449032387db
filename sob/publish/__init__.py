"""Open data from the ledger: figures safe for the public, suppressed small counts, INDIGO JSON (``sob publish``)."""
