"""Everything an operator runs: the `switchyard` command, the local stack, health probes."""
