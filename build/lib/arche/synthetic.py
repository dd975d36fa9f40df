"""The built-in synthetic corpus: TinyStories-shaped children's stories from templates, offline.

It is NOT TinyStories. Stories are drawn with random.Random(seed) from the word lists and sentence
templates of lexicon.json (data, beside this file), so the corpus needs no download and is the same on
every machine. It imitates the shape of TinyStories: 100-300 word stories, ~60% opening with "Once
upon a time", ~20% with "One day", the rest with a name or a scene; a cast of recurring names and
animals, places, toys, a small problem (a lost toy, a kite in a tree, a rainy day, a quarrel over
sharing, ...), dialogue in quotes, a resolution, and sometimes a moral. Its vocabulary is small on
purpose (about a thousand GPT-2 tokens), so a CPU smoke run with a compact output head has something
learnable to fit in minutes. Numbers measured on it say nothing about TinyStories.

Templates are str.format strings over the fields of one story (see _cast). Dialogue quotes are
written as ` so the templates need no escaping; _Story.pick turns them into ".
"""

import itertools
import json
import random
import re
from pathlib import Path

_LEXICON = json.loads((Path(__file__).with_name("lexicon.json")).read_text())
(
    GIRLS,
    BOYS,
    PET_NAMES,
    ANIMALS,
    TRAITS,
    COLORS,
    OBJ_ADJS,
    PARENTS,
    HOMES,
    LOVES,
    FOODS,
    SPOTS,
    CRITTERS,
    WEATHER,
    PLACES,
    OBJECTS,
    OPENINGS_ONCE,
    OPENINGS_ONE_DAY,
    OPENINGS_OTHER,
    INTRO,
    FRIEND_INTRO,
    OBJ_INTRO,
    EVENT_START,
    ARRIVE,
    DETAILS,
    AFTER,
    ENDINGS,
    MORAL_PREFIX,
    PROBLEMS,
) = (
    _LEXICON[k]
    for k in (
        "GIRLS",
        "BOYS",
        "PET_NAMES",
        "ANIMALS",
        "TRAITS",
        "COLORS",
        "OBJ_ADJS",
        "PARENTS",
        "HOMES",
        "LOVES",
        "FOODS",
        "SPOTS",
        "CRITTERS",
        "WEATHER",
        "PLACES",
        "OBJECTS",
        "OPENINGS_ONCE",
        "OPENINGS_ONE_DAY",
        "OPENINGS_OTHER",
        "INTRO",
        "FRIEND_INTRO",
        "OBJ_INTRO",
        "EVENT_START",
        "ARRIVE",
        "DETAILS",
        "AFTER",
        "ENDINGS",
        "MORAL_PREFIX",
        "PROBLEMS",
    )
)


def synthetic_stories(n: int, seed: int = 0) -> list[str]:
    """The first n stories of the synthetic corpus for `seed` (same seed, same stories)."""
    return list(itertools.islice(iter_synthetic(seed), n))


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
    f = dict(
        name=name,
        kind=kind,
        animal=animal,
        friend=friend,
        fkind=fkind,
        parent=parent,
        Parent=parent.capitalize(),
        place=place,
        to_place=f"to the {place}",
        at_place=f"at the {place}",
        things=things,
        obj=obj,
        obj_adj=obj_adj,
        an_obj=f"{_article(obj_adj)} {obj_adj} {obj}",
        food=food,
        the_food=the_food,
        food_plain=food_plain,
        critter=critter,
        Critter=critter[0].upper() + critter[1:],
        color=rng.choice(COLORS),
        weather=rng.choice(WEATHER),
        home=rng.choice(HOMES),
        home_adj=rng.choice(["small", "little", "quiet", "sunny", "faraway"]),
        home_noun=rng.choice(["town", "village", "house", "forest", "land"]),
        fear=rng.choice(
            [
                "the dark",
                "the big dog next door",
                "the loud thunder",
                "the deep water",
                "the tall slide",
                "the big spider in the corner",
            ]
        ),
    )
    f["trait"], f["trait2"], f["ftrait"] = rng.sample(TRAITS, 3)
    f["act1"], f["act2"], f["act3"] = rng.sample(acts, 3)
    f["spot1"], f["spot2"], f["spot3"] = rng.sample(SPOTS, 3)
    f.update(_pronouns(he))
    f.update(_pronouns(fhe, "f"))
    f.update(_pronouns(phe, "p"))
    f["love"] = rng.choice(LOVES).format(**f)  # some hobbies mention {his} {obj} or {parent}
    return f


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


def iter_synthetic(seed):
    """Synthetic stories for `seed`, without end."""
    rng = random.Random(seed)
    while True:
        yield _make_story(rng)
