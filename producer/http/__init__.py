"""The producer's HTTP service: FastAPI, served by uvicorn (`switchyard api`)."""
