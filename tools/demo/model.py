"""A small wav2vec2 + CTC recogniser laid out exactly like SpeechBrain's
EncoderASR on a Hugging Face Wav2Vec2Model (stable layer norm, layer-norm
conv extractor), so its state dicts carry the real key names.

Math follows HF Wav2Vec2Model and the SpeechBrain Wav2Vec2 lobe; module
attribute names are chosen so that state_dict() keys match them.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = {
    "architectures": ["Wav2Vec2Model"],
    "model_type": "wav2vec2",
    "feat_extract_norm": "layer",
    "feat_extract_activation": "gelu",
    "conv_bias": True,
    "conv_dim": [128, 128, 128, 128, 128, 128, 128],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "hidden_size": 192,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 768,
    "hidden_act": "gelu",
    "num_conv_pos_embeddings": 32,
    "num_conv_pos_embedding_groups": 8,
    "do_stable_layer_norm": True,
    "layer_norm_eps": 1e-5,
    "hidden_dropout": 0.1,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "feat_proj_dropout": 0.0,
    "final_dropout": 0.0,
    "layerdrop": 0.0,
    "apply_spec_augment": True,
    "mask_time_prob": 0.05,
    "mask_time_length": 5,
    "mask_feature_prob": 0.0,
    "initializer_range": 0.02,
    "vocab_size": 32,
}


class ConvLayer(nn.Module):
    """HF Wav2Vec2LayerNormConvLayer: conv -> LayerNorm over channels -> GELU."""

    def __init__(self, cin, cout, k, s, eps):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, stride=s, bias=True)
        self.layer_norm = nn.LayerNorm(cout, eps=eps, elementwise_affine=True)

    def forward(self, x):
        x = self.conv(x)
        x = self.layer_norm(x.transpose(1, 2)).transpose(1, 2)
        return F.gelu(x)


class FeatureExtractor(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dims = [1] + cfg["conv_dim"]
        self.conv_layers = nn.ModuleList(
            ConvLayer(dims[i], dims[i + 1], k, s, cfg["layer_norm_eps"])
            for i, (k, s) in enumerate(zip(cfg["conv_kernel"], cfg["conv_stride"])))

    def forward(self, wav):
        x = wav[:, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x


class FeatureProjection(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer_norm = nn.LayerNorm(cfg["conv_dim"][-1], eps=cfg["layer_norm_eps"])
        self.projection = nn.Linear(cfg["conv_dim"][-1], cfg["hidden_size"])
        self.dropout = nn.Dropout(cfg["feat_proj_dropout"])

    def forward(self, x):
        return self.dropout(self.projection(self.layer_norm(x)))


class PosConvEmbed(nn.Module):
    """Grouped conv with weight norm over dim 2; an even kernel drops the last frame."""

    def __init__(self, cfg):
        super().__init__()
        h, k = cfg["hidden_size"], cfg["num_conv_pos_embeddings"]
        conv = nn.Conv1d(h, h, k, padding=k // 2, groups=cfg["num_conv_pos_embedding_groups"])
        # HF initialisation before weight norm.
        nn.init.normal_(conv.weight, mean=0, std=2 * math.sqrt(1 / (k * h)))
        nn.init.constant_(conv.bias, 0)
        self.conv = nn.utils.weight_norm(conv, name="weight", dim=2)
        self.remove = 1 if k % 2 == 0 else 0

    def forward(self, x):  # x [B, T, H]
        y = self.conv(x.transpose(1, 2))
        if self.remove:
            y = y[:, :, :-self.remove]
        return F.gelu(y).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, h, heads, dropout):
        super().__init__()
        self.heads, self.head_dim = heads, h // heads
        self.scaling = self.head_dim ** -0.5
        self.q_proj, self.k_proj = nn.Linear(h, h), nn.Linear(h, h)
        self.v_proj, self.out_proj = nn.Linear(h, h), nn.Linear(h, h)
        self.dropout = dropout

    def forward(self, x, add_mask):
        b, t, h = x.shape
        q = (self.q_proj(x) * self.scaling).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        w = q @ k.transpose(-1, -2)
        if add_mask is not None:
            w = w + add_mask
        w = F.dropout(w.softmax(-1), self.dropout, self.training)
        return self.out_proj((w @ v).transpose(1, 2).reshape(b, t, h))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.intermediate_dense = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])
        self.output_dense = nn.Linear(cfg["intermediate_size"], cfg["hidden_size"])
        self.act_drop = nn.Dropout(cfg["activation_dropout"])
        self.out_drop = nn.Dropout(cfg["hidden_dropout"])

    def forward(self, x):
        return self.out_drop(self.output_dense(self.act_drop(F.gelu(self.intermediate_dense(x)))))


class EncoderLayerStableLN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.attention = Attention(h, cfg["num_attention_heads"], cfg["attention_dropout"])
        self.dropout = nn.Dropout(cfg["hidden_dropout"])
        self.layer_norm = nn.LayerNorm(h, eps=eps)
        self.feed_forward = FeedForward(cfg)
        self.final_layer_norm = nn.LayerNorm(h, eps=eps)

    def forward(self, x, add_mask):
        x = x + self.dropout(self.attention(self.layer_norm(x), add_mask))
        return x + self.feed_forward(self.final_layer_norm(x))


class EncoderStableLN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.pos_conv_embed = PosConvEmbed(cfg)
        self.layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(cfg["hidden_dropout"])
        self.layers = nn.ModuleList(EncoderLayerStableLN(cfg) for _ in range(cfg["num_hidden_layers"]))

    def forward(self, x, frame_mask):
        add_mask = None
        if frame_mask is not None:
            x = x.masked_fill(~frame_mask[..., None], 0.0)
            add_mask = (~frame_mask)[:, None, None, :].to(x.dtype) * torch.finfo(x.dtype).min
        x = self.dropout(x + self.pos_conv_embed(x))
        for layer in self.layers:
            x = layer(x, add_mask)
        return self.layer_norm(x)


class Wav2Vec2Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.feature_extractor = FeatureExtractor(cfg)
        self.feature_projection = FeatureProjection(cfg)
        self.masked_spec_embed = nn.Parameter(torch.empty(cfg["hidden_size"]).uniform_())
        self.encoder = EncoderStableLN(cfg)
        self._init()

    def _init(self):
        std = self.cfg["initializer_range"]
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, std)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv1d) and not hasattr(m, "weight_g"):
                nn.init.kaiming_normal_(m.weight)
                k = math.sqrt(m.groups / (m.in_channels * m.kernel_size[0]))
                nn.init.uniform_(m.bias, -k, k)

    def frames(self, n):
        for k, s in zip(self.cfg["conv_kernel"], self.cfg["conv_stride"]):
            n = torch.div(n - k, s, rounding_mode="floor") + 1
        return n

    def forward(self, wav, frame_mask=None, time_mask=None):
        x = self.feature_extractor(wav).transpose(1, 2)
        x = self.feature_projection(x)
        if time_mask is not None:
            x = torch.where(time_mask[..., None], self.masked_spec_embed.to(x.dtype), x)
        return self.encoder(x, frame_mask)


class Wav2Vec2Lobe(nn.Module):
    """SpeechBrain Wav2Vec2 lobe: optional waveform layer norm, HF model, optional
    output layer norm over [T, C]. Training normalises over the valid part of
    each padded row so that batch-1 inference (no padding) sees the same statistics."""

    def __init__(self, cfg, normalize_wav=True, output_norm=True):
        super().__init__()
        self.model = Wav2Vec2Model(cfg)
        self.normalize_wav, self.output_norm = normalize_wav, output_norm

    def forward(self, wav, wav_len=None, time_mask=None):
        b, n = wav.shape
        if wav_len is None:
            if self.normalize_wav:
                wav = F.layer_norm(wav, wav.shape[1:])
            out = self.model(wav)
            return F.layer_norm(out, out.shape[1:]) if self.output_norm else out
        smask = torch.arange(n)[None] < wav_len[:, None]
        if self.normalize_wav:
            cnt = wav_len[:, None].to(wav.dtype)
            mean = (wav * smask).sum(1, keepdim=True) / cnt
            var = (((wav - mean) * smask) ** 2).sum(1, keepdim=True) / cnt
            wav = ((wav - mean) / torch.sqrt(var + 1e-5)) * smask
        flen = self.model.frames(wav_len)
        fmask = torch.arange(int(self.model.frames(torch.tensor(n))))[None] < flen[:, None]
        out = self.model(wav, fmask, time_mask)
        if self.output_norm:
            m = fmask[..., None].to(out.dtype)
            cnt = flen[:, None, None].to(out.dtype) * out.shape[2]
            mean = (out * m).sum((1, 2), keepdim=True) / cnt
            var = (((out - mean) * m) ** 2).sum((1, 2), keepdim=True) / cnt
            out = (out - mean) / torch.sqrt(var + 1e-5)
        return out, flen, fmask


class SBLinear(nn.Module):
    """speechbrain.nnet.linear.Linear keeps its nn.Linear in `.w`."""

    def __init__(self, cin, cout):
        super().__init__()
        self.w = nn.Linear(cin, cout)

    def forward(self, x):
        return self.w(x)


class SBBatchNorm1d(nn.Module):
    """speechbrain.nnet.normalization.BatchNorm1d keeps its nn.BatchNorm1d in `.norm`."""

    def __init__(self, c):
        super().__init__()
        self.norm = nn.BatchNorm1d(c, eps=1e-5, momentum=0.1)

    def forward(self, x, fmask=None):  # x [B, T, C]
        if fmask is None:
            return self.norm(x.transpose(1, 2)).transpose(1, 2)
        # Statistics from valid frames only, so running stats match unpadded inference.
        y = torch.zeros_like(x)
        y[fmask] = self.norm(x[fmask])
        return y


class Enc(nn.Module):
    def __init__(self, cin, n, dropout):
        super().__init__()
        self.linear1, self.bn1 = SBLinear(cin, n), SBBatchNorm1d(n)
        self.drop = nn.Dropout(dropout)
        self.linear2, self.bn2 = SBLinear(n, n), SBBatchNorm1d(n)
        self.drop2 = nn.Dropout(dropout)
        self.linear3, self.bn3 = SBLinear(n, n), SBBatchNorm1d(n)

    def forward(self, x, fmask=None):
        x = self.drop(F.leaky_relu(self.bn1(self.linear1(x), fmask), 0.01))
        x = self.drop2(F.leaky_relu(self.bn2(self.linear2(x), fmask), 0.01))
        return F.leaky_relu(self.bn3(self.linear3(x), fmask), 0.01)


class DemoASR(nn.Module):
    def __init__(self, cfg, dnn_neurons, vocab, dropout=0.15, normalize_wav=True, output_norm=True):
        super().__init__()
        self.wav2vec2 = Wav2Vec2Lobe(cfg, normalize_wav, output_norm)
        self.enc = Enc(cfg["hidden_size"], dnn_neurons, dropout)
        self.ctc_lin = SBLinear(dnn_neurons, vocab)

    def forward(self, wav, wav_len=None, time_mask=None):
        """Returns log-probs [B, T, V] (and frame lengths when wav_len is given)."""
        if wav_len is None:
            return self.ctc_lin(self.enc(self.wav2vec2(wav))).log_softmax(-1)
        feats, flen, fmask = self.wav2vec2(wav, wav_len, time_mask)
        return self.ctc_lin(self.enc(feats, fmask)).log_softmax(-1), flen

    def asr_state_dict(self):
        return nn.ModuleList([self.enc, self.ctc_lin]).state_dict()
