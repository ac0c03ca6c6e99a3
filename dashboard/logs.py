"""Logging for the ``onescreen`` commands: readable text (the default, for a console and the demo) or one JSON object
per line (``ONESCREEN_LOG_FORMAT=json``, for a log shipper), with python-json-logger's formatter.

A JSON line holds ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message`` and every field the call passed in
``extra``: each line about an incident carries ``incident_id`` (the feed's and the HTTP ingest's rejections — with
``via`` and ``reason``, the bounded reason of the metrics —, a grid conflict, a corrupt stored incident, the
simulator's failed publishes). Exceptions come as ``exc_info`` text.
"""

from __future__ import annotations

import logging
import sys
from typing import Final, Literal

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every step at INFO: kaleido's browser driver, pyogrio for every layer it writes.
NOISY: Final = ("choreographer", "kaleido", "logistro", "pyogrio")


def json_formatter() -> logging.Formatter:
    """The JSON formatter of ``ONESCREEN_LOG_FORMAT=json`` (module doc)."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


def configure(fmt: Literal["text", "json"] = "text", *, verbose: bool = False) -> None:
    """Set up the root logger once for a command: ``fmt`` text or json on stderr, INFO (DEBUG when ``verbose``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
