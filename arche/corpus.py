"""
Story sources: every source yields plain story strings (stripped, non-empty, no end-of-text markers).

    iter_stories("tinystories")      TinyStories train split streamed from the Hugging Face hub
                                     (roneneldan/TinyStories, the paper's data; needs the internet)
    iter_stories("synthetic", seed)  the built-in SYNTHETIC generator below (offline, infinite)
    iter_stories("path/to/file.txt") stories separated by <|endoftext|> lines, or else by blank lines
    iter_stories("path/to/file.jsonl") one {"text": ...} object per line

The synthetic corpus is NOT TinyStories. It is generated here from templates and word lists with
random.Random(seed), so it needs no download and is the same on every machine. It imitates the shape of
TinyStories: 100-300 word children's stories, ~60% opening with "Once upon a time", ~20% with "One day",
the rest with a name or a scene; a cast of recurring names and animals, places, toys, a small problem
(a lost toy, a kite in a tree, a rainy day, a quarrel over sharing, ...), dialogue in quotes, a resolution,
and sometimes a moral. Its vocabulary is small on purpose (about a thousand GPT-2 tokens), so a CPU smoke
run with a compact output head has something learnable to fit in minutes. Numbers measured on it say
nothing about TinyStories.
"""

import itertools
import json
import os
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

EOT_MARKER = "<|endoftext|>"
HF_DATASET = "roneneldan/TinyStories"


def iter_stories(source: str, seed: int = 0) -> Iterator[str]:
    """Stories from `source`: "tinystories", "synthetic", or a .txt/.jsonl path.

    `seed` only affects the synthetic generator; the hub and files are read in their stored order.
    Problems that can be seen up front (unknown source, missing file, hub unreachable) raise here,
    problems inside a file raise while iterating, naming the file and line.
    """
    if source == "tinystories":
        return _iter_tinystories()
    if source == "synthetic":
        return _iter_synthetic(seed)
    path = Path(os.fspath(source))
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".jsonl"):
        raise ValueError(
            f"unknown story source {str(source)!r}: expected 'tinystories', 'synthetic', "
            "or a path to a .txt or .jsonl file"
        )
    if not path.is_file():
        raise ValueError(f"story file {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"story file {path} is empty")
    return _iter_jsonl(path) if suffix == ".jsonl" else _iter_txt(path)


def synthetic_stories(n: int, seed: int = 0) -> list[str]:
    """The first n stories of the synthetic corpus for `seed` (same seed, same stories)."""
    return list(itertools.islice(_iter_synthetic(seed), n))


def first_word_share(stories) -> dict[str, float]:
    """Fraction of stories starting with each first word (punctuation stripped), most common first."""
    words = Counter(s.split(maxsplit=1)[0].strip(".,!?\"'") for s in stories if s.strip())
    total = sum(words.values())
    return {w: c / total for w, c in words.most_common()}


# -----------------------------------------------------------------------------
# Hugging Face hub


def _iter_tinystories():
    def unreachable(e):
        return RuntimeError(
            f"could not stream {HF_DATASET} from the Hugging Face hub ({type(e).__name__}: {e}). "
            "The hub is unreachable or offline mode is on. Use source='synthetic' for the built-in "
            "offline corpus, or a local .txt/.jsonl file of stories."
        )

    try:
        from datasets import load_dataset  # imported here: slow to import, and only this source needs it
    except ImportError as e:
        raise RuntimeError("source 'tinystories' needs the `datasets` package: pip install datasets") from e
    try:
        # streaming: no multi-GB download before the first story, and we usually read only a prefix
        rows = iter(load_dataset(HF_DATASET, split="train", streaming=True))
    except Exception as e:
        raise unreachable(e) from e
    return _tinystories_texts(rows, unreachable)


def _tinystories_texts(rows, unreachable):
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as e:  # the stream itself can fail midway (network)
            raise unreachable(e) from e
        text = row["text"].strip()
        if text:
            yield text


# -----------------------------------------------------------------------------
# local files


def _lines(path):
    """The lines of a UTF-8 text file; a decoding error names the file and the line."""
    # decoded line by line (not by a buffered text reader) so the error points at the right line
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8").replace("\r\n", "\n")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}, line {lineno}: not UTF-8 text ({e.reason})") from None


def _iter_jsonl(path):
    n = 0
    for lineno, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise ValueError(f'{path}, line {lineno}: expected an object with a string "text" field')
        text = obj["text"].strip()
        if text:
            n += 1
            yield text
    if n == 0:
        raise ValueError(f"story file {path} holds no stories")


def _has_marker(path, chunk_size=1 << 20):
    """Whether the file contains <|endoftext|>, reading chunks so a large file is not loaded at once."""
    tail = b""
    marker = EOT_MARKER.encode()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            if marker in tail + chunk:
                return True
            tail = chunk[-(len(marker) - 1):]  # a marker may straddle two chunks
    return False


def _iter_txt(path):
    # With <|endoftext|> separators a story may contain blank lines between paragraphs,
    # so blank lines only separate stories in files that have no marker at all.
    use_marker = _has_marker(path)
    n, lines = 0, []
    for line in _lines(path):
        if use_marker:
            *ends, rest = line.split(EOT_MARKER)
            for piece in ends:  # each marker closes the story gathered so far
                story = ("".join(lines) + piece).strip()
                lines = []
                if story:
                    n += 1
                    yield story
            lines.append(rest)
        elif line.strip():
            lines.append(line)
        else:
            story = "".join(lines).strip()
            lines = []
            if story:
                n += 1
                yield story
    story = "".join(lines).strip()
    if story:
        n += 1
        yield story
    if n == 0:
        raise ValueError(f"story file {path} holds no stories")


# -----------------------------------------------------------------------------
# the synthetic corpus
#
# Templates are str.format strings over the fields of one story (see _cast). Dialogue quotes are
# written as ` so the templates need no escaping; _Story.pick turns them into ".

GIRLS = ["Lily", "Mia", "Sue", "Anna", "Lucy", "Emma", "Sara", "Amy", "Jane", "Kim", "Zoe", "Ella",
         "Rose", "Daisy", "Molly", "Sophie", "Bella", "Grace", "Ruby", "Kate", "Nora", "Ava", "Lila", "Tina"]
BOYS = ["Tom", "Ben", "Sam", "Max", "Tim", "Jack", "Leo", "Jake", "Bob", "Joe", "Finn", "Timmy", "Billy",
        "Danny", "Mark", "Luke", "Toby", "Jim", "Alex", "Ted", "Eli", "Noah", "Paul", "Rob"]
PET_NAMES = ["Spot", "Buddy", "Fluffy", "Whiskers", "Pip", "Coco", "Rex", "Bubbles", "Sunny", "Patch",
             "Snowy", "Milo", "Bella", "Dot", "Benny", "Lulu", "Peanut", "Ginger"]
ANIMALS = ["cat", "dog", "bunny", "bird", "bear", "fox", "frog", "duck", "mouse", "puppy", "kitten",
           "squirrel", "turtle", "lamb", "pig", "monkey", "lion", "owl", "horse", "elephant", "deer", "hen"]
TRAITS = ["little", "kind", "happy", "curious", "shy", "brave", "playful", "friendly", "silly", "clever",
          "gentle", "cheerful", "small", "busy", "sweet", "smart", "funny", "quiet"]
COLORS = ["red", "blue", "yellow", "green", "pink", "purple", "orange", "white", "brown", "gold"]
OBJ_ADJS = COLORS + ["big", "little", "shiny", "soft", "new", "old", "pretty", "special", "sparkly"]
PARENTS = [("mom", "she"), ("dad", "he"), ("grandma", "she"), ("grandpa", "he")]
HOMES = ["in a little house", "in a small town", "near a big forest", "on a farm",
         "in a cozy house by the sea", "in a little village", "next to a big park",
         "in a house with a red door", "at the edge of the woods"]
LOVES = ["play outside", "sing songs", "draw pictures", "dance", "jump in puddles", "climb trees",
         "look at the stars", "help {his} {parent}", "bake cookies", "swim", "pick flowers", "read books",
         "build towers with blocks", "play hide and seek", "run fast", "watch the birds", "make new friends",
         "play with {his} {obj}", "explore", "tell funny jokes"]
FOODS = [("a cake", "the cake", "cake"), ("some cookies", "the cookies", "cookies"),
         ("pancakes", "the pancakes", "pancakes"), ("a big pie", "the pie", "pie"),
         ("a bowl of soup", "the soup", "soup"), ("some muffins", "the muffins", "muffins"),
         ("a pizza", "the pizza", "pizza"), ("some bread", "the bread", "bread")]
SPOTS = ["big rock", "bush", "tree", "bench", "pile of leaves", "old log", "flower pot", "blanket", "basket",
         "bucket", "wooden box", "tall grass"]
CRITTERS = ["a butterfly flying over the flowers", "a squirrel running up a tree",
            "a frog jumping into the water", "a little bird singing a song", "a snail moving very slowly",
            "a duck swimming with its babies", "a bee buzzing near a flower", "a rabbit hopping in the grass",
            "a ladybug on a leaf", "a big dog chasing its tail"]
WEATHER = ["sunny", "warm", "bright", "windy", "cool", "beautiful"]

# name, what is there (sentences), what one does there (verb phrases, past tense)
PLACES = {
    "park": (["There were swings and a big slide.", "Some ducks swam in the pond.",
              "Many kids were laughing and running on the grass."],
             ["played on the swings", "went down the slide", "fed the ducks", "ran on the grass"]),
    "forest": (["The trees were very tall.", "Little flowers grew between the trees.",
                "A small river ran through the forest."],
               ["picked berries", "looked for bugs", "climbed over old logs", "listened to the birds"]),
    "beach": (["The sand was soft and warm.", "Big waves came and went.",
               "There were pretty shells everywhere."],
              ["built a sandcastle", "splashed in the water", "looked for shells", "dug a big hole"]),
    "garden": (["The garden was full of flowers.", "Bees were buzzing around the roses.",
                "There was a little pond with a fish in it."],
               ["watered the flowers", "dug in the dirt", "looked at the butterflies",
                "picked some tomatoes"]),
    "farm": (["There was a big red barn.", "The cows were eating grass.",
              "Some chickens were walking around."],
             ["fed the chickens", "petted the cows", "played in the hay", "rode on the tractor"]),
    "lake": (["The water was clear and blue.", "Small fish swam near the shore.",
              "There was an old wooden dock."],
             ["threw stones into the water", "watched the fish", "sat on the dock", "went on a little boat"]),
    "hill": (["The grass on the hill was green and soft.", "From the top, they could see the whole town.",
              "The wind was blowing softly."],
             ["rolled down the hill", "looked at the clouds", "ran up and down", "had a picnic"]),
    "meadow": (["The meadow was full of yellow flowers.", "The grass was tall and green.",
                "Butterflies danced in the air."],
               ["picked flowers", "chased butterflies", "played tag", "made flower crowns"]),
    "backyard": (["There was a big tree with a swing.", "The grass was wet from the rain.",
                  "There was a sandbox in the corner."],
                 ["played in the sandbox", "swung on the swing", "blew bubbles", "played catch"]),
    "zoo": (["There were lions, monkeys and elephants.", "The monkeys were jumping from tree to tree.",
             "A big elephant was drinking water."],
            ["watched the monkeys", "looked at the lions", "waved at the elephant", "ate ice cream"]),
    "playground": (["There was a tall slide and a sandbox.", "Kids were playing on the swings.",
                    "There was a big climbing frame."],
                   ["played on the swings", "climbed to the top", "went down the slide", "played tag"]),
    "river": (["The water was moving fast.", "There were big rocks by the water.", "Frogs sat on the rocks."],
              ["threw sticks into the water", "looked for frogs", "sat on a big rock", "made a little boat"]),
}

# toys and things, with what can happen to them: "fly" can get stuck up high, "break" can break
OBJECTS = {
    "ball": {"fly", "lose", "share"}, "kite": {"fly", "break", "share"}, "balloon": {"fly", "lose"},
    "hat": {"fly", "lose"}, "teddy bear": {"lose", "share", "break"}, "toy car": {"break", "lose", "share"},
    "doll": {"break", "lose", "share"}, "boat": {"break", "lose", "share"}, "book": {"lose", "share"},
    "drum": {"break", "share"}, "truck": {"break", "lose", "share"}, "robot": {"break", "lose", "share"},
    "necklace": {"lose", "break"}, "shell": {"lose", "share"}, "rock": {"lose", "share"},
    "train": {"break", "lose", "share"}, "wagon": {"break", "share"}, "puzzle": {"lose", "share"},
    "frisbee": {"fly", "lose", "share"}, "scarf": {"fly", "lose"}, "toy plane": {"fly", "break", "share"},
    "crown": {"lose", "break"}, "bell": {"lose", "share"}, "cup": {"break", "lose"},
}

OPENINGS_ONCE = [
    "Once upon a time, there was a {trait} {kind} named {name}.",
    "Once upon a time, there was a {trait} {kind} called {name}.",
    "Once upon a time, in a {home_adj} {home_noun}, there lived a {trait} {kind} named {name}.",
    "Once upon a time, there lived a {trait} {kind}. {His} name was {name}.",
    "Once upon a time, a {trait} {kind} named {name} lived {home}.",
    "Once upon a time, there was a {kind} named {name} who loved to {love}.",
    "Once upon a time, {name} the {animal} lived {home}.",
    "Once upon a time, there were two friends, {name} and {friend}.",
]
# a "One day" opening is also the start of the day's events
OPENINGS_ONE_DAY = [
    "One day, {name} went {to_place} with {his} {parent}.",
    "One day, a {trait} {kind} named {name} went {to_place}.",
    "One day, {name} and {his} friend {friend} decided to go {to_place}.",
    "One day, {name} woke up early. The sun was shining, so {he} wanted to go {to_place}.",
    "One day, {name} the {animal} went for a walk {to_place}.",
    "One day, {name} and {his} {parent} went {to_place} to play.",
]
OPENINGS_OTHER = [
    "{name} was a {trait} {kind} who lived {home}.",
    "{name} loved to {love}.",
    "There was once a {trait} {kind} named {name}.",
    "In a {home_adj} {home_noun}, there lived a {kind} named {name}.",
    "It was a {weather} day, and {name} wanted to play {at_place}.",
    "{name} and {friend} were best friends.",
    "Last summer, {name} went {to_place} with {his} {parent}.",
    "The sun was shining, and {name} the {animal} was very happy.",
    "{name} had {an_obj}. It was {his} favorite thing in the world.",
    "Every morning, {name} said hello to the birds outside {his} window.",
]
INTRO = [
    "{He} loved to {love}.",
    "{He} was always {trait2} and liked to smile.",
    "{He} lived {home} with {his} {parent}.",
    "{He} had {an_obj}. It was {his} favorite thing.",
    "{name} liked the color {color} very much.",
    "Every day, {he} would {love}.",
    "{His} favorite food was {food_plain}.",
]
FRIEND_INTRO = [
    "{His} best friend was {friend}, a {ftrait} {fkind}.",
    "{name} often played with {his} friend {friend}, a {ftrait} {fkind}.",
    "{friend}, a {ftrait} {fkind}, lived next door.",
    "{name} had a friend named {friend}. {fHe} was a {ftrait} {fkind}.",
]
OBJ_INTRO = [
    "{name} had {an_obj}.",
    "{He} always carried {his} {obj_adj} {obj}.",
    "{name} had {an_obj} that {his} {parent} gave {him}.",
]
EVENT_START = [
    "One day, {name} went {to_place} with {his} {parent}.",
    "One day, {name} and {friend} went {to_place} to play.",
    "One {weather} morning, {name} wanted to go {to_place}.",
    "One day, the sun was shining, so {name} went {to_place}.",
    "One afternoon, {name} asked {his} {parent}, `Can we go {to_place}?` `Yes,` said {his} {parent}.",
    "The next day, {name} went {to_place} with {friend}.",
]
ARRIVE = [
    "When {he} got there, {he} was very happy.",
    "{name} liked the {place} very much.",
    "The {place} was big and beautiful.",
    "{name} ran into the {place} with a big smile.",
    "{He} looked around and said, `I love the {place}!`",
]
DETAILS = [  # setting the scene before the problem; _Story adds as many as the target length needs
    "The sun was warm and the sky was blue.",
    "{name} and {friend} {act1}.",
    "Then they {act2}.",
    "{friend} laughed and said, `This is so much fun!`",
    "They saw {critter}.",
    "`Look!` said {name}. `{Critter}!`",
    "{name} sang a happy song while {he} played.",
    "{friend} {act3}, and {name} watched.",
    "`Let's play a game,` said {friend}. `Okay!` said {name}.",
    "{name} felt the soft wind on {his} face.",
    "They played for a long time.",
    "{His} {parent} sat on a bench and watched them.",
    "{name} found a {color} flower and smelled it.",
    "`I am so happy today,` said {name}.",
    "{name} wanted to {love} later too.",
    "They were having a great time.",
]
AFTER = [  # after the resolution, in the order they may follow each other; also used to pad the story
    "They laughed and talked about what had happened.",
    "Then they went back to playing.",
    "After that, they {act3} together.",
    "They ate a little snack and drank some water.",
    "{name} told {friend}, `Today was a good day.`",
    "{name} and {friend} played until the sun began to set.",
    "The sky turned pink and orange, and it was time to go home.",
    "`Can we come back tomorrow?` asked {name}. `Of course,` said {his} {parent}.",
    "On the way home, they saw {critter}.",
]
ENDINGS = [
    "From that day on, {name} and {friend} were best friends.",
    "That night, {name} went to bed with a big smile on {his} face.",
    "{name} was very happy. It was the best day ever!",
    "They went home, tired but happy.",
    "{name} gave {friend} a big hug. `You are the best friend ever,` {he} said.",
    "And they all lived happily ever after.",
    "{name} smiled. {He} could not wait to come back to the {place} again.",
    "When they got home, {name} told {his} {parent} all about the day.",
]
MORAL_PREFIX = ["{name} learned that ", "The moral of the story is that ", "That day, {name} learned that "]


class _Story:
    """The fields and sentences of one story under construction."""

    def __init__(self, rng, f):
        self.rng, self.f = rng, f

    def pick(self, templates):
        return self.fill(self.rng.choice(templates))

    def fill(self, template):
        s = template.format(**self.f).replace("`", '"')
        return s[0].upper() + s[1:]


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def _character(rng, exclude=()):
    """(name, kind, animal word or None for a child, he/she) of a child or a named animal."""
    if rng.random() < 0.6:
        gender = rng.choice(["he", "she"])
        names = GIRLS if gender == "she" else BOYS
        name = rng.choice([n for n in names if n not in exclude])
        kind = "girl" if gender == "she" else "boy"
        return name, kind, None, gender
    animal = rng.choice(ANIMALS)
    name = rng.choice([n for n in PET_NAMES if n not in exclude])
    return name, animal, animal, rng.choice(["he", "she"])


def _pronouns(he, prefix=""):
    p = {"he": he, "his": "his" if he == "he" else "her", "him": "him" if he == "he" else "her"}
    out = {}
    for k, v in p.items():
        out[prefix + k] = v
        out[prefix + k[0].upper() + k[1:]] = v[0].upper() + v[1:]
    return out


def _cast(rng, objects):
    """All the fields one story's templates may use: who, where, with what."""
    name, kind, animal, he = _character(rng)
    friend, fkind, _, fhe = _character(rng, exclude=(name,))
    parent, phe = rng.choice(PARENTS)
    place = rng.choice(list(PLACES))
    things, acts = PLACES[place]
    obj, obj_adj = rng.choice(objects), rng.choice(OBJ_ADJS)
    food, the_food, food_plain = rng.choice(FOODS)
    critter = rng.choice(CRITTERS)
    f = dict(name=name, kind=kind, animal=animal, friend=friend, fkind=fkind,
             parent=parent, Parent=parent.capitalize(),
             place=place, to_place=f"to the {place}", at_place=f"at the {place}", things=things,
             obj=obj, obj_adj=obj_adj, an_obj=f"{_article(obj_adj)} {obj_adj} {obj}",
             food=food, the_food=the_food, food_plain=food_plain,
             critter=critter, Critter=critter[0].upper() + critter[1:],
             color=rng.choice(COLORS), weather=rng.choice(WEATHER), home=rng.choice(HOMES),
             home_adj=rng.choice(["small", "little", "quiet", "sunny", "faraway"]),
             home_noun=rng.choice(["town", "village", "house", "forest", "land"]),
             fear=rng.choice(["the dark", "the big dog next door", "the loud thunder", "the deep water",
                              "the tall slide", "the big spider in the corner"]))
    f["trait"], f["trait2"], f["ftrait"] = rng.sample(TRAITS, 3)
    f["act1"], f["act2"], f["act3"] = rng.sample(acts, 3)
    f["spot1"], f["spot2"], f["spot3"] = rng.sample(SPOTS, 3)
    f.update(_pronouns(he))
    f.update(_pronouns(fhe, "f"))
    f.update(_pronouns(phe, "p"))
    f["love"] = rng.choice(LOVES).format(**f)  # some hobbies mention {his} {obj} or {parent}
    return f


# --- problems ----------------------------------------------------------------------------------------
# Each problem is data: "trouble" and "fix" are lists of steps, each step a list of alternatives of which
# one is told; "needs" is the object tag the problem requires; "meets_friend" marks the problem that
# introduces the friend itself (so they must not appear earlier); "morals" complete "... learned that".

PROBLEMS = [
    dict(
        needs="lose",
        trouble=[
            ["Then {name} could not find {his} {obj}.", "But when {he} looked for {his} {obj}, it was gone!",
             "Suddenly, {name} saw that {his} {obj} was missing."],
            ["{He} felt very sad.", "{He} started to cry.", "{He} was very worried."],
            ["`Where is my {obj}?` {name} asked.", "`I lost my {obj}!` {name} cried.",
             "`Oh no! My {obj} is gone!` said {name}."],
            ["{friend} came over. `Don't worry, I will help you look,` {fhe} said.",
             "{friend} said, `Let's look for it together.`",
             "`We will find it,` said {friend}. `Two friends can look better than one.`"],
            ["They looked under the {spot1}. They looked behind the {spot2}.",
             "They looked everywhere, near the {spot1} and under the {spot2}.",
             "First they looked by the {spot1}, but it was not there. Then they looked near the {spot2}."],
        ],
        fix=[
            ["At last, {friend} saw something under the {spot3}. `Here it is!` {fhe} shouted.",
             "Then {name} saw the {obj} behind the {spot3}. It had been there all along!",
             "Finally, they found the {obj} next to the {spot3}."],
            ["{name} hugged {his} {obj} and said, `Thank you, {friend}!`",
             "{name} was so happy. {He} held {his} {obj} tight.",
             "{name} jumped for joy. `You are a good friend,` {he} said to {friend}."],
        ],
        morals=["friends help each other.", "it is good to take care of your things.",
                "you should never give up when you look for something."],
    ),
    dict(
        needs="fly",
        trouble=[
            ["The wind blew hard, and {his} {obj} flew up into a tall tree.",
             "{name} threw {his} {obj} too high, and it got stuck in a tree.",
             "Suddenly, a big wind took {his} {obj} up, up, up into a tree."],
            ["`Oh no! I can't reach it!` said {name}.", "`My {obj}!` cried {name}. `It is stuck!`",
             "{name} looked up at the {obj}. `How will I get it down?` {he} asked."],
            ["{He} jumped and jumped, but the tree was too tall.",
             "{He} tried to climb the tree, but {he} was too small.",
             "{He} threw a stick at it, but the {obj} did not move."],
        ],
        fix=[
            ["{friend} had an idea. `Let's use a long stick!` {fhe} said. {friend} held the stick up high "
             "and gave the {obj} a push. It fell down into {name}'s hands.",
             "{name} ran to get {his} {parent}. `Can you help me?` {he} asked. {His} {parent} got a ladder, "
             "climbed up and got the {obj} down.",
             "A little bird saw the {obj} and flew up to the branch. The bird pushed the {obj} with its "
             "beak, and the {obj} fell down. `Thank you, bird!` said {name}."],
            ["{name} was so happy to have {his} {obj} back.",
             "{name} smiled and said, `Now I will be more careful.`"],
        ],
        morals=["it is good to ask for help.", "you should never give up.", "even a small friend can help."],
    ),
    dict(
        needs="break",
        trouble=[
            ["{name} was playing with {his} {obj} when it broke!",
             "Oh no! {His} {obj} fell on the ground and broke into two pieces.",
             "{name} played with {his} {obj} too hard, and it broke."],
            ["{He} started to cry.", "{He} felt very sad.", "Tears came down {his} face."],
            ["`My {obj} is broken!` {he} cried.", "`Now I can't play with my {obj},` {he} said.",
             "`What will I do now?` asked {name}."],
        ],
        fix=[
            ["{His} {parent} came and gave {him} a big hug. `Don't be sad. We can fix it,` {phe} said.",
             "{His} {parent} heard {him} and came to help. `Let me see,` {phe} said.",
             "{friend} saw {him} and said, `I know! We can fix it with some glue.`"],
            ["They used some glue and a little tape.", "They worked together to put the pieces back.",
             "It took a long time, but they did not give up."],
            ["Soon the {obj} was as good as new.", "When they were done, the {obj} was whole again.",
             "The {obj} was fixed! It looked a little different, but it worked."],
            ["{name} smiled and said, `Thank you!`", "{name} promised to be more gentle with {his} {obj}."],
        ],
        morals=["broken things can often be fixed.", "we should be gentle with our toys.",
                "it is better to ask for help than to cry."],
    ),
    dict(
        trouble=[
            ["Then big gray clouds came, and it started to rain.", "But then it started to rain very hard.",
             "Suddenly, the sky got dark and it began to rain."],
            ["`Oh no, now we can't play outside,` said {name}.", "`Why does it have to rain?` {name} asked.",
             "{name} was sad. `I wanted to play more,` {he} said."],
            ["They ran home as fast as they could.", "They ran inside to stay dry."],
        ],
        fix=[
            ["{His} {parent} said, `Let's build a fort with blankets!` They made a big fort in the "
             "living room.",
             "{His} {parent} said, `We can bake {food} together.` They mixed and stirred, and soon the "
             "kitchen smelled good.",
             "{friend} said, `Let's read a book!` They sat together and read a story about a dragon.",
             "They played a game with blocks and built the tallest tower ever."],
            ["When the rain stopped, they looked out the window and saw a big rainbow.",
             "Later, the sun came out again, and there was a rainbow in the sky.",
             "They had so much fun that they forgot about the rain."],
            ["`This was a good day after all,` said {name}.", "{name} laughed. `I like rainy days now!`"],
        ],
        morals=["a rainy day can be a happy day too.", "you can have fun anywhere with a friend."],
    ),
    dict(
        needs="share",
        trouble=[
            ["{friend} saw {name}'s {obj} and wanted to play with it too.",
             "{friend} asked, `Can I play with your {obj}?`",
             "{friend} liked {name}'s {obj} very much and wanted a turn."],
            ["`No, it is mine!` said {name}.", "{name} held the {obj} tight and said, `No!`",
             "But {name} did not want to share. `It is my {obj},` {he} said."],
            ["{friend} felt sad and walked away.", "{friend} sat down alone and looked very sad.",
             "{friend} did not say anything, but {fhe} looked sad."],
        ],
        fix=[
            ["Soon {name} did not feel happy anymore. Playing alone was no fun.",
             "{name} saw that {friend} was sad, and {he} felt bad inside.",
             "{His} {parent} said, `How would you feel if {friend} did not share with you?`"],
            ["{He} walked to {friend} and said, `I am sorry. Do you want to play with my {obj}?`",
             "`I am sorry, {friend},` said {name}. `Let's play with it together.`"],
            ["{friend} smiled. `Thank you!` {fhe} said.",
             "{friend} was so happy. `Yes, please!` {fhe} said."],
            ["They took turns and played together all day.",
             "They played with the {obj} together and laughed a lot."],
        ],
        morals=["sharing is caring.", "it is more fun to play together.",
                "it is kind to share with friends."],
    ),
    dict(
        trouble=[
            ["But {name} was afraid of {fear}.", "Then {name} thought about {fear}, and {he} felt scared.",
             "{name} did not like {fear}. It made {him} scared."],
            ["`I am scared,` {name} said in a small voice.", "`I don't want to go,` said {name}.",
             "{He} hid behind {his} {parent} and said, `I am afraid.`"],
        ],
        fix=[
            ["{friend} held {his} hand. `You can be brave. I am here with you,` {fhe} said.",
             "{His} {parent} said, `It is okay to be scared. Let's do it together.`",
             "`I was scared too once,` said {friend}. `But it was not so bad.`"],
            ["{name} took a deep breath.", "{name} closed {his} eyes and counted to three.",
             "{name} thought for a moment and then nodded."],
            ["It was not scary at all!", "After a little while, {he} was not afraid anymore.",
             "{He} did it, and {he} felt very brave."],
            ["`I did it!` {name} shouted.", "`That was fun!` said {name} with a big smile."],
        ],
        morals=["it is good to be brave.", "things are less scary with a friend.",
                "being brave means trying even when you are scared."],
    ),
    dict(
        trouble=[
            ["{name} and {his} {parent} wanted to make {food}.",
             "{name} wanted to make {food} for {friend}."],
            ["They got flour, eggs and milk.", "They put everything on the table: flour, sugar and eggs."],
            ["But {name} was in a hurry, and the flour went everywhere!",
             "Oops! {name} dropped the eggs on the floor.",
             "{name} put in too much sugar, and the bowl fell down."],
            ["`Oh no, what a mess!` said {name}.",
             "{name} looked at the mess and felt bad. `I am sorry,` {he} said."],
        ],
        fix=[
            ["{His} {parent} laughed. `It is okay. We can clean it up together.`",
             "`Don't worry,` said {his} {parent}. `Everyone makes mistakes.`"],
            ["They cleaned the kitchen and tried again, slowly this time.",
             "They cleaned up and started again."],
            ["This time, {the_food} came out just right.", "Soon {the_food} smelled very good."],
            ["{name} shared {the_food} with {friend}, and they ate it all.",
             "{name} and {his} {parent} ate {the_food} together. It was yummy!"],
        ],
        morals=["it is okay to make mistakes.", "it is good to be patient.",
                "things taste better when you share them."],
    ),
    dict(
        trouble=[
            ["{name} saw {critter} and followed it.",
             "{name} wanted to see what was behind the trees, so {he} walked away."],
            ["{He} walked and walked. When {he} looked back, {he} could not see {his} {parent}.",
             "Soon {he} did not know where {he} was."],
            ["`I am lost!` {name} cried.", "`Where am I?` {he} said, and {he} started to cry.",
             "{name} was scared. Everything looked strange."],
        ],
        fix=[
            ["Then a wise old owl flew down. `Why are you crying?` asked the owl.",
             "Then a kind dog came by. `Are you lost?` asked the dog.",
             "Just then, {friend} came running. `There you are!` {fhe} said."],
            ["`I can't find my way back,` said {name}. `Follow me,` came the answer.",
             "`I know the way. Come with me,` was the answer."],
            ["Soon {name} saw {his} {parent}, who gave {him} a big hug.",
             "They walked together until {name} saw {his} {parent} again."],
            ["`I was so worried,` said {his} {parent}. `Please stay close to me.`",
             "`I will not walk away again,` said {name}."],
        ],
        morals=["you should always stay close to your family.",
                "it is good to ask for help when you are lost."],
    ),
    dict(
        trouble=[
            ["Suddenly, {friend} fell down and hurt {fhis} knee.",
             "Then {friend} slipped and fell on the ground.",
             "{friend} ran too fast, tripped over a rock and fell."],
            ["`Ouch! It hurts!` cried {friend}.", "{friend} started to cry. {fHis} knee was red."],
        ],
        fix=[
            ["{name} ran to {friend} and helped {fhim} up.",
             "{name} did not keep playing. {He} sat down next to {friend}."],
            ["`Don't worry, I will help you,` said {name}.",
             "`Are you okay?` asked {name}. `Let's get help.`"],
            ["{His} {parent} came with a bandage and put it on the knee.",
             "{name} brought {his} {parent}, who cleaned the knee and put a bandage on it."],
            ["Soon {friend} felt better and smiled. `Thank you, {name},` {fhe} said.",
             "{friend} stopped crying. `You are a good friend,` {fhe} said."],
        ],
        morals=["we should help our friends when they are hurt.", "being kind makes everyone feel better."],
    ),
    dict(
        meets_friend=True,
        trouble=[
            ["Then {name} saw a {ftrait} {fkind} sitting all alone.",
             "{name} saw a little {fkind} who looked very sad."],
            ["`Why are you sad?` asked {name}.", "{name} walked over and said, `Hello! Are you okay?`"],
            ["`I am new here, and I have no friends,` said the {fkind}.",
             "`Nobody wants to play with me,` said the {fkind} quietly."],
        ],
        fix=[
            ["`I will be your friend!` said {name}. `My name is {name}. What is your name?`",
             "{name} smiled. `You can play with me! I am {name}.`"],
            ["`I am {friend},` said the {fkind}, and {fhe} smiled for the first time.",
             "The {fkind} was so happy. `My name is {friend},` {fhe} said."],
            ["{name} and {friend} {act1} together.", "They played together until the sun went down."],
        ],
        morals=["it is good to be kind to someone new.", "a smile can make a new friend."],
    ),
    dict(
        trouble=[
            ["`Let's have a race!` said {friend}.", "{name} and {friend} wanted to see who was the fastest."],
            ["They ran as fast as they could.", "`Ready, set, go!` They ran and ran."],
            ["But {name} tripped and fell down.", "But then {name}'s shoe came off, and {he} fell."],
            ["{name} was sad. `Now I will lose,` {he} said.", "`Oh no!` said {name}. {He} wanted to cry."],
        ],
        fix=[
            ["{friend} stopped and ran back. `Are you okay?` {fhe} asked.",
             "{friend} saw {name} and came back to help."],
            ["`Let's finish together,` said {friend}.",
             "{friend} helped {name} up, and they walked to the end together."],
            ["They crossed the line at the same time and laughed.", "Nobody won, but they were both happy."],
        ],
        morals=["friends are more important than winning.", "it is kind to help others, even in a race."],
    ),
    dict(
        needs="break",
        trouble=[
            ["At home, {name} played with {his} {obj} in the house and knocked over {his} {parent}'s vase.",
             "At home, {name} ran in the kitchen and broke {his} {parent}'s blue cup."],
            ["{He} was scared and hid the pieces under the rug.",
             "{He} did not want to get in trouble, so {he} said nothing."],
            ["`Do you know what happened?` asked {his} {parent}. {name} did not answer.",
             "That evening, {his} {parent} looked everywhere for it."],
        ],
        fix=[
            ["{name} felt bad inside. {He} could not eat {his} dinner.",
             "{name} knew that hiding it was wrong."],
            ["`I am sorry. I broke it,` {name} said.", "{He} went to {his} {parent} and told the truth."],
            ["{His} {parent} gave {him} a hug. `Thank you for telling me the truth. I am not angry,` "
             "{phe} said.",
             "{His} {parent} smiled. `Accidents happen. I am proud of you for telling me.`"],
        ],
        morals=["it is always best to tell the truth.", "telling the truth makes you feel better."],
    ),
    dict(
        trouble=[
            ["Then {name} found a little bird on the ground. It had a hurt wing.",
             "{name} heard a small sound. It was a baby bird that could not fly."],
            ["`Poor little bird,` said {name}. `I will help you.`",
             "`What should we do?` {name} asked {friend}."],
        ],
        fix=[
            ["{name} put the bird in a soft box with some leaves.",
             "They carried the bird home very gently."],
            ["Every day, {name} gave the bird water and seeds.",
             "{His} {parent} showed {him} how to take care of it."],
            ["After a few days, the wing was better. The bird flew up into the sky.",
             "One morning, the bird flapped its wings and flew away."],
            ["`Goodbye, little bird!` said {name}, and {he} waved.",
             "{name} was sad to see it go, but also very happy."],
        ],
        morals=["it is good to be kind to animals.", "helping others makes your heart happy."],
    ),
]


def _topics(template):
    """What a template talks about, so the intro does not say it twice ("obj" covers "an_obj")."""
    fields = set(re.findall(r"\{(\w+)\}", template))
    if "an_obj" in fields:
        fields.add("obj")
    return fields & {"love", "obj", "home", "food", "food_plain", "color", "friend", "trait2"}


def _words(parts):
    """Words in a list of sentence lists."""
    return sum(len(sentence.split()) for part in parts for sentence in part)


def _make_story(rng, min_words=100, max_words=300):
    """One synthetic story; the rare draw outside min_words..max_words is redrawn."""
    while True:
        story = _draft_story(rng, target=rng.triangular(min_words + 5, max_words - 60, 150))
        n = len(story.split())
        if min_words <= n <= max_words:
            return story


def _draft_story(rng, target):
    problem = rng.choice(PROBLEMS)
    meets_friend = problem.get("meets_friend", False)
    objects = [o for o, tags in OBJECTS.items() if problem.get("needs") in (None, *tags)]
    s = _Story(rng, _cast(rng, objects))

    # opening: the mix of first words follows TinyStories (~60% "Once", ~20% "One", the rest varied)
    u = rng.random()
    kind = "once" if u < 0.6 else "one_day" if u < 0.8 else "other"
    openings = {"once": OPENINGS_ONCE, "one_day": OPENINGS_ONE_DAY, "other": OPENINGS_OTHER}[kind]
    if meets_friend:  # the friend must not appear before the problem introduces them
        openings = [t for t in openings if "{friend}" not in t]
    if s.f["animal"] is None:  # "{name} the {animal}" only fits an animal hero
        openings = [t for t in openings if "{animal}" not in t]
    opening = rng.choice(openings)
    intro = [s.fill(opening)]
    seen = _topics(opening)
    for t in rng.sample(INTRO, rng.randint(1, 2)):
        if not _topics(t) & seen:  # say each thing once: no "She loved to swim" after "who loved to swim"
            intro.append(s.fill(t))
            seen |= _topics(t)
    if "obj" not in seen:
        intro.append(s.pick(OBJ_INTRO))  # the problem may be about the object, so show it first
    if not meets_friend and "friend" not in seen:
        intro.append(s.pick(FRIEND_INTRO))

    # the day's events: place and scene, padded with details towards the target length
    scene = [] if kind == "one_day" else [s.pick(EVENT_START)]
    scene.append(s.pick(ARRIVE))
    scene.append(s.fill(rng.choice(s.f["things"])))
    trouble = [s.pick(step) for step in problem["trouble"]]
    fix = [s.pick(step) for step in problem["fix"]]
    ending = [s.pick(ENDINGS)]
    if rng.random() < 0.4:
        ending.append(s.fill(rng.choice(MORAL_PREFIX) + rng.choice(problem["morals"])))

    # pad towards the target length, alternating scene details and sentences after the resolution
    def pool(templates):
        usable = [i for i, t in enumerate(templates) if not (meets_friend and "{friend}" in t)]
        return rng.sample(usable, min(5, len(usable)))

    scene_pool, after_pool, after = pool(DETAILS), pool(AFTER), {}
    parts = [intro, scene, trouble, fix, after.values(), ending]  # live views: they grow in the loop
    while (scene_pool or after_pool) and _words(parts) < target:
        if scene_pool and len(scene_pool) >= len(after_pool):
            scene.append(s.fill(DETAILS[scene_pool.pop()]))
        else:
            i = after_pool.pop()
            after[i] = s.fill(AFTER[i])
    after = [after[i] for i in sorted(after)]  # keep the evening after the afternoon
    paragraphs = [intro, scene, trouble, fix + after + ending]
    return "\n".join(" ".join(p) for p in paragraphs)


def _iter_synthetic(seed):
    rng = random.Random(seed)
    while True:
        yield _make_story(rng)
