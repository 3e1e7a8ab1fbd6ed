#!/usr/bin/python3
"""Generate quasr's tiny model fixtures and PyTorch parity references.

    /usr/bin/python3 tools/make_model_fixtures.py [--check]

Writes tests/fixtures/models/<variant>/ (real on-disk formats) and
tests/fixtures/parity/<variant>/ (WAV inputs, expected log-probs .npy, cases.json), plus
tests/fixtures/parity/variants.json. Deterministic: reruns give byte-identical files.
See tools/reference/README.md.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))

import formats  # noqa: E402
import hf_files  # noqa: E402
import sb_files  # noqa: E402
from variants import (init_ctc_head, init_sb_enc, init_w2v_model, variants)  # noqa: E402
from wav2vec2_ref import (ForCTC, SBEncoderASR, conv_output_lengths, ctc_collapse,  # noqa: E402
                          hf_normalize, hf_processor_batch, sb_kept_frames, torchaudio_state_dict)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
SR = 16000
UTT_LENGTHS = [16000, 10083, 5917]  # ~1.0 s, 0.63 s, 0.37 s; not multiples of the conv strides


def synth_utterance(n: int, seed: int) -> np.ndarray:
    """Speech-like test signal: a voiced harmonic source with a gliding f0 and formant-like
    weights, syllable-rate amplitude envelope, fricative noise bursts, low background noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f0 = 100 + 80 * rng.random() + 25 * np.sin(2 * np.pi * (0.7 + rng.random()) * t + rng.random() * 6)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    formants = rng.uniform(300, 3000, size=3)
    voiced = np.zeros(n)
    for k in range(1, 12):
        fk = k * f0.mean()
        w = sum(np.exp(-((fk - f) / 250.0) ** 2) for f in formants) + 0.05 / k
        voiced += w * np.sin(k * phase + rng.random() * 6)
    rate = 3.0 + 2.0 * rng.random()
    env = (0.5 * (1 - np.cos(2 * np.pi * rate * t + rng.random() * 6))) ** 1.5
    fade = np.minimum(1.0, np.minimum(t / 0.03, (t[-1] - t) / 0.03 + 1e-3))
    noise_env = (0.5 * (1 + np.cos(2 * np.pi * rate * t + rng.random() * 6))) ** 4
    x = 0.25 * voiced / (np.abs(voiced).max() + 1e-9) * env * fade
    x += 0.05 * noise_env * rng.standard_normal(n) + 0.003 * rng.standard_normal(n)
    return x.astype(np.float32)


# ---------------------------------------------------------------------------------------------
def build_model(v):
    g = torch.Generator().manual_seed(v.seed)
    torch.manual_seed(v.seed)
    if v.kind == "hf":
        model = ForCTC(v.cfg)
        init_w2v_model(model.body, v.cfg, g)
        vocab = hf_files.vocab_tokens(v)
        specials = [i for i, tok in enumerate(vocab) if i != v.cfg.pad_token_id and
                    (tok.startswith("<") or tok.startswith("[") or tok == "'")]
        init_ctc_head(model.lm_head, g, v.cfg.pad_token_id, specials)
    else:
        model = SBEncoderASR(v.cfg, v.dnn_neurons, v.sp_vocab, normalize_wav=v.do_normalize,
                             output_norm=v.output_norm)
        init_w2v_model(model.wav2vec2.model, v.cfg, g)
        init_sb_enc(model.asr[0], g)
        init_ctc_head(model.asr[1].w, g, 0, [], scale=0.5)
    return model.eval()


def run_hf(model, v, wavs):
    """Unbatched and batched log-probs exactly as a processor + *ForCTC pipeline gives them."""
    unb = []
    with torch.no_grad():
        for w in wavs:
            x = hf_normalize(w) if v.do_normalize else w
            x = torch.from_numpy(np.asarray(x, np.float32))[None]
            mask = torch.ones_like(x, dtype=torch.long) if v.return_attention_mask else None
            unb.append(model(x, mask)[0].numpy())
        batch, mask = hf_processor_batch(wavs, v.do_normalize, v.return_attention_mask)
        out = model(batch, mask)
        n_valid = conv_output_lengths(v.cfg, torch.tensor([len(w) for w in wavs]))
        bat = [out[i, :int(n_valid[i])].numpy() for i in range(len(wavs))]
    return unb, bat, [int(n) for n in n_valid], int(out.shape[1])


def run_sb(model, wavs):
    """EncoderASR.transcribe_file (batch of 1, rel len 1.0) and transcribe_batch semantics."""
    unb = []
    with torch.no_grad():
        for w in wavs:
            out = model(torch.from_numpy(w)[None], torch.tensor([1.0]))
            unb.append(out[0].numpy())
        n = max(len(w) for w in wavs)
        batch = torch.zeros(len(wavs), n)
        for i, w in enumerate(wavs):
            batch[i, :len(w)] = torch.from_numpy(w)
        rel = torch.tensor([len(w) / n for w in wavs], dtype=torch.float32)
        out = model(batch, rel)
        kept = sb_kept_frames(rel, out.shape[1])
        bat = [out[i, :kept[i]].numpy() for i in range(len(wavs))]
    return unb, bat, kept, int(out.shape[1]), [float(r) for r in rel]


AMBIGUOUS_MARGIN = 1e-3


def margin_stats(lp: np.ndarray):
    """(min top1-top2 gap, #frames with gap < 0.05, frame indices with gap < AMBIGUOUS_MARGIN)."""
    s = np.sort(lp, axis=1)
    m = s[:, -1] - s[:, -2]
    return float(m.min()), int((m < 0.05).sum()), [int(i) for i in np.nonzero(m < AMBIGUOUS_MARGIN)[0]]


def torchaudio_check(model, v, wavs):
    """Cross-check against torchaudio 0.13's independent implementation (no mask)."""
    import torchaudio
    cfg = v.cfg
    ta = torchaudio.models.wav2vec2_model(
        extractor_mode="group_norm" if cfg.feat_extract_norm == "group" else "layer_norm",
        extractor_conv_layer_config=list(zip(cfg.conv_dim, cfg.conv_kernel, cfg.conv_stride)),
        extractor_conv_bias=cfg.conv_bias, encoder_embed_dim=cfg.hidden_size,
        encoder_projection_dropout=0.0, encoder_pos_conv_kernel=cfg.num_conv_pos_embeddings,
        encoder_pos_conv_groups=cfg.num_conv_pos_embedding_groups,
        encoder_num_layers=cfg.num_hidden_layers, encoder_num_heads=cfg.num_attention_heads,
        encoder_attention_dropout=0.0, encoder_ff_interm_features=cfg.intermediate_size,
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.0,
        encoder_layer_norm_first=cfg.do_stable_layer_norm, encoder_layer_drop=0.0,
        aux_num_out=cfg.vocab_size)
    prefix = "hubert." if cfg.model_type == "hubert" else "wav2vec2."
    sd = torchaudio_state_dict(model.state_dict(), prefix)
    missing, unexpected = ta.load_state_dict(sd, strict=False)
    assert not missing and unexpected == [], (missing, unexpected)
    ta.eval()
    diff = 0.0
    with torch.no_grad():
        for w in wavs:
            x = torch.from_numpy(hf_normalize(w) if v.do_normalize else w)[None]
            ref = model(x)[0]
            emis, _ = ta(x)
            diff = max(diff, float((torch.log_softmax(emis[0], -1) - ref).abs().max()))
        bdiff = None
        if v.return_attention_mask:  # masked batch: torchaudio zeroes + masks padded frames too
            batch, mask = hf_processor_batch(wavs, v.do_normalize, True)
            ref = model(batch, mask)
            emis, lens = ta(batch, mask.sum(-1))
            lp = torch.log_softmax(emis, -1)
            bdiff = max(float((lp[i, :lens[i]] - ref[i, :lens[i]]).abs().max())
                        for i in range(len(wavs)))
    return diff, bdiff


def fp64_check(model, v, wavs):
    m64 = build_model(v).double()
    diff = 0.0
    with torch.no_grad():
        for w in wavs:
            if v.kind == "hf":
                x = hf_normalize(w) if v.do_normalize else w
                a = model(torch.from_numpy(x)[None])[0]
                b = m64(torch.from_numpy(x.astype(np.float64))[None])[0]
            else:
                a = model(torch.from_numpy(w)[None])[0]
                b = m64(torch.from_numpy(w.astype(np.float64))[None])[0]
            diff = max(diff, float((a.double() - b).abs().max()))
    return diff


# ---------------------------------------------------------------------------------------------
def decode_text(decoder, v, logprobs, collapsed_ids):
    """The transcript each toolkit prints. Hugging Face's batch_decode takes the raw
    per-frame argmax and groups repeats *before* dropping the pad (blank), so
    "N <pad> N" stays "NN"; SpeechBrain decodes the already collapsed ids."""
    if v.kind == "hf":
        return decoder.decode(logprobs.argmax(1).tolist())
    return decoder.decode(collapsed_ids)


def generate_variant(v, check: bool):
    model = build_model(v)
    mdir = os.path.join(FIXTURES, "models", v.name)
    pdir = os.path.join(FIXTURES, "parity", v.name)
    for d in (mdir, pdir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    if v.kind == "hf":
        hf_files.write_hf_model(mdir, model, v)
        decoder = hf_files.HFDecoder(mdir)
        blank = v.cfg.pad_token_id
        vocab_size = v.cfg.vocab_size
    else:
        sb_files.write_sb_model(mdir, model, v)
        decoder = sb_files.SBDecoder(mdir)
        blank = 0
        vocab_size = v.sp_vocab

    wavs = [synth_utterance(n, v.seed * 10 + i) for i, n in enumerate(UTT_LENGTHS)]
    rel = lambda p: os.path.relpath(p, FIXTURES)  # noqa: E731
    if v.kind == "hf":
        unb, bat, bat_frames, padded_frames = run_hf(model, v, wavs)
        rel_lens = None
    else:
        unb, bat, bat_frames, padded_frames, rel_lens = run_sb(model, wavs)

    utts, butts, max_diff = [], [], 0.0
    for i, w in enumerate(wavs):
        uid = "utt%d" % i
        wav_path = os.path.join(pdir, uid + ".wav")
        formats.write_wav_f32(wav_path, w)
        assert np.array_equal(formats.read_wav_f32(wav_path), w)
        npy = os.path.join(pdir, uid + ".logprobs.npy")
        np.save(npy, unb[i].astype(np.float32))
        ids = ctc_collapse(unb[i].argmax(1).tolist(), blank)
        mmin, nclose, amb = margin_stats(unb[i])
        utts.append(OrderedDict([
            ("id", uid), ("wav", rel(wav_path)), ("num_samples", len(w)),
            ("logprobs", rel(npy)), ("frames", int(unb[i].shape[0])),
            ("token_ids", ids), ("text", decode_text(decoder, v, unb[i], ids)),
            ("min_top1_margin", round(mmin, 6)), ("frames_margin_below_0.05", nclose),
            ("ambiguous_frames", amb)]))
        bnpy = os.path.join(pdir, uid + ".batched.logprobs.npy")
        np.save(bnpy, bat[i].astype(np.float32))
        bids = ctc_collapse(bat[i].argmax(1).tolist(), blank)
        b = OrderedDict([("id", uid), ("logprobs", rel(bnpy)), ("frames", int(bat[i].shape[0])),
                         ("token_ids", bids), ("text", decode_text(decoder, v, bat[i], bids)),
                         ("ambiguous_frames", margin_stats(bat[i])[2])])
        if rel_lens is not None:
            b["rel_len"] = rel_lens[i]
        butts.append(b)
        n = min(unb[i].shape[0], bat[i].shape[0])
        max_diff = max(max_diff, float(np.abs(unb[i][:n] - bat[i][:n]).max()))

    if v.kind == "hf":
        if v.return_attention_mask:
            sem = ("hf_attention_mask: processor pads with 0.0, normalises each utterance over its "
                   "valid samples (do_normalize), attention_mask passed; frames >= conv-length are "
                   "zeroed before pos conv and masked with finfo(float32).min; stored rows = "
                   "conv-length valid frames (equal to unbatched up to float noise)")
        else:
            sem = ("hf_no_mask: processor pads with 0.0 and, without attention mask, normalises "
                   "each PADDED row as a whole (do_normalize, eps 1e-7, padding included); model "
                   "called without attention_mask; stored rows = conv-length valid frames of "
                   "each utterance (padding changes shorter utterances)")
        unb_sem = ("processor on the single utterance (do_normalize: (x-mean)/sqrt(var+1e-7), "
                   "float32, population variance) then the model; all frames")
    else:
        sem = ("sb_encoder_asr: zero-pad to the longest, wav_lens = len/max_len (float32); the "
               "lobe gets NO lengths (LengthsCapableSequential only passes `lengths`); "
               "normalize_wav = F.layer_norm over the whole padded row (eps 1e-5); output_norm = "
               "F.layer_norm over [T, C] of the padded output; stored rows = "
               "round(rel_len * T_padded) (ctc_greedy_decode)")
        unb_sem = ("EncoderASR.transcribe_file: batch of 1, wav_lens [1.0]; all frames")

    cases = OrderedDict()
    cases["schema_version"] = 1
    cases["variant"] = v.name
    cases["description"] = v.description
    cases["paths_relative_to"] = "tests/fixtures (QUASR_FIXTURE_DIR)"
    cases["format"] = "huggingface" if v.kind == "hf" else "speechbrain"
    cases["model_dir"] = rel(mdir)
    cases["sample_rate"] = SR
    cases["vocab_size"] = vocab_size
    cases["blank_id"] = blank
    cases["decoder"] = decoder.description
    cases["unbatched_semantics"] = unb_sem
    cases["ambiguous_margin"] = AMBIGUOUS_MARGIN
    cases["utterances"] = utts
    cases["batched"] = OrderedDict([
        ("semantics", sem), ("padded_num_samples", max(UTT_LENGTHS)),
        ("padded_frames", padded_frames), ("utterances", butts),
        ("max_abs_diff_vs_unbatched", float("%.6g" % max_diff))])
    cases["reference_max_abs_diff_fp32_vs_fp64"] = float("%.6g" % fp64_check(model, v, wavs))
    if v.kind == "hf":
        d, bd = torchaudio_check(model, v, wavs)
        cases["torchaudio_max_abs_diff"] = float("%.6g" % d)
        if bd is not None:
            cases["torchaudio_batched_max_abs_diff"] = float("%.6g" % bd)
    formats.write_json(os.path.join(pdir, "cases.json"), cases)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--only", help="generate only this variant")
    args = ap.parse_args()
    torch.set_num_threads(1)  # reproducible float reductions
    summary = []
    for v in variants():
        if args.only and v.name != args.only:
            continue
        c = generate_variant(v, False)
        summary.append(OrderedDict([("variant", v.name), ("cases", "parity/%s/cases.json" % v.name),
                                    ("model_dir", c["model_dir"]), ("format", c["format"])]))
        print("%-12s frames=%s batched_diff=%.3g fp64=%.3g torchaudio=%s texts=%s" % (
            v.name, [u["frames"] for u in c["utterances"]],
            c["batched"]["max_abs_diff_vs_unbatched"], c["reference_max_abs_diff_fp32_vs_fp64"],
            c.get("torchaudio_max_abs_diff"), [u["text"] for u in c["utterances"]]))
    if not args.only:
        formats.write_json(os.path.join(FIXTURES, "parity", "variants.json"), summary)


if __name__ == "__main__":
    main()
