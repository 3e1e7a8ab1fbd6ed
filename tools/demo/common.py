"""Helpers shared by train.py and evaluate.py: audio loading, greedy CTC, WER,
and writing/reading the SpeechBrain EncoderASR folder. The hyperparams.yaml
module section, preprocessor_config.json fields and tokenizer loading come
from the fixture writers in tools/reference (one description of the format)."""
import json
import os
import shutil
import sys

import torch
import torchaudio
import yaml

import model as model_lib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "reference"))
import hf_files  # noqa: E402
import sb_files  # noqa: E402


def load_manifest(path):
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            rec["path"] = os.path.join(base, rec["audio_filepath"])
            out.append(rec)
    return out


def load_audio(path):
    wav, sr = torchaudio.load(path)
    assert sr == 16000, f"{path}: sample rate {sr}, expected 16000"
    return wav.mean(0)


def greedy_ids(logp_row):
    ids = logp_row.argmax(-1).tolist()
    out, prev = [], None
    for i in ids:
        if i != prev and i != 0:
            out.append(i)
        prev = i
    return out


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = d[j]
            d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev = cur
    return d[len(b)]


def hyperparams_yaml(cfg, meta):
    """SpeechBrain EncoderASR hyperparams in the style of asr-wav2vec2-commonvoice-14-en."""
    n, h, v = meta["dnn_neurons"], cfg["hidden_size"], meta["output_neurons"]
    return f"""# ############################################################################
# Model: quasr demo -- small wav2vec2 (trained from scratch) + DNN + CTC
# Tokens: SentencePiece unigram ({v} pieces, id 0 = <unk> = CTC blank)
# Data: synthetic English speech (espeak-ng, flite, festival) + LJSpeech part
# Recipe: tools/demo/train.py (seed {meta['seed']}, {meta['epochs_done']} epochs)
# ############################################################################

sample_rate: 16000
# Local folder with the Hugging Face config.json + preprocessor_config.json
# describing the wav2vec2 architecture (path relative to this folder).
wav2vec2_hub: {meta['hub_dir']}
wav2vec2_folder: wav2vec2_checkpoint

# BPE parameters
token_type: unigram  # ["unigram", "bpe", "char"]
character_coverage: 1.0

# Model parameters
dnn_neurons: {n}
dnn_dropout: {meta['dnn_dropout']}

# Outputs
output_neurons: {v}  # unigram size, index(blank/unk) = 0

# Decoding parameters
blank_index: 0

""" + sb_files.encoder_asr_modules_yaml(h, meta["output_norm"], indent=4, ctc_cost=False)


def save_folder(out_dir, net, cfg, tokenizer_model_path, meta):
    """Writes the SpeechBrain folder: hyperparams.yaml, wav2vec2.ckpt, asr.ckpt,
    tokenizer.ckpt and <hub_dir>/{config,preprocessor_config}.json."""
    tmp = out_dir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, meta["hub_dir"]))
    torch.save(net.wav2vec2.state_dict(), os.path.join(tmp, "wav2vec2.ckpt"))
    torch.save(net.asr_state_dict(), os.path.join(tmp, "asr.ckpt"))
    shutil.copyfile(tokenizer_model_path, os.path.join(tmp, "tokenizer.ckpt"))
    with open(os.path.join(tmp, "hyperparams.yaml"), "w") as f:
        f.write(hyperparams_yaml(cfg, meta))
    with open(os.path.join(tmp, meta["hub_dir"], "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    pre = hf_files.preprocessor_config(bool(meta["normalize_wav"]), True)
    with open(os.path.join(tmp, meta["hub_dir"], "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)
    with open(os.path.join(tmp, "training_meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.rename(tmp, out_dir)


def load_folder(folder):
    """Rebuilds DemoASR from a folder written by save_folder (PyTorch reference)."""
    with open(os.path.join(folder, "hyperparams.yaml")) as f:
        text = f.read()
    # Plain YAML view of the scalar fields (the !tags are SpeechBrain's).
    hp = {}
    for line in text.splitlines():
        if line and not line.startswith((" ", "#", "-")) and ":" in line and "!" not in line:
            k, v = line.split(":", 1)
            hp[k.strip()] = yaml.safe_load(v.split("#")[0]) if v.strip() else None
    hub = os.path.join(folder, hp["wav2vec2_hub"])
    with open(os.path.join(hub, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(hub, "preprocessor_config.json")) as f:
        pre = json.load(f)
    output_norm = "output_norm: True" in text
    net = model_lib.DemoASR(cfg, hp["dnn_neurons"], hp["output_neurons"], 0.0,
                            pre["do_normalize"], output_norm)
    net.wav2vec2.load_state_dict(torch.load(os.path.join(folder, "wav2vec2.ckpt")))
    torch.nn.ModuleList([net.enc, net.ctc_lin]).load_state_dict(
        torch.load(os.path.join(folder, "asr.ckpt")))
    return net.eval(), sb_files.SBDecoder(folder).sp
