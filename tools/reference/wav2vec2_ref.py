"""Independent PyTorch re-implementation of the wav2vec2-family CTC models quasr loads.

Reproduces the inference numerics of Hugging Face `Wav2Vec2ForCTC` / `HubertForCTC`
(eager attention, eval mode) and of SpeechBrain's `EncoderASR` on the wav2vec2 lobe,
without needing `transformers` or `speechbrain`. Module and parameter names equal the
real ones, so `state_dict()` yields the on-disk key names
(`wav2vec2.feature_extractor.conv_layers.0.conv.weight`, ..., `lm_head.weight`;
`model.<Wav2Vec2Model key>` for the SpeechBrain lobe; `0.linear1.w.weight`, `1.w.weight`
for SpeechBrain's asr.ckpt). Facts behind the math: /work/shared/reference/checkpoint-formats.md.
"""

from dataclasses import asdict, dataclass, field
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class W2VConfig:
    """The subset of HF `Wav2Vec2Config` / `HubertConfig` fields that affect inference."""

    model_type: str = "wav2vec2"  # or "hubert"
    conv_dim: Tuple[int, ...] = (32, 32, 32, 32)
    conv_kernel: Tuple[int, ...] = (10, 3, 3, 2)
    conv_stride: Tuple[int, ...] = (5, 2, 2, 2)
    conv_bias: bool = False
    feat_extract_norm: str = "group"  # "group" or "layer"
    hidden_size: int = 32
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 64
    layer_norm_eps: float = 1e-5
    num_conv_pos_embeddings: int = 8
    num_conv_pos_embedding_groups: int = 4
    do_stable_layer_norm: bool = False
    vocab_size: int = 32
    pad_token_id: int = 0
    feat_proj_layer_norm: bool = True  # HuBERT only; wav2vec2 always has it
    has_masked_spec_embed: bool = True  # mask_time_prob > 0 in every real config

    def to_dict(self):
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Feature encoder (CNN)
# ---------------------------------------------------------------------------------------------
class ConvLayer(nn.Module):
    """conv -> optional norm -> exact GELU. `norm` is "group" (GroupNorm(C, C): per channel over
    time), "layer" (LayerNorm over channels per frame, eps 1e-5) or None."""

    def __init__(self, cin: int, cout: int, k: int, s: int, bias: bool, norm: Optional[str]):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel_size=k, stride=s, bias=bias)
        self.norm_kind = norm
        if norm == "group":
            self.layer_norm = nn.GroupNorm(num_groups=cout, num_channels=cout, affine=True)
        elif norm == "layer":
            self.layer_norm = nn.LayerNorm(cout, elementwise_affine=True)

    def forward(self, x):  # [B, Cin, L] -> [B, Cout, L']
        x = self.conv(x)
        if self.norm_kind == "group":
            x = self.layer_norm(x)
        elif self.norm_kind == "layer":
            x = self.layer_norm(x.transpose(-2, -1)).transpose(-2, -1)
        return F.gelu(x)


class FeatureEncoder(nn.Module):
    def __init__(self, cfg: W2VConfig):
        super().__init__()
        layers = []
        cin = 1
        for i, (c, k, s) in enumerate(zip(cfg.conv_dim, cfg.conv_kernel, cfg.conv_stride)):
            if cfg.feat_extract_norm == "group":
                norm = "group" if i == 0 else None
            elif cfg.feat_extract_norm == "layer":
                norm = "layer"
            else:
                raise ValueError(cfg.feat_extract_norm)
            layers.append(ConvLayer(cin, c, k, s, cfg.conv_bias, norm))
            cin = c
        self.conv_layers = nn.ModuleList(layers)

    def forward(self, wav):  # [B, S] -> [B, C, T]
        x = wav[:, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x


class FeatureProjection(nn.Module):
    def __init__(self, cfg: W2VConfig):
        super().__init__()
        self.use_ln = cfg.model_type != "hubert" or cfg.feat_proj_layer_norm
        if self.use_ln:
            self.layer_norm = nn.LayerNorm(cfg.conv_dim[-1], eps=cfg.layer_norm_eps)
        self.projection = nn.Linear(cfg.conv_dim[-1], cfg.hidden_size)

    def forward(self, x):  # [B, T, C] -> [B, T, H]
        if self.use_ln:
            x = self.layer_norm(x)
        return self.projection(x)


# ---------------------------------------------------------------------------------------------
# Transformer encoder
# ---------------------------------------------------------------------------------------------
class PositionalConvEmbedding(nn.Module):
    """Grouped conv with weight norm over dim 2 (state dict: conv.weight_g [1,1,K], conv.weight_v
    [H, H/G, K]); padding K//2; the last output frame dropped when K is even; GELU."""

    def __init__(self, cfg: W2VConfig):
        super().__init__()
        k = cfg.num_conv_pos_embeddings
        conv = nn.Conv1d(cfg.hidden_size, cfg.hidden_size, kernel_size=k, padding=k // 2,
                         groups=cfg.num_conv_pos_embedding_groups)
        self.conv = nn.utils.weight_norm(conv, name="weight", dim=2)
        self.num_pad_remove = 1 if k % 2 == 0 else 0

    def forward(self, x):  # [B, T, H]
        y = self.conv(x.transpose(1, 2))
        if self.num_pad_remove:
            y = y[:, :, :-self.num_pad_remove]
        return F.gelu(y).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, cfg: W2VConfig):
        super().__init__()
        h = cfg.hidden_size
        self.num_heads = cfg.num_attention_heads
        self.head_dim = h // self.num_heads
        self.scaling = self.head_dim ** -0.5
        # Same creation order as HF so state_dict order matches (k, v, q, out).
        self.k_proj = nn.Linear(h, h)
        self.v_proj = nn.Linear(h, h)
        self.q_proj = nn.Linear(h, h)
        self.out_proj = nn.Linear(h, h)

    def forward(self, x, additive_mask=None):  # x [B, T, H]; mask [B, 1, T, T] or None
        b, t, h = x.shape
        q = (self.q_proj(x) * self.scaling).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        w = torch.matmul(q, k.transpose(2, 3))
        if additive_mask is not None:
            w = w + additive_mask
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, v).transpose(1, 2).reshape(b, t, h)
        return self.out_proj(o)


class FeedForward(nn.Module):
    def __init__(self, cfg: W2VConfig):
        super().__init__()
        self.intermediate_dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.output_dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x):
        return self.output_dense(F.gelu(self.intermediate_dense(x)))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: W2VConfig):
        super().__init__()
        self.stable = cfg.do_stable_layer_norm
        self.attention = Attention(cfg)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.feed_forward = FeedForward(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x, mask=None):
        if self.stable:  # pre-LN
            x = x + self.attention(self.layer_norm(x), mask)
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.attention(x, mask))  # post-LN
        return self.final_layer_norm(x + self.feed_forward(x))


class Encoder(nn.Module):
    def __init__(self, cfg: W2VConfig):
        super().__init__()
        self.stable = cfg.do_stable_layer_norm
        self.pos_conv_embed = PositionalConvEmbedding(cfg)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList([EncoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x, frame_mask=None):  # x [B, T, H]; frame_mask bool [B, T] or None
        additive = None
        if frame_mask is not None:
            x = x * frame_mask[:, :, None].to(x.dtype)  # padded frames zeroed before pos conv
            inv = 1.0 - frame_mask[:, None, None, :].to(x.dtype)
            additive = (inv * torch.finfo(x.dtype).min).expand(-1, 1, x.shape[1], x.shape[1])
        x = x + self.pos_conv_embed(x)
        if not self.stable:
            x = self.layer_norm(x)
        for layer in self.layers:
            x = layer(x, additive)
        if self.stable:
            x = self.layer_norm(x)
        return x


def conv_output_lengths(cfg: W2VConfig, lengths: torch.Tensor) -> torch.Tensor:
    """Frames produced from `lengths` samples: L = floor((L - k) / s) + 1 per conv."""
    for k, s in zip(cfg.conv_kernel, cfg.conv_stride):
        lengths = torch.div(lengths - k, s, rounding_mode="floor") + 1
    return lengths


class Wav2Vec2Model(nn.Module):
    """HF Wav2Vec2Model / HubertModel (inference path)."""

    def __init__(self, cfg: W2VConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.has_masked_spec_embed:  # unused at inference, but present in checkpoints
            self.masked_spec_embed = nn.Parameter(torch.zeros(cfg.hidden_size))
        self.feature_extractor = FeatureEncoder(cfg)
        self.feature_projection = FeatureProjection(cfg)
        self.encoder = Encoder(cfg)

    def forward(self, wav, attention_mask=None):
        """wav [B, S]; attention_mask [B, S] (1 = valid sample) or None -> [B, T, H]."""
        feats = self.feature_extractor(wav).transpose(1, 2)
        frame_mask = None
        if attention_mask is not None:
            lengths = conv_output_lengths(self.cfg, attention_mask.sum(-1).long())
            t = torch.arange(feats.shape[1])[None, :]
            frame_mask = t < lengths[:, None]
        x = self.feature_projection(feats)
        return self.encoder(x, frame_mask)


class ForCTC(nn.Module):
    """Wav2Vec2ForCTC (prefix `wav2vec2.`) or HubertForCTC (prefix `hubert.`)."""

    def __init__(self, cfg: W2VConfig):
        super().__init__()
        body = Wav2Vec2Model(cfg)
        if cfg.model_type == "hubert":
            self.hubert = body
        else:
            self.wav2vec2 = body
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size)

    @property
    def body(self) -> Wav2Vec2Model:
        return self.hubert if hasattr(self, "hubert") else self.wav2vec2

    def forward(self, wav, attention_mask=None):  # -> log-probs [B, T, V]
        logits = self.lm_head(self.body(wav, attention_mask))
        return F.log_softmax(logits, dim=-1)


def hf_normalize(x: np.ndarray) -> np.ndarray:
    """Wav2Vec2FeatureExtractor do_normalize on one unpadded utterance (float32 numpy)."""
    x = np.asarray(x, dtype=np.float32)
    return (x - x.mean()) / np.sqrt(x.var() + 1e-7)


def hf_processor_batch(wavs: List[np.ndarray], do_normalize: bool, return_attention_mask: bool):
    """What Wav2Vec2FeatureExtractor(padding=True) produces for a batch (current transformers):
    zero padding to the longest; with return_attention_mask each utterance is normalised over
    its valid samples and its padding reset to 0.0; WITHOUT it (base / group-norm configs) there
    is no mask and each padded row is normalised as a whole (padding zeros included).
    Returns (input [B, S] float32, mask [B, S] int64 or None)."""
    n = max(len(w) for w in wavs)
    batch = np.zeros((len(wavs), n), np.float32)
    mask = np.zeros((len(wavs), n), np.int64)
    for i, w in enumerate(wavs):
        batch[i, :len(w)] = w
        mask[i, :len(w)] = 1
        if do_normalize and return_attention_mask:
            batch[i, :len(w)] = hf_normalize(w)
        elif do_normalize:
            batch[i] = hf_normalize(batch[i])
    return torch.from_numpy(batch), (torch.from_numpy(mask) if return_attention_mask else None)


# ---------------------------------------------------------------------------------------------
# SpeechBrain EncoderASR head
# ---------------------------------------------------------------------------------------------
class SBLinear(nn.Module):
    """speechbrain.nnet.linear.Linear: the nn.Linear lives in `.w`."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.w = nn.Linear(cin, cout, bias=True)

    def forward(self, x):
        return self.w(x)


class SBBatchNorm1d(nn.Module):
    """speechbrain.nnet.normalization.BatchNorm1d: nn.BatchNorm1d in `.norm` (eps 1e-5) over the
    channel axis of [B, T, C] input; eval mode uses running statistics."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(c, eps=1e-5, momentum=0.1)

    def forward(self, x):
        return self.norm(x.transpose(-1, 1)).transpose(-1, 1)


class SBEnc(nn.Module):
    """The recipe's `enc` Sequential: 3 x (linearN, bnN, activationN, [dropN])."""

    def __init__(self, cin: int, n: int):
        super().__init__()
        self.linear1 = SBLinear(cin, n)
        self.bn1 = SBBatchNorm1d(n)
        self.linear2 = SBLinear(n, n)
        self.bn2 = SBBatchNorm1d(n)
        self.linear3 = SBLinear(n, n)
        self.bn3 = SBBatchNorm1d(n)

    def forward(self, x):
        for lin, bn in ((self.linear1, self.bn1), (self.linear2, self.bn2),
                        (self.linear3, self.bn3)):
            x = F.leaky_relu(bn(lin(x)), 0.01)  # dropout is identity in eval
        return x


class SBWav2Vec2Lobe(nn.Module):
    """speechbrain.lobes.models.huggingface_transformers.wav2vec2.Wav2Vec2 (frozen, inference)."""

    def __init__(self, cfg: W2VConfig, normalize_wav: bool, output_norm: bool):
        super().__init__()
        self.model = Wav2Vec2Model(cfg)
        self.normalize_wav = normalize_wav
        self.output_norm = output_norm

    def forward(self, wav, wav_lens=None):
        mask = None
        if wav_lens is not None:  # make_padding_masks: abs_len = round(rel * S)
            abs_len = torch.round(wav_lens * wav.shape[1])
            mask = (torch.arange(wav.shape[1])[None, :] < abs_len[:, None]).long()
        if self.normalize_wav:
            wav = F.layer_norm(wav, wav.shape[1:])  # over the whole padded row, eps 1e-5
        out = self.model(wav, mask)
        if self.output_norm:
            out = F.layer_norm(out, out.shape[1:])  # over [T, C] jointly, no affine
        return out


class SBEncoderASR(nn.Module):
    """mods.encoder = LengthsCapableSequential(wav2vec2, enc, ctc_lin, log_softmax). The lobe's
    forward names its lengths argument `wav_lens`, so LengthsCapableSequential never passes it:
    the lobe runs WITHOUT an attention mask in EncoderASR."""

    def __init__(self, cfg: W2VConfig, dnn_neurons: int, n_out: int, normalize_wav: bool,
                 output_norm: bool):
        super().__init__()
        self.wav2vec2 = SBWav2Vec2Lobe(cfg, normalize_wav, output_norm)
        self.asr = nn.ModuleList([SBEnc(cfg.hidden_size, dnn_neurons),
                                  SBLinear(dnn_neurons, n_out)])

    def forward(self, wavs, wav_lens=None):  # wav_lens accepted but not forwarded to the lobe
        x = self.wav2vec2(wavs)
        x = self.asr[1](self.asr[0](x))
        return F.log_softmax(x, dim=-1)


def sb_kept_frames(wav_lens: torch.Tensor, t: int) -> List[int]:
    """ctc_greedy_decode keeps int(round(rel_len * T)) frames (float32 arithmetic)."""
    return [int(torch.round(r * t)) for r in wav_lens.to(torch.float32)]


def ctc_collapse(ids: List[int], blank: int) -> List[int]:
    """Collapse repeats, then drop blanks."""
    out, prev = [], None
    for i in ids:
        if i != prev and i != blank:
            out.append(i)
        prev = i
    return out


def torchaudio_state_dict(hf_sd: dict, prefix: str) -> dict:
    """Map a HF *ForCTC state dict to torchaudio 0.13's Wav2Vec2Model (import_huggingface)."""
    out = {}
    for k, v in hf_sd.items():
        if k.startswith("lm_head."):
            out["aux." + k[len("lm_head."):]] = v
            continue
        k = k[len(prefix):]
        if k.startswith("feature_extractor."):
            out[k] = v
        elif k.startswith("feature_projection."):
            out["encoder." + k] = v
        elif k.startswith("encoder."):
            out["encoder.transformer." + k[len("encoder."):]] = v
    return out
