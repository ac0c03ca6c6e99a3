"""The small generated data set the geo tests share (fast to build; the committed demo set is the big one)."""

from __future__ import annotations

from geo.synthetic import Scale

SMALL = Scale(
    name="small",
    communities=4,
    comprehensive_grids=16,
    dedicated_grids=4,
    micro_grids_per_grid=3.0,
    members=400,
    households=1200,
    volunteer_teams=4,
    units=6,
    rental_houses=40,
    shop_streets=4,
)
SMALL_SEED = 7
