"""Composed sentences from a small hand-written grammar, to widen the word
coverage of the training text beyond fortunes, licenses and LJSpeech."""
import random

NAMES = "JOHN MARY PETER ANNA DAVID SARAH TOM LUCY JAMES EMMA PAUL KATE MICHAEL ALICE ROBERT HELEN".split()
PEOPLE = ("man woman child teacher doctor farmer driver writer painter sailor soldier baker nurse "
          "student worker neighbour stranger friend brother sister mother father king queen captain "
          "lawyer singer pilot guard clerk").split()
ANIMALS = "dog cat horse bird fish cow sheep mouse rabbit fox bear lion wolf duck goat".split()
THINGS = ("book letter box chair table window door cup glass bottle key coat hat shoe bag basket "
          "picture clock lamp bell ball knife plate ring paper pencil map ticket wheel rope stone "
          "apple bread cake candle flower garden house car train boat bridge road river tree").split()
PLACES = ("the kitchen|the garden|the station|the market|the old church|the river|the village|"
          "the city|the office|the school|the library|the hospital|the harbour|the forest|the hill|"
          "the bank|the shop|the hotel|the park|the museum|the farm|the street|the beach").split("|")
ADJ = ("old new big small red blue green black white yellow heavy light long short young happy "
       "quiet loud cold warm wet dry dark bright strange simple clean dirty empty full broken "
       "beautiful careful famous hungry tired honest").split()
VERBS_PAST = ("found lost bought sold opened closed carried painted cleaned broke moved dropped "
              "washed counted wanted noticed watched kept took gave held pushed pulled fixed "
              "brought left").split()
VERBS_BASE = ("find lose buy sell open close carry paint clean break move drop wash count want "
              "watch keep take give hold push pull fix bring leave").split()
TIMES = ("yesterday|today|tomorrow|last night|this morning|every evening|on monday|on friday|"
         "in the spring|in the winter|after dinner|before noon|at midnight|last summer|next week").split("|")
ADV = "quickly slowly carefully quietly suddenly happily gladly easily nearly often never always".split()
NUMS = "two three four five six seven eight nine ten twelve twenty forty hundred".split()


def _np(rng):
    r = rng.random()
    if r < 0.2:
        return rng.choice(NAMES).capitalize()
    noun = rng.choice(PEOPLE + ANIMALS)
    det = rng.choice(["the", "a", "my", "our", "that", "her", "his", "their"])
    if det == "a" and noun[0] in "aeiou":
        det = "an"
    adj = rng.choice(ADJ) + " " if rng.random() < 0.5 else ""
    if adj and det == "an":
        det = "a" if adj[0] not in "aeiou" else "an"
    if not adj and det == "a" and noun[0] in "aeiou":
        det = "an"
    return f"{det} {adj}{noun}"


def _obj(rng):
    if rng.random() < 0.25:
        return f"{rng.choice(NUMS)} {rng.choice(THINGS)}s"
    adj = rng.choice(ADJ)
    det = rng.choice(["the", "a", "this", "your", "every"])
    if det == "a" and adj[0] in "aeiou":
        det = "an"
    return f"{det} {adj} {rng.choice(THINGS)}"


def sentence(rng):
    k = rng.randrange(6)
    if k == 0:
        s = f"{_np(rng)} {rng.choice(VERBS_PAST)} {_obj(rng)} in {rng.choice(PLACES)} {rng.choice(TIMES)}"
    elif k == 1:
        s = f"{_np(rng)} will {rng.choice(VERBS_BASE)} {_obj(rng)} {rng.choice(TIMES)}"
    elif k == 2:
        s = f"did {_np(rng)} {rng.choice(VERBS_BASE)} {_obj(rng)} near {rng.choice(PLACES)}"
    elif k == 3:
        s = f"{_np(rng)} {rng.choice(ADV)} {rng.choice(VERBS_PAST)} {_obj(rng)}"
    elif k == 4:
        s = f"please {rng.choice(VERBS_BASE)} {_obj(rng)} to {rng.choice(PLACES)} {rng.choice(TIMES)}"
    else:
        s = f"there were {rng.choice(NUMS)} {rng.choice(ADJ)} {rng.choice(THINGS)}s behind {rng.choice(PLACES)}"
    return s[0].upper() + s[1:] + "."


def composed_sentences(n, seed):
    rng = random.Random(seed)
    return [sentence(rng) for _ in range(n)]
