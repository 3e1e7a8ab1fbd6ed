#!/usr/bin/python3
"""Write random-weight, full-size wav2vec2 CTC models in the SpeechBrain EncoderASR layout
(the layout of speechbrain/asr-wav2vec2-commonvoice-14-en, the quantization tutorial's model)
for speed / memory comparisons. The weights are untrained: the transcripts are noise, only
timing, memory and size are meaningful.

    /usr/bin/python3 tools/compare/make_random_model.py [--out /work/scratch/compare/models]
        [--only base|large] [--force]

base:  wav2vec2-base shape: 7 convs 512 ch (GroupNorm after conv 0, no conv bias), post-LN
       encoder 12 x 768, FFN 3072, 12 heads, pos conv K=128 G=16.
large: wav2vec2-large-lv60 shape: LayerNorm after every conv, conv bias, stable (pre-LN)
       encoder 24 x 1024, FFN 4096, 16 heads, pos conv K=128 G=16.
Both: SB head enc = 3 x (Linear -> 1024, BatchNorm1d, LeakyReLU), ctc_lin 1024 -> 1000, a
SentencePiece unigram tokenizer with 1000 pieces, normalize_wav and output_norm on.

Initialisation follows HF Wav2Vec2PreTrainedModel._init_weights so activations have the ranges of
a freshly initialised real model: Linear normal(0, 0.02) with zero bias, feature-extractor convs
kaiming_normal, pos conv v ~ normal(0, 2/sqrt(K*H)) with weight-norm g = ||v||, LayerNorm /
GroupNorm weight 1 bias 0; BatchNorm running stats close to what the enc linears produce.

The writers are tools/reference/sb_files.py (reused, so quasr reads exactly the fixture format).
"""

import argparse
import math
import os
import random
import shutil
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))

import sb_files  # noqa: E402
from variants import Variant  # noqa: E402
from wav2vec2_ref import SBEncoderASR, W2VConfig  # noqa: E402

DNN_NEURONS = 1024
VOCAB = 1000
BASE_CONV = dict(conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2),
                 conv_stride=(5, 2, 2, 2, 2, 2, 2), num_conv_pos_embeddings=128,
                 num_conv_pos_embedding_groups=16, layer_norm_eps=1e-5, vocab_size=32,
                 pad_token_id=0)

CONFIGS = {
    "base": W2VConfig(model_type="wav2vec2", conv_bias=False, feat_extract_norm="group",
                      do_stable_layer_norm=False, hidden_size=768, num_hidden_layers=12,
                      num_attention_heads=12, intermediate_size=3072, **BASE_CONV),
    "large": W2VConfig(model_type="wav2vec2", conv_bias=True, feat_extract_norm="layer",
                       do_stable_layer_norm=True, hidden_size=1024, num_hidden_layers=24,
                       num_attention_heads=16, intermediate_size=4096, **BASE_CONV),
}
SEEDS = {"base": 1001, "large": 2002}


def tokenizer_sentences(n=6000, seed=11):
    """Composed text for a 1000-piece unigram model: pseudo-words built from syllables (enough
    distinct substrings for 1000 pieces) mixed with the fixture generator's English sentences."""
    rng = random.Random(seed)
    onsets = ["", "B", "BR", "CH", "D", "DR", "F", "FL", "G", "GR", "H", "K", "L", "M", "N", "P",
              "PL", "R", "S", "SH", "ST", "T", "TH", "TR", "V", "W", "Y", "Z"]
    vowels = ["A", "E", "I", "O", "U", "AI", "EA", "OO", "OU", "IE"]
    codas = ["", "", "N", "R", "S", "T", "L", "ND", "NG", "CK", "SS", "RT", "M"]
    words = ["".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                     for _ in range(rng.randint(1, 3))) for _ in range(4000)]
    out = sb_files_sentences()
    for _ in range(n):
        out.append(" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))))
    return out


sb_files_sentences = sb_files.training_sentences


def init_model(model: SBEncoderASR, cfg: W2VConfig, seed: int):
    g = torch.Generator().manual_seed(seed)
    w2v = model.wav2vec2.model
    with torch.no_grad():
        w2v.masked_spec_embed.uniform_(0.0, 1.0, generator=g)
        for mod in model.modules():
            if isinstance(mod, torch.nn.Linear):
                mod.weight.normal_(0.0, 0.02, generator=g)
                mod.bias.zero_()
            elif isinstance(mod, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
                mod.weight.fill_(1.0)
                mod.bias.zero_()
        for layer in w2v.feature_extractor.conv_layers:
            w = layer.conv.weight  # kaiming_normal_, fan_in, gain sqrt(2)
            w.normal_(0.0, math.sqrt(2.0 / (w.shape[1] * w.shape[2])), generator=g)
            if layer.conv.bias is not None:
                bound = 1.0 / math.sqrt(w.shape[1] * w.shape[2])
                layer.conv.bias.uniform_(-bound, bound, generator=g)
        pc = w2v.encoder.pos_conv_embed.conv
        k = pc.weight_v.shape[2]
        pc.weight_v.normal_(0.0, 2.0 * math.sqrt(1.0 / (k * cfg.hidden_size)), generator=g)
        pc.weight_g.copy_(torch.linalg.vector_norm(pc.weight_v, dim=(0, 1), keepdim=True))
        pc.bias.zero_()
        fp = w2v.feature_projection.projection  # HF: uniform(-1/sqrt(in), 1/sqrt(in))
        bound = 1.0 / math.sqrt(fp.in_features)
        fp.weight.uniform_(-bound, bound, generator=g)
        fp.bias.uniform_(-bound, bound, generator=g)
        enc = model.asr[0]
        for i, bn in enumerate((enc.bn1, enc.bn2, enc.bn3)):
            n = bn.norm
            n.weight.fill_(1.0)
            n.bias.zero_()
            # linear1 sees the unit-variance output_norm features: var ~ in * 0.02^2
            fan_in = cfg.hidden_size if i == 0 else DNN_NEURONS
            var = fan_in * 0.02 ** 2 * (1.0 if i == 0 else 0.5)
            n.running_mean.normal_(0.0, 0.05, generator=g)
            n.running_var.uniform_(0.8 * var, 1.2 * var, generator=g)
            n.num_batches_tracked.fill_(100000)
    return model.eval()


def write_model(name: str, out_dir: str):
    cfg = CONFIGS[name]
    v = Variant(name="compare_" + name, kind="sb", cfg=cfg, seed=SEEDS[name],
                description="random-weight full-size %s model for quasr bench/compare" % name,
                pos_conv_naming="parametrizations", do_normalize=True, sb_source="local",
                dnn_neurons=DNN_NEURONS, sp_vocab=VOCAB, output_norm=True)
    torch.manual_seed(SEEDS[name])
    model = SBEncoderASR(cfg, DNN_NEURONS, VOCAB, normalize_wav=True, output_norm=True)
    init_model(model, cfg, SEEDS[name])
    tmp = out_dir + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    # sb_files trains the tokenizer on sb_files.training_sentences(); 400 short sentences over a
    # ~50-word vocabulary cannot give 1000 unigram pieces, so point it at the larger corpus.
    sb_files.training_sentences = tokenizer_sentences
    try:
        sb_files.write_sb_model(tmp, model, v)
    finally:
        sb_files.training_sentences = sb_files_sentences
    hp = os.path.join(tmp, "hyperparams.yaml")
    with open(hp, encoding="utf-8") as f:
        text = f.read().replace(
            "# Tiny random-weight test fixture written by quasr tools/make_model_fixtures.py",
            "# Random-weight full-size %s model written by quasr tools/compare/make_random_model.py"
            % name)
    with open(hp, "w", encoding="utf-8") as f:
        f.write(text)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.rename(tmp, out_dir)
    params = sum(p.numel() for p in model.parameters())
    return params


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/work/scratch/compare/models")
    ap.add_argument("--only", choices=sorted(CONFIGS), action="append")
    ap.add_argument("--force", action="store_true", help="rewrite existing models")
    args = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(HERE))
    if os.path.abspath(args.out).startswith(repo + os.sep):
        sys.exit("make_random_model: --out %s is inside the repository; use a scratch folder"
                 % args.out)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    for name in args.only or sorted(CONFIGS):
        dst = os.path.join(args.out, name)
        if os.path.exists(os.path.join(dst, "hyperparams.yaml")) and not args.force:
            print("%s: exists, kept (use --force to rewrite)" % dst)
            continue
        t0 = time.time()
        params = write_model(name, dst)
        print("%s: %d parameters, written in %.1f s" % (dst, params, time.time() - t0))


if __name__ == "__main__":
    main()
