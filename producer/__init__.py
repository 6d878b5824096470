"""The producing side: non-blocking enqueue, the bulk fast path, result waiting, the HTTP API."""
