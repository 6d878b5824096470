"""Dead-lettering with a reason: nothing a worker cannot run is lost or silently dropped.

RabbitMQ's own dead-lettering records only *that* a message was rejected. Here a message
the worker gives up on is republished (with publisher confirms) to its queue's dead-letter
queue carrying a reason header, and only then acknowledged: at least once, never zero times.
"""
