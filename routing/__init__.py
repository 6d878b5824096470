"""The one declaration of the topology, and the functions that derive everything from it.

Edit `routing/declaration.py` to add a queue, a route or a pool; Celery's settings, the
broker declarations, the worker command lines and the chart's pools are all derived.
"""
