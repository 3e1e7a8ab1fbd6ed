"""Variant definitions and random initialisation of the tiny fixture models."""

import math
from dataclasses import dataclass, field
from typing import Dict, Optional

import torch

from wav2vec2_ref import W2VConfig

BASE960H_VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", "E", "T", "A", "O", "N", "I", "H", "S", "R",
                  "D", "L", "U", "M", "W", "C", "F", "G", "Y", "P", "B", "V", "K", "'", "X", "J",
                  "Q", "Z"]


@dataclass
class Variant:
    name: str
    kind: str  # "hf" or "sb"
    cfg: W2VConfig
    seed: int
    description: str
    # hf
    weights: str = ""  # "bin" or "safetensors"
    pos_conv_naming: str = "weight_g"  # or "parametrizations"
    vocab_layout: str = "base960h"  # or "recipe"
    do_normalize: bool = True
    return_attention_mask: bool = False
    # sb
    sb_source: str = ""  # "local" or "hfcache"
    dnn_neurons: int = 32
    sp_vocab: int = 40
    output_norm: bool = True
    extra: Dict = field(default_factory=dict)


def variants():
    return [
        Variant(
            name="hf_base_bin", kind="hf", seed=101,
            cfg=W2VConfig(model_type="wav2vec2", conv_dim=(32, 32, 32, 32),
                          conv_kernel=(10, 3, 3, 2), conv_stride=(5, 2, 2, 2), conv_bias=False,
                          feat_extract_norm="group", do_stable_layer_norm=False,
                          num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4,
                          vocab_size=32, pad_token_id=0),
            weights="bin", pos_conv_naming="weight_g", vocab_layout="base960h",
            do_normalize=True, return_attention_mask=False,
            description="wav2vec2-base style: GroupNorm after conv 0 only, no conv bias, post-LN "
                        "encoder, pos conv K=8 (even: last frame dropped) G=4 stored as "
                        "weight_g/weight_v, pytorch_model.bin (torch 1.13 zip), base-960h vocab"),
        Variant(
            name="hf_large_st", kind="hf", seed=202,
            cfg=W2VConfig(model_type="wav2vec2", conv_dim=(32, 32, 32),
                          conv_kernel=(10, 4, 4), conv_stride=(5, 4, 4), conv_bias=True,
                          feat_extract_norm="layer", do_stable_layer_norm=True,
                          num_conv_pos_embeddings=7, num_conv_pos_embedding_groups=2,
                          vocab_size=31, pad_token_id=28),
            weights="safetensors", pos_conv_naming="parametrizations", vocab_layout="recipe",
            do_normalize=True, return_attention_mask=True,
            description="wav2vec2-large-lv60 style: LayerNorm after every conv, conv bias, stable "
                        "(pre-LN) encoder + final LN, pos conv K=7 (odd) G=2 stored as "
                        "parametrizations.weight.original0/1, model.safetensors, fine-tuning "
                        "recipe vocab (| = 0, [UNK], [PAD] = blank = 28 last in vocab.json) plus "
                        "added_tokens.json <s>=29 </s>=30 so vocab_size 31 > len(vocab.json)"),
        Variant(
            name="hf_hubert", kind="hf", seed=303,
            cfg=W2VConfig(model_type="hubert", conv_dim=(32, 24, 32, 40),
                          conv_kernel=(10, 3, 3, 2), conv_stride=(5, 3, 2, 2), conv_bias=True,
                          feat_extract_norm="layer", do_stable_layer_norm=True,
                          num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4,
                          vocab_size=32, pad_token_id=0),
            weights="bin", pos_conv_naming="parametrizations", vocab_layout="base960h",
            do_normalize=True, return_attention_mask=True,
            description="hubert-large-ls960-ft style HubertForCTC (prefix hubert.): LayerNorm "
                        "convs with unequal channels (32,24,32,40) so feature_projection is "
                        "40->32, stable encoder, pos conv K=8 G=4 as parametrizations naming, "
                        "pytorch_model.bin"),
        Variant(
            name="sb_local", kind="sb", seed=404,
            cfg=W2VConfig(model_type="wav2vec2", conv_dim=(32, 32, 32, 32),
                          conv_kernel=(10, 3, 3, 2), conv_stride=(5, 2, 2, 2), conv_bias=True,
                          feat_extract_norm="layer", do_stable_layer_norm=True,
                          num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4,
                          vocab_size=32, pad_token_id=0),
            pos_conv_naming="parametrizations", do_normalize=True, sb_source="local",
            dnn_neurons=48, sp_vocab=40, output_norm=True,
            description="SpeechBrain EncoderASR like asr-wav2vec2-commonvoice-14-en: lobe on a "
                        "large-lv60-style Wav2Vec2Model (layer-norm convs, stable LN, pos conv "
                        "K=8 G=4 parametrizations naming), wav2vec2_hub = a local folder "
                        "(./wav2vec2_source with config.json + preprocessor_config.json), "
                        "normalize_wav true, output_norm true, enc 3x(Linear 32/48->48, BatchNorm "
                        "running stats, LeakyReLU), ctc_lin 48->40, SentencePiece unigram 40"),
        Variant(
            name="sb_hfcache", kind="sb", seed=505,
            cfg=W2VConfig(model_type="wav2vec2", conv_dim=(32, 32, 32, 32),
                          conv_kernel=(10, 3, 3, 2), conv_stride=(5, 2, 2, 2), conv_bias=False,
                          feat_extract_norm="group", do_stable_layer_norm=False,
                          num_conv_pos_embeddings=7, num_conv_pos_embedding_groups=2,
                          vocab_size=32, pad_token_id=0),
            pos_conv_naming="weight_g", do_normalize=False, sb_source="hfcache",
            dnn_neurons=32, sp_vocab=36, output_norm=False,
            description="SpeechBrain EncoderASR whose wav2vec2_hub is a hub id "
                        "(quasr-fixtures/wav2vec2-tiny-base); its config.json / "
                        "preprocessor_config.json are found only in the HF cache layout under "
                        "save_path wav2vec2_checkpoint/models--quasr-fixtures--wav2vec2-tiny-base/"
                        "snapshots/<commit>/ (symlinks into blobs/). base-style group-norm "
                        "post-LN model, pos conv K=7 G=2 as weight_g/weight_v, do_normalize "
                        "false (normalize_wav off), output_norm false, SentencePiece unigram 36"),
    ]


def _ln_init(mod, g):
    with torch.no_grad():
        mod.weight.copy_(1.0 + 0.2 * torch.randn(mod.weight.shape, generator=g))
        mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))


def init_w2v_model(model, cfg: W2VConfig, g: torch.Generator):
    """Non-trivial random weights: every norm has non-identity affine params, pos-conv g varies
    per tap, activations stay O(1)."""
    with torch.no_grad():
        if hasattr(model, "masked_spec_embed"):
            model.masked_spec_embed.copy_(torch.rand(model.masked_spec_embed.shape, generator=g))
        for i, layer in enumerate(model.feature_extractor.conv_layers):
            w = layer.conv.weight
            fan_in = w.shape[1] * w.shape[2]
            gain = 4.0 if i == 0 else 1.6
            w.copy_(torch.randn(w.shape, generator=g) * gain / math.sqrt(fan_in))
            if layer.conv.bias is not None:
                layer.conv.bias.copy_(0.1 * torch.randn(layer.conv.bias.shape, generator=g))
            if hasattr(layer, "layer_norm"):
                _ln_init(layer.layer_norm, g)
        fp = model.feature_projection
        if fp.use_ln:
            _ln_init(fp.layer_norm, g)
        _lin_init(fp.projection, g, 1.0)
        pc = model.encoder.pos_conv_embed.conv
        pc.weight_v.copy_(torch.randn(pc.weight_v.shape, generator=g))
        pc.weight_g.copy_(1.0 + 2.0 * torch.rand(pc.weight_g.shape, generator=g))
        pc.bias.copy_(0.1 * torch.randn(pc.bias.shape, generator=g))
        _ln_init(model.encoder.layer_norm, g)
        for layer in model.encoder.layers:
            for lin in (layer.attention.k_proj, layer.attention.v_proj, layer.attention.q_proj,
                        layer.attention.out_proj):
                _lin_init(lin, g, 1.0)
            _ln_init(layer.layer_norm, g)
            _lin_init(layer.feed_forward.intermediate_dense, g, 1.0)
            _lin_init(layer.feed_forward.output_dense, g, 1.0)
            _ln_init(layer.final_layer_norm, g)


def _lin_init(lin, g, gain):
    w = lin.weight
    w.copy_(torch.randn(w.shape, generator=g) * gain / math.sqrt(w.shape[1]))
    if lin.bias is not None:
        lin.bias.copy_(0.1 * torch.randn(lin.bias.shape, generator=g))


def init_ctc_head(lin, g, blank: int, specials, scale=0.6):
    """Larger output weights so log-probs are peaked; specials pushed down so greedy text is
    mostly letters; blank slightly favoured like a trained CTC model."""
    with torch.no_grad():
        lin.weight.copy_(torch.randn(lin.weight.shape, generator=g) * scale)
        lin.bias.copy_(0.2 * torch.randn(lin.bias.shape, generator=g))
        for s in specials:
            lin.bias[s] -= 6.0
        lin.bias[blank] += 4.0


def init_sb_enc(enc, g):
    with torch.no_grad():
        for lin, bn in ((enc.linear1, enc.bn1), (enc.linear2, enc.bn2), (enc.linear3, enc.bn3)):
            _lin_init(lin.w, g, 1.4)
            n = bn.norm
            n.weight.copy_(1.0 + 0.2 * torch.randn(n.weight.shape, generator=g))
            n.bias.copy_(0.1 * torch.randn(n.bias.shape, generator=g))
            n.running_mean.copy_(0.3 * torch.randn(n.running_mean.shape, generator=g))
            n.running_var.copy_(0.5 + 1.5 * torch.rand(n.running_var.shape, generator=g))
            n.num_batches_tracked.fill_(4321)
