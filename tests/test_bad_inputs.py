"""Bad input, one case per test: each error names the file, line and column (or the setting),
nothing is written as if complete, and bytes read back from a cache are checked first."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychobench.data import download, io as pio, registry, trials
from psychobench.data.io import IntegrityWarning
from psychobench.data.schema import TrialTableError
from psychobench.errors import PsychobenchError, SettingError

HEADER = "subj,session,trial,rt,object_response,category,condition,imagename"
REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def rows(n: int, subj: str = "m", start: int = 1) -> list[str]:
    cats = ["airplane", "bear", "bicycle", "bird"]
    return [f"{subj},1,{i},NaN,{cats[i % 4]},{cats[i % 4]},0,{cats[i % 4]}{i}.png"
            for i in range(start, start + n)]


def csv_file(tmp_path: Path, body: list[str], name: str = "edge/edge_m_session-1.csv") -> Path:
    return write(tmp_path / name, "\n".join([HEADER, *body]) + "\n")


def fails(path_or_paths, match: str, **kw) -> str:
    paths = path_or_paths if isinstance(path_or_paths, list) else [path_or_paths]
    with pytest.raises(TrialTableError) as e:
        trials.read_mvh_csvs(paths, **kw)
    msg = str(e.value)
    assert match in msg, msg
    return msg


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---------------------------------------------------------------- parse errors name file and line

def test_wrong_field_count_names_its_line(tmp_path):
    body = rows(5)
    body[2] = body[2] + ",extra"
    f = csv_file(tmp_path, body)
    fails(f, f"{f}: line 4: 9 fields, but the header has 8")


def test_line_numbers_count_blank_lines(tmp_path):
    body = rows(2) + ["", ""] + rows(3, start=3)
    body[-1] = body[-1].replace(",1,5,", ",1,five,")
    f = csv_file(tmp_path, body)
    fails(f, f"{f}: line 8, column 'trial': expected an integer, got 'five'")


def test_quoted_line_break_names_line_and_column(tmp_path):
    body = rows(4)
    body[1] = body[1].replace(",0,", ',"0\n1",')
    f = csv_file(tmp_path, body)
    fails(f, f"{f}: line 3, column 'condition': a line break inside a quoted value")


def test_non_utf8_bytes_name_line_and_column(tmp_path):
    text = ("\n".join([HEADER, *rows(3)]) + "\n").encode()
    text = text.replace(b"bird3.png", b"bird3\xe9.png")
    f = write(tmp_path / "edge" / "edge_m_session-1.csv", text)
    fails(f, f"{f}: line 4, column 'imagename': not UTF-8 text (byte 0xe9)")


def test_header_only_file(tmp_path):
    f = csv_file(tmp_path, [])
    fails(f, f"{f}: no trials: the file holds only its header")


def test_missing_column(tmp_path):
    f = write(tmp_path / "edge" / "x.csv", HEADER.replace(",rt", "") + "\n" + "m,1,1,bear,bear,0,a.png\n")
    fails(f, f"{f}: line 1: missing column(s) ['rt']")


def test_two_megabyte_value_is_cut_in_the_message(tmp_path):
    body = rows(3)
    body[1] = body[1].replace(",1,2,", f",1,{'9x' * 1_000_000},")
    f = csv_file(tmp_path, body)
    msg = fails(f, f"{f}: line 3, column 'trial': expected an integer, got '9x9x")
    assert len(msg) < 400 and "2000000 characters" in msg


def test_error_in_the_seventh_of_ten_files(tmp_path):
    files = []
    for k in range(10):
        body = rows(6, subj="m", start=1)
        if k == 6:
            body[4] = body[4].replace(",bear,bear,", ",zebra,bear,")
        if k == 2:
            body.insert(1, "")                        # a blank line in an earlier file
        files.append(csv_file(tmp_path, body, name=f"s{k}/edge_m_session-{k}.csv"))
    assert "zebra" in files[6].read_text().splitlines()[5]
    fails(files, f"{files[6]}: line 6, column 'object_response': unknown answer 'zebra'")


def test_empty_value_names_its_column(tmp_path):
    body = rows(3)
    body[0] = body[0].replace("m,1,1,NaN,bear", "m,1,1,NaN,")
    f = csv_file(tmp_path, body)
    fails(f, f"{f}: line 2, column 'object_response': empty value")


def test_bad_reaction_time(tmp_path):
    body = rows(3)
    body[2] = body[2].replace(",NaN,", ",fast,")
    f = csv_file(tmp_path, body)
    fails(f, f"{f}: line 4, column 'rt': expected a number or NaN, got 'fast'")


def test_unknown_category(tmp_path):
    body = rows(3)
    body[0] = body[0].replace("bear,bear,", "bear,unicorn,")
    f = csv_file(tmp_path, body)
    fails(f, f"{f}: line 2, column 'category': unknown category 'unicorn'")


def test_duplicate_trial_number(tmp_path):
    body = rows(3)
    body[2] = body[2].replace(",1,3,", ",1,2,")
    f = csv_file(tmp_path, body)
    fails(f, f"{f}: line 4, column 'trial': duplicate trial number")


def test_duplicate_stimulus(tmp_path):
    body = rows(3)
    body[2] = "m,1,3,NaN,bicycle,bicycle,0,bicycle2.png"
    f = csv_file(tmp_path, body)
    fails(f, f"{f}: line 4, column 'imagename': duplicate stimulus")


def test_bad_condition_value_for_the_sets_kind(tmp_path):
    body = [r.replace(",0,", ",0.5,") for r in rows(3)]
    body[1] = body[1].replace(",0.5,", ",high,")
    f = csv_file(tmp_path, body, name="uniform-noise/uniform-noise_m_session-1.csv")
    with pytest.raises(TrialTableError) as e:
        trials.read_mvh_csvs([f], "uniform-noise", kinds={"uniform-noise": "float"})
    assert f"{f}: line 3, column 'condition'" in str(e.value)


def test_no_csv_files_and_unreadable_folder(tmp_path):
    with pytest.raises(TrialTableError, match="no CSV files given"):
        trials.read_mvh_csvs([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrialTableError, match="no model-vs-human result CSVs found"):
        trials.load_model_trials(tmp_path / "empty")
    with pytest.raises(TrialTableError, match="no trial files"):
        trials.read_trials(tmp_path / "empty")


def test_trial_table_csv_faults(tmp_path):
    good = ("experiment,subject,session,trial,stimulus_id,condition,category,response,correct,rt\n"
            "e,s,1,1,a,0,bear,bear,true,0.5\n"
            "e,s,1,2,b,0,bear,bird,false,0.5\n")
    f = write(tmp_path / "t.csv", good.replace("1,2,b", "1,two,b"))
    with pytest.raises(TrialTableError, match=r"t.csv: line 3, column 'trial': expected an integer, got 'two'"):
        trials.read_trial_table(f)
    f = write(tmp_path / "t.csv", good.replace("false", "maybe"))
    with pytest.raises(TrialTableError, match=r"t.csv: line 3, column 'correct': expected true/false, got 'maybe'"):
        trials.read_trial_table(f)
    f = write(tmp_path / "t.csv", good.replace("bird,false", "bird,true"))
    with pytest.raises(TrialTableError, match=r"row 1, column 'correct': disagrees with response == category"):
        trials.read_trial_table(f)
    f = write(tmp_path / "t.csv", good.replace(",rt", "").replace(",0.5", ""))
    with pytest.raises(TrialTableError, match=r"missing column\(s\) \['rt'\]"):
        trials.read_trial_table(f)


# ------------------------------------------------------------- model files checked against humans

@pytest.fixture(scope="module")
def resnet_edge(mirror):
    return registry.fetch_dataset("reference/resnet50", progress=False) / "edge" / "edge_resnet50_session-1.csv"


def _score(argv, capsys):
    from psychobench.cli.score import main
    rc = main(argv)
    return rc, capsys.readouterr()


def test_model_file_with_wrong_category(resnet_edge, tmp_path, capsys):
    lines = resnet_edge.read_text().splitlines()
    parts = lines[2].split(",")
    parts[5] = "clock" if parts[5] != "clock" else "knife"
    lines[2] = ",".join(parts)
    out = write(tmp_path / "res" / "edge" / resnet_edge.name, "\n".join(lines) + "\n")
    rc, cap = _score([str(tmp_path / "res"), "--no-consistency"], capsys)
    assert rc == 2 and cap.out == ""
    assert f"{out}: line 3, column 'category': stimulus" in cap.err
    assert len(cap.err.strip().splitlines()) == 1


def test_model_file_with_two_observers(resnet_edge, tmp_path, capsys):
    lines = resnet_edge.read_text().splitlines()
    lines[6] = lines[6].replace("resnet50,", "alexnet,", 1)
    out = write(tmp_path / "res" / "edge" / resnet_edge.name, "\n".join(lines) + "\n")
    rc, cap = _score([str(tmp_path / "res"), "--no-consistency"], capsys)
    assert rc == 2 and cap.out == ""
    assert f"{out}: line 7, column 'subj'" in cap.err and "2 observers" in cap.err


def test_model_answer_outside_the_answer_space(resnet_edge, tmp_path):
    from psychobench import api
    from psychobench.experiments import mvh

    model = trials.read_mvh_csv(resnet_edge, "edge")
    humans = mvh.load_humans(["edge"])
    model.loc[4, "response"] = "na"          # allowed: no answer
    api.score({"edge": model}, humans, ceilings=False)
    with pytest.raises(TrialTableError, match=r"answer 'knife' is not in"):
        api.score({"edge": model}, humans, ceilings=False, answers=("airplane", "bear"))


# ------------------------------------------------------------------ caches checked before trusted

def _tamper(path: Path) -> None:
    """Change one byte, keeping size and modification time."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_answer_cache_tampered(cache):
    from psychobench.results import cache as answer_cache

    table = pd.DataFrame({"stimulus_id": [f"s{i}" for i in range(50)], "response": ["bear"] * 50,
                          "p_bear": np.linspace(0, 1, 50)})
    path = answer_cache.store("k" * 64, table)
    assert answer_cache.load("k" * 64, 50) is not None
    _tamper(path)
    with pytest.warns(IntegrityWarning, match="does not match its stored digest"):
        assert answer_cache.load("k" * 64, 50) is None
    assert not path.exists()


def test_run_memo_tampered(cache, tmp_path):
    from psychobench.results import store

    run = tmp_path / "run"
    write(run / "metrics.csv", "dataset,metric,value\nedge,accuracy,0.5\n")
    write(run / "config.yaml", "seed: 0\n")
    entry = store.remember("ab" * 32, run, {"model": "m"})
    out = tmp_path / "again"
    assert store.recall("ab" * 32, out)["forward_passes"] == 0
    _tamper(entry / "metrics.csv")
    out2 = tmp_path / "again2"
    with pytest.warns(IntegrityWarning, match="does not match its digests"):
        assert store.recall("ab" * 32, out2) is None
    assert not entry.exists() and not (out2 / "metrics.csv").exists()


def test_sealed_file_without_or_with_a_wrong_seal(tmp_path):
    f = write(tmp_path / "entry.bin", b"0123456789")
    with pytest.warns(IntegrityWarning, match="has no stored digest"):
        assert not pio.check_seal(f)
    assert not f.exists()
    pio.write_sealed(f, lambda tmp: Path(tmp).write_bytes(b"abcdef"))
    assert pio.check_seal(f)
    _tamper(f)
    with pytest.warns(IntegrityWarning, match="changed on disk"):
        assert not pio.check_seal(f, "trained word network")
    assert not f.exists() and not pio.seal_path(f).exists()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)")
def test_speech_corpus_cache_tampered(cache, monkeypatch):
    from psychobench.stimuli.audio import synth

    voices = [synth.Voice()]
    first = synth.synthesize_corpus(["bear"], voices)
    files = [p for p in synth.audio_cache_dir().rglob("*.npz")]
    assert len(files) == 1
    _tamper(files[0])
    with pytest.warns(IntegrityWarning, match="synthesised speech corpus"):
        again = synth.synthesize_corpus(["bear"], voices)
    np.testing.assert_array_equal(first[0][0], again[0][0])
    assert len(list(synth.audio_cache_dir().rglob("*.npz"))) == 1        # written again, sealed


def test_stimulus_manifest_tampered(cache, tmp_path):
    from psychobench.stimuli import manifest as M

    root = tmp_path / "set"
    write(root / "a.png", b"not really a png")
    df = pd.DataFrame({"stimulus_id": ["a.png"], "path": ["a.png"], "condition": ["0"],
                       "category": ["bear"], "params": ["{}"], "sha256": [pio.sha256_file(root / "a.png")]})
    M.write_manifest(df, root)
    assert M.cached_set(root, "set") is not None
    _tamper(root / M.MANIFEST_NAME)
    with pytest.warns(IntegrityWarning, match="changed on disk"):
        assert M.cached_set(root, "set") is None
    assert not root.exists()


def test_registered_csv_changed_in_place_is_caught(mirror, cache):
    root = registry.fetch_dataset("humans/colour", progress=False)
    f = sorted(root.rglob("*.csv"))[0]
    good = f.read_bytes()
    _tamper(f)                     # same size, same mtime: only the digest tells
    with pytest.warns(IntegrityWarning, match="checksum does not match the pinned one"):
        registry.fetch_dataset("humans/colour", progress=False)
    assert f.read_bytes() == good


class _ShortHandler(http.server.BaseHTTPRequestHandler):
    """Announces 1000 bytes, sends 10, then closes."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *a):
        pass


def test_short_unpinned_download_keeps_nothing(cache, tmp_path, monkeypatch):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("PSYCHOBENCH_MIRROR", f"http://127.0.0.1:{srv.server_address[1]}")
        dest = tmp_path / "dl" / "file.bin"
        with pytest.raises(download.DownloadError, match=r"(10 bytes arrived of the 1000 announced|interrupted after 10 bytes)"):
            download.fetch("https://example.org/file.bin", None, dest=dest, progress=False)
        assert not dest.exists() and not list(dest.parent.glob(".*part"))
        assert "https://example.org/file.bin" not in download.known_hashes()
    finally:
        srv.shutdown()
        srv.server_close()


# ----------------------------------------------------------------------- settings refused first

def _cfg(*overrides):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.mark.parametrize("override, message", [
    ("trainer.batch_size=0", "trainer.batch_size must be >= 1, got 0"),
    ("trainer.num_workers=x", "trainer.num_workers must be an integer, got 'x'"),
    ("trainer.precision=bf16", "trainer.precision='bf16'; known: 32-true"),
    ("metrics.n_boot=abc", "metrics.n_boot must be an integer, got 'abc'"),
    ("model.name=resnet18", "model.name=resnet18 names a timm architecture, but this model group runs "
                            "tf_efficientnet_lite0"),
])
def test_bad_setting_is_refused_before_anything_runs(override, message):
    from psychobench.results import pipeline

    with pytest.raises(PsychobenchError) as e:
        pipeline.check_settings(_cfg(override))
    assert message in str(e.value)


def test_bad_batch_size_is_refused_even_when_the_run_is_remembered(cache, tmp_path, monkeypatch):
    from psychobench.results import store

    asked = []
    monkeypatch.setattr(store, "recall", lambda *a, **k: asked.append(a) or {"model": "m"})
    with pytest.raises(SettingError, match="trainer.batch_size must be >= 1"):
        store.run_job(_cfg("trainer.batch_size=0"), tmp_path / "run")
    assert asked == [] and not (tmp_path / "run").exists()


def test_precision_is_part_of_the_answer_key():
    from psychobench.lightning.predict import Predictor
    from psychobench.results import cache as answer_cache

    keys = {answer_cache.answer_key({"arch": "a"}, Predictor(precision=p).identity(), {"labels": ["x"]}, "s")
            for p in ("32-true", "16-mixed", "bf16-mixed")}
    assert len(keys) == 3
    assert (answer_cache.answer_key({"arch": "a"}, Predictor(batch_size=8).identity(), {"labels": ["x"]}, "s")
            == answer_cache.answer_key({"arch": "a"}, Predictor(batch_size=64).identity(), {"labels": ["x"]}, "s"))


def test_hydra_app_prints_one_line_and_writes_nothing(tmp_path):
    env = dict(os.environ, HYDRA_FULL_ERROR="0")
    run_dir = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", "trainer.batch_size=0",
                          f"hydra.run.dir={run_dir}"], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 2, res.stderr
    err = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert err[-1] == "psychobench: error: trainer.batch_size must be >= 1, got 0"
    assert "Traceback" not in res.stderr
    assert not (run_dir / "config.yaml").exists() and not (run_dir / "summary.json").exists()


def test_data_set_names_in_either_spelling():
    from psychobench.cli.main import spell_choices
    from psychobench.experiments import mvh

    assert spell_choices(["stimuli=high-pass", "stimuli=edge,uniform-noise", "stimuli=nosuch"], REPO / "conf") == [
        "stimuli=high_pass", "stimuli=edge,uniform_noise", "stimuli=nosuch"]
    assert mvh.canonical_name("uniform_noise") == "uniform-noise"
    with pytest.raises(KeyError) as e:
        mvh.canonical_name("nosuch")
    assert str(e.value).startswith("unknown model-vs-human data set 'nosuch'; known: colour")


# ------------------------------------------------------------------------------- hearing faults

@pytest.mark.parametrize("overrides, message", [
    (["stimuli.snrs=[-3,abc]"], "words_in_noise: stimuli.snrs=[-3, 'abc']: 'abc' is not a number; give SNRs in dB"),
    (["stimuli.backgrounds=[0,9]"], "stimuli.backgrounds=[0, 9]: [9] unknown"),
    (["stimuli.snrs=[6]"], "ask for cells without listener data (scene at +6 dB"),
    (["stimuli.saddler_csv=/nonexistent/saddler.csv"], "/nonexistent/saddler.csv"),
])
def test_hearing_settings(mirror, overrides, message):
    from psychobench.errors import user_error
    from psychobench.results import pipeline

    with pytest.raises(Exception) as e:
        exps = pipeline.experiments_of(_cfg("experiment=words_in_noise", *overrides))
        for exp in exps.values():
            exp.validate()
    err = user_error(e.value)
    assert isinstance(err, SettingError), repr(e.value)
    assert message in str(err)


def test_whisper_with_an_empty_vocabulary():
    from psychobench.models.audio.observers import WhisperObserver
    from psychobench.models.base import ObserverError

    with pytest.raises(ObserverError, match="vocabulary is empty"):
        WhisperObserver(mode="closed", vocabulary=())
    with pytest.raises(ObserverError, match="more than once"):
        WhisperObserver(mode="closed", vocabulary=("bear", "bear"))


def test_missing_espeak_says_what_to_install(monkeypatch):
    from psychobench.errors import MissingToolError
    from psychobench.stimuli.audio import synth

    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(MissingToolError, match="apt-get install espeak-ng"):
        synth.espeak("bear")
    with pytest.raises(MissingToolError, match="apt-get install espeak-ng"):
        synth.available_variants()


# --------------------------------------------------------------------------- command-line hygiene

@pytest.mark.parametrize("module", ["score", "ceilings", "data", "results", "report", "stimuli", "check"])
def test_every_command_has_version_and_plain_help(module, capsys):
    import importlib
    mod = importlib.import_module(f"psychobench.cli.{module}")
    with pytest.raises(SystemExit) as e:
        mod.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("psychobench ")
    with pytest.raises(SystemExit):
        mod.main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and ":func:" not in out and "usage:" in out


def test_old_and_new_option_spellings_agree():
    from psychobench.cli import ceilings, score

    a = ceilings.build_parser().parse_args(["--boot", "7", "--splits", "3"])
    b = ceilings.build_parser().parse_args(["--n-boot", "7", "--n-splits", "3"])
    assert (a.n_boot, a.n_splits) == (b.n_boot, b.n_splits) == (7, 3)
    s = score.build_parser().parse_args(["DIR", "--json"])
    assert s.format == "json"


def test_results_dir_before_or_after_the_command(tmp_path, capsys):
    from psychobench.cli.results import main

    (tmp_path / "res").mkdir()
    assert main(["--dir", str(tmp_path / "res"), "list"]) == 0
    before = capsys.readouterr().out
    assert main(["list", "--dir", str(tmp_path / "res")]) == 0
    assert capsys.readouterr().out == before
    with pytest.raises(SystemExit):
        main(["list", "--dir", str(tmp_path / "nosuch")])
    assert "no results folder" in capsys.readouterr().err


def test_unknown_data_set_is_one_line(capsys):
    from psychobench.cli.ceilings import main

    assert main(["--datasets", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("psychobench-ceilings: error: unknown model-vs-human data set 'nosuch'")
    assert len(err.strip().splitlines()) == 1


def test_closed_pipe_is_quiet(mirror):
    code = ("import sys; from psychobench.cli.ceilings import main; "
            "sys.exit(main(['--datasets', 'edge', '--n-splits', '2', '--format', 'csv']))")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()                      # the reader went away (as `| head` does)
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 0 and "BrokenPipe" not in err and "Traceback" not in err


def test_feature_cache_tampered(cache):
    from psychobench.results import cache as answer_cache

    x = np.arange(200, dtype=np.float32).reshape(20, 10)
    path = answer_cache.store_features("f" * 64, x)
    np.testing.assert_array_equal(answer_cache.load_features("f" * 64, 20), x)
    _tamper(path)
    with pytest.warns(IntegrityWarning, match="cached feature matrix"):
        assert answer_cache.load_features("f" * 64, 20) is None
    assert not path.exists()
