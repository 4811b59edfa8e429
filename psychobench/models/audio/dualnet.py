"""The dual-task network of the shared-stages analysis: word recognition and talker
identification from one cochleagram, with the first ``n_shared`` of its stages shared between
the two tasks and the rest duplicated per task (Kell et al. 2018, Fig. 2; Kell & McDermott
2019, Fig. 3b).

Stages (:data:`STAGES`), each a trained block:

* ``conv1``: input batch norm, 5x5 conv (stride 2), batch norm, ReLU;
* ``conv2``, ``conv3``: 3x3 conv, batch norm, ReLU, 2x2 max-pool;
* ``conv4``: 3x3 conv, batch norm, ReLU;
* ``fc``: mean and max over time and frequency, linear layer to ``hidden`` units, ReLU, dropout;

then one linear head per task.  ``n_shared = 0``: two separate networks that share only the
(parameter-free) cochleagram; ``n_shared = 5``: one network with two heads.

Data (:func:`dual_task_data`): the synthetic word corpus of the word task
(:class:`~psychobench.stimuli.audio.words.WordCorpus`; 80 training talkers x 64 words).  Each
training talker's ``held_words`` words (a Latin-square draw: every word is held out by some
talkers) are kept out of training and form the talker test set: the network must identify a
talker from a word it never heard that talker say.  The word test set is the corpus's held-out
talkers (never heard in training).  Every token is mixed once per copy with a masker of the
word task's banks (training bank for training, test bank, seed 1000, for testing) at a random
SNR, and its cochleagram computed once, so that a sweep over ``n_shared`` trains every network
on the same inputs in the same order (a paired comparison).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from psychobench.data.io import check_seal, sha256_json, write_sealed
from psychobench.lightning.training import training_threads
from psychobench.stimuli.audio.words import WordCorpus

from .cochleagram import Cochleagram

#: the stages of the dual-task network, in order; the first ``n_shared`` are shared
STAGES: tuple[str, ...] = ("conv1", "conv2", "conv3", "conv4", "fc")


class _MeanMax(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)


def make_stages(width: int = 16, hidden: int = 128, dropout: float = 0.2) -> list[nn.Module]:
    """The five stages of :data:`STAGES` (freshly initialised)."""
    c = [1, width, 2 * width, 3 * width, 4 * width]
    out: list[nn.Module] = [nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, c[1], 5, stride=2, padding=2, bias=False),
                                          nn.BatchNorm2d(c[1]), nn.ReLU(inplace=True))]
    for i in range(1, 4):
        block = [nn.Conv2d(c[i], c[i + 1], 3, padding=1, bias=False), nn.BatchNorm2d(c[i + 1]), nn.ReLU(inplace=True)]
        if i < 3:
            block.append(nn.MaxPool2d(2))
        out.append(nn.Sequential(*block))
    out.append(nn.Sequential(_MeanMax(), nn.Linear(2 * c[-1], hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)))
    return out


class DualTaskNet(nn.Module):
    """Cochleagram ``(batch, 1, bands, frames)`` -> ``(word logits, talker logits)``; the first
    ``n_shared`` stages are one module (``shared``), the others are built once per task
    (``word``, ``talker``), each followed by its head."""

    def __init__(self, n_words: int, n_talkers: int, n_shared: int, width: int = 16, hidden: int = 128,
                 dropout: float = 0.2):
        super().__init__()
        if not 0 <= int(n_shared) <= len(STAGES):
            raise ValueError(f"n_shared must be 0..{len(STAGES)}, got {n_shared}")
        k = int(n_shared)
        self.n_shared = k
        self.shared = nn.Sequential(*make_stages(width, hidden, dropout)[:k])
        self.word = nn.Sequential(*make_stages(width, hidden, dropout)[k:], nn.Linear(hidden, n_words))
        self.talker = nn.Sequential(*make_stages(width, hidden, dropout)[k:], nn.Linear(hidden, n_talkers))

    def forward(self, coch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.shared(coch)
        return self.word(h), self.talker(h)


@dataclass(frozen=True)
class DualTaskConfig:
    """What defines one trained dual-task network (and the key of its cached checkpoint)."""

    corpus: WordCorpus = WordCorpus()
    n_shared: int = len(STAGES)
    held_words: int = 8
    n_copies: int = 4
    snr_range_db: tuple[float, float] = (-6.0, 20.0)
    p_clean: float = 0.2
    maskers: tuple[str, ...] = ("ssn", "modulated", "babble8", "babble2", "music", "scene")
    n_bands: int = 32
    hop_s: float = 0.016
    width: int = 16
    hidden: int = 128
    epochs: int = 12
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0

    def __post_init__(self):
        if not 0 <= int(self.n_shared) <= len(STAGES):
            raise ValueError(f"n_shared must be 0..{len(STAGES)} (stages {', '.join(STAGES)}), got {self.n_shared}")
        if not 0 < int(self.held_words) < len(self.corpus.words):
            raise ValueError(f"held_words must be 1..{len(self.corpus.words) - 1}, got {self.held_words}")

    def data_identity(self) -> dict:
        """The fields that define the data (every ``n_shared`` of a sweep shares them)."""
        out = asdict(self)
        for k in ("n_shared", "width", "hidden", "epochs", "batch_size", "lr"):
            out.pop(k)
        return out

    def key(self) -> str:
        return sha256_json(asdict(self))[:16]


@dataclass
class DualTaskData:
    """Cochleagrams and labels of the three sets (float32 ``(n, 1, bands, frames)``)."""

    train: torch.Tensor
    train_word: torch.Tensor
    train_talker: torch.Tensor
    word_test: torch.Tensor
    word_test_label: torch.Tensor
    talker_test: torch.Tensor
    talker_test_label: torch.Tensor
    words: tuple[str, ...]
    talkers: tuple[str, ...]
    notes: dict = field(default_factory=dict)


def held_out_words(n_talkers: int, n_words: int, held: int, seed: int) -> np.ndarray:
    """``(talkers, words)`` bool: which of each talker's words are held out of training.  Words
    are permuted once, cut into blocks of ``held``, and talker ``t`` holds out block ``t mod
    blocks`` (every word is held out by about ``held / n_words`` of the talkers)."""
    perm = np.random.default_rng([seed, 2018]).permutation(n_words)
    n_blocks = n_words // held
    out = np.zeros((n_talkers, n_words), bool)
    for t in range(n_talkers):
        out[t, perm[(t % n_blocks) * held:(t % n_blocks + 1) * held]] = True
    return out


def _mix(waves: np.ndarray, regions: np.ndarray, bank, cfg: DualTaskConfig, rng) -> np.ndarray:
    from psychobench.stimuli.audio.signal import mix_at_snr

    n = waves.shape[1]
    shift = rng.integers(-int(0.1 * cfg.corpus.fs), int(0.1 * cfg.corpus.fs) + 1, len(waves))
    target = np.stack([np.roll(w, s) for w, s in zip(waves, shift)])
    region = np.clip(regions + shift[:, None], 0, n)
    kinds = rng.integers(0, len(cfg.maskers), len(waves))
    masker = np.empty_like(target)
    for k in np.unique(kinds):
        sel = kinds == k
        masker[sel] = bank.draw(cfg.maskers[k], int(sel.sum()), n, rng)
    snr = rng.uniform(*cfg.snr_range_db, len(waves))
    snr[rng.random(len(waves)) < cfg.p_clean] = np.inf
    mix, _, _ = mix_at_snr(target, masker, snr, target_region=region, fs=cfg.corpus.fs)
    return (mix * 10 ** (rng.uniform(-10, 10, (len(waves), 1)) / 20)).astype(np.float32)


def _cochleagrams(waves: np.ndarray, cfg: DualTaskConfig, batch: int = 512) -> torch.Tensor:
    front = Cochleagram(fs=cfg.corpus.fs, n_bands=cfg.n_bands, hop_s=cfg.hop_s)
    with torch.no_grad():               # not inference mode: these tensors are training inputs
        return torch.cat([front(torch.from_numpy(waves[i:i + batch])) for i in range(0, len(waves), batch)])


def dual_task_data(cfg: DualTaskConfig) -> DualTaskData:
    """The sets of the dual-task networks (see the module docstring), built once per data
    identity (every ``n_shared`` of a sweep reuses them)."""
    key = sha256_json(cfg.data_identity())
    if key not in _DATA:
        _DATA.clear()                          # one sweep's data at a time (about 0.2 GB)
        _DATA[key] = _build(cfg)
    return _DATA[key]


_DATA: dict[str, DualTaskData] = {}


def _build(cfg: DualTaskConfig) -> DualTaskData:
    from psychobench.stimuli.audio.maskers import build_masker_bank
    from psychobench.stimuli.audio.words import load_corpus

    corpus = cfg.corpus
    waves, words, regions, voices = load_corpus(corpus, "train")
    names = [repr(v) for v in voices]
    talkers = tuple(dict.fromkeys(names))
    talker = np.array([talkers.index(n) for n in names])
    held = held_out_words(len(talkers), len(corpus.words), int(cfg.held_words), int(cfg.seed))[talker, words]
    rng = np.random.default_rng([cfg.seed, 3])
    train_bank = build_masker_bank(corpus.fs, seed=cfg.seed)
    test_bank = build_masker_bank(corpus.fs, seed=1000 + cfg.seed)
    tr = np.flatnonzero(~held)
    train = np.concatenate([_mix(waves[tr], regions[tr], train_bank, cfg, rng) for _ in range(int(cfg.n_copies))])
    talker_test = _mix(waves[held], regions[held], test_bank, cfg, rng)
    tw, tl, treg, test_voices = load_corpus(corpus, "test")
    word_test = _mix(tw, treg, test_bank, cfg, rng)
    reps = int(cfg.n_copies)
    return DualTaskData(
        train=_cochleagrams(train, cfg), train_word=torch.from_numpy(np.tile(words[tr], reps)),
        train_talker=torch.from_numpy(np.tile(talker[tr], reps)),
        word_test=_cochleagrams(word_test, cfg), word_test_label=torch.from_numpy(tl),
        talker_test=_cochleagrams(talker_test, cfg), talker_test_label=torch.from_numpy(talker[held]),
        words=tuple(corpus.words), talkers=talkers,
        notes={"train_tokens": int(len(tr)), "copies": reps, "word_test": f"{len(tl)} tokens of "
               f"{len(set(map(repr, test_voices)))} held-out talkers", "talker_test": f"{int(held.sum())} tokens: each of "
               f"{len(talkers)} training talkers saying {int(cfg.held_words)} words held out of training"})


class DualTaskModule(pl.LightningModule):
    """Lightning module of the dual-task network: trains on cochleagrams (both losses summed);
    called on waveforms ``(batch, samples)`` it returns the word logits (so that it answers word
    experiments like the word network), :meth:`both` returns both tasks' logits."""

    def __init__(self, words: tuple[str, ...], n_talkers: int, n_shared: int, fs: int = 16000, n_bands: int = 32,
                 hop_s: float = 0.016, width: int = 16, hidden: int = 128, lr: float = 3e-3):
        super().__init__()
        self.save_hyperparameters()
        self.front = Cochleagram(fs=fs, n_bands=n_bands, hop_s=hop_s)
        self.net = DualTaskNet(len(words), n_talkers, n_shared, width=width, hidden=hidden)
        self.words = tuple(words)

    def both(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(self.front(wave))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.both(wave)[0]

    def training_step(self, batch, batch_idx):
        x, yw, yt = batch
        word, talker = self.net(x)
        lw = nn.functional.cross_entropy(word, yw, label_smoothing=0.05)
        lt = nn.functional.cross_entropy(talker, yt, label_smoothing=0.05)
        self.log("word_loss", lw)
        self.log("talker_loss", lt)
        return lw + lt

    def configure_optimizers(self):
        from .wordnet import one_cycle_adamw
        return one_cycle_adamw(self)

    @torch.inference_mode()
    def correct(self, coch: torch.Tensor, labels: torch.Tensor, task: str, batch_size: int = 512) -> np.ndarray:
        """Per-token correctness (bool) of ``task`` (``word`` or ``talker``) on cochleagrams."""
        self.eval()
        j = {"word": 0, "talker": 1}[task]
        pred = torch.cat([self.net(coch[i:i + batch_size])[j].argmax(1) for i in range(0, len(coch), batch_size)])
        return (pred == labels).numpy()

    @torch.inference_mode()
    def posteriors(self, wave: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Softmax over the words, ``(n, n_words)`` float64, for waveforms ``(n, samples)``."""
        self.eval()
        x = torch.as_tensor(np.asarray(wave, dtype=np.float32))
        return torch.cat([torch.softmax(self(x[i:i + batch_size]).double(), 1)
                          for i in range(0, len(x), batch_size)]).numpy()


def checkpoint_path(cfg: DualTaskConfig) -> Path:
    from psychobench.stimuli.audio.synth import audio_cache_dir

    return audio_cache_dir() / f"dualnet_{cfg.key()}.ckpt"


def train_dual_net(cfg: DualTaskConfig = DualTaskConfig(), *, force: bool = False, verbose: bool = False,
                   device: str = "cpu") -> Path:
    """Train (or find cached, its bytes checked against their seal) the dual-task network with
    ``cfg.n_shared`` shared stages; returns its checkpoint path.  Deterministic: seeded
    initialisation, data order and dropout, deterministic kernels,
    :data:`~psychobench.lightning.training.TRAIN_THREADS` CPU threads."""
    path = checkpoint_path(cfg)
    if not force and check_seal(path, "trained dual-task network"):
        return path
    with training_threads(), torch.inference_mode(False), torch.enable_grad():
        data = dual_task_data(cfg)
        if len(data.train) < cfg.batch_size:
            raise ValueError(f"the dual-task training set has {len(data.train)} noisy tokens, fewer than one batch "
                             f"of {cfg.batch_size}: lower batch_size or raise n_copies")
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        module = DualTaskModule(data.words, len(data.talkers), int(cfg.n_shared), cfg.corpus.fs, cfg.n_bands,
                                cfg.hop_s, cfg.width, cfg.hidden, cfg.lr)
        ds = torch.utils.data.TensorDataset(data.train, data.train_word, data.train_talker)
        dl = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(cfg.seed))
        # trained where its settings were tuned (a CPU) unless asked otherwise, as the word network
        # is: the cached weights are keyed by the task alone, and another device gives other weights
        trainer = pl.Trainer(max_epochs=int(cfg.epochs), accelerator=device, logger=False, enable_checkpointing=False,
                             enable_progress_bar=verbose, enable_model_summary=False, deterministic=True)
        trainer.fit(module, dl)
    write_sealed(path, trainer.save_checkpoint)
    return path


def load_dual_net(cfg: DualTaskConfig = DualTaskConfig(), train_if_missing: bool = True) -> DualTaskModule:
    """The trained network of ``cfg`` from its sealed checkpoint (trained first if missing)."""
    path = checkpoint_path(cfg)
    if not check_seal(path, "trained dual-task network"):
        if not train_if_missing:
            raise FileNotFoundError(f"{path}: no trained dual-task network; run psychobench-data build dualnet")
        train_dual_net(cfg)
    return DualTaskModule.load_from_checkpoint(path, map_location="cpu").eval()
