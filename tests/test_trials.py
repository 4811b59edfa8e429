"""Loading model-vs-human CSVs into trial tables: parsing rules, validation, round trip."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychobench.data import conditions, trials
from psychobench.data.schema import CORE_COLUMNS, TrialTableError

HEADER = "subj,Session,trial,rt,object_response,category,condition,imagename\n"
ROWS = [
    "subject-01,1,1,0.796405076980591,oven,oven,0.10,0001_nse_s01_0.10_oven_40_n04111531_14126.png",
    "subject-01,1,2,0.65,na,bear,0.10,0002_nse_s01_0.10_bear_40_n02134084_5274.png",
    "subject-01,1,3,NaN,cat,bear,0.35,0003_nse_s01_0.35_bear_10_n02134084_111.png",
]


def write(tmp_path, rows, header=HEADER, name="uniform-noise_subject-01_session_1.csv",
          folder="uniform-noise"):
    d = tmp_path / folder
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text(header + "\n".join(rows) + "\n")
    return p


def test_parse_rules(tmp_path):
    t = trials.read_mvh_csv(write(tmp_path, ROWS))
    assert list(t.columns[:10]) == list(CORE_COLUMNS)
    assert t["experiment"].unique().tolist() == ["uniform-noise"]
    assert t["stimulus_id"].tolist() == ["n04111531_14126.png", "n02134084_5274.png",
                                         "n02134084_111.png"]
    assert t["correct"].tolist() == [True, False, False]          # 'na' is wrong
    assert t["condition"].tolist() == ["0.1", "0.1", "0.35"]     # canonical (parsed) form
    assert t["condition_raw"].tolist() == ["0.10", "0.10", "0.35"]
    assert np.isnan(t["rt"].iloc[2]) and t["rt"].iloc[0] == 0.796405076980591


def test_lowercase_session_and_missing_condition(tmp_path):
    rows = ["resnet50,1,1,NaN,bottle,airplane,NaN,airplane1-bicycle2.png",
            "resnet50,1,2,NaN,airplane,airplane,,airplane1-chair2.png"]
    p = write(tmp_path, rows, header=HEADER.replace("Session", "session"),
              name="cue-conflict_resnet50_session-1.csv", folder="cue-conflict")
    t = trials.read_mvh_csv(p)
    assert t["condition"].isna().all()
    assert t["stimulus_id"].tolist() == ["airplane1-bicycle2.png", "airplane1-chair2.png"]


@pytest.mark.parametrize("row, column, match", [
    ("subject-01,1,4,0.5,cat,unicorn,0.10,0004_x_s01_0.10_unicorn_40_n1_1.png", "category", "unicorn"),
    ("subject-01,1,4,0.5,zebra,cat,0.10,0004_x_s01_0.10_cat_40_n02123394_1.png", "object_response", "zebra"),
    ("subject-01,1,x4,0.5,cat,cat,0.10,0004_x_s01_0.10_cat_40_n02123394_1.png", "trial", "x4"),
    ("subject-01,1,4,fast,cat,cat,0.10,0004_x_s01_0.10_cat_40_n02123394_1.png", "rt", "fast"),
    ("subject-01,1,4,0.5,cat,cat,abc,0004_x_s01_abc_cat_40_n02123394_1.png", "condition", "abc"),
    ("subject-01,1,3,0.5,cat,cat,0.10,0004_x_s01_0.10_cat_40_n02123394_1.png", "trial", "duplicate"),
    ("subject-01,1,4,0.5,cat,cat,0.10,0004_x_s01_0.10_cat_40_n04111531_14126.png", "imagename", "duplicate"),
    ("subject-01,1,4,0.5,,cat,0.10,0004_x_s01_0.10_cat_40_n02123394_1.png", "object_response", "empty"),
])
def test_bad_values_name_file_line_and_column(tmp_path, row, column, match):
    p = write(tmp_path, ROWS + [row])
    with pytest.raises(TrialTableError) as e:
        trials.read_mvh_csv(p, kind="float")      # uniform-noise's condition column holds numbers
    msg = str(e.value)
    assert str(p) in msg and "line 5" in msg and f"'{column}'" in msg and match in msg


def test_missing_column_names_file(tmp_path):
    p = write(tmp_path, [r.rsplit(",", 1)[0] for r in ROWS],
              header="subj,Session,trial,rt,object_response,category,condition\n")
    with pytest.raises(TrialTableError, match=r"line 1: missing column\(s\) \['imagename'\]"):
        trials.read_mvh_csv(p)


def test_error_located_in_second_file(tmp_path):
    a = write(tmp_path, ROWS)
    b = write(tmp_path, [ROWS[0].replace("subject-01", "subject-02"),
                         ROWS[1].replace("subject-01", "subject-02").replace(",bear,", ",bat,")],
              name="uniform-noise_subject-02_session_1.csv")
    with pytest.raises(TrialTableError, match=rf"{b}: line 3, column 'category'"):
        trials.read_mvh_csvs([a, b])


def test_round_trip_keeps_every_value(tmp_path, humans):
    src = humans["high-pass"]
    out = trials.write_mvh_csv(src, tmp_path / "hp" / "high-pass_subject-xx_session_1.csv")
    back = trials.read_mvh_csv(out, "high-pass")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), src.reset_index(drop=True))


def test_export_header_and_raw_bytes(tmp_path, mirror):
    """Import then export reproduces the original CSV's values field by field."""
    from psychobench.data import registry

    root = registry.fetch_dataset("humans/uniform-noise", progress=False)
    f = sorted(root.glob("*.csv"))[0]
    t = trials.read_mvh_csv(f)
    out = trials.write_mvh_csv(t, tmp_path / "x.csv")
    a = pd.read_csv(f, dtype=str, keep_default_na=False)
    b = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(b.columns) == ["subj", "session", "trial", "rt", "object_response", "category",
                               "condition", "imagename"]
    a.columns = b.columns
    for col in b.columns:
        if col == "rt":
            np.testing.assert_array_equal(a[col].astype(float), b[col].astype(float))
        else:
            assert a[col].tolist() == b[col].tolist(), col


def test_canonical_conditions_match_model_vs_human(humans):
    assert sorted(humans["high-pass"]["condition"].unique()) == sorted(
        ["inf", "3.0", "1.5", "1.0", "0.7", "0.55", "0.45", "0.4"])
    assert "0.1" in set(humans["uniform-noise"]["condition"])
    assert set(humans["false-colour"]["condition"]) == {"True", "False"}
    from psychobench.experiments import mvh

    for ds in mvh.DATASETS:
        excluded = mvh.scheme(ds).excluded
        assert excluded <= set(humans[ds]["condition"]), ds
        # the pinned parse type is the one pandas infers from the whole human column
        raw = humans[ds]["condition_raw"].unique()
        assert conditions.infer_kind(raw) == mvh.scheme(ds).kind, ds
    # raw strings are accepted wherever a condition is typed, in the experiment's parse type
    assert mvh.scheme("uniform-noise").canonical("0.10") == "0.1"
    assert mvh.scheme("high-pass").canonical("3") == "3.0"
    assert mvh.scheme("false-colour").canonical("true") == "True"
    assert mvh.scheme("contrast").canonical("c05") == "c05"
    # a subset of conditions parses as the whole column does
    one = trials.read_mvh_csvs([_write_subset(humans["high-pass"], "3")], "high-pass", kinds=mvh.kinds())
    assert set(one["condition"]) == {"3.0"}


def _write_subset(table, raw_condition):
    import tempfile

    t = table[table["condition_raw"] == raw_condition]
    path = Path(tempfile.mkdtemp()) / "high-pass" / "high-pass_subject-01_session_1.csv"
    trials.write_mvh_csv(t[t["subject"] == "subject-01"], path)
    return path


def test_real_human_data_shape(humans):
    assert len(humans) == 17
    assert sum(len(t) for t in humans.values()) == 85120
    for ds, t in humans.items():
        trials.validate_trials(t, ds)
        n_subj = t["subject"].nunique()
        # every observer saw the same stimulus list once
        assert (t.groupby("stimulus_id")["subject"].nunique() == n_subj).all(), ds


def test_discover_model_csvs_picks_model(tmp_path, resnet50):
    for name in ("resnet50", "alexnet"):
        t = resnet50["edge"].assign(subject=name)
        trials.write_mvh_csv(t, tmp_path / "edge" / f"edge_{name}_session-1.csv")
    with pytest.raises(TrialTableError, match="several models"):
        trials.load_model_trials(tmp_path)
    name, tables = trials.load_model_trials(tmp_path, "alexnet")
    assert name == "alexnet" and list(tables) == ["edge"] and len(tables["edge"]) == 160
