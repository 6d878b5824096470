"""How a worker runs its tasks: Celery's pools, and the inline pool of throughput pools."""
