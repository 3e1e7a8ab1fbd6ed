"""Sentence sources for the demo corpus: fortunes-min, LJSpeech transcripts.

Transcripts are normalised to SpeechBrain CommonVoice style: upper case,
letters, apostrophes and single spaces.
"""
import re

FORTUNE_FILES = ["/usr/share/games/fortunes/fortunes",
                 "/usr/share/games/fortunes/literature",
                 "/usr/share/games/fortunes/riddles"]
LJ_TSV = "/work/shared/data/ljspeech-part/transcripts.tsv"

# Words TTS engines would read differently from their spelling (abbreviations,
# roman numerals) make the reference ambiguous, so such sentences are dropped.
_BAD_TOKEN = re.compile(r"\b(mr|mrs|dr|st|vs|etc|ie|eg|ii|iii|iv|vi|vii|viii|ix|xi|jr|sr|co|inc|ltd)\b", re.I)
_ALLOWED = re.compile(r"^[A-Za-z ,;:'\-\.\!\?\"]+$")


def normalize(text):
    text = text.upper().replace("-", " ")
    text = re.sub(r"[^A-Z' ]", " ", text)
    text = re.sub(r"(?<![A-Z])'|'(?![A-Z])", " ", text)  # quotes, not apostrophes
    return re.sub(r"\s+", " ", text).strip()


def _acceptable(sent, min_words=3, max_words=15):
    if not _ALLOWED.match(sent) or _BAD_TOKEN.search(sent):
        return False
    words = sent.split()
    if not (min_words <= len(words) <= max_words):
        return False
    for w in re.findall(r"[A-Za-z']+", sent):
        core = w.strip("'")
        # All-caps short words are usually acronyms that TTS spells out.
        if 2 <= len(core) <= 4 and core.isupper() and core not in ("I",):
            return False
    return True


def _split_sentences(block):
    block = re.sub(r"\s+", " ", block).strip()
    return [s.strip() for s in re.split(r"(?<=[\.\!\?])\s+", block) if s.strip()]


def fortune_sentences():
    out = []
    for path in FORTUNE_FILES:
        with open(path, encoding="latin-1") as f:
            raw = f.read()
        for entry in raw.split("\n%\n"):
            lines = [l for l in entry.split("\n")
                     if not l.strip().startswith("--") and not re.match(r"^\s*[QA]:", l)
                     and not l.isupper()]
            for s in _split_sentences(" ".join(lines)):
                if _acceptable(s):
                    out.append(s)
    return out


def ljspeech_sentences():
    out = []
    with open(LJ_TSV, encoding="utf-8") as f:
        next(f)
        for line in f:
            _, text = line.rstrip("\n").split("\t", 1)
            for s in _split_sentences(text):
                parts = [s] if len(s.split()) <= 15 else re.split(r"(?<=[,;:])\s+", s)
                for p in parts:
                    if _acceptable(p):
                        out.append(p)
    return out


def unique_by_norm(sents):
    seen, out = set(), []
    for s in sents:
        n = normalize(s)
        if n and n not in seen:
            seen.add(n)
            out.append((s, n))
    return out


LICENSE_FILES = ["GPL-3", "GPL-2", "LGPL-3", "LGPL-2.1", "Apache-2.0", "Artistic", "GFDL-1.3",
                 "MPL-2.0", "CC0-1.0"]


def license_sentences():
    """Plain legal English from Debian's common-licenses (long sentences split at commas)."""
    out = []
    for name in LICENSE_FILES:
        with open("/usr/share/common-licenses/" + name, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        for para in re.split(r"\n\s*\n", raw):
            for s in _split_sentences(para):
                s = re.sub(r"^\s*(\d+\.|\([a-z0-9]\))\s*", "", s)
                parts = [s] if len(s.split()) <= 15 else re.split(r"(?<=[,;:])\s+", s)
                for p in parts:
                    if _acceptable(p):
                        out.append(p)
    return out
