"""The word-recognition network psychobench trains itself, and its untrained twin.

Architecture (small enough to train on a laptop CPU in minutes): cochleagram front end
(:class:`~psychobench.models.audio.cochleagram.Cochleagram`, 32 ERB bands, 16-ms frames) -> four conv blocks
(conv, batch norm, ReLU; the first with stride 2, 2x2 max-pools after the second and third) -> mean and max over time and frequency ->
dropout -> linear read-out over the closed vocabulary.  Training uses many synthetic voices
(espeak-ng accents x variants x pitch x rate, and piper's neural voice at several rates and
F0/formant shifts) mixed on the fly with many maskers at random SNRs
(the Kell et al. 2018 recipe at a small scale).  The untrained twin is the same module with its
seeded random initial weights (the untrained baseline of Kell et al. 2018).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from psychobench.data.io import check_seal, sha256_json, write_sealed
from psychobench.lightning.training import training_threads

from psychobench.stimuli.audio.maskers import MaskerBank, build_masker_bank
from psychobench.stimuli.audio.signal import mix_at_snr
from psychobench.stimuli.audio.synth import PiperVoice, audio_cache_dir
from psychobench.stimuli.audio.words import VOCABULARY, WordCorpus, load_corpus

from .cochleagram import Cochleagram


class WordNet(nn.Module):
    """Cochleagram CNN: waveform ``(batch, samples)`` -> logits ``(batch, n_words)``."""

    def __init__(self, n_words: int, fs: int = 16000, n_bands: int = 32, width: int = 16, dropout: float = 0.2,
                 hop_s: float = 0.016):
        super().__init__()
        self.front = Cochleagram(fs=fs, n_bands=n_bands, hop_s=hop_s)
        c = [1, width, 2 * width, 3 * width, 4 * width]
        layers: list[nn.Module] = [nn.Conv2d(1, c[1], 5, stride=2, padding=2, bias=False),
                                   nn.BatchNorm2d(c[1]), nn.ReLU(inplace=True)]
        for i in range(1, 4):
            layers += [nn.Conv2d(c[i], c[i + 1], 3, padding=1, bias=False),
                       nn.BatchNorm2d(c[i + 1]), nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers)
        self.norm = nn.BatchNorm2d(1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c[-1], n_words))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        h = self.body(self.norm(self.front(wave)))
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(h)


@dataclass(frozen=True)
class WordTaskConfig:
    """What defines a trained word network (and the key of its cached checkpoint): the corpus
    it hears (:class:`~psychobench.stimuli.audio.words.WordCorpus`) and how it is trained."""

    corpus: WordCorpus = WordCorpus()
    snr_range_db: tuple[float, float] = (-6.0, 20.0)
    p_clean: float = 0.2
    train_maskers: tuple[str, ...] = ("ssn", "modulated", "babble8", "babble2", "music", "scene")
    width: int = 16
    epochs: int = 8
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0

    @property
    def words(self) -> tuple[str, ...]:
        return self.corpus.words

    @property
    def fs(self) -> int:
        return self.corpus.fs

    @property
    def clip_s(self) -> float:
        return self.corpus.clip_s

    def key(self) -> str:
        return sha256_json(asdict(self))[:16]


class MixedWords(torch.utils.data.Dataset):
    """Clean word tokens; the collate function mixes each batch with random maskers and SNRs."""

    def __init__(self, waves: np.ndarray, labels: np.ndarray, regions: np.ndarray, bank: MaskerBank,
                 cfg: WordTaskConfig, seed: int):
        self.waves, self.labels, self.regions, self.bank, self.cfg = waves, labels, regions, bank, cfg
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(idx)
        cfg, rng, n = self.cfg, self.rng, self.waves.shape[1]
        shift = rng.integers(-int(0.1 * cfg.fs), int(0.1 * cfg.fs) + 1, len(idx))
        target = np.stack([np.roll(self.waves[i], s) for i, s in zip(idx, shift)])
        region = np.clip(self.regions[idx] + shift[:, None], 0, n)
        kinds = rng.integers(0, len(cfg.train_maskers), len(idx))
        masker = np.empty_like(target)
        for k in np.unique(kinds):
            sel = kinds == k
            masker[sel] = self.bank.draw(cfg.train_maskers[k], int(sel.sum()), n, rng)
        snr = rng.uniform(*cfg.snr_range_db, len(idx))
        snr[rng.random(len(idx)) < cfg.p_clean] = np.inf
        mix, _, _ = mix_at_snr(target, masker, snr, target_region=region, fs=cfg.fs)
        mix *= 10 ** (rng.uniform(-10, 10, (len(idx), 1)) / 20)
        return torch.from_numpy(mix.astype(np.float32)), torch.from_numpy(self.labels[idx])


def one_cycle_adamw(module: pl.LightningModule, weight_decay: float = 1e-4) -> dict:
    """AdamW with a one-cycle learning-rate schedule over the whole run (peak ``hparams.lr``,
    stepped per batch): the optimiser of every network psychobench trains."""
    opt = torch.optim.AdamW(module.parameters(), lr=module.hparams.lr, weight_decay=weight_decay)
    steps = module.trainer.estimated_stepping_batches
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=module.hparams.lr, total_steps=int(steps))
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class WordNetModule(pl.LightningModule):
    """Lightning module of the word network: trains on mixed batches, predicts word posteriors."""

    def __init__(self, words: tuple[str, ...] = VOCABULARY, fs: int = 16000, width: int = 16,
                 lr: float = 3e-3, epochs: int = 8, trained: bool = True):
        super().__init__()
        self.save_hyperparameters()
        self.net = WordNet(len(words), fs=fs, width=width)
        self.words = tuple(words)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.net(wave)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y, label_smoothing=0.05)
        self.log("train_loss", loss, prog_bar=False)
        self.log("train_acc", (logits.argmax(1) == y).float().mean(), prog_bar=False)
        return loss

    def configure_optimizers(self):
        return one_cycle_adamw(self)

    @torch.inference_mode()
    def posteriors(self, wave: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Softmax over the vocabulary, ``(n, n_words)`` float64, for waveforms ``(n, samples)``."""
        self.eval()
        x = torch.as_tensor(np.asarray(wave, dtype=np.float32))
        out = [torch.softmax(self(x[i:i + batch_size]).double(), 1) for i in range(0, len(x), batch_size)]
        return torch.cat(out).numpy()


def checkpoint_path(cfg: WordTaskConfig) -> Path:
    return audio_cache_dir() / f"wordnet_{cfg.key()}.ckpt"


def train_word_net(cfg: WordTaskConfig = WordTaskConfig(), *, force: bool = False, verbose: bool = False) -> Path:
    """Train (or find cached) the word network; returns its checkpoint path in the user cache.
    Safe to call from inside a prediction loop: training runs with inference mode off.  A cached
    checkpoint is used only if its bytes match the digest stored when it was written; otherwise
    it is trained again, with a warning naming the file.  Trains on
    :data:`~psychobench.lightning.training.TRAIN_THREADS` CPU threads whatever torch's setting."""
    path = checkpoint_path(cfg)
    if not force and check_seal(path, "trained word network"):
        return path
    with training_threads(), torch.inference_mode(False), torch.enable_grad():
        _fit(cfg, path, verbose)
    return path


def _fit(cfg: WordTaskConfig, path: Path, verbose: bool, device: str = "cpu") -> None:
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    waves, labels, regions, _ = load_corpus(cfg.corpus, "train")
    bank = build_masker_bank(cfg.fs, seed=cfg.seed)
    ds = MixedWords(waves, labels, regions, bank, cfg, seed=cfg.seed)
    dl = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, collate_fn=ds.collate,
                                     drop_last=True)
    module = WordNetModule(cfg.words, cfg.fs, cfg.width, cfg.lr, cfg.epochs)
    # Trained where its settings were tuned (a CPU) unless asked otherwise: the cached weights are
    # keyed by the task alone.  Deterministic: seeded data order, masker draws and initialisation,
    # and deterministic kernels (Lightning's ``deterministic=True``), so the same seed gives the
    # same weights on the same machine (a test trains a small network twice and compares them).
    trainer = pl.Trainer(max_epochs=cfg.epochs, accelerator=device, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose, deterministic=True)
    trainer.fit(module, dl)
    write_sealed(path, trainer.save_checkpoint)


def load_word_net(cfg: WordTaskConfig = WordTaskConfig(), trained: bool = True, train_if_missing: bool = True,
                  twin_seed: int = 1) -> WordNetModule:
    """The trained network (from its cached checkpoint, training it if missing), or its untrained
    twin: same architecture, weights from seeded random initialisation."""
    if not trained:
        torch.manual_seed(twin_seed)
        m = WordNetModule(cfg.words, cfg.fs, cfg.width, cfg.lr, cfg.epochs, trained=False)
        return m.eval()
    path = checkpoint_path(cfg)
    if not check_seal(path, "trained word network"):
        if not train_if_missing:
            raise FileNotFoundError(f"{path}: no trained word network; run scripts/train_word_net.py")
        train_word_net(cfg)
    return WordNetModule.load_from_checkpoint(path, map_location="cpu").eval()


def evaluate_word_net(module: WordNetModule, cfg: WordTaskConfig = WordTaskConfig(),
                      snrs: tuple[float, ...] = (np.inf, 6.0, 0.0, -6.0), masker: str = "ssn",
                      seed: int = 123, engine: str | None = None) -> dict[float, float]:
    """Accuracy on the held-out voices at each SNR (test masker bank, seed 1000 + ``seed``);
    ``engine``: ``'espeak'`` or ``'piper'`` voices only (default: all)."""
    waves, labels, regions, voices = load_corpus(cfg.corpus, "test")
    if engine is not None:
        if engine not in ("espeak", "piper"):
            raise ValueError(f"engine must be 'espeak' or 'piper'; got {engine!r}")
        keep = np.array([isinstance(v, PiperVoice) == (engine == "piper") for v in voices])
        if not keep.any():
            raise ValueError(f"no held-out {engine} voices in this word task")
        waves, labels, regions = waves[keep], labels[keep], regions[keep]
    bank = build_masker_bank(cfg.fs, seed=1000 + cfg.seed)
    rng = np.random.default_rng(seed)
    out = {}
    for snr in snrs:
        m = bank.draw(masker, len(labels), waves.shape[1], rng)
        mix, _, _ = mix_at_snr(waves, m, snr, target_region=regions, fs=cfg.fs)
        out[float(snr)] = float(np.mean(module.posteriors(mix).argmax(1) == labels))
    return out
