"""Subcommands of `switchyard`; each module registers its own parser."""
