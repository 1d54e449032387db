"""Allow ``python -m sob``."""

from sob.cli import main

main()
