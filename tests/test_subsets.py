"""filter_subset on a small hand-made table typed like the metadata parquet."""

import pandas as pd
import pytest

from beatvae.metadata import COLUMNS
from beatvae.subsets import SubsetError, filter_subset

ROWS = [
    # path,  style,  substyle,     bpm, beat_type, time_signature, split
    ("a.mid", "rock", None, 100, "beat", "4-4", "train"),
    ("b.mid", "rock", "halftime", 140, "fill", "4-4", "train"),
    ("c.mid", "jazz", "swing", 120, "beat", "4-4", "validation"),
    ("d.mid", "funk", None, 95, "beat", "3-4", "test"),
    ("e.mid", "latin", "brazilian-baiao", 95, "fill", "4-4", "train"),
    ("f.mid", "rock", "indie", 80, "beat", "6-8", "test"),
]


@pytest.fixture
def table():
    frame = pd.DataFrame(ROWS, columns=["path", "style", "substyle", "bpm", "beat_type", "time_signature", "split"])
    return frame.astype({column: COLUMNS[column] for column in frame.columns})


def paths(frame):
    return list(frame["path"])


def test_equality(table):
    assert paths(filter_subset(table, "s", {"style": "rock"})) == ["a.mid", "b.mid", "f.mid"]
    assert paths(filter_subset(table, "s", {"bpm": 95})) == ["d.mid", "e.mid"]


def test_several_filters_all_apply(table):
    selected = filter_subset(table, "v2", {"style": "rock", "beat_type": "beat", "time_signature": "4-4"})
    assert paths(selected) == ["a.mid"]


def test_list_means_membership(table):
    assert paths(filter_subset(table, "s", {"style": ["jazz", "funk"]})) == ["c.mid", "d.mid"]
    assert paths(filter_subset(table, "s", {"bpm": [80, 140]})) == ["b.mid", "f.mid"]


def test_min_max_are_inclusive(table):
    assert paths(filter_subset(table, "s", {"bpm": {"min": 95, "max": 120}})) == ["a.mid", "c.mid", "d.mid", "e.mid"]
    assert paths(filter_subset(table, "s", {"bpm": {"min": 120}})) == ["b.mid", "c.mid"]
    assert paths(filter_subset(table, "s", {"bpm": {"max": 80}})) == ["f.mid"]
    assert paths(filter_subset(table, "s", {"bpm": {"min": 0}})) == paths(table)


def test_in_and_not_in(table):
    assert paths(filter_subset(table, "s", {"split": {"in": ["validation", "test"]}})) == ["c.mid", "d.mid", "f.mid"]
    assert paths(filter_subset(table, "s", {"style": {"not_in": ["rock", "jazz"]}})) == ["d.mid", "e.mid"]
    selected = filter_subset(table, "s", {"bpm": {"min": 90, "not_in": [95]}, "style": {"in": ["rock", "jazz"]}})
    assert paths(selected) == ["a.mid", "b.mid", "c.mid"]


def test_missing_values_never_match_equality_or_membership(table):
    assert paths(filter_subset(table, "s", {"substyle": "halftime"})) == ["b.mid"]
    assert paths(filter_subset(table, "s", {"substyle": ["swing", "indie"]})) == ["c.mid", "f.mid"]
    assert paths(filter_subset(table, "s", {"substyle": {"in": ["swing"]}})) == ["c.mid"]


def test_no_filters_keeps_everything(table):
    assert paths(filter_subset(table, "all", {})) == paths(table)


def test_result_is_a_reindexed_copy(table):
    original = table.copy()
    selected = filter_subset(table, "s", {"style": "jazz"})
    assert list(selected.index) == [0]
    assert list(selected.columns) == list(table.columns)
    assert selected.dtypes.equals(table.dtypes)
    pd.testing.assert_frame_equal(table, original)


def test_unknown_column_names_subset_filter_and_column(table):
    with pytest.raises(SubsetError) as caught:
        filter_subset(table, "rock-beats", {"style": "rock", "tempo": {"min": 100}})
    message = str(caught.value)
    assert "rock-beats" in message
    assert "tempo" in message
    assert "{'min': 100}" in message  # the filter as written
    assert "'style': 'rock'" in message


def test_empty_result_names_subset_and_filters(table):
    filters = {"style": "rock", "time_signature": "3-4"}
    with pytest.raises(SubsetError) as caught:
        filter_subset(table, "rock-waltz", filters)
    message = str(caught.value)
    assert "rock-waltz" in message
    assert "'style': 'rock'" in message and "'time_signature': '3-4'" in message
    assert "no files" in message


def test_empty_result_from_range(table):
    with pytest.raises(SubsetError, match="'fast'"):
        filter_subset(table, "fast", {"bpm": {"min": 200}})


def test_empty_table_is_an_empty_result(table):
    with pytest.raises(SubsetError, match="'s'"):
        filter_subset(table.iloc[:0], "s", {"style": "rock"})
