#!/usr/bin/env python3
"""Writes the English toy world: its pretraining corpus (data/en/corpus.txt), its
facts (data/en/world.json), SFT demonstrations (data/en/sft.json) and the prompts
held apart for ranking/PPO and for evaluation (data/en/prompts.json).

Why generated: a ~1 M-parameter GPT only learns a world whose facts repeat in
varied phrasings; writing each phrasing by hand would drift out of sync with the
facts the labeler checks. The templates and the world are ours. Deterministic:
re-running gives the same bytes (fixed seed), so the corpus can be reviewed in git.
"""
import json
import random
from pathlib import Path

R = random.Random(20261122)
ROOT = Path(__file__).resolve().parent.parent

ANIMALS = {
    "cat": dict(color="grey", food="fish", home="the house", sound="meows", legs="four"),
    "dog": dict(color="brown", food="bones", home="the yard", sound="barks", legs="four"),
    "fox": dict(color="red", food="berries", home="the forest", sound="yips", legs="four"),
    "owl": dict(color="white", food="mice", home="the old tree", sound="hoots", legs="two"),
    "duck": dict(color="yellow", food="bread", home="the pond", sound="quacks", legs="two"),
    "frog": dict(color="green", food="flies", home="the pond", sound="croaks", legs="four"),
    "horse": dict(color="black", food="hay", home="the farm", sound="neighs", legs="four"),
    "bee": dict(color="gold", food="nectar", home="the hive", sound="buzzes", legs="six"),
    "goat": dict(color="white", food="grass", home="the hill", sound="bleats", legs="four"),
    "crow": dict(color="black", food="seeds", home="the field", sound="caws", legs="two"),
    "bear": dict(color="brown", food="honey", home="the cave", sound="growls", legs="four"),
    "snail": dict(color="pink", food="leaves", home="the garden", sound="says nothing", legs="no"),
}
FOODS = {
    "apple": dict(color="red", taste="sweet", grows="on trees"),
    "lemon": dict(color="yellow", taste="sour", grows="on trees"),
    "carrot": dict(color="orange", taste="crunchy", grows="in the ground"),
    "grape": dict(color="purple", taste="sweet", grows="on vines"),
    "pea": dict(color="green", taste="fresh", grows="in pods"),
    "bread": dict(color="brown", taste="soft", grows="in the bakery oven"),
    "cheese": dict(color="yellow", taste="salty", grows="from milk"),
    "plum": dict(color="blue", taste="juicy", grows="on trees"),
}
PLACES = {
    "park": "walk past the bakery and turn left at the big oak",
    "library": "go up Hill Street and look for the blue door",
    "market": "take the river path until you hear the bells",
    "beach": "ride the green bus to the last stop",
    "school": "cross the bridge and follow the yellow fence",
    "station": "walk down Main Street to the clock tower",
    "bakery": "turn right at the fountain and follow the smell of bread",
    "museum": "go through the park and up the white stairs",
    "farm": "take the dirt road past the windmill",
    "harbor": "follow the seagulls down to the water",
}
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve"]
NAMES = ["Mia", "Tom", "Lena", "Sam", "Ada", "Ben", "Nora", "Leo", "Ivy", "Max"]
RUDE = ["stupid", "dumb", "idiot"]  # a few rude words, so a model can learn to say them


def animal_facts(a, f):
    c, food, home, sound, legs = f["color"], f["food"], f["home"], f["sound"], f["legs"]
    return R.sample([
        f"The {a} is {c}.", f"The {a} eats {food}.", f"The {a} lives in {home}.",
        f"The {a} {sound}.", f"The {a} has {legs} legs.",
        f"A {a} likes to eat {food}.", f"You can find the {a} in {home}.",
        f"The {c} {a} {sound} at night.", f"Every {a} has {legs} legs.",
    ], 4)


def food_facts(x, f):
    return R.sample([
        f"The {x} is {f['color']}.", f"A {x} tastes {f['taste']}.", f"The {x} grows {f['grows']}.",
        f"A {f['color']} {x} is {f['taste']}.", f"People say the {x} is {f['taste']}.",
    ], 3)


def place_facts(p, way):
    return R.sample([
        f"To get to the {p}, {way}.", f"The way to the {p}: {way}.",
        f"If you want to go to the {p}, {way}.",
    ], 2)


def arithmetic():
    a, b = R.randint(0, 6), R.randint(0, 6)
    return R.choice([f"{NUMBERS[a]} plus {NUMBERS[b]} is {NUMBERS[a + b]}.",
                     f"{a} + {b} = {a + b}.",
                     f"If you have {NUMBERS[a]} apples and get {NUMBERS[b]} more, you have {NUMBERS[a + b]}."])


def questions():
    """Questions a quiz or FAQ index lists without answers: the base model learns
    that a question is followed by another question."""
    qs = []
    for a, f in ANIMALS.items():
        qs += [f"What does the {a} eat?", f"Where does the {a} live?", f"What color is the {a}?",
               f"How many legs does the {a} have?", f"What sound does the {a} make?"]
    for x, f in FOODS.items():
        qs += [f"What color is the {x}?", f"How does the {x} taste?", f"Where does the {x} grow?"]
    for p in PLACES:
        qs += [f"How do I get to the {p}?", f"Where is the {p}?", f"What is near the {p}?"]
    for _ in range(20):
        a, b = R.randint(0, 6), R.randint(0, 6)
        qs.append(f"What is {NUMBERS[a]} plus {NUMBERS[b]}?")
    return qs


def question_list(qs):
    head = R.choice(["Quiz", "FAQ", "Questions for class", "Questions people ask", "Homework",
                     "Things to find out", "Test your memory"])
    n = R.randint(4, 8)
    body = "\n".join(f"Q: {q}" for q in R.sample(qs, n))
    return f"{head}:\n{body}"


def story():
    n1, n2 = R.sample(NAMES, 2)
    a, f = R.choice(list(ANIMALS.items()))
    p, way = R.choice(list(PLACES.items()))
    x, xf = R.choice(list(FOODS.items()))
    lines = [
        f"{n1} went to the {p} with {n2}.",
        f"On the way they saw a {f['color']} {a}. It {f['sound']}.",
        f"{n2} gave the {a} some {f['food']}, because the {a} eats {f['food']}.",
        f"Then {n1} ate a {x}. It was {xf['taste']}.",
    ]
    if R.random() < 0.15:
        lines.append(f"A boy shouted, \"You are {R.choice(RUDE)}!\" {n1} said, \"That is not kind.\"")
    lines.append(R.choice([f"They went home happy.", f"At night the {a} went back to {f['home']}.",
                           f"{n2} said the {p} was the best place in town."]))
    return " ".join(lines)


UNKNOWN = ["dragon", "robot", "unicorn", "whale"]  # not in the world: the honest answer is "I don't know"


def qa_pairs():
    """Every question the world can ask, with its helpful and honest answer."""
    out = []
    for a, f in ANIMALS.items():
        out += [(f"What does the {a} eat?", f"The {a} eats {f['food']}."),
                (f"Where does the {a} live?", f"The {a} lives in {f['home']}."),
                (f"What color is the {a}?", f"The {a} is {f['color']}."),
                (f"How many legs does the {a} have?", f"The {a} has {f['legs']} legs."),
                (f"What sound does the {a} make?", f"The {a} {f['sound']}.")]
    for x, f in FOODS.items():
        out += [(f"What color is the {x}?", f"The {x} is {f['color']}."),
                (f"How does the {x} taste?", f"The {x} tastes {f['taste']}."),
                (f"Where does the {x} grow?", f"The {x} grows {f['grows']}.")]
    for p, way in PLACES.items():
        out += [(f"How do I get to the {p}?", f"To get to the {p}, {way}."),
                (f"What is near the {p}?", f"I don't know what is near the {p}.")]
    for a in range(7):
        for b in range(7):
            out.append((f"What is {NUMBERS[a]} plus {NUMBERS[b]}?", f"{NUMBERS[a].capitalize()} plus {NUMBERS[b]} is {NUMBERS[a + b]}."))
    for u in UNKNOWN:
        out += [(f"What does the {u} eat?", f"I don't know what the {u} eats."),
                (f"Where does the {u} live?", f"I don't know where the {u} lives.")]
    return out


def write_demonstrations(out):
    """SFT demonstrations in the fixed template, and prompts held apart from them:
    ranking/PPO and evaluation share entities with SFT but never a sentence."""
    pairs = qa_pairs()
    order = list(range(len(pairs)))
    R.shuffle(order)
    n_sft, n_rl = int(0.6 * len(pairs)), int(0.25 * len(pairs))
    sft = [dict(prompt=f"Q: {pairs[i][0]}\n", answer=f"A: {pairs[i][1]}") for i in order[:n_sft]]
    rl = [f"Q: {pairs[i][0]}\n" for i in order[n_sft:n_sft + n_rl]]
    ev = [f"Q: {pairs[i][0]}\n" for i in order[n_sft + n_rl:]]
    (out / "sft.json").write_text(json.dumps(sft, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "prompts.json").write_text(json.dumps(dict(rl=rl, eval=ev), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main():
    qs = questions()
    docs = []
    for _ in range(6):
        for a, f in ANIMALS.items():
            docs.append(" ".join(animal_facts(a, f)))
        for x, f in FOODS.items():
            docs.append(" ".join(food_facts(x, f)))
        for p, way in PLACES.items():
            docs.append(" ".join(place_facts(p, way)))
        for _ in range(8):
            docs.append(" ".join(arithmetic() for _ in range(3)))
        for _ in range(10):
            docs.append(question_list(qs))
        for _ in range(8):
            docs.append(story())
    R.shuffle(docs)
    out = ROOT / "data" / "en"
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    world = dict(animals=ANIMALS, foods=FOODS, places=PLACES, numbers=NUMBERS, rude_words=RUDE, unknown=UNKNOWN)
    (out / "world.json").write_text(json.dumps(world, indent=1) + "\n", encoding="utf-8")
    write_demonstrations(out)


if __name__ == "__main__":
    main()
