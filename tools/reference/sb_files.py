"""SpeechBrain EncoderASR folders: hyperparams.yaml, wav2vec2.ckpt, asr.ckpt, tokenizer.ckpt and
the HF architecture files the lobe needs (local folder or HF hub-cache layout)."""

import hashlib
import json
import os
import random
import re
import shutil
import tempfile

import sentencepiece as spm

import formats
import hf_files

HUB_ID = "quasr-fixtures/wav2vec2-tiny-base"
SAVE_PATH = "wav2vec2_checkpoint"

_WORDS = {
    "subj": ["THE CAT", "A DOG", "MY SISTER", "THE OLD MAN", "OUR TEACHER", "THE CHILDREN",
             "HIS FRIEND", "THE DRIVER", "A SMALL BIRD", "THE FARMER", "HER MOTHER", "THE PILOT"],
    "verb": ["SAW", "FOUND", "WANTED", "BROUGHT", "PAINTED", "OPENED", "CARRIED", "FOLLOWED",
             "REMEMBERED", "WATCHED", "CLEANED", "DROPPED"],
    "obj": ["THE RED DOOR", "A HEAVY BOX", "THE QUIET RIVER", "SOME FRESH BREAD",
            "THE BROKEN WINDOW", "A LONG LETTER", "THE GREEN HILLS", "A WARM JACKET",
            "THE EMPTY STATION", "SEVEN APPLES", "THE WOODEN BRIDGE", "A STRANGE NOISE"],
    "tail": ["YESTERDAY", "IN THE MORNING", "AFTER DINNER", "NEAR THE LAKE", "BEFORE NOON",
             "EVERY SUMMER", "AT THE MARKET", "WITHOUT A WORD", "LAST NIGHT", "ON SUNDAY",
             "JUST IN TIME", "QUICKLY"],
}


def training_sentences(n=400, seed=7):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = " ".join(rng.choice(_WORDS[k]) for k in ("subj", "verb", "obj", "tail"))
        if rng.random() < 0.2:
            s += " AND IT WAS " + rng.choice(["JAZZY", "EXQUISITE", "VIVID", "ODD", "FUNNY"])
        out.append(s)
    return out


def train_tokenizer(vocab_size: int, dst: str, normalization_rule_name: str = "nmt_nfkc"):
    """Unigram model trained as speechbrain.tokenizers.SentencePiece does (unk 0, bos/eos/pad -1,
    max_sentencepiece_length 10, character_coverage 1.0, add_dummy_prefix)."""
    cwd = os.getcwd()
    tmp = tempfile.mkdtemp()
    try:
        os.chdir(tmp)  # trainer_spec stores the input path: keep it relative for determinism
        with open("train.txt", "w", encoding="utf-8") as f:
            f.write("\n".join(training_sentences()) + "\n")
        spm.SentencePieceTrainer.train(
            input="train.txt", model_prefix="%d_unigram" % vocab_size, model_type="unigram",
            bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, max_sentencepiece_length=10,
            character_coverage=1.0, add_dummy_prefix=True, vocab_size=vocab_size,
            normalization_rule_name=normalization_rule_name, num_threads=1, minloglevel=2)
        shutil.copyfile("%d_unigram.model" % vocab_size, dst)
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp)


HYPERPARAMS = """# ################################
# Model: wav2vec2 + DNN + CTC
# Augmentation: SpecAugment
# Tiny random-weight test fixture written by quasr tools/make_model_fixtures.py
# in the layout of speechbrain/asr-wav2vec2-commonvoice-14-en (not a trained model).
# ################################

sample_rate: 16000
wav2vec2_hub: {hub}
wav2vec2_folder: {save_path}

# BPE parameters
token_type: unigram  # ["unigram", "bpe", "char"]
character_coverage: 1.0

# Model parameters
dnn_neurons: {dnn}
dnn_dropout: 0.15

# Outputs
output_neurons: {nout}  # BPE size, index(blank/eos/bos) = 0

# Decoding parameters
blank_index: 0
bos_index: 1
eos_index: 2

"""

# The modules of an EncoderASR hyperparams.yaml after the scalar fields. A leading "|" stands
# for one indentation step (see encoder_asr_modules_yaml).
_MODULES_YAML = """enc: !new:speechbrain.nnet.containers.Sequential
|input_shape: [null, null, {hidden}]
{dnn_blocks}
wav2vec2: !new:speechbrain.lobes.models.huggingface_transformers.wav2vec2.Wav2Vec2
|source: !ref <wav2vec2_hub>
|output_norm: {output_norm}
|freeze: True
|save_path: !ref <wav2vec2_folder>

ctc_lin: !new:speechbrain.nnet.linear.Linear
|input_size: !ref <dnn_neurons>
|n_neurons: !ref <output_neurons>

log_softmax: !new:speechbrain.nnet.activations.Softmax
|apply_log: True

{ctc_cost}asr_model: !new:torch.nn.ModuleList
|- [!ref <enc>, !ref <ctc_lin>]

tokenizer: !new:sentencepiece.SentencePieceProcessor

encoder: !new:speechbrain.nnet.containers.LengthsCapableSequential
|wav2vec2: !ref <wav2vec2>
|enc: !ref <enc>
|ctc_lin: !ref <ctc_lin>
|log_softmax: !ref <log_softmax>

decoding_function: !name:speechbrain.decoders.ctc_greedy_decode
|blank_id: !ref <blank_index>

modules:
|encoder: !ref <encoder>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
|loadables:
||wav2vec2: !ref <wav2vec2>
||asr: !ref <asr_model>
||tokenizer: !ref <tokenizer>
"""

_CTC_COST_YAML = """ctc_cost: !name:speechbrain.nnet.losses.ctc_loss
|blank_index: !ref <blank_index>

"""


def _dnn_block_yaml(i, dropout):
    """Layer i of the enc Sequential: linear, BatchNorm, LeakyReLU (and Dropout). SpeechBrain's
    recipe names the first activation/dropout without a number."""
    n = "" if i == 1 else str(i)
    text = (f"|linear{i}: !name:speechbrain.nnet.linear.Linear\n"
            f"||n_neurons: !ref <dnn_neurons>\n"
            f"||bias: True\n"
            f"|bn{i}: !name:speechbrain.nnet.normalization.BatchNorm1d\n"
            f"|activation{n}: !new:torch.nn.LeakyReLU\n")
    if dropout:
        text += f"|drop{n}: !new:torch.nn.Dropout\n||p: !ref <dnn_dropout>\n"
    return text


def encoder_asr_modules_yaml(hidden, output_norm, indent, ctc_cost):
    """The module part of an EncoderASR hyperparams.yaml (enc ... pretrainer) in the layout of
    speechbrain/asr-wav2vec2-commonvoice-14-en: the wav2vec2 lobe, a 3-layer DNN (dropout after
    the first two) and the CTC head. `output_norm` is written as given (str() of it), `indent`
    spaces a nesting level, `ctc_cost` adds the recipe's ctc_cost entry. Shared by the fixture
    writer here (indent 3, ctc_cost) and tools/demo/common.py (indent 4, no ctc_cost)."""
    blocks = _dnn_block_yaml(1, True) + _dnn_block_yaml(2, True) + _dnn_block_yaml(3, False)
    text = _MODULES_YAML.format(hidden=hidden, output_norm=output_norm, dnn_blocks=blocks,
                                ctc_cost=_CTC_COST_YAML if ctc_cost else "")
    return re.sub(r"^\|+", lambda m: " " * (indent * len(m.group(0))), text, flags=re.M)


def _source_config(v):
    """config.json of the lobe's source: a pretraining checkpoint's config (AutoModel ->
    Wav2Vec2Model), i.e. architectures Wav2Vec2ForPreTraining and no CTC vocab."""
    d = hf_files.hf_config(v)
    d["architectures"] = ["Wav2Vec2ForPreTraining"]
    d["_name_or_path"] = HUB_ID if v.sb_source == "hfcache" else "./wav2vec2_source"
    return d


def _json_bytes(obj, sort_keys):
    return (json.dumps(obj, indent=2, sort_keys=sort_keys) + "\n").encode("utf-8")


def write_sb_model(mdir, model, v):
    lobe_sd = formats.clone_state_dict(model.wav2vec2.state_dict())
    if v.pos_conv_naming == "parametrizations":
        lobe_sd = formats.to_parametrizations(lobe_sd, "model.encoder.pos_conv_embed")
    formats.torch_save(lobe_sd, os.path.join(mdir, "wav2vec2.ckpt"))
    formats.torch_save(formats.clone_state_dict(model.asr.state_dict()),
                       os.path.join(mdir, "asr.ckpt"))
    # SpeechBrain keeps SentencePiece's default nmt_nfkc rule (a ~235 KB precompiled charsmap);
    # sb_hfcache uses "identity" to stay small. Decoding ids is unaffected by the rule.
    train_tokenizer(v.sp_vocab, os.path.join(mdir, "tokenizer.ckpt"),
                    "nmt_nfkc" if v.sb_source == "local" else "identity")

    cfg_bytes = _json_bytes(_source_config(v), True)
    pre_bytes = _json_bytes(hf_files.preprocessor_config(v.do_normalize, v.cfg.feat_extract_norm == "layer"), False)
    if v.sb_source == "local":
        hub = "./wav2vec2_source"
        src = os.path.join(mdir, "wav2vec2_source")
        os.makedirs(src)
        with open(os.path.join(src, "config.json"), "wb") as f:
            f.write(cfg_bytes)
        with open(os.path.join(src, "preprocessor_config.json"), "wb") as f:
            f.write(pre_bytes)
    else:
        hub = HUB_ID
        commit = hashlib.sha1(("quasr-fixture-" + v.name).encode()).hexdigest()
        formats.write_hf_cache(os.path.join(mdir, SAVE_PATH), HUB_ID,
                               {"config.json": cfg_bytes, "preprocessor_config.json": pre_bytes},
                               commit)
    text = HYPERPARAMS.format(hub=hub, save_path=SAVE_PATH, dnn=v.dnn_neurons, nout=v.sp_vocab)
    text += encoder_asr_modules_yaml(v.cfg.hidden_size, "True" if v.output_norm else "False",
                                     indent=3, ctc_cost=True)
    with open(os.path.join(mdir, "hyperparams.yaml"), "w", encoding="utf-8") as f:
        f.write(text)


class SBDecoder:
    description = ("sb_sentencepiece: argmax per frame over the kept rows, collapse repeats, drop "
                   "blank 0 (ctc_greedy_decode / filter_ctc_output), then "
                   "SentencePieceProcessor(tokenizer.ckpt).decode_ids")

    def __init__(self, mdir):
        self.sp = spm.SentencePieceProcessor()
        self.sp.load(os.path.join(mdir, "tokenizer.ckpt"))

    def decode(self, ids):
        return self.sp.decode_ids(ids)
