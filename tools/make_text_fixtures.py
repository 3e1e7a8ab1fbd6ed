#!/usr/bin/python3
"""Writes the text-layer fixtures under tests/fixtures/text/.

- tokenizer.ckpt: a tiny unigram SentencePiece model trained with the options
  SpeechBrain's speechbrain.tokenizers.SentencePiece passes to the trainer
  (unk_id=0, bos/eos/pad=-1, unigram, max_sentencepiece_length=10,
  character_coverage=1.0, add_dummy_prefix=True), on sentences composed here.
  Like SpeechBrain's tokenizer.ckpt it is the raw .model file.
- sp_cases.json: id lists and the text python sentencepiece's decode_ids gives
  for them (the reference for quasr's SentencePieceTokenizer), plus every piece.
- hf_base960h/: vocab.json + tokenizer_config.json in the facebook/wav2vec2-base-960h
  layout; hf_finetune/: the HF fine-tuning-recipe layout ([PAD] last,
  AddedToken objects). Expected decodes for these are written by hand in
  tests/text/char_vocab_tokenizer_test.cc.

Run from the repository root: /usr/bin/python3 tools/make_text_fixtures.py
"""
import itertools
import json
import os
import random
import tempfile

import sentencepiece as spm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "text")

SUBJECTS = ["THE OLD MAN", "A YOUNG GIRL", "MY FATHER", "HER BROTHER", "THE CAPTAIN",
            "OUR NEIGHBOUR", "THE LITTLE DOG", "HIS MOTHER", "THE TEACHER", "EVERYONE"]
VERBS = ["WALKED TO", "LOOKED AT", "THOUGHT ABOUT", "SPOKE OF", "CAME BACK FROM",
         "WAITED BY", "DIDN'T SEE", "WOULDN'T LEAVE", "REMEMBERED", "FOUND"]
OBJECTS = ["THE RIVER", "A GREEN FIELD", "THE QUIET HOUSE", "THE DARK FOREST",
           "THE SHIP'S DECK", "A SMALL VILLAGE", "THE MARKET", "THE OPEN WINDOW",
           "THE LONG ROAD", "THE GARDEN WALL"]
TAILS = ["", " IN THE MORNING", " AT NIGHT", " WITHOUT A WORD", " AGAIN AND AGAIN",
         " BEFORE THE STORM", " JUST IN TIME", " WITH GREAT CARE"]


def compose_sentences():
    """A few hundred short sentences: every subject/verb/object triple with a tail."""
    rng = random.Random(1234)
    sentences = []
    for i, (s, v, o) in enumerate(itertools.product(SUBJECTS, VERBS, OBJECTS)):
        if i % 3 == 0:  # 334 of the 1000 triples
            sentences.append(f"{s} {v} {o}{TAILS[rng.randrange(len(TAILS))]}")
    sentences += ["THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
                  "PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS",
                  "I'M SURE WE'LL SEE THEM TOMORROW",
                  "ZEBRAS EXIST IN QUEER PLACES"]
    return sentences


def train_tokenizer(sentences, path):
    with tempfile.TemporaryDirectory() as tmp:
        text = os.path.join(tmp, "train.txt")
        with open(text, "w") as f:
            f.write("\n".join(sentences) + "\n")
        prefix = os.path.join(tmp, "60_unigram")
        # The same option string SpeechBrain builds in SentencePiece._train_BPE.
        spm.SentencePieceTrainer.train(
            f"--input={text} --model_prefix={prefix} --model_type=unigram"
            " --bos_id=-1 --eos_id=-1 --pad_id=-1 --unk_id=0"
            " --max_sentencepiece_length=10 --character_coverage=1.0"
            " --add_dummy_prefix=True --vocab_size=60 --num_threads=1 --minloglevel=2")
        with open(prefix + ".model", "rb") as f:
            model = f.read()
    with open(path, "wb") as f:
        f.write(model)


def make_sp_cases(model_path):
    sp = spm.SentencePieceProcessor()
    sp.load(model_path)
    n = sp.get_piece_size()
    rng = random.Random(99)
    id_lists = [
        [], [0], [1], [n - 1],
        sp.encode_as_ids("THE OLD MAN WALKED TO THE RIVER"),
        sp.encode_as_ids("HE DIDN'T SEE THE SHIP'S DECK AT NIGHT"),
        sp.encode_as_ids("JOYFUL QUIZZICAL VEXED WIZARDS"),  # words not seen in training
        sp.encode_as_ids("A"),
    ]
    # <unk> (id 0) inside a sequence renders as " \u2047 ".
    enc = sp.encode_as_ids("THE MARKET AT NIGHT")
    id_lists.append(enc[:2] + [0] + enc[2:])
    id_lists.append([0, 0] + enc)
    # Pieces without the word-boundary mark first, and random sequences.
    id_lists.append([i for i in range(1, n) if not sp.id_to_piece(i).startswith("\u2581")][:6])
    for _ in range(8):
        id_lists.append([rng.randrange(0, n) for _ in range(rng.randrange(1, 15))])
    cases = [{"ids": ids, "text": sp.decode_ids(ids)} for ids in id_lists]
    return {
        "note": "expected text = python sentencepiece decode_ids on tokenizer.ckpt "
                f"(sentencepiece {spm.__version__}); written by tools/make_text_fixtures.py",
        "vocab_size": n,
        "pieces": [sp.id_to_piece(i) for i in range(n)],
        "cases": cases,
    }


BASE960H_VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", "E", "T", "A", "O", "N", "I", "H",
                  "S", "R", "D", "L", "U", "M", "W", "C", "F", "G", "Y", "P", "B", "V", "K",
                  "'", "X", "J", "Q", "Z"]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def write_hf_folders():
    base = os.path.join(OUT, "hf_base960h")
    write_json(os.path.join(base, "vocab.json"), {t: i for i, t in enumerate(BASE960H_VOCAB)})
    write_json(os.path.join(base, "tokenizer_config.json"), {
        "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>",
        "do_lower_case": False, "return_attention_mask": False, "do_normalize": True})

    fine = os.path.join(OUT, "hf_finetune")
    letters = sorted("abcdefghijklmnopqrstuvwxyz'")
    vocab = {t: i for i, t in enumerate(letters)}
    vocab["|"] = len(vocab)
    vocab["[UNK]"] = len(vocab)
    vocab["[PAD]"] = len(vocab)
    write_json(os.path.join(fine, "vocab.json"), vocab)
    added = {"content": "[PAD]", "lstrip": False, "normalized": False, "rstrip": False,
             "single_word": False, "__type": "AddedToken"}
    write_json(os.path.join(fine, "tokenizer_config.json"), {
        "bos_token": None, "eos_token": None, "unk_token": "[UNK]", "pad_token": added,
        "word_delimiter_token": "|", "do_lower_case": False,
        "clean_up_tokenization_spaces": True,
        "tokenizer_class": "Wav2Vec2CTCTokenizer"})


def main():
    os.makedirs(OUT, exist_ok=True)
    model_path = os.path.join(OUT, "tokenizer.ckpt")
    train_tokenizer(compose_sentences(), model_path)
    write_json(os.path.join(OUT, "sp_cases.json"), make_sp_cases(model_path))
    write_hf_folders()


if __name__ == "__main__":
    main()
