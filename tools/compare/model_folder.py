"""Build the PyTorch reference model (tools/reference/wav2vec2_ref.py) from a model folder on disk,
reading the same files quasr reads. Supports SpeechBrain EncoderASR folders (hyperparams.yaml,
wav2vec2.ckpt, asr.ckpt; the lobe's config.json from a local `wav2vec2_hub` folder or from the
HF hub-cache layout under `wav2vec2_folder`) and Hugging Face Wav2Vec2ForCTC / HubertForCTC folders
(config.json + model.safetensors or pytorch_model.bin)."""

import json
import os
import sys

import torch
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "reference"))

import formats  # noqa: E402
from wav2vec2_ref import ForCTC, SBEncoderASR, W2VConfig  # noqa: E402


class _TagTolerantLoader(yaml.SafeLoader):
    """HyperPyYAML files carry !new:/!name:/!ref tags; keep the plain values, drop the tags."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TagTolerantLoader.add_multi_constructor("!", _any_tag)


def read_hyperparams(path):
    with open(path, encoding="utf-8") as f:
        hp = yaml.load(f, Loader=_TagTolerantLoader)  # noqa: S506 (SafeLoader subclass)

    def resolve(v):  # "!ref <name>" -> the top-level value
        if isinstance(v, str) and v.startswith("<") and v.endswith(">") and v[1:-1] in hp:
            return resolve(hp[v[1:-1]])
        return v
    return hp, resolve


def config_from_json(d):
    cfg = W2VConfig()
    for key in ("model_type", "conv_bias", "feat_extract_norm", "hidden_size",
                "num_hidden_layers", "num_attention_heads", "intermediate_size", "layer_norm_eps",
                "num_conv_pos_embeddings", "num_conv_pos_embedding_groups", "do_stable_layer_norm",
                "vocab_size", "pad_token_id", "feat_proj_layer_norm"):
        if key in d:
            setattr(cfg, key, d[key])
    for key in ("conv_dim", "conv_kernel", "conv_stride"):
        setattr(cfg, key, tuple(d[key]))
    return cfg


def _rename_parametrizations(sd):
    """torch>=2.1 weight-norm names -> the weight_g / weight_v the reference module uses."""
    out = {}
    for k, v in sd.items():
        k = k.replace(".parametrizations.weight.original0", ".weight_g")
        k = k.replace(".parametrizations.weight.original1", ".weight_v")
        out[k] = v
    return out


def _sb_source_dir(mdir, hp, resolve):
    hub = str(resolve(hp.get("wav2vec2_hub", "")))
    local = hub if os.path.isabs(hub) else os.path.join(mdir, hub)
    if os.path.isfile(os.path.join(local, "config.json")):
        return local
    save = str(resolve(hp.get("wav2vec2_folder", "")))
    root = os.path.join(mdir, save, "models--" + hub.replace("/", "--"))
    with open(os.path.join(root, "refs", "main"), encoding="utf-8") as f:
        commit = f.read().strip()
    return os.path.join(root, "snapshots", commit)


def load_speechbrain(mdir):
    hp, resolve = read_hyperparams(os.path.join(mdir, "hyperparams.yaml"))
    src = _sb_source_dir(mdir, hp, resolve)
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        cfg = config_from_json(json.load(f))
    normalize_wav = False
    pre = os.path.join(src, "preprocessor_config.json")
    if os.path.isfile(pre):
        with open(pre, encoding="utf-8") as f:
            normalize_wav = bool(json.load(f).get("do_normalize", False))
    lobe = hp.get("wav2vec2") or {}
    output_norm = str(resolve(lobe.get("output_norm", True))).lower() == "true"
    lobe_sd = _rename_parametrizations(torch.load(os.path.join(mdir, "wav2vec2.ckpt"),
                                                  map_location="cpu"))
    asr_sd = torch.load(os.path.join(mdir, "asr.ckpt"), map_location="cpu")
    cfg.has_masked_spec_embed = "model.masked_spec_embed" in lobe_sd
    dnn, n_out = asr_sd["0.linear1.w.weight"].shape[0], asr_sd["1.w.weight"].shape[0]
    model = SBEncoderASR(cfg, dnn, n_out, normalize_wav=normalize_wav, output_norm=output_norm)
    model.wav2vec2.load_state_dict(lobe_sd, strict=True)
    model.asr.load_state_dict(asr_sd, strict=True)
    return model.eval()


def load_huggingface(mdir):
    with open(os.path.join(mdir, "config.json"), encoding="utf-8") as f:
        cfg = config_from_json(json.load(f))
    st = os.path.join(mdir, "model.safetensors")
    sd = formats.read_safetensors(st) if os.path.isfile(st) else torch.load(
        os.path.join(mdir, "pytorch_model.bin"), map_location="cpu")
    sd = _rename_parametrizations(sd)
    prefix = "hubert." if cfg.model_type == "hubert" else "wav2vec2."
    cfg.has_masked_spec_embed = prefix + "masked_spec_embed" in sd
    model = ForCTC(cfg)
    model.load_state_dict(sd, strict=True)
    return model.eval()


def load_model_folder(mdir):
    if os.path.isfile(os.path.join(mdir, "hyperparams.yaml")):
        return load_speechbrain(mdir)
    return load_huggingface(mdir)
