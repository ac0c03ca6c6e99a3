"""Administrative (street → community → grid → micro-grid) and party-organisation lookups."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from geo.model import GeoLayers

PARTY_LEVELS = ("street_committee", "community_org", "grid_branch", "party_group")


def grid_hierarchy(layers: GeoLayers) -> pd.DataFrame:
    """One row per grid, indexed by ``grid_id``: grid name/type/branch, community and street ids and names."""
    grids = pd.DataFrame(layers.grids.drop(columns="geometry")).rename(columns={"name": "grid_name"})
    comm = pd.DataFrame(layers.communities.drop(columns="geometry")).rename(
        columns={"name": "community_name", "kind": "community_kind"}
    )
    street = pd.DataFrame(layers.street.drop(columns="geometry")).rename(columns={"name": "street_name"})
    out = grids.merge(comm, on="community_id", how="left").merge(street, on="street_id", how="left")
    return out.set_index("grid_id")


def micro_grid_hierarchy(layers: GeoLayers) -> pd.DataFrame:
    """One row per micro-grid, indexed by ``micro_grid_id``: its grid, community and street (ids and names)."""
    micro = pd.DataFrame(layers.micro_grids.drop(columns=["geometry", "community_id"])).rename(
        columns={"name": "micro_grid_name"}
    )
    out = micro.merge(grid_hierarchy(layers).reset_index(), on="grid_id", how="left")
    return out.set_index("micro_grid_id")


@dataclass(frozen=True)
class PartyTree:
    """The four-level party organisation: street committee → community orgs → grid branches → party groups."""

    orgs: pd.DataFrame  # indexed by org_id: name, level, parent_id, community_id, grid_id
    children: dict[str, tuple[str, ...]]

    @property
    def roots(self) -> tuple[str, ...]:
        return tuple(self.orgs.index[self.orgs["parent_id"] == ""])

    def path(self, org_id: str) -> list[str]:
        """Ids from the root down to ``org_id``."""
        out = [org_id]
        while (parent := str(self.orgs.at[out[-1], "parent_id"])) != "":
            out.append(parent)
        return out[::-1]

    def descendants(self, org_id: str) -> list[str]:
        out, stack = [], list(self.children.get(org_id, ()))
        while stack:
            org = stack.pop()
            out.append(org)
            stack.extend(self.children.get(org, ()))
        return out


def party_tree(layers: GeoLayers) -> PartyTree:
    orgs = pd.DataFrame(layers.party_orgs.drop(columns="geometry")).set_index("org_id")
    grouped = orgs.reset_index().groupby("parent_id", sort=True)["org_id"]
    children = {str(parent): tuple(ids) for parent, ids in grouped if parent != ""}
    return PartyTree(orgs=orgs, children=children)
