"""Pure geo for onescreen: reading users' layers (``geo.io`` is the only place that reads), the loading
pipeline (``geo.sources``), validation and repair, the spatial index, GCJ-02, privacy masking, display GeoJSON and
the synthetic data set. Never imports dash or redis."""
