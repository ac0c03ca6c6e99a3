"""The static geo layers: the model (``geo.model.GeoLayers``) and its strict reader (``geo.sources.read_layers``),
under the name the rest of the program imports them by."""

from __future__ import annotations

from geo.model import LAYER_NAMES, GeoLayers, utm_crs_for
from geo.problems import GeoValidationError
from geo.sources import read_layers

__all__ = ["LAYER_NAMES", "GeoLayers", "GeoValidationError", "read_layers", "utm_crs_for"]
