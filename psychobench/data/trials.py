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
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from psychobench.errors import UnknownNameError
from psychobench.data import registry
from psychobench.data.categories import CATEGORIES, NO_ANSWER
from psychobench.data.io import atomic_write_text
from psychobench.data.conditions import format_condition, infer_kind
from psychobench.data.schema import CORE_COLUMNS, CORE_DTYPES, MVH_COLUMNS, TrialTableError, show

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
    """Maps a row of a concatenation of files back to (file, physical line).

    ``lines``: per file, the physical line number of each of its records where they do not run
    ``2, 3, ...`` (blank lines, a reordered header); None where they do."""

    def __init__(self, files: Sequence[str], counts: Sequence[int], lines: Sequence[np.ndarray | None] | None = None):
        self.files = list(files)
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.lines = list(lines) if lines is not None else [None] * len(self.files)

    def where(self, row: int) -> tuple[str, int]:
        k = int(np.searchsorted(self.starts, row, side="right") - 1)
        k = min(k, len(self.files) - 1)
        r = row - int(self.starts[k])
        ln = self.lines[k]
        return self.files[k], int(ln[r]) if ln is not None else r + 2

    def error(self, row: int, column: str, message: str) -> TrialTableError:
        f, line = self.where(row)
        return TrialTableError(f"{f}: line {line}, column {column!r}: {message}")


def _decode(p: Path) -> str:
    """A file's text (UTF-8, BOM dropped); bad bytes are an error naming line and column."""
    try:
        data = Path(p).read_bytes()
    except OSError as e:
        raise TrialTableError(f"{p}: cannot read ({e.strerror or e})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        header = data.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff").strip().split(",")
        field = data[line_start:e.start].count(b",")
        col = f", column {header[field].strip()!r}" if field < len(header) else ""
        raise TrialTableError(f"{p}: line {line}{col}: not UTF-8 text (byte 0x{data[e.start]:02x}); "
                              "save the file as UTF-8") from None


def _records(p: Path, text: str, want: list[str]) -> tuple[list[str], np.ndarray]:
    """The records of a CSV text and the physical line of each: every problem of its form (a
    record of the wrong number of fields, a line break inside a quoted value) names file and
    line.  Used where the fast path failed or the file needs reordering."""
    import csv

    if len(text) > csv.field_size_limit():      # a huge value is an error to report, not a crash
        csv.field_size_limit(min(len(text) + 1, 2**31 - 1))
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None) or []
    lines, rows = [], []
    start = reader.line_num + 1
    for rec in reader:
        end = reader.line_num
        if not rec or all(not f.strip() for f in rec):          # a blank line
            start = end + 1
            continue
        if end != start:
            col = next((header[j] for j, f in enumerate(rec) if "\n" in f and j < len(header)), "?")
            raise TrialTableError(f"{p}: line {start}, column {col.strip()!r}: a line break inside a quoted "
                                  "value; one trial per line")
        if len(rec) != len(header):
            raise TrialTableError(f"{p}: line {start}: {len(rec)} fields, but the header has {len(header)} "
                                  f"({','.join(h.strip() for h in header)})")
        rows.append(rec)
        lines.append(start)
        start = end + 1
    cols = ["session" if c.strip() == "Session" else c.strip() for c in header]
    pick = [cols.index(c) for c in want]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for rec in rows:
        w.writerow([rec[j] for j in pick])
    return out.getvalue(), np.asarray(lines, dtype=np.int64)


def _read_concatenated(paths: Sequence[Path]) -> tuple[pd.DataFrame, _Locator, bool]:
    """Parse many model-vs-human CSVs with one Arrow call (headers checked per file).

    A file whose header lists the columns in another order, or that has blank lines, is
    re-serialised record by record with its physical line numbers kept, so that every error
    names the file and the line the value stands on."""
    bodies, counts, lines = [], [], []
    want = list(MVH_COLUMNS)
    texts = []
    for p in paths:
        text = _decode(p).replace("\r\n", "\n")
        head, _, body = text.partition("\n")
        cols = [c.strip() for c in head.strip().split(",")]
        cols = ["session" if c == "Session" else c for c in cols]
        missing = [c for c in want if c not in cols]
        if missing:
            raise TrialTableError(
                f"{p}: line 1: missing column(s) {missing}; a model-vs-human CSV has {want}")
        body = body.rstrip("\n")
        if not body.strip():
            raise TrialTableError(f"{p}: no trials: the file holds only its header")
        ln = None
        if cols != want or "\n\n" in body or '"' in body:
            body, ln = _records(p, text, want)
            body = body.rstrip("\n")
        counts.append(body.count("\n") + 1)
        bodies.append(body)
        lines.append(ln)
        texts.append(text)
    blob = "\n".join(bodies)
    loc = _Locator([str(p) for p in paths], counts, lines)
    try:  # fast path: Arrow's CSV reader parses and types everything in C++
        df = _read_arrow(blob, want)
        typed = True
    except (pa.ArrowInvalid, ValueError):
        # slow path, only to name the offending file, line and column
        for k, (p, text) in enumerate(zip(paths, texts)):
            if lines[k] is None:                 # its form was not checked yet
                _records(p, text, want)
        df = pd.read_csv(io.StringIO(blob), header=None, names=want, dtype=str,
                         keep_default_na=False, engine="c")
        typed = False
    if len(df) != sum(counts):
        raise TrialTableError(f"{paths[0]}: {len(df)} rows parsed, {sum(counts)} expected (a quoted value?)")
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
        raise loc.error(i, name, f"expected an integer, got {show(col.iloc[i])}")
    return num.to_numpy().astype(np.int64)


def read_mvh_csvs(paths: Iterable[str | os.PathLike], dataset: str | Sequence[str] | None = None,
                  categories: Sequence[str] | None = CATEGORIES,
                  kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read model-vs-human CSVs into one validated trial table.

    ``dataset``: experiment name for every row, or one name per file (default: each file's
    parent folder name).
    ``categories``: allowed values of ``category`` and ``object_response`` (plus ``"na"``);
    ``None`` disables that check (other tasks' vocabularies).
    ``kinds``: experiment name -> parse type of its condition column (``int``, ``float``,
    ``bool``, ``str``; default: inferred from the conditions present, as pandas would).
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
            raise loc.error(i, "rt", f"expected a number or NaN, got {show(raw['rt'].iloc[i])}")
        raise TrialTableError(f"{paths[0]}: a value could not be parsed, but no bad row was found")
    if categories is not None:
        allowed = set(categories)
        bad = ~raw["category"].isin(allowed).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise loc.error(i, "category", f"unknown category {show(raw['category'].iloc[i])}")
        bad = ~raw["object_response"].isin(allowed | {NO_ANSWER}).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise loc.error(i, "object_response",
                            f"unknown answer {show(raw['object_response'].iloc[i])} (neither a category nor 'na')")

    uniq_names, name_idx = np.unique(np.asarray(names, dtype=object), return_inverse=True)
    exp_code = np.repeat(name_idx, counts)
    experiment = pa.DictionaryArray.from_arrays(
        pa.array(exp_code, pa.int32()), pa.array(uniq_names.tolist(), pa.string())).cast(pa.string())
    condition, cond_raw = _canonical_condition_column(raw["condition"], exp_code, uniq_names, loc, kinds or {})
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
                                loc: _Locator, kinds: Mapping[str, str]) -> tuple[pd.Series, pd.Series]:
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
        kind = kinds.get(name) or infer_kind([v for _, v in present])
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
            msg = f"duplicate {what}: {show(val, 160)} appears more than once"
            if loc is not None:
                raise loc.error(i, col, msg)
            raise TrialTableError(f"{source}: row {i}, column {col!r}: {msg}")


def read_mvh_csv(path: str | os.PathLike, dataset: str | None = None,
                 categories: Sequence[str] | None = CATEGORIES, kind: str | None = None) -> pd.DataFrame:
    """Read one model-vs-human CSV (see :func:`read_mvh_csvs`)."""
    name = dataset or Path(path).parent.name
    return read_mvh_csvs([path], name, categories, {name: kind} if kind else None)


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
                f"{source}: row {i}, column 'category': unknown category {show(df['category'].iloc[i])}")
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


def load_human_trials(dataset: str, kind: str | None = None) -> pd.DataFrame:
    """The human trial table of one of the 17 model-vs-human data sets (fetched if needed)."""
    if dataset not in registry.MVH_DATASETS:
        raise UnknownNameError(f"unknown model-vs-human data set {dataset!r}; known: {registry.MVH_DATASETS}")
    root = registry.fetch_dataset(f"humans/{dataset}", progress=False)
    return read_mvh_csvs(_csvs(root), dataset, kinds={dataset: kind} if kind else None)


def load_all_humans(datasets: Sequence[str] = registry.MVH_DATASETS,
                    kinds: Mapping[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """Human trial tables of several data sets, parsed in one pass: ``{dataset: table}``."""
    paths, names = [], []
    for ds in datasets:
        files = _csvs(registry.fetch_dataset(f"humans/{ds}", progress=False))
        paths += files
        names += [ds] * len(files)
    table = read_mvh_csvs(paths, names, kinds=kinds)
    return {ds: g.reset_index(drop=True) for ds, g in table.groupby("experiment", sort=False)}


# ---------------------------------------------------------------- folders of result files

_HUMAN_FILE = re.compile(r"^(?P<dataset>.+?)_(?P<subject>subject-[^_]+)_session_?-?\d+$")
_MODEL_FILE = re.compile(r"^(?P<rest>.+)_session-?_?\d+$")


def dataset_of_file(path: Path, root: Path, known: Sequence[str] = ()) -> tuple[str, str]:
    """``(data set, observer)`` of a model-vs-human result file.

    Human files are named ``<dataset>_subject-NN_session_1.csv``, model files
    ``<dataset>_<model>_session-1.csv`` (model-vs-human writes ``_`` in model names as ``-``).
    The data set is the longest of ``known`` and the 17 model-vs-human names that the file name
    starts with; else, for a human file, the part before ``_subject-``; else the name of the
    folder holding the file (when below ``root``); else the part before the first ``_``.  The
    observer of a human file is ``humans``.
    """
    stem = path.stem
    names = sorted(set(known) | set(registry.MVH_DATASETS), key=len, reverse=True)
    ds = next((d for d in names if stem.startswith(d + "_")), None)
    if ds is None:
        m = _HUMAN_FILE.match(stem)
        if m:
            ds = m["dataset"]
        elif path.parent != root:
            ds = path.parent.name
        else:
            ds = stem.split("_", 1)[0]
    rest = stem[len(ds) + 1:] if stem.startswith(ds + "_") else stem
    mm = _MODEL_FILE.match(rest)
    name = mm["rest"] if mm else rest
    return ds, "humans" if name.startswith("subject-") else name


def discover_model_csvs(folder: str | os.PathLike, model: str | None = None,
                        known: Sequence[str] = ()) -> dict[str, dict[str, list[Path]]]:
    """Find model-vs-human result CSVs under ``folder``: ``{observer: {dataset: [files]}}``
    (see :func:`dataset_of_file`; ``observer`` is ``humans`` for human files)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    found: dict[str, dict[str, list[Path]]] = {}
    for f in sorted(folder.rglob("*.csv")):
        if any(part.startswith(".") for part in f.relative_to(folder).parts):
            continue
        ds, name = dataset_of_file(f, folder, known)
        found.setdefault(name, {}).setdefault(ds, []).append(f)
    if model is not None:
        key = model if model in found else model.replace("_", "-")  # as file names write it
        if key not in found:
            raise UnknownNameError(f"{folder}: no results of model {model!r}; found {sorted(found)}")
        found = {key: found[key]}
    return found


def load_model_trials(folder: str | os.PathLike, model: str | None = None, known: Sequence[str] = (),
                      kinds: Mapping[str, str] | None = None,
                      categories: Sequence[str] | None = CATEGORIES, locate: bool = False):
    """Load one model's result CSVs from a folder: ``(model name, {dataset: trial table})``;
    with ``locate``, also ``{dataset: where}``, ``where(i)`` naming the file and line of row
    ``i`` of that data set's table (for error messages)."""
    found = discover_model_csvs(folder, model, known)
    if model is None:
        found.pop("humans", None)
    if not found:
        raise TrialTableError(f"{folder}: no model-vs-human result CSVs found")
    if len(found) > 1:
        raise TrialTableError(
            f"{folder}: results of several models {sorted(found)}; pick one with --model")
    name, by_ds = next(iter(found.items()))
    paths = [p for ds in by_ds for p in by_ds[ds]]
    table = read_mvh_csvs(paths, [ds for ds in by_ds for _ in by_ds[ds]], categories, kinds)
    subjects = table["subject"].unique()
    if len(subjects) == 1:  # the file name writes "_" as "-"; the subj column keeps the name
        name = str(subjects[0])
    groups = table.groupby("experiment", sort=False).indices
    groups = dict(sorted(groups.items(), key=lambda kv: kv[1][0]))     # in the order of the files
    tables = {ds: table.take(idx).reset_index(drop=True) for ds, idx in groups.items()}
    if not locate:
        return name, tables

    def locator(idx):
        return lambda i: locate_row(paths, int(idx[i]))

    return name, tables, {ds: locator(idx) for ds, idx in groups.items()}


# ---------------------------------------------------------------- trial tables of any source

def build_trial_table(experiment: str, subject: str, manifest: pd.DataFrame,
                      answers: pd.DataFrame) -> pd.DataFrame:
    """An observer's trial table: one trial per row of the stimulus ``manifest``
    (``stimulus_id, condition, category`` and optional columns) with its ``answers`` (same
    order; ``response`` and, where the observer scores labels, ``p_<label>`` columns, plus
    anything else it reports).  ``p_true`` is the score of the true category where there is one.
    """
    man = manifest.reset_index(drop=True)
    if len(answers) != len(man):
        raise TrialTableError(f"{experiment}/{subject}: {len(answers)} answers for {len(man)} stimuli")
    ans = answers.reset_index(drop=True)
    response = ans["response"].astype(str).to_numpy()
    category = man["category"].astype(str).to_numpy()
    table = pd.DataFrame({
        "experiment": experiment,
        "subject": subject,
        "session": np.ones(len(man), dtype=np.int64),
        "trial": np.arange(1, len(man) + 1, dtype=np.int64),
        "stimulus_id": man["stimulus_id"].astype(str).to_numpy(),
        "condition": man["condition"].astype(str).to_numpy(),
        "category": category,
        "response": response,
        "correct": response == category,
        "rt": np.nan,
    })
    table["imagename"] = (man["imagename"] if "imagename" in man.columns else man["stimulus_id"]).astype(str).to_numpy()
    scores = [c for c in ans.columns if c.startswith("p_") and c != "p_true"]
    if scores:
        cols = pd.Index([c[2:] for c in scores]).get_indexer(category)
        S = ans[scores].to_numpy(float)
        table["p_true"] = np.where(cols >= 0, S[np.arange(len(S)), np.maximum(cols, 0)], np.nan)
    elif "p_true" in ans.columns:
        table["p_true"] = ans["p_true"].to_numpy(float)
    extra = {c: ans[c].to_numpy() for c in ans.columns if c not in ("response", "p_true")}
    extra.update({c: man[c].to_numpy() for c in man.columns
                  if c not in CORE_COLUMNS and c not in table.columns and c not in extra
                  and c not in ("path", "params", "sha256")})
    table = pd.concat([table, pd.DataFrame(extra, index=table.index)], axis=1) if extra else table
    return validate_trials(as_trial_table(table), f"{experiment}/{subject}")


def read_trial_table(path: str | os.PathLike) -> pd.DataFrame:
    """A trial table saved as ``.parquet`` or as a CSV with the trial-table columns
    (:data:`~psychobench.data.schema.CORE_COLUMNS`), validated."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype={c: str for c in ("experiment", "subject", "stimulus_id",
                                                          "condition", "category", "response")},
                             keep_default_na=False, na_values={"rt": list(_MISSING)})
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise TrialTableError(f"{path}: cannot read a trial table ({e})") from None
    missing = [c for c in CORE_COLUMNS if c not in df.columns]
    if missing:
        raise TrialTableError(f"{path}: missing column(s) {missing}; a trial table has {list(CORE_COLUMNS)}")
    for c in ("session", "trial"):
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna().to_numpy() | (num.to_numpy() % 1 != 0)
        if bad.any():
            i = _first_bad(bad)
            raise TrialTableError(f"{path}: line {i + 2}, column {c!r}: expected an integer, got {show(df[c].iloc[i])}")
        df[c] = num.astype(np.int64)
    if df["correct"].dtype != bool:
        text = df["correct"].astype(str).str.strip().str.lower()
        bad = ~text.isin(["true", "false", "1", "0"])
        if bad.any():
            i = _first_bad(bad.to_numpy())
            raise TrialTableError(f"{path}: line {i + 2}, column 'correct': expected true/false, "
                                  f"got {show(df['correct'].iloc[i])}")
        df["correct"] = text.isin(["true", "1"]).to_numpy()
    df["rt"] = pd.to_numeric(df["rt"], errors="coerce")
    cond = df["condition"]
    df["condition"] = cond.where(~cond.astype(str).isin(_MISSING), np.nan)      # a missing condition stays missing
    return validate_trials(as_trial_table(df), str(path))


def read_trials(path: str | os.PathLike, *, categories: Sequence[str] | None = None,
                kinds: Mapping[str, str] | None = None, known: Sequence[str] = ()) -> pd.DataFrame:
    """A trial table from a model-vs-human CSV, a folder of them (searched recursively; data
    set names from the file names, :func:`dataset_of_file`), or a trial table (``.parquet``, or a
    CSV with the trial-table columns).  ``categories``: allowed categories and answers (default:
    no check); ``kinds``: parse types of the condition columns by data set."""
    path = Path(path)
    if path.is_dir():
        files = [f for f in sorted(path.rglob("*")) if f.suffix in (".csv", ".parquet") and f.is_file()
                 and not any(part.startswith(".") for part in f.relative_to(path).parts)]
        if not files:
            raise TrialTableError(f"{path}: no trial files (.csv, .parquet)")
        mvh = [f for f in files if f.suffix == ".csv" and is_mvh_csv(f)]
        other = [f for f in files if f not in mvh]
        parts = [read_trial_table(f) for f in other]
        if mvh:
            names = [dataset_of_file(f, path, known)[0] for f in mvh]
            parts.append(read_mvh_csvs(mvh, names, categories, kinds))
        table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return validate_trials(table, str(path), categories)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.suffix == ".csv" and is_mvh_csv(path):
        return read_mvh_csvs([path], dataset_of_file(path, path.parent, known)[0], categories, kinds)
    return validate_trials(read_trial_table(path), str(path), categories)


def is_mvh_csv(path: Path) -> bool:
    """Whether a CSV file has model-vs-human's header (``subj``, ``object_response``, ``imagename``)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            head = f.readline()
    except OSError as e:
        raise TrialTableError(f"{path}: cannot read ({e})") from None
    cols = {c.strip() for c in head.strip().split(",")}
    return {"subj", "object_response", "imagename"} <= cols


def locate_row(paths: Sequence[str | os.PathLike], row: int) -> str:
    """``"FILE: line N"`` of row ``row`` of the table :func:`read_mvh_csvs` made from ``paths``
    (in that order; physical lines, blank lines skipped as the reader skips them).  Reads the
    files again: for error messages only."""
    left = int(row)
    for p in paths:
        p = Path(p)
        _, lines = _records(p, _decode(p).replace("\r\n", "\n"), [])
        if left < len(lines):
            return f"{p}: line {int(lines[left])}"
        left -= len(lines)
    return f"{paths[0] if paths else '<no file>'}: row {row}"


def check_model_trials(experiment: str, model: pd.DataFrame, humans: pd.DataFrame,
                       labels: Sequence[str] | None = None, where=None) -> None:
    """Before a model's trials are scored: every trial's ``category`` must be the category the
    human data give its stimulus (a file whose categories were overwritten by its answers would
    otherwise score perfectly), and every answer must be one of ``labels`` or ``na`` (``None``:
    an open answer space, anything goes).  ``where(i)`` names row ``i`` (default: subject and
    trial).  Raises :class:`TrialTableError` at the first bad row."""
    if where is None:
        def where(i: int) -> str:
            return (f"model trials of {experiment}: subject {model['subject'].iloc[i]!r}, "
                    f"trial {model['trial'].iloc[i]}")
    ref = humans.drop_duplicates("stimulus_id").set_index("stimulus_id")["category"].astype(str)
    ids = model["stimulus_id"].astype(str)
    want = ref.reindex(ids).to_numpy()
    have = model["category"].astype(str).to_numpy()
    bad = pd.notna(want) & (want != have)
    if bad.any():
        i = _first_bad(bad)
        raise TrialTableError(f"{where(i)}, column 'category': stimulus {show(ids.iloc[i])} is "
                              f"{show(want[i])} in the human data of {experiment}, but {show(have[i])} here")
    if labels is not None:
        allowed = set(labels) | {NO_ANSWER}
        response = model["response"].astype(str)
        bad = ~response.isin(allowed).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            shown = ", ".join(sorted(labels)[:8]) + (", ..." if len(labels) > 8 else "")
            raise TrialTableError(f"{where(i)}, column 'object_response': answer {show(response.iloc[i])} is not in "
                                  f"the answer space of {experiment} ({len(labels)} labels: {shown}; or 'na')")
