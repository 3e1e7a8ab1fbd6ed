#!/usr/bin/python3
"""Train the quasr demo wav2vec2 CTC model from scratch on the synthetic corpus.

After every epoch the model is written in the final SpeechBrain format to
<scratch>/ckpt/last and, when the dev WER improves, to --out (models/demo).
The loss curve goes to <out>/loss_curve.csv and <out>/loss_curve.svg.
"""
import argparse
import csv
import datetime
import json
import math
import os
import random
import time

import sentencepiece as spm
import torch
import torch.nn.functional as F
import torchaudio

import common
import model as model_lib
import plot

VOICES_PER_SENTENCE = 2


def parse_args():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--scratch", default="/work/scratch/demo")
    ap.add_argument("--out", default=os.path.join(here, "../../models/demo"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-seconds", type=float, default=50.0)
    ap.add_argument("--max-utt-seconds", type=float, default=11.0)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=400)
    ap.add_argument("--vocab", type=int, default=64)
    ap.add_argument("--n-dev", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--deadline", default="", help="UTC HH:MM; stop and save when reached")
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--dnn-neurons", type=int, default=256)
    ap.add_argument("--init-from", default="", help="SpeechBrain folder to continue from")
    ap.add_argument("--ascending-first-epoch", action="store_true",
                    help="first epoch in ascending length (eases CTC alignment)")
    ap.add_argument("--noise-prob", type=float, default=0.6)
    ap.add_argument("--stop-after-epochs", type=int, default=0,
                    help="end early (the schedule still spans --epochs)")
    ap.add_argument("--fe-lr-mult", type=float, default=1.0,
                    help="learning-rate factor of the conv feature extractor (keeps it from collapsing)")
    ap.add_argument("--ce-weight", type=float, default=1.0)
    ap.add_argument("--epoch-fraction", type=float, default=1.0,
                    help="share of the corpus one epoch visits (more frequent checkpoints)")
    ap.add_argument("--ce-warmup-steps", type=int, default=0,
                    help="steps of extra frame cross-entropy on a uniform token alignment")
    return ap.parse_args()


def train_tokenizer(sentences, prefix, vocab):
    txt = prefix + ".txt"
    with open(txt, "w") as f:
        f.writelines(s + "\n" for s in sentences)
    # Same options SpeechBrain's tokenizers/SentencePiece.py passes.
    spm.SentencePieceTrainer.train(
        f"--input={txt} --model_prefix={prefix} --model_type=unigram --bos_id=-1 --eos_id=-1 "
        f"--pad_id=-1 --unk_id=0 --max_sentencepiece_length=10 --character_coverage=1.0 "
        f"--add_dummy_prefix=True --vocab_size={vocab} --num_threads=1")
    sp = spm.SentencePieceProcessor()
    sp.load(prefix + ".model")
    return sp


def make_batches(items, batch_seconds, rng):
    items = sorted(items, key=lambda r: r["n"])
    batches, cur = [], []
    for r in items:
        if cur and (len(cur) + 1) * r["n"] / 16000 > batch_seconds:
            batches.append(cur)
            cur = []
        cur.append(r)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def epoch_items(train, epoch):
    """Each TTS sentence was synthesized by several voices (id suffix _k); an
    epoch takes one of them in turn, plus all real speech."""
    k = (epoch - 1) % VOICES_PER_SENTENCE
    return [r for r in train if r["voice"].startswith("ljspeech")
            or r["audio_filepath"].endswith(f"_{k}.flac")]


def augment(wav, rng, noise_prob):
    if rng.random() < 0.3:  # speed perturbation
        f = rng.choice([0.9, 0.95, 1.05, 1.1])
        wav = torchaudio.functional.resample(wav, int(16000 * f), 16000)
    if rng.random() < noise_prob:  # additive noise, white or low-passed ("brown")
        noise = torch.randn_like(wav)
        if rng.random() < 0.5:
            noise = torch.cumsum(noise, 0)
            noise = noise - torch.linspace(noise[0].item(), noise[-1].item(), noise.numel())
        snr = rng.uniform(5, 35)
        p_sig = wav.pow(2).mean().clamp_min(1e-8)
        noise = noise * torch.sqrt(p_sig / noise.pow(2).mean().clamp_min(1e-8) / 10 ** (snr / 10))
        wav = wav + noise
    return wav * rng.uniform(0.2, 1.0)


def time_mask(flen, tmax, prob, span, rng):
    """HF-style span masking: about prob of each utterance's frames, spans of `span`."""
    m = torch.zeros(len(flen), tmax, dtype=torch.bool)
    for b, n in enumerate(flen.tolist()):
        k = int(prob * n / span + rng.random())
        for _ in range(k):
            if n > span:
                s = rng.randrange(n - span)
                m[b, s:s + span] = True
    return m


def collate(batch, rng, train, noise_prob=0.0):
    wavs = [augment(r["wav"].float() / 32768, rng, noise_prob) if train else r["wav"].float() / 32768
            for r in batch]
    lens = torch.tensor([w.numel() for w in wavs])
    x = torch.zeros(len(wavs), int(lens.max()))
    for i, w in enumerate(wavs):
        x[i, : w.numel()] = w
    return x, lens


def uniform_alignment(flen, ids_list, tmax, margin=6):
    """Frame targets that spread each utterance's tokens evenly over its speech
    region (the corpus is trimmed to ~0.12 s = 6 frames of silence each side);
    frames outside get blank, padding gets -100. A cheap stand-in for the
    alignment CTC has not found yet, used only to leave the blank plateau early."""
    tgt = torch.full((len(ids_list), tmax), -100, dtype=torch.long)
    for b, (n, ids) in enumerate(zip(flen.tolist(), ids_list)):
        tgt[b, :n] = 0
        a, e = min(margin, n // 4), max(n - margin, n - n // 4)
        if e > a and ids:
            pos = torch.arange(e - a)
            tgt[b, a:e] = torch.tensor(ids)[pos * len(ids) // (e - a)]
    return tgt


def dev_wer(net, dev, sp, bs=16):
    net.eval()
    errs = words = 0
    with torch.no_grad():
        for i in range(0, len(dev), bs):
            batch = dev[i:i + bs]
            x, lens = collate(batch, None, False)
            logp, flen = net(x, lens)
            for b, r in enumerate(batch):
                hyp = sp.decode_ids(common.greedy_ids(logp[b, : flen[b]])).split()
                ref = r["text"].split()
                errs += common.edit_distance(ref, hyp)
                words += len(ref)
    net.train()
    return errs / max(words, 1)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    deadline = None
    if args.deadline:
        hh, mm = map(int, args.deadline.split(":"))
        now = datetime.datetime.utcnow()
        deadline = now.replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp() \
            - (datetime.datetime.utcnow().timestamp() - time.time())

    recs = []
    for name in ("train_tts.jsonl", "train_lj.jsonl"):
        p = os.path.join(args.scratch, name)
        if os.path.exists(p):
            recs += common.load_manifest(p)
    recs = [r for r in recs if r["duration"] <= args.max_utt_seconds and r["text"]]
    print(f"loading {len(recs)} utterances, {sum(r['duration'] for r in recs) / 3600:.2f} h", flush=True)
    for r in recs:
        r["wav"] = (common.load_audio(r["path"]) * 32767).round().clamp(-32768, 32767).short()
        r["n"] = r["wav"].numel()

    tok_dir = os.path.join(args.scratch, "tok")
    os.makedirs(tok_dir, exist_ok=True)
    texts = sorted({r["text"] for r in recs})
    if args.init_from:  # keep the token ids the weights were trained with
        import shutil
        shutil.copyfile(os.path.join(args.init_from, "tokenizer.ckpt"),
                        os.path.join(tok_dir, "tokenizer.model"))
        sp = spm.SentencePieceProcessor()
        sp.load(os.path.join(tok_dir, "tokenizer.model"))
    else:
        sp = train_tokenizer(texts, os.path.join(tok_dir, "tokenizer"), args.vocab)
    for r in recs:
        r["ids"] = sp.encode_as_ids(r["text"])

    tts = [r for r in recs if not r["voice"].startswith("ljspeech")]
    dev = rng.sample(tts, args.n_dev)
    dev_ids = {id(r) for r in dev}
    train = [r for r in recs if id(r) not in dev_ids]
    dev.sort(key=lambda r: r["n"])
    hours = sum(r["n"] for r in train) / 16000 / 3600
    print(f"train {len(train)} utts {hours:.2f} h, dev {len(dev)}", flush=True)

    cfg = dict(model_lib.DEFAULT_CONFIG)
    cfg.update(hidden_size=args.hidden, num_hidden_layers=args.layers,
               intermediate_size=4 * args.hidden, vocab_size=args.vocab,
               conv_dim=[64, 96, 128, 128, 128, 128, 128])
    net = model_lib.DemoASR(cfg, args.dnn_neurons, args.vocab, 0.15, True, True)
    if args.init_from:
        net.wav2vec2.load_state_dict(torch.load(os.path.join(args.init_from, "wav2vec2.ckpt")))
        torch.nn.ModuleList([net.enc, net.ctc_lin]).load_state_dict(
            torch.load(os.path.join(args.init_from, "asr.ckpt")))
        print(f"initialised from {args.init_from}", flush=True)
    n_params = sum(p.numel() for p in net.parameters())
    print(f"parameters {n_params / 1e6:.2f} M", flush=True)
    fe = list(net.wav2vec2.model.feature_extractor.parameters())
    fe_ids = {id(p) for p in fe}
    opt = torch.optim.AdamW(
        [{"params": fe, "mult": args.fe_lr_mult},
         {"params": [p for p in net.parameters() if id(p) not in fe_ids], "mult": 1.0}],
        lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    steps_per_epoch = int(len(make_batches(epoch_items(train, 1), args.batch_seconds,
                                           random.Random(0))) * args.epoch_fraction)
    total = steps_per_epoch * args.epochs
    step, t0, audio_s, best = 0, time.time(), 0.0, 1e9

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = (step - args.warmup) / max(1, total - args.warmup)
        if deadline:  # anneal fully by the deadline even if fewer steps fit
            t = max(t, (time.time() - t0) / max(1.0, deadline - t0))
        t = min(1.0, t)
        return args.lr * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * t)))

    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "loss_curve.csv")
    log = open(csv_path, "w", newline="")
    wr = csv.writer(log)
    wr.writerow(["epoch", "step", "elapsed_s", "audio_s", "train_loss", "lr", "dev_wer"])
    meta = {"seed": args.seed, "epochs_planned": args.epochs, "epochs_done": 0,
            "train_utterances": len(train), "train_hours": round(hours, 3),
            "parameters": n_params, "dnn_neurons": args.dnn_neurons, "dnn_dropout": 0.15,
            "output_neurons": args.vocab, "normalize_wav": True, "output_norm": True,
            "hub_dir": "wav2vec2_hub", "batch_seconds": args.batch_seconds, "lr": args.lr}
    net.train()
    stop = False
    for epoch in range(1, args.epochs + 1):
        run_loss, run_n = 0.0, 0
        batches = make_batches(epoch_items(train, epoch), args.batch_seconds, rng)
        batches = batches[: max(1, int(len(batches) * args.epoch_fraction))]
        if epoch == 1 and args.ascending_first_epoch:
            batches.sort(key=lambda b: b[0]["n"])
        for batch in batches:
            x, lens = collate(batch, rng, True, args.noise_prob)
            tmax = int(net.wav2vec2.model.frames(torch.tensor(x.shape[1])))
            flen = net.wav2vec2.model.frames(lens)
            tm = time_mask(flen, tmax, cfg["mask_time_prob"], cfg["mask_time_length"], rng)
            logp, flen = net(x, lens, tm)
            tgt = torch.cat([torch.tensor(r["ids"]) for r in batch])
            tlen = torch.tensor([len(r["ids"]) for r in batch])
            loss = F.ctc_loss(logp.transpose(0, 1), tgt, flen, tlen, blank=0,
                              reduction="mean", zero_infinity=True)
            if step < args.ce_warmup_steps:
                ua = uniform_alignment(flen, [r["ids"] for r in batch], logp.shape[1])
                loss = loss + args.ce_weight * F.nll_loss(logp.reshape(-1, logp.shape[-1]), ua.flatten(),
                                         ignore_index=-100)
            for g in opt.param_groups:
                g["lr"] = lr_at(step) * g["mult"]
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            step += 1
            audio_s += float(lens.sum()) / 16000
            run_loss += loss.item()
            run_n += 1
            if step % 20 == 0:
                wr.writerow([epoch, step, round(time.time() - t0, 1), round(audio_s),
                             round(run_loss / run_n, 4), f"{lr_at(step):.2e}", ""])
                log.flush()
                print(f"ep {epoch} step {step}/{total} loss {run_loss / run_n:.3f} "
                      f"{(time.time() - t0) / audio_s:.3f} s/audio-s", flush=True)
                run_loss, run_n = 0.0, 0
            if deadline and time.time() > deadline:
                stop = True
                break
        wer = dev_wer(net, dev, sp)
        wr.writerow([epoch, step, round(time.time() - t0, 1), round(audio_s), "", "", round(wer, 4)])
        log.flush()
        meta.update(epochs_done=epoch, steps=step, train_seconds=round(time.time() - t0),
                    dev_wer=round(wer, 4))
        print(f"== epoch {epoch} dev WER {wer:.4f} elapsed {time.time() - t0:.0f}s", flush=True)
        common.save_folder(os.path.join(args.scratch, "ckpt", "last"), net, cfg,
                           os.path.join(tok_dir, "tokenizer.model"), meta)
        if wer <= best:
            best = wer
            tmp_out = os.path.abspath(args.out) + ".new"
            common.save_folder(tmp_out, net, cfg, os.path.join(tok_dir, "tokenizer.model"), meta)
            for fn in os.listdir(args.out):  # keep the loss log/plot in place
                if fn.startswith("loss_curve"):
                    os.replace(os.path.join(args.out, fn), os.path.join(tmp_out, fn))
            import shutil
            shutil.rmtree(args.out)
            os.rename(tmp_out, args.out)
            log.close()
            log = open(csv_path, "a", newline="")
            wr = csv.writer(log)
        plot.write_svg(csv_path, os.path.join(args.out, "loss_curve.svg"))
        if stop or epoch == args.stop_after_epochs:
            break
    log.close()
    plot.write_svg(csv_path, os.path.join(args.out, "loss_curve.svg"))
    print("done", flush=True)


if __name__ == "__main__":
    main()
