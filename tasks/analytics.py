"""An analytics pipeline: extract -> analyze -> summarize, as a chain, a group and a chord."""

from __future__ import annotations

import statistics
from typing import Any

from celery import chain, chord, group
from celery.canvas import Signature

from config.app import app


@app.task
def extract_record(record_id: int) -> dict[str, Any]:
    """Read one record; deterministic, so re-running it is harmless."""
    return {"record_id": record_id, "values": [record_id * k for k in range(1, 6)]}


@app.task
def analyze_chunk(record: dict[str, Any]) -> dict[str, Any]:
    values = record["values"]
    return {
        "record_id": record["record_id"],
        "count": len(values),
        "mean": statistics.fmean(values),
    }


@app.task
def generate_summary(analyses: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """Summarize one analysis (after a chain) or many (after a chord)."""
    items = analyses if isinstance(analyses, list) else [analyses]
    return {
        "records": sorted(a["record_id"] for a in items),
        "count": sum(a["count"] for a in items),
        "mean": statistics.fmean(a["mean"] for a in items),
    }


def summary_chain(record_id: int) -> Signature[Any]:
    return chain(extract_record.s(record_id), analyze_chunk.s(), generate_summary.s())


def extract_group(record_ids: list[int]) -> Any:
    return group(extract_record.s(i) for i in record_ids)


def summary_chord(record_ids: list[int]) -> Any:
    header = [chain(extract_record.s(i), analyze_chunk.s()) for i in record_ids]
    return chord(header, generate_summary.s())
