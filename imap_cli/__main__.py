"""`python -m imap_cli` runs the `imap` command."""

from imap_cli.cli.entry import main

if __name__ == "__main__":
    main()
