"""Trial tables in and out: model-vs-human raw-data CSVs <-> psychobench trial tables.

model-vs-human CSV header: ``subj,session,trial,rt,object_response,category,condition,imagename``
(human files write ``Session``).  On import:

* ``object_response == "na"`` (no answer) counts as wrong;
* a missing ``rt`` or ``condition`` (``NaN`` or empty, as model outputs write them) stays missing;
* ``stimulus_id`` comes from ``imagename`` as model-vs-human's ``get_short_imagename`` does:
  names ending in an ImageNet id (``..._n02504458_7209.png``) keep the last two ``_`` fields,
  all others the last field (``bird3-bird2.png``);
* ``condition`` is stored in canonical form (:mod:`psychobench.data.conditions`) and the raw
  string in ``condition_raw``, so that export writes back exactly what was read.

Everything is validated once, on load; a bad value raises :class:`TrialTableError` naming the
file, the line (header = line 1) and the column.  Many files are parsed in one pandas call.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from psychobench.data import registry
from psychobench.data.categories import CATEGORIES, NO_ANSWER
from psychobench.data.io import atomic_write_text
from psychobench.data.conditions import CONDITION_KIND, format_condition, infer_kind
from psychobench.data.schema import CORE_COLUMNS, CORE_DTYPES, MVH_COLUMNS, TrialTableError

_MISSING = {"", "nan", "NaN", "NA", "None", "null"}


_ID_PATTERN = r"(?:^|_)(?P<id>(?:n0[^_]*_)?[^_]+)$"


def _arrow(col) -> pa.Array:
    """A string column as one contiguous Arrow array (zero-copy where pandas holds Arrow)."""
    arr = pa.array(col, pa.string()) if not isinstance(col, np.ndarray) else pa.array(col.astype(object), pa.string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def stimulus_ids(imagenames: pd.Series) -> pd.Series:
    """Stimulus ids from image names (vectorised with Arrow; see module doc)."""
    arr = _arrow(imagenames)
    ids = pc.extract_regex(arr, _ID_PATTERN).field("id")
    # A name ending in "_" has no last field: keep it whole rather than invent an id.
    return pd.Series(pc.coalesce(ids, arr), index=imagenames.index, dtype="str")


def texture_of(names: pd.Series) -> pd.Series:
    """Texture category of cue-conflict image names: the last ``-`` part without digits or
    extension (``bird3-clock3.png`` -> ``clock``), as model-vs-human's shape-bias analysis."""
    arr = _arrow(names)
    stem = pc.replace_substring_regex(arr, r"\.[^.]*$", "")
    last = pc.extract_regex(stem, r"(?:^|-)(?P<t>[^-]*)$").field("t")
    texture = pc.replace_substring_regex(last, r"\d", "")
    return pd.Series(texture.to_numpy(zero_copy_only=False), index=names.index, dtype="str")


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


class _Locator:
    """Maps a row of a concatenation of files back to (file, line)."""

    def __init__(self, files: Sequence[str], counts: Sequence[int]):
        self.files = list(files)
        self.starts = np.concatenate([[0], np.cumsum(counts)])

    def where(self, row: int) -> tuple[str, int]:
        k = int(np.searchsorted(self.starts, row, side="right") - 1)
        return self.files[k], row - int(self.starts[k]) + 2

    def error(self, row: int, column: str, message: str) -> TrialTableError:
        f, line = self.where(row)
        return TrialTableError(f"{f}: line {line}, column {column!r}: {message}")


def _read_concatenated(paths: Sequence[Path]) -> tuple[pd.DataFrame, _Locator, bool]:
    """Parse many model-vs-human CSVs with one pandas call (headers checked per file)."""
    bodies, counts = [], []
    want = list(MVH_COLUMNS)
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8-sig")
        except OSError as e:
            raise TrialTableError(f"{p}: cannot read ({e})") from e
        except UnicodeDecodeError as e:
            raise TrialTableError(f"{p}: not UTF-8 text ({e})") from e
        head, _, body = text.partition("\n")
        cols = [c.strip() for c in head.strip().split(",")]
        cols = ["session" if c == "Session" else c for c in cols]
        missing = [c for c in want if c not in cols]
        if missing:
            raise TrialTableError(
                f"{p}: line 1: missing column(s) {missing}; a model-vs-human CSV has {want}")
        if cols != want:
            # Same columns in another order (or extra ones): parse this file on its own.
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
            df.columns = ["session" if c == "Session" else c for c in df.columns]
            body = df[want].to_csv(index=False, header=False)
        body = body.replace("\r\n", "\n").strip("\n")
        if "\n\n" in body:  # blank lines inside: drop them so rows map back to lines
            body = "\n".join(ln for ln in body.split("\n") if ln.strip())
        counts.append(body.count("\n") + 1 if body else 0)
        bodies.append(body)
    blob = "\n".join(b for b in bodies if b)
    loc = _Locator([str(p) for p in paths], counts)
    try:  # fast path: Arrow's CSV reader parses and types everything in C++
        df = _read_arrow(blob, want)
        typed = True
    except (pa.ArrowInvalid, ValueError):
        try:  # slow path, only to name the offending line and column
            df = pd.read_csv(io.StringIO(blob), header=None, names=want, dtype=str,
                             keep_default_na=False, engine="c")
        except pd.errors.ParserError as e:
            raise TrialTableError(f"cannot parse {[str(p) for p in paths][:3]}: {e}") from e
        typed = False
    if len(df) != sum(counts):
        raise TrialTableError(f"{[str(p) for p in paths][:3]}: rows could not be aligned to files")
    return df, loc, typed


_TYPES = {"session": pa.int64(), "trial": pa.int64(), "rt": pa.float64()}


def _read_arrow(blob: str, columns: list[str]) -> pd.DataFrame:
    """Parse header-less CSV text with typed numbers; strings stay exactly as written.

    Raises ``pa.ArrowInvalid`` on anything unusual (a bad number, a missing session or trial),
    for the caller's slower, diagnosing path."""
    table = pacsv.read_csv(
        io.BytesIO(blob.encode()),
        read_options=pacsv.ReadOptions(column_names=columns),
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c: _TYPES.get(c, pa.string()) for c in columns},
            null_values=sorted(_MISSING), strings_can_be_null=False))
    for c in ("session", "trial"):
        if table.column(c).null_count:
            raise pa.ArrowInvalid(f"missing {c}")
    out = {}
    for c in columns:
        col = table.column(c)
        if c in _TYPES:
            out[c] = col.to_numpy() if c == "rt" else col.to_numpy().astype(np.int64)
        else:
            out[c] = pd.Series(col, dtype="str")
    return pd.DataFrame(out)


def _parse_int(col: pd.Series, name: str, loc: _Locator) -> np.ndarray:
    num = pd.to_numeric(col, errors="coerce")
    bad = num.isna().to_numpy() | (num.to_numpy() % 1 != 0)
    if bad.any():
        i = _first_bad(bad)
        raise loc.error(i, name, f"expected an integer, got {col.iloc[i]!r}")
    return num.to_numpy().astype(np.int64)


def read_mvh_csvs(paths: Iterable[str | os.PathLike], dataset: str | Sequence[str] | None = None,
                  categories: Sequence[str] | None = CATEGORIES) -> pd.DataFrame:
    """Read model-vs-human CSVs into one validated trial table.

    ``dataset``: experiment name for every row, or one name per file (default: each file's
    parent folder name).
    ``categories``: allowed values of ``category`` and ``object_response`` (plus ``"na"``);
    ``None`` disables that check (other tasks' vocabularies).
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise TrialTableError("no CSV files given")
    raw, loc, typed = _read_concatenated(paths)
    n = len(raw)
    counts = np.diff(loc.starts).astype(int)
    if dataset is None or isinstance(dataset, str):
        names = [dataset or p.parent.name for p in paths]
    else:
        names = list(dataset)
        if len(names) != len(paths):
            raise ValueError("one data-set name per file is needed")

    for col in ("subj", "object_response", "category", "imagename"):
        empty = (raw[col] == "").to_numpy()
        if empty.any():
            raise loc.error(_first_bad(empty), col, "empty value")
    if typed:
        session, trial, rt = (raw["session"].to_numpy(), raw["trial"].to_numpy(),
                              raw["rt"].to_numpy(dtype=float))
    else:
        session = _parse_int(raw["session"], "session", loc)
        trial = _parse_int(raw["trial"], "trial", loc)
        rt_raw = raw["rt"].str.strip()
        rt_missing = rt_raw.isin(_MISSING)
        rt_num = pd.to_numeric(rt_raw.where(~rt_missing, "nan"), errors="coerce")
        bad = (rt_num.isna() & ~rt_missing).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise loc.error(i, "rt", f"expected a number or NaN, got {raw['rt'].iloc[i]!r}")
        raise TrialTableError(f"{paths[0]}: a value could not be parsed, but no bad row was found")
    if categories is not None:
        allowed = set(categories)
        bad = ~raw["category"].isin(allowed).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise loc.error(i, "category", f"unknown category {raw['category'].iloc[i]!r}")
        bad = ~raw["object_response"].isin(allowed | {NO_ANSWER}).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise loc.error(i, "object_response",
                            f"unknown answer {raw['object_response'].iloc[i]!r} (neither a category nor 'na')")

    uniq_names, name_idx = np.unique(np.asarray(names, dtype=object), return_inverse=True)
    exp_code = np.repeat(name_idx, counts)
    experiment = pa.DictionaryArray.from_arrays(
        pa.array(exp_code, pa.int32()), pa.array(uniq_names.tolist(), pa.string())).cast(pa.string())
    condition, cond_raw = _canonical_condition_column(raw["condition"], exp_code, uniq_names, loc)
    table = pd.DataFrame({
        "experiment": pd.Series(experiment, dtype="str"),
        "subject": raw["subj"],
        "session": session,
        "trial": trial,
        "stimulus_id": stimulus_ids(raw["imagename"]),
        "condition": condition,
        "category": raw["category"],
        "response": raw["object_response"],
        "correct": (raw["object_response"] == raw["category"]).to_numpy(),
        "rt": rt,
        "imagename": raw["imagename"],
        "condition_raw": cond_raw,
    })
    _check_duplicates(table, loc)
    assert len(table) == n
    return table


def _canonical_condition_column(raw: pd.Series, exp_code: np.ndarray, experiments: np.ndarray,
                                loc: _Locator) -> tuple[pd.Series, pd.Series]:
    """Canonical and raw condition columns (missing -> NaN), computed once per distinct
    (experiment, raw value) pair; a bad value raises naming its first line."""
    enc = _arrow(raw).dictionary_encode()
    c_code = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    values = enc.dictionary.to_pylist()
    k = len(values)
    pairs, inverse = np.unique(exp_code * k + c_code, return_inverse=True)
    canon: list[str | None] = [None] * len(pairs)
    for e in np.unique(pairs // k):
        sel = np.flatnonzero(pairs // k == e)
        present = [(j, values[pairs[j] % k]) for j in sel if values[pairs[j] % k] not in _MISSING]
        name = str(experiments[e])
        kind = CONDITION_KIND.get(name) or infer_kind([v for _, v in present])
        for j, v in present:
            try:
                canon[j] = format_condition(v, kind)
            except ValueError as err:
                raise loc.error(int(np.flatnonzero(inverse == j)[0]), "condition", str(err)) from None
    canon_arr = pa.array(canon, pa.string()).take(pa.array(inverse))
    raw_arr = pa.array([None if v in _MISSING else v for v in values], pa.string()).take(enc.indices)
    return pd.Series(canon_arr, dtype="str"), pd.Series(raw_arr, dtype="str")


def _check_duplicates(table: pd.DataFrame, loc: _Locator | None, source: str = "<table>") -> None:
    for keys, what in ((["experiment", "subject", "session", "trial"], "trial number"),
                       (["experiment", "subject", "stimulus_id"], "stimulus")):
        dup = table.duplicated(keys).to_numpy()
        if dup.any():
            i = _first_bad(dup)
            col = "trial" if what == "trial number" else "imagename"
            val = table[keys].iloc[i].to_dict()
            msg = f"duplicate {what}: {val} appears more than once"
            if loc is not None:
                raise loc.error(i, col, msg)
            raise TrialTableError(f"{source}: row {i}, column {col!r}: {msg}")


def read_mvh_csv(path: str | os.PathLike, dataset: str | None = None,
                 categories: Sequence[str] | None = CATEGORIES) -> pd.DataFrame:
    """Read one model-vs-human CSV (see :func:`read_mvh_csvs`)."""
    return read_mvh_csvs([path], dataset, categories)


def validate_trials(df: pd.DataFrame, source: str = "<trial table>",
                    categories: Sequence[str] | None = None) -> pd.DataFrame:
    """Check a trial table built in memory (columns, types, values, duplicates); return it."""
    missing = [c for c in CORE_COLUMNS if c not in df.columns]
    if missing:
        raise TrialTableError(f"{source}: missing column(s) {missing}")
    for col in ("experiment", "subject", "stimulus_id", "category", "response"):
        bad = df[col].isna().to_numpy()
        if bad.any():
            raise TrialTableError(f"{source}: row {_first_bad(bad)}, column {col!r}: empty value")
    if categories is not None:
        bad = ~df["category"].isin(set(categories)).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise TrialTableError(
                f"{source}: row {i}, column 'category': unknown category {df['category'].iloc[i]!r}")
    correct = (df["response"] == df["category"]).to_numpy()
    bad = correct != df["correct"].to_numpy(dtype=bool)
    if bad.any():
        raise TrialTableError(
            f"{source}: row {_first_bad(bad)}, column 'correct': disagrees with response == category")
    _check_duplicates(df.reset_index(drop=True), None, source)
    return df


def as_trial_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cast core columns to their dtypes and order them first."""
    out = df.copy()
    for col, dt in CORE_DTYPES.items():
        out[col] = out[col].astype(dt)
    rest = [c for c in out.columns if c not in CORE_COLUMNS]
    return out[list(CORE_COLUMNS) + rest]


def to_mvh_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The model-vs-human CSV columns of a trial table (raw condition strings where known)."""
    cond = df["condition"].astype("string")
    if "condition_raw" in df.columns:
        cond = df["condition_raw"].astype("string").fillna(cond)
    imagename = df["imagename"] if "imagename" in df.columns else df["stimulus_id"]
    return pd.DataFrame({
        "subj": df["subject"].astype("string"),
        "session": df["session"].astype(np.int64),
        "trial": df["trial"].astype(np.int64),
        "rt": df["rt"].astype(float),
        "object_response": df["response"].astype("string"),
        "category": df["category"].astype("string"),
        "condition": cond.fillna("NaN"),
        "imagename": imagename.astype("string"),
    })


def write_mvh_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Export a trial table in model-vs-human's CSV format, atomically.

    ``rt`` is written with full precision (``repr``), missing values as ``NaN``.
    """
    text = to_mvh_frame(df).to_csv(index=False, na_rep="NaN", float_format=None)
    return atomic_write_text(path, text)


# ---------------------------------------------------------------- registered data

def _csvs(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise TrialTableError(f"{folder}: no CSV files")
    return files


def load_human_trials(dataset: str) -> pd.DataFrame:
    """The human trial table of one of the 17 model-vs-human data sets (fetched if needed)."""
    if dataset not in registry.MVH_DATASETS:
        raise KeyError(f"unknown model-vs-human data set {dataset!r}; known: {registry.MVH_DATASETS}")
    root = registry.fetch_dataset(f"humans/{dataset}", progress=False)
    return read_mvh_csvs(_csvs(root), dataset)


def load_all_humans(datasets: Sequence[str] = registry.MVH_DATASETS) -> dict[str, pd.DataFrame]:
    """Human trial tables of several data sets, parsed in one pass: ``{dataset: table}``."""
    paths, names = [], []
    for ds in datasets:
        files = _csvs(registry.fetch_dataset(f"humans/{ds}", progress=False))
        paths += files
        names += [ds] * len(files)
    table = read_mvh_csvs(paths, names)
    return {ds: g.reset_index(drop=True) for ds, g in table.groupby("experiment", sort=False)}


def discover_model_csvs(folder: str | os.PathLike, model: str | None = None) -> dict[str, dict[str, list[Path]]]:
    """Find model-vs-human result CSVs under ``folder``: ``{model: {dataset: [files]}}``.

    Files are named ``{dataset}_{model}_session-{k}.csv`` (model-vs-human writes ``_`` in model
    names as ``-``); the data set is the longest known data-set name the file name starts with,
    else the parent folder's name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    known = sorted(registry.MVH_DATASETS, key=len, reverse=True)
    found: dict[str, dict[str, list[Path]]] = {}
    for f in sorted(folder.rglob("*.csv")):
        stem = f.stem
        ds = next((d for d in known if stem.startswith(d + "_")), None)
        if ds is None:
            if f.parent.name in registry.MVH_DATASETS:
                ds = f.parent.name
            else:
                continue
        rest = stem[len(ds) + 1:] if stem.startswith(ds + "_") else stem
        name = rest.rsplit("_session", 1)[0] if "_session" in rest else rest
        if name.startswith("subject-"):
            name = "humans"
        found.setdefault(name, {}).setdefault(ds, []).append(f)
    if model is not None:
        key = model if model in found else model.replace("_", "-")  # as file names write it
        if key not in found:
            raise KeyError(f"{folder}: no results of model {model!r}; found {sorted(found)}")
        found = {key: found[key]}
    return found


def load_model_trials(folder: str | os.PathLike, model: str | None = None) -> tuple[str, dict[str, pd.DataFrame]]:
    """Load one model's result CSVs from a folder: ``(model name, {dataset: trial table})``."""
    found = discover_model_csvs(folder, model)
    if model is None:
        found.pop("humans", None)
    if not found:
        raise TrialTableError(f"{folder}: no model-vs-human result CSVs found")
    if len(found) > 1:
        raise TrialTableError(
            f"{folder}: results of several models {sorted(found)}; pick one with --model")
    name, by_ds = next(iter(found.items()))
    paths = [p for ds in by_ds for p in by_ds[ds]]
    table = read_mvh_csvs(paths, [ds for ds in by_ds for _ in by_ds[ds]])
    subjects = table["subject"].unique()
    if len(subjects) == 1:  # the file name writes "_" as "-"; the subj column keeps the name
        name = str(subjects[0])
    return name, {ds: g.reset_index(drop=True) for ds, g in table.groupby("experiment", sort=False)}
