"""Subsets of the metadata table, declared in config as column filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


class SubsetError(ValueError):
    pass


def _column_mask(table: pd.DataFrame, column: str, condition: Any) -> pd.Series:
    values = table[column]
    if isinstance(condition, Mapping):
        mask = pd.Series(True, index=table.index)
        if "min" in condition:
            mask &= values >= condition["min"]
        if "max" in condition:
            mask &= values <= condition["max"]
        if "in" in condition:
            mask &= values.isin(condition["in"])
        if "not_in" in condition:
            mask &= ~values.isin(condition["not_in"])
        return mask.fillna(False).astype(bool)
    if isinstance(condition, (list, tuple)):
        return values.isin(condition).fillna(False).astype(bool)
    return (values == condition).fillna(False).astype(bool)


def filter_subset(metadata: pd.DataFrame, name: str, filters: Mapping[str, Any]) -> pd.DataFrame:
    """Rows of `metadata` matching every filter.

    A filter maps a column to a value (equality), a list (membership) or a mapping with any of
    `min`, `max`, `in`, `not_in`. Unknown columns and empty results raise SubsetError naming
    the subset and its filters, because either means the config does not say what was meant.
    """
    unknown = sorted(set(filters) - set(metadata.columns))
    if unknown:
        raise SubsetError(
            f"subset {name!r}: unknown column(s) {unknown} in filters {dict(filters)}; "
            f"known columns: {list(metadata.columns)}"
        )
    mask = pd.Series(True, index=metadata.index)
    for column, condition in filters.items():
        try:
            mask &= _column_mask(metadata, column, condition)
        except TypeError as error:
            raise SubsetError(
                f"subset {name!r}: filter {column}: {condition!r} does not fit the column's values ({error})"
            ) from error
    selected = metadata[mask].reset_index(drop=True)
    if selected.empty:
        raise SubsetError(f"subset {name!r} selects no files with filters {dict(filters)}")
    return selected
