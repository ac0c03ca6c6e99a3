from __future__ import annotations

from geo.hierarchy import grid_hierarchy, micro_grid_hierarchy, party_tree
from geo.layers import GeoLayers


def test_micro_grid_hierarchy(demo_layers: GeoLayers) -> None:
    h = micro_grid_hierarchy(demo_layers)
    assert len(h) == len(demo_layers.micro_grids) and h.index.is_unique
    row = h.iloc[0]
    grid = demo_layers.grids.set_index("grid_id").loc[row["grid_id"]]
    assert row["grid_name"] == grid["name"] and row["community_id"] == grid["community_id"]
    community = demo_layers.communities.set_index("community_id").loc[row["community_id"]]
    assert row["community_name"] == community["name"]
    assert (h["street_name"] == demo_layers.street["name"].iloc[0]).all()
    assert h[["grid_id", "community_id", "street_id"]].notna().all().all()


def test_grid_hierarchy(demo_layers: GeoLayers) -> None:
    g = grid_hierarchy(demo_layers)
    assert len(g) == 150
    assert set(g.columns) >= {"grid_name", "grid_type", "branch_id", "community_name", "street_name"}


def test_party_tree(demo_layers: GeoLayers) -> None:
    tree = party_tree(demo_layers)
    (root,) = tree.roots
    assert tree.orgs.at[root, "level"] == "street_committee"
    assert len(tree.descendants(root)) == len(demo_layers.party_orgs) - 1
    group = demo_layers.party_orgs.query("level == 'party_group'")["org_id"].iloc[0]
    path = tree.path(group)
    assert [tree.orgs.at[o, "level"] for o in path] == [
        "street_committee",
        "community_org",
        "grid_branch",
        "party_group",
    ]
    assert len(tree.children[root]) == 15
