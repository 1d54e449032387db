"""Command line (placeholder until the commands land)."""

def main() -> None:  # pragma: no cover
    raise SystemExit(0)
