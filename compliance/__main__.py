"""`python -m compliance`: the `comply` command, for environments without the console script."""

from compliance.cli import main

main()
