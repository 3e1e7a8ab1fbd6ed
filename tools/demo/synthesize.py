#!/usr/bin/python3
"""Synthesize the quasr demo corpus with Debian's TTS engines.

Training audio (TTS + resampled LJSpeech) goes to a scratch folder outside
the repo; the evaluation set and the calibration set go into data/demo/ as
16 kHz mono FLAC plus manifest.jsonl. One voice (flite rms) never appears
in training and forms the held_out_voice split of the evaluation set.
"""
import argparse
import collections
import json
import os
import random
import re
import subprocess
import tempfile

import torch
import torchaudio

import compose
import texts

SR = 16000
HELD_OUT = ("flite", "rms")
ESPEAK_LANGS = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
ESPEAK_VARIANTS = ["", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3",
                   "+f4", "+f5", "+klatt", "+klatt2"]
FLITE_SEEN = ["kal", "kal16", "awb", "slt"]
FESTIVAL_SEEN = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
# Engine mixture of the seen voices: espeak gives accent/pitch variety, flite
# and festival give the more natural voices the held-out voice resembles.
ENGINE_WEIGHTS = [("espeak", 0.4), ("flite", 0.35), ("festival", 0.25)]


def pick_voice(rng):
    r, acc = rng.random(), 0.0
    for engine, w in ENGINE_WEIGHTS:
        acc += w
        if r < acc:
            break
    speed = rng.uniform(0.88, 1.15)  # >1 = slower (duration stretch)
    if engine == "espeak":
        name = rng.choice(ESPEAK_LANGS) + rng.choice(ESPEAK_VARIANTS)
        return {"engine": engine, "name": name, "stretch": speed, "pitch": rng.randint(30, 70)}
    names = FLITE_SEEN if engine == "flite" else FESTIVAL_SEEN
    return {"engine": engine, "name": rng.choice(names), "stretch": speed}


def tts_text(sentence):
    # Keep only what the engines need for prosody; quotes would break the
    # festival scheme string.
    s = re.sub(r"[^A-Za-z' ,\.\?\!;:]", " ", sentence.replace("-", " "))
    return re.sub(r"\s+", " ", s).strip()


def load_16k(path):
    wav, sr = torchaudio.load(path)
    wav = wav.mean(0)
    if sr != SR:
        wav = torchaudio.functional.resample(wav, sr, SR)
    return wav


def trim_and_scale(wav, peak=0.7, margin=0.12):
    frame = 160
    n = wav.numel() // frame
    if n == 0:
        return wav
    energy = wav[: n * frame].view(n, frame).abs().amax(1)
    thr = energy.max() * 0.02
    idx = torch.nonzero(energy > thr).flatten()
    if idx.numel():
        a = max(0, idx[0].item() * frame - int(margin * SR))
        b = min(wav.numel(), (idx[-1].item() + 1) * frame + int(margin * SR))
        wav = wav[a:b]
    return wav * (peak / max(wav.abs().max().item(), 1e-6))


def synth_single(job, tmp):
    v, text, out = job["voice"], tts_text(job["sentence"]), os.path.join(tmp, "x.wav")
    if v["engine"] == "espeak":
        wpm = int(round(175 / v["stretch"]))
        cmd = ["espeak-ng", "-v", v["name"], "-s", str(wpm), "-p", str(v["pitch"]), "-w", out, text]
    else:
        cmd = ["flite", "-voice", v["name"], "--setf", f"duration_stretch={v['stretch']:.3f}",
               "-t", text, "-o", out]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return load_16k(out)


def synth_festival(jobs, tmp):
    """One festival process per voice: startup dominates per-utterance calls."""
    by_voice = collections.defaultdict(list)
    for j in jobs:
        by_voice[j["voice"]["name"]].append(j)
    results = {}
    for name, group in by_voice.items():
        scm = [f"(voice_{name})"]
        for i, j in enumerate(group):
            path = os.path.join(tmp, f"fest_{i}.wav")
            scm.append(f"(Parameter.set 'Duration_Stretch {j['voice']['stretch']:.3f})")
            scm.append(f'(set! u (Utterance Text "{tts_text(j["sentence"])}"))')
            scm.append(f'(utt.synth u)(utt.save.wave u "{path}" \'riff)')
        script = os.path.join(tmp, "batch.scm")
        with open(script, "w") as f:
            f.write("\n".join(scm) + "\n")
        subprocess.run(["festival", "-b", script], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i, j in enumerate(group):
            results[j["id"]] = load_16k(os.path.join(tmp, f"fest_{i}.wav"))
    return results


def voice_label(v):
    return f"{'espeak-ng' if v['engine'] == 'espeak' else v['engine']}/{v['name']}"


def render(jobs, out_dir, manifest_path, rel_to, tmp):
    os.makedirs(out_dir, exist_ok=True)
    fest = synth_festival([j for j in jobs if j["voice"]["engine"] == "festival"], tmp)
    total = 0.0
    with open(manifest_path, "w") as mf:
        for k, j in enumerate(jobs):
            wav = fest[j["id"]] if j["id"] in fest else synth_single(j, tmp)
            wav = trim_and_scale(wav)
            path = os.path.join(out_dir, j["id"] + ".flac")
            torchaudio.save(path, wav.unsqueeze(0), SR, format="flac", bits_per_sample=16)
            dur = wav.numel() / SR
            total += dur
            rec = {"audio_filepath": os.path.relpath(path, rel_to), "text": j["text"],
                   "duration": round(dur, 3), "voice": voice_label(j["voice"])}
            if "split" in j:
                rec["split"] = j["split"]
            mf.write(json.dumps(rec) + "\n")
            if k % 500 == 0:
                print(f"  {manifest_path}: {k}/{len(jobs)}", flush=True)
    print(f"{manifest_path}: {len(jobs)} utterances, {total / 3600:.2f} h", flush=True)


def select_eval(fortunes, others, n_eval, rng):
    """Held-out sentences whose words all occur in the training-side text, so
    the eval measures recognition of new sentences, not spelling of new words."""
    counts = collections.Counter(w for _, n in fortunes + others for w in n.split())
    cands = [p for p in fortunes if 3 <= len(p[1].split()) <= 12]
    rng.shuffle(cands)
    chosen = []
    for s, n in cands:
        c = collections.Counter(n.split())
        if all(counts[w] - k >= 1 for w, k in c.items()):
            chosen.append((s, n))
            counts.subtract(c)
        if len(chosen) == n_eval:
            break
    return chosen


def lj_jobs():
    base = os.path.dirname(texts.LJ_TSV)
    out = []
    with open(texts.LJ_TSV, encoding="utf-8") as f:
        next(f)
        for line in f:
            uid, text = line.rstrip("\n").split("\t", 1)
            out.append((os.path.join(base, "flac", uid + ".flac"), texts.normalize(text)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", default="/work/scratch/demo")
    ap.add_argument("--repo-data", default=os.path.join(os.path.dirname(__file__), "../../data/demo"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--n-composed", type=int, default=2500)
    ap.add_argument("--voices-per-sentence", type=int, default=2)
    ap.add_argument("--n-eval", type=int, default=150)
    ap.add_argument("--n-eval-held-out", type=int, default=100)
    ap.add_argument("--n-calib", type=int, default=25)
    ap.add_argument("--only", choices=["all", "eval", "train"], default="all")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    fortunes = texts.unique_by_norm(texts.fortune_sentences())
    seen_norm = {n for _, n in fortunes}
    others = []
    for pool in (texts.ljspeech_sentences(), texts.license_sentences(),
                 compose.composed_sentences(args.n_composed, args.seed)):
        for s, n in texts.unique_by_norm(pool):
            if n not in seen_norm:
                seen_norm.add(n)
                others.append((s, n))
    eval_sents = select_eval(fortunes, others, args.n_eval, rng)
    # The training jobs draw from their own copy of the generator so that
    # --only train and --only all produce the same corpus.
    train_rng = random.Random()
    train_rng.setstate(rng.getstate())
    eval_norm = {n for _, n in eval_sents}
    train_sents = [p for p in fortunes if p[1] not in eval_norm] + others
    print(f"sentences: train {len(train_sents)}, eval {len(eval_sents)}", flush=True)

    data_dir = os.path.abspath(args.repo_data)
    os.makedirs(args.scratch, exist_ok=True)
    with open(os.path.join(args.scratch, "train_sentences.txt"), "w") as f:
        f.writelines(n + "\n" for _, n in train_sents)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in ("all", "eval"):
            ev = []
            for i, (s, n) in enumerate(eval_sents):
                ev.append({"id": f"seen_{i:04d}", "sentence": s, "text": n,
                           "voice": pick_voice(rng), "split": "seen_voice"})
            for i, (s, n) in enumerate(eval_sents[: args.n_eval_held_out]):
                ev.append({"id": f"heldout_{i:04d}", "sentence": s, "text": n,
                           "voice": {"engine": HELD_OUT[0], "name": HELD_OUT[1],
                                     "stretch": rng.uniform(0.95, 1.1)},
                           "split": "held_out_voice"})
            ev_dir = os.path.join(data_dir, "eval")
            render(ev, ev_dir, os.path.join(ev_dir, "manifest.jsonl"), ev_dir, tmp)

            calib_src = rng.sample(train_sents, args.n_calib)
            cal = [{"id": f"calib_{i:04d}", "sentence": s, "text": n, "voice": pick_voice(rng)}
                   for i, (s, n) in enumerate(calib_src)]
            cal_dir = os.path.join(data_dir, "calib")
            render(cal, cal_dir, os.path.join(cal_dir, "manifest.jsonl"), cal_dir, tmp)
        if args.only in ("all", "train"):
            jobs = []
            for i, (s, n) in enumerate(train_sents):
                for k in range(args.voices_per_sentence):
                    jobs.append({"id": f"tr_{i:05d}_{k}", "sentence": s, "text": n,
                                 "voice": pick_voice(train_rng)})
            train_rng.shuffle(jobs)
            tr_dir = os.path.join(args.scratch, "train")
            render(jobs, tr_dir, os.path.join(args.scratch, "train_tts.jsonl"), args.scratch, tmp)
            # Real speech: LJSpeech, resampled to 16 kHz (kept outside the repo).
            lj_dir = os.path.join(args.scratch, "lj")
            os.makedirs(lj_dir, exist_ok=True)
            with open(os.path.join(args.scratch, "train_lj.jsonl"), "w") as mf:
                for src, text in lj_jobs():
                    wav = trim_and_scale(load_16k(src))
                    path = os.path.join(lj_dir, os.path.basename(src))
                    torchaudio.save(path, wav.unsqueeze(0), SR, format="flac", bits_per_sample=16)
                    mf.write(json.dumps({"audio_filepath": os.path.relpath(path, args.scratch),
                                         "text": text, "duration": round(wav.numel() / SR, 3),
                                         "voice": "ljspeech/real"}) + "\n")


if __name__ == "__main__":
    main()
