"""`python -m flopwise` is the `flopwise` command."""

from flopwise.cli import main

main()
