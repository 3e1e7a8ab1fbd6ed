#!/usr/bin/python3
"""Reference S/D/I counts for quasr's WER/CER tests, with SpeechBrain semantics.

SpeechBrain cannot be installed here, so this re-implements (no code copied)
the algorithm of speechbrain/utils/edit_distance.py at
speechbrain/speechbrain commit 9c826ef3937bac885c8a6ca86c6889a30f256fb5
(file last changed in 0dbaf7958b7c964ad54dc0ae355bdbfb6c161f0e):
  - op_table: Levenshtein table filled row by row over the reference; in
    ties the operation preferred is insertion, then deletion, then
    substitution/match (strict '<' comparisons, Kaldi compute-wer order);
  - count_ops / alignment: walk back from the last cell following the stored
    operation (row 0 -> insertions, column 0 -> deletions);
  - accumulatable_wer_stats: sums the per-utterance counts, WER =
    100 * (I + D + S) / num_ref_tokens (NaN when there are no ref tokens).
Tokens: words = str.split() (the quantization tutorial's compute_wer);
characters = ErrorRateStats(split_tokens=True), i.e. speechbrain.dataio.
dataio.split_word: list("_".join(words)).

Usage: /usr/bin/python3 tools/sb_wer_reference.py > tests/fixtures/eval/sb_wer_cases.json
"""
import json
import math
import sys

EQ, INS, DEL, SUB = "=", "I", "D", "S"

CASES = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat sat on the mat", "the cat sat on mat"),
    ("the cat sat on the mat", "a the cat sat on the mat"),
    ("the cat sat on the mat", "the cat sat on the mat too"),
    ("the cat sat", "uh the cat sat um"),
    ("the cat sat", "uh uh the cat sat um um"),
    ("", "hello world"),
    ("", ""),
    ("hello world", ""),
    ("a", "b"),
    ("a b", "b a"),
    ("a b c", "c b a"),
    ("a b c d", "b a d c"),
    ("the the the", "the the"),
    ("the the", "the the the the"),
    ("a a b b", "a b a b"),
    ("go go go go", "no go no go"),
    ("one two three", "one three two"),
    ("one two three four five", "two three four five six"),
    ("one two three four five", "zero one two three four"),
    ("x", "x x x x"),
    ("x y z", "a b c d e f"),
    ("a b c d e f", "x y z"),
    ("café naïve résumé", "cafe naïve resume"),
    ("zürich straße", "zurich strasse"),
    ("东京 大阪 京都", "东京 京都"),
    ("привет мир", "привет мир мир"),
    ("ünïcödé wörds", "ünïcödé words extra"),
    ("i ' m here", "i'm here"),
    ("it's ok", "its ok"),
    ("  leading and   trailing  spaces ", "leading and trailing spaces"),
    ("tab\tseparated\nwords", "tab separated words"),
    ("abc", "abd"),
    ("abc def", "abcdef"),
    ("abcdef", "abc def"),
    ("a b", "ab"),
    ("mister quilter is the apostle of the middle classes and we are glad "
     "to welcome his gospel",
     "mister quilter is the apostle of the middle classes and we are glad "
     "to welcome his gospel"),
    ("nor is mister quilter's manner less interesting than his matter",
     "nor is mister quilters manner less interesting than his mater"),
    ("he tells us that at this festive season of the year with christmas "
     "and roast beef looming before us similes drawn from eating and its "
     "results occur most readily to the mind",
     "he tells us that at this festive season of the year with christmas "
     "and rose beef looming before us similarly drawn from eating and its "
     "results occur most readily to mind"),
    ("linnell's pictures are a sort of up guards and at em paintings and "
     "mason's exquisite idylls are as national as a jingo poem",
     "lynelle's pictures are a sort of up guards an adam paintings and "
     "masons exquisite idles are as national as a jingle poem"),
    ("before he had time to answer a much encumbered vera burst into the "
     "room with the question",
     "before he had time to answer a much in cumbered vera burst into the "
     "room with the question question"),
    ("b a b a b a", "a b a b a b"),
]


def op_table(a, b):
    cols = len(b) + 1
    table = [[EQ] * cols for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        table[i][0] = DEL
    for j in range(1, cols):
        table[0][j] = INS
    prev = list(range(cols))
    for i in range(1, len(a) + 1):
        curr = [i] + [0] * (cols - 1)
        for j in range(1, cols):
            ins_cost = curr[j - 1] + 1
            del_cost = prev[j] + 1
            differ = a[i - 1] != b[j - 1]
            sub_cost = prev[j - 1] + (1 if differ else 0)
            if sub_cost < ins_cost and sub_cost < del_cost:
                curr[j] = sub_cost
                if differ:
                    table[i][j] = SUB
            elif del_cost < ins_cost:
                curr[j] = del_cost
                table[i][j] = DEL
            else:
                curr[j] = ins_cost
                table[i][j] = INS
        prev = curr
    return table


def walk(table, a, b):
    """Back-trace: returns (counts, alignment as [op, ref, hyp])."""
    counts = {"ins": 0, "del": 0, "sub": 0, "correct": 0}
    steps = []
    i, j = len(table) - 1, len(table[0]) - 1
    while i or j:
        op = INS if i == 0 else DEL if j == 0 else table[i][j]
        if op == INS:
            j -= 1
            counts["ins"] += 1
            steps.append(["I", "", b[j]])
        elif op == DEL:
            i -= 1
            counts["del"] += 1
            steps.append(["D", a[i], ""])
        else:
            i -= 1
            j -= 1
            if op == SUB:
                counts["sub"] += 1
                steps.append(["S", a[i], b[j]])
            else:
                counts["correct"] += 1
                steps.append(["C", a[i], b[j]])
    steps.reverse()
    return counts, steps


def score(ref_tokens, hyp_tokens):
    counts, steps = walk(op_table(ref_tokens, hyp_tokens), ref_tokens, hyp_tokens)
    counts["ref_tokens"] = len(ref_tokens)
    counts["hyp_tokens"] = len(hyp_tokens)
    return counts, steps


def chars(text):
    return list("_".join(text.split()))


def rate(c):
    n = c["ref_tokens"]
    return None if n == 0 else 100.0 * (c["ins"] + c["del"] + c["sub"]) / n


def main():
    cases = []
    totals = {"words": {}, "chars": {}}
    for ref, hyp in CASES:
        words, alignment = score(ref.split(), hyp.split())
        char_counts, _ = score(chars(ref), chars(hyp))
        for key, c in (("words", words), ("chars", char_counts)):
            for k, v in c.items():
                totals[key][k] = totals[key].get(k, 0) + v
            c["error_rate"] = rate(c)
        cases.append({"ref": ref, "hyp": hyp, "words": words, "chars": char_counts,
                      "alignment": alignment})
    for key in totals:
        totals[key]["error_rate"] = rate(totals[key])
    out = {"source": "tools/sb_wer_reference.py (SpeechBrain edit_distance.py @ 9c826ef)",
           "cases": cases, "totals": totals}
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
