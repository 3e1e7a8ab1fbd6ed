"""Hugging Face model folders (config.json, vocab.json, tokenizer/preprocessor configs, weights)."""

import json
import os
import string
from collections import OrderedDict
from itertools import groupby

import formats
from variants import BASE960H_VOCAB

RECIPE_CHARS = [" "] + list(string.ascii_lowercase)


def recipe_vocab_json():
    """The HF fine-tuning recipe: {c: i for i, c in enumerate(sorted(chars))}, then
    vocab["|"] = vocab[" "]; del vocab[" "]; [UNK] and [PAD] appended. Dict (file) order is
    insertion order, so `|` (id 0) is written after the letters."""
    d = OrderedDict((c, i) for i, c in enumerate(sorted(RECIPE_CHARS)))
    d["|"] = d[" "]
    del d[" "]
    d["[UNK]"] = len(d)
    d["[PAD]"] = len(d)
    return d


def vocab_tokens(v):
    """Token string per lm_head output id."""
    if v.vocab_layout == "base960h":
        toks = list(BASE960H_VOCAB)
    else:
        d = recipe_vocab_json()
        toks = [None] * len(d)
        for t, i in d.items():
            toks[i] = t
        toks += ["<s>", "</s>"]  # added_tokens.json: bos/eos are not in vocab.json
    assert len(toks) == v.cfg.vocab_size, (len(toks), v.cfg.vocab_size)
    return toks


def hf_config(v):
    c = v.cfg
    is_hubert = c.model_type == "hubert"
    d = {
        "_name_or_path": "quasr-fixtures/" + v.name,
        "activation_dropout": 0.1,
        "apply_spec_augment": True,
        "architectures": ["HubertForCTC" if is_hubert else "Wav2Vec2ForCTC"],
        "attention_dropout": 0.1,
        "bos_token_id": 1,
        "classifier_proj_size": 256,
        "conv_bias": c.conv_bias,
        "conv_dim": list(c.conv_dim),
        "conv_kernel": list(c.conv_kernel),
        "conv_stride": list(c.conv_stride),
        "ctc_loss_reduction": "sum",
        "ctc_zero_infinity": False,
        "do_stable_layer_norm": c.do_stable_layer_norm,
        "eos_token_id": 2,
        "feat_extract_activation": "gelu",
        "feat_extract_dropout": 0.0,
        "feat_extract_norm": c.feat_extract_norm,
        "feat_proj_dropout": 0.1,
        "final_dropout": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout": 0.1,
        "hidden_size": c.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": c.intermediate_size,
        "layer_norm_eps": c.layer_norm_eps,
        "layerdrop": 0.1,
        "mask_feature_length": 10,
        "mask_feature_prob": 0.0,
        "mask_time_length": 10,
        "mask_time_prob": 0.05,
        "model_type": c.model_type,
        "num_attention_heads": c.num_attention_heads,
        "num_conv_pos_embedding_groups": c.num_conv_pos_embedding_groups,
        "num_conv_pos_embeddings": c.num_conv_pos_embeddings,
        "num_feat_extract_layers": len(c.conv_dim),
        "num_hidden_layers": c.num_hidden_layers,
        "pad_token_id": c.pad_token_id,
        "torch_dtype": "float32",
        "transformers_version": "4.40.0",
        "use_weighted_layer_sum": False,
        "vocab_size": c.vocab_size,
    }
    if is_hubert:
        d["feat_proj_layer_norm"] = c.feat_proj_layer_norm
        d["conv_pos_batch_norm"] = False
    else:
        d.update({"codevector_dim": 256, "contrastive_logits_temperature": 0.1,
                  "diversity_loss_weight": 0.1, "feat_quantizer_dropout": 0.0,
                  "num_codevector_groups": 2, "num_codevectors_per_group": 320,
                  "num_negatives": 100, "proj_codevector_dim": 256, "adapter_kernel_size": 3,
                  "adapter_stride": 2, "add_adapter": False, "num_adapter_layers": 3,
                  "output_hidden_size": c.hidden_size})
    return d


def preprocessor_config(do_normalize: bool, return_attention_mask: bool):
    return OrderedDict([
        ("do_normalize", do_normalize),
        ("feature_extractor_type", "Wav2Vec2FeatureExtractor"),
        ("feature_size", 1),
        ("padding_side", "right"),
        ("padding_value", 0.0),
        ("return_attention_mask", return_attention_mask),
        ("sampling_rate", 16000),
    ])


def write_hf_model(mdir, model, v):
    sd = formats.clone_state_dict(model.state_dict())
    prefix = "hubert" if v.cfg.model_type == "hubert" else "wav2vec2"
    if v.pos_conv_naming == "parametrizations":
        sd = formats.to_parametrizations(sd, prefix + ".encoder.pos_conv_embed")
    if v.weights == "bin":
        formats.torch_save(sd, os.path.join(mdir, "pytorch_model.bin"))
    else:
        formats.write_safetensors(os.path.join(mdir, "model.safetensors"), sd)
        back = formats.read_safetensors(os.path.join(mdir, "model.safetensors"))
        assert all((back[k] == sd[k]).all() for k in sd) and len(back) == len(sd)
    formats.write_json(os.path.join(mdir, "config.json"), hf_config(v), sort_keys=True)
    formats.write_json(os.path.join(mdir, "preprocessor_config.json"),
                       preprocessor_config(v.do_normalize, v.return_attention_mask))
    if v.vocab_layout == "base960h":
        vocab = OrderedDict((t, i) for i, t in enumerate(BASE960H_VOCAB))
        tok = OrderedDict([("unk_token", "<unk>"), ("bos_token", "<s>"), ("eos_token", "</s>"),
                           ("pad_token", "<pad>"), ("do_lower_case", False),
                           ("return_attention_mask", v.return_attention_mask),
                           ("do_normalize", v.do_normalize), ("word_delimiter_token", "|"),
                           ("tokenizer_class", "Wav2Vec2CTCTokenizer")])
        special = OrderedDict([("bos_token", "<s>"), ("eos_token", "</s>"),
                               ("unk_token", "<unk>"), ("pad_token", "<pad>")])
        formats.write_json(os.path.join(mdir, "vocab.json"), vocab, indent=None)
    else:
        vocab = recipe_vocab_json()
        tok = OrderedDict([("unk_token", "[UNK]"), ("bos_token", "<s>"), ("eos_token", "</s>"),
                           ("pad_token", "[PAD]"), ("do_lower_case", False),
                           ("word_delimiter_token", "|"), ("replace_word_delimiter_char", " "),
                           ("tokenizer_class", "Wav2Vec2CTCTokenizer")])
        special = OrderedDict([("bos_token", "<s>"), ("eos_token", "</s>"),
                               ("unk_token", "[UNK]"), ("pad_token", "[PAD]")])
        formats.write_json(os.path.join(mdir, "vocab.json"), vocab, indent=None)
        formats.write_json(os.path.join(mdir, "added_tokens.json"),
                           OrderedDict([("</s>", 30), ("<s>", 29)]))
    formats.write_json(os.path.join(mdir, "tokenizer_config.json"), tok)
    formats.write_json(os.path.join(mdir, "special_tokens_map.json"), special)


class HFDecoder:
    """Wav2Vec2CTCTokenizer.decode defaults on already-collapsed, blank-free ids: ids -> tokens
    (vocab.json + added_tokens.json), group repeats (no-op here), drop the pad token, `|` -> " ",
    join, strip. Special tokens other than pad are kept literally (skip_special_tokens=False);
    fixtures push them (and the apostrophe, so clean_up_tokenization never applies) far down."""

    description = ("hf_wav2vec2_ctc_tokenizer: argmax per frame, collapse repeats, drop blank "
                   "(pad_token_id); id -> token via vocab.json (+ added_tokens.json); "
                   "word_delimiter_token '|' -> ' '; concatenate; strip")

    def __init__(self, mdir):
        with open(os.path.join(mdir, "vocab.json"), encoding="utf-8") as f:
            self.id2tok = {i: t for t, i in json.load(f).items()}
        added = os.path.join(mdir, "added_tokens.json")
        if os.path.exists(added):
            with open(added, encoding="utf-8") as f:
                self.id2tok.update({i: t for t, i in json.load(f).items()})
        with open(os.path.join(mdir, "tokenizer_config.json"), encoding="utf-8") as f:
            tc = json.load(f)
        self.pad, self.delim = tc["pad_token"], tc["word_delimiter_token"]

    def decode(self, ids):
        toks = [k for k, _ in groupby(self.id2tok[i] for i in ids)]
        toks = [" " if t == self.delim else t for t in toks if t != self.pad]
        text = "".join(toks).strip()
        assert "'" not in text and "<" not in text and "[" not in text, text
        return text
