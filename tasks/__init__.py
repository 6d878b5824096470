"""Task code, one module per domain. Queues and routes are declared in `routing/`."""
