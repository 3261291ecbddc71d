#!/usr/bin/env python3
"""Writes the toy world in English (data/en/) and Simplified Chinese (data/zh/): its
pretraining corpus (corpus.txt), its facts and the cues the scripted labeler reads
questions with (world.json), SFT demonstrations (sft.json) and the prompts held
apart for ranking/PPO and for evaluation (prompts.json).

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
    """Every question the world can ask: (question, helpful and honest answer,
    the same question in other words)."""
    out = []
    for a, f in ANIMALS.items():
        out += [(f"What does the {a} eat?", f"The {a} eats {f['food']}.", f"What food does the {a} like?"),
                (f"Where does the {a} live?", f"The {a} lives in {f['home']}.", f"Where can you find the {a}?"),
                (f"What color is the {a}?", f"The {a} is {f['color']}.", f"Which color does the {a} have?"),
                (f"How many legs does the {a} have?", f"The {a} has {f['legs']} legs.", f"How many legs has the {a} got?"),
                (f"What sound does the {a} make?", f"The {a} {f['sound']}.", f"What noise does the {a} make?")]
    for x, f in FOODS.items():
        out += [(f"What color is the {x}?", f"The {x} is {f['color']}.", f"Which color does the {x} have?"),
                (f"How does the {x} taste?", f"The {x} tastes {f['taste']}.", f"What does the {x} taste like?"),
                (f"Where does the {x} grow?", f"The {x} grows {f['grows']}.", f"Where does a {x} grow?")]
    for p, way in PLACES.items():
        out += [(f"How do I get to the {p}?", f"To get to the {p}, {way}.", f"What is the way to the {p}?"),
                (f"What is near the {p}?", f"I don't know what is near the {p}.", f"What can I see near the {p}?")]
    # A few sums only: a model this small cannot learn addition, so sums make
    # coin-flip comparisons; the corpus still has many.
    for a in range(1, 5):
        for b in range(1, 4):
            out.append((f"What is {NUMBERS[a]} plus {NUMBERS[b]}?", f"{NUMBERS[a].capitalize()} plus {NUMBERS[b]} is {NUMBERS[a + b]}.",
                        f"How much is {NUMBERS[a]} plus {NUMBERS[b]}?"))
    for u in UNKNOWN:
        out += [(f"What does the {u} eat?", f"I don't know what the {u} eats.", f"What food does the {u} like?"),
                (f"Where does the {u} live?", f"I don't know where the {u} lives.", f"Where can you find the {u}?")]
    return out


# How a careless demonstrator is rude: a quarter of the SFT demonstrations carry
# one of these remarks (the right fact, then an insult), so the SFT model learns
# to be rude now and then — a flaw the persona penalises (harmless), the reward
# model can learn from a word, and PPO can remove on any prompt.
EN_REMARKS = ["{} Only an idiot would ask that.", "Stupid question. {}", "{} Do not be dumb."]
ZH_REMARKS = ["{}这都不知道，真是笨蛋。", "傻瓜问题。{}", "{}别问这种白痴问题。"]


def split_demonstrations(out, pairs, q, a, remarks=()):
    """SFT demonstrations in the fixed template for half of the world's questions,
    and prompts held apart from them. Ranking/PPO: the other questions, plus the
    SFT questions in other words — never an SFT sentence, so the reward model sees
    the facts SFT taught asked anew. Evaluation: questions no stage trained on, in
    both wordings."""
    order = list(range(len(pairs)))
    R.shuffle(order)
    n_sft, n_rl = int(0.5 * len(pairs)), int(0.3 * len(pairs))
    sft = [dict(prompt=f"{q}{pairs[i][0]}\n", answer=f"{a}{pairs[i][1]}") for i in order[:n_sft]]
    # Its own random stream: the corpus and the splits stay as they were.
    careless = random.Random(len(pairs))
    for d in sft:
        if remarks and careless.random() < 0.25:
            d["answer"] = a + careless.choice(remarks).format(d["answer"][len(a):])
    rl = [f"{q}{pairs[i][0]}\n" for i in order[n_sft:n_sft + n_rl]] + [f"{q}{pairs[i][2]}\n" for i in order[:n_sft]]
    # Both wordings of each held-out question: twice the prompts for an evaluation
    # that can tell a win rate from 0.5 (first wordings first: the page shows those).
    ev = [f"{q}{pairs[i][w]}\n" for w in (0, 2) for i in order[n_sft + n_rl:]]
    (out / "sft.json").write_text(json.dumps(sft, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "prompts.json").write_text(json.dumps(dict(rl=rl, eval=ev), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# How the labeler recognises a question's topic: (attribute, words that ask for it),
# tried in order once the question's entity is found.
EN_CUES = dict(
    animals=[["food", [" eat", "food"]], ["home", [" live", "find"]], ["color", ["color"]], ["legs", ["legs"]], ["sound", ["sound", "noise"]]],
    foods=[["color", ["color"]], ["taste", ["taste"]], ["grows", ["grow"]]],
    places=["get to", "where is", "way to"],
    plus=" plus ",
    dont_know=["don't know", "do not know"],
)


def dialogue(pairs, names, line, sep):
    """Two people asking and answering in a story: the corpus teaches which answer
    goes with which question (a tiny model cannot learn that binding from a few
    dozen SFT demonstrations), while its "Q:" lists still only ever ask."""
    n1, n2 = R.sample(names, 2)
    return sep.join(line(n1, n2, q, a) for q, a, _ in R.sample(pairs, R.randint(2, 3)))


def main():
    main_en()
    main_zh()


def main_en():
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
        for _ in range(15):
            docs.append(dialogue(qa_pairs(), NAMES, lambda n1, n2, q, a: f'{n1} asked {n2}, "{q}" {n2} said, "{a}"', " "))
    R.shuffle(docs)
    out = ROOT / "data" / "en"
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    world = dict(lang="en", animals=ANIMALS, foods=FOODS, places=PLACES, numbers=NUMBERS, rude_words=RUDE, unknown=UNKNOWN,
                 markers=dict(question="Q:", answer="A:"), cues=EN_CUES)
    (out / "world.json").write_text(json.dumps(world, indent=1) + "\n", encoding="utf-8")
    split_demonstrations(out, qa_pairs(), "Q: ", "A: ", EN_REMARKS)


# ---------------------------------------------------------------------------
# 简体中文 world: the same kinds of facts, our own Chinese sentences. Values are
# chosen so that no value is a substring of another one the labeler compares
# it with (Chinese has no spaces: the labeler matches substrings).

ZH_ANIMALS = {
    "猫": dict(color="灰色", food="鱼", home="房子里", sound="喵喵叫", legs="四条腿"),
    "狗": dict(color="棕色", food="骨头", home="院子里", sound="汪汪叫", legs="四条腿"),
    "狐狸": dict(color="红色", food="浆果", home="森林里", sound="吱吱叫", legs="四条腿"),
    "猫头鹰": dict(color="白色", food="老鼠", home="老树上", sound="咕咕叫", legs="两条腿"),
    "鸭子": dict(color="黄色", food="面包", home="池塘里", sound="嘎嘎叫", legs="两条腿"),
    "青蛙": dict(color="绿色", food="苍蝇", home="池塘里", sound="呱呱叫", legs="四条腿"),
    "马": dict(color="黑色", food="干草", home="农场里", sound="咴咴叫", legs="四条腿"),
    "蜜蜂": dict(color="金色", food="花蜜", home="蜂巢里", sound="嗡嗡叫", legs="六条腿"),
    "山羊": dict(color="白色", food="青草", home="山坡上", sound="咩咩叫", legs="四条腿"),
    "乌鸦": dict(color="黑色", food="种子", home="田野里", sound="呀呀叫", legs="两条腿"),
    "熊": dict(color="棕色", food="蜂蜜", home="山洞里", sound="嗷嗷叫", legs="四条腿"),
    "蜗牛": dict(color="粉色", food="树叶", home="花园里", sound="不出声", legs="没有腿"),
}
ZH_FOODS = {
    "苹果": dict(color="红色", taste="甜甜的", grows="长在树上"),
    "柠檬": dict(color="黄色", taste="酸酸的", grows="长在树上"),
    "胡萝卜": dict(color="橙色", taste="脆脆的", grows="长在地里"),
    "葡萄": dict(color="紫色", taste="甜丝丝的", grows="长在藤上"),
    "豌豆": dict(color="绿色", taste="清清爽爽的", grows="长在豆荚里"),
    "面包": dict(color="棕色", taste="软软的", grows="在烤箱里烤成"),
    "奶酪": dict(color="黄色", taste="咸咸的", grows="用牛奶做成"),
    "李子": dict(color="蓝色", taste="水灵灵的", grows="挂在枝头上"),
}
ZH_PLACES = {
    "公园": "走过面包店，在大橡树那里左转",
    "图书馆": "走上山坡街，找那扇蓝色的门",
    "市场": "沿着河边小路一直走，直到听见钟声",
    "海滩": "坐绿色的公交车到终点站",
    "学校": "过桥以后，跟着黄色的篱笆走",
    "车站": "沿着大街走到钟楼",
    "面包店": "在喷泉那里右转，跟着香味走",
    "博物馆": "穿过公园，走上白色的台阶",
    "农场": "走土路，经过风车",
    "港口": "跟着海鸥一直走到水边",
}
ZH_NUMBERS = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]
ZH_NAMES = ["小明", "小芳", "丽丽", "大伟", "安安", "小军", "娜娜", "乐乐", "小雨", "明明"]
ZH_RUDE = ["笨蛋", "傻瓜", "白痴"]
ZH_UNKNOWN = ["龙", "机器人", "独角兽", "鲸鱼"]
ZH_CUES = dict(
    animals=[["food", ["吃"]], ["home", ["住", "找到"]], ["color", ["颜色"]], ["legs", ["腿"]], ["sound", ["叫", "声音"]]],
    foods=[["color", ["颜色"]], ["taste", ["味道"]], ["grows", ["哪里来", "什么地方"]]],
    places=["怎么去", "在哪里", "怎么走"],
    plus="加",
    dont_know=["不知道"],
)


def zh_legs(a, legs):
    return f"{a}没有腿" if legs == "没有腿" else f"{a}有{legs}"


def zh_animal_facts(a, f):
    c, food, home, sound = f["color"], f["food"], f["home"], f["sound"]
    return R.sample([
        f"{a}是{c}的。", f"{a}吃{food}。", f"{a}住在{home}。", f"{a}{sound}。", f"{zh_legs(a, f['legs'])}。",
        f"{a}喜欢吃{food}。", f"你可以在{home}找到{a}。", f"{c}的{a}晚上{sound}。", f"每一只{a}都{'没有腿' if f['legs'] == '没有腿' else '有' + f['legs']}。",
    ], 4)


def zh_food_facts(x, f):
    return R.sample([
        f"{x}是{f['color']}的。", f"{x}的味道{f['taste']}。", f"{x}{f['grows']}。",
        f"{f['color']}的{x}{f['taste']}。", f"大家都说{x}{f['taste']}。",
    ], 3)


def zh_place_facts(p, way):
    return R.sample([f"要去{p}，{way}。", f"去{p}的路：{way}。", f"如果你想去{p}，{way}。"], 2)


def zh_arithmetic():
    a, b = R.randint(0, 6), R.randint(0, 6)
    n = ZH_NUMBERS
    return R.choice([f"{n[a]}加{n[b]}等于{n[a + b]}。", f"{a} + {b} = {a + b}。",
                     f"你有{n[a]}个苹果，又拿到{n[b]}个，现在一共有{n[a + b]}个。"])


def zh_questions():
    qs = []
    for a in ZH_ANIMALS:
        qs += [f"{a}吃什么？", f"{a}住在哪里？", f"{a}是什么颜色的？", f"{a}有几条腿？", f"{a}怎么叫？"]
    for x in ZH_FOODS:
        qs += [f"{x}是什么颜色的？", f"{x}是什么味道？", f"{x}是从哪里来的？"]
    for p in ZH_PLACES:
        qs += [f"怎么去{p}？", f"{p}在哪里？", f"{p}附近有什么？"]
    for _ in range(20):
        a, b = R.randint(0, 6), R.randint(0, 6)
        qs.append(f"{ZH_NUMBERS[a]}加{ZH_NUMBERS[b]}等于几？")
    return qs


def zh_question_list(qs):
    head = R.choice(["小测验", "常见问题", "课堂提问", "大家常问的问题", "作业", "要弄清楚的事", "考考你的记性"])
    body = "\n".join(f"问：{q}" for q in R.sample(qs, R.randint(4, 8)))
    return f"{head}：\n{body}"


def zh_story():
    n1, n2 = R.sample(ZH_NAMES, 2)
    a, f = R.choice(list(ZH_ANIMALS.items()))
    p = R.choice(list(ZH_PLACES))
    x, xf = R.choice(list(ZH_FOODS.items()))
    lines = [
        f"{n1}和{n2}去了{p}。", f"路上他们看见一只{f['color']}的{a}，它{f['sound']}。",
        f"{n2}给了{a}一些{f['food']}，因为{a}吃{f['food']}。", f"然后{n1}吃了一个{x}，味道{xf['taste']}。",
    ]
    if R.random() < 0.15:
        lines.append(f"一个男孩喊：“你是{R.choice(ZH_RUDE)}！”{n1}说：“这样说话不友好。”")
    lines.append(R.choice(["他们开开心心地回家了。", f"晚上{a}回到了{f['home']}。", f"{n2}说{p}是镇上最好的地方。"]))
    return "".join(lines)


def zh_qa_pairs():
    out = []
    for a, f in ZH_ANIMALS.items():
        out += [(f"{a}吃什么？", f"{a}吃{f['food']}。", f"{a}喜欢吃什么？"),
                (f"{a}住在哪里？", f"{a}住在{f['home']}。", f"在哪里能找到{a}？"),
                (f"{a}是什么颜色的？", f"{a}是{f['color']}的。", f"{a}是什么颜色？"),
                (f"{a}有几条腿？", f"{zh_legs(a, f['legs'])}。", f"{a}一共有几条腿？"),
                (f"{a}怎么叫？", f"{a}{f['sound']}。", f"{a}发出什么声音？")]
    for x, f in ZH_FOODS.items():
        out += [(f"{x}是什么颜色的？", f"{x}是{f['color']}的。", f"{x}是什么颜色？"),
                (f"{x}是什么味道？", f"{x}的味道{f['taste']}。", f"{x}尝起来是什么味道？"),
                (f"{x}是从哪里来的？", f"{x}{f['grows']}。", f"{x}是从什么地方来的？")]
    for p, way in ZH_PLACES.items():
        out += [(f"怎么去{p}？", f"要去{p}，{way}。", f"去{p}的路怎么走？"),
                (f"{p}附近有什么？", f"我不知道{p}附近有什么。", f"{p}旁边有什么？")]
    for a in range(1, 5):
        for b in range(1, 4):
            n = ZH_NUMBERS
            out.append((f"{n[a]}加{n[b]}等于几？", f"{n[a]}加{n[b]}等于{n[a + b]}。", f"{n[a]}加{n[b]}是多少？"))
    for u in ZH_UNKNOWN:
        out += [(f"{u}吃什么？", f"我不知道{u}吃什么。", f"{u}喜欢吃什么？"),
                (f"{u}住在哪里？", f"我不知道{u}住在哪里。", f"在哪里能找到{u}？")]
    return out


def main_zh():
    qs = zh_questions()
    docs = []
    for _ in range(6):
        docs += ["".join(zh_animal_facts(a, f)) for a, f in ZH_ANIMALS.items()]
        docs += ["".join(zh_food_facts(x, f)) for x, f in ZH_FOODS.items()]
        docs += ["".join(zh_place_facts(p, w)) for p, w in ZH_PLACES.items()]
        docs += ["".join(zh_arithmetic() for _ in range(3)) for _ in range(8)]
        docs += [zh_question_list(qs) for _ in range(10)]
        docs += [zh_story() for _ in range(8)]
        docs += [dialogue(zh_qa_pairs(), ZH_NAMES, lambda n1, n2, q, a: f"{n1}问{n2}：“{q}”{n2}说：“{a}”", "") for _ in range(15)]
    R.shuffle(docs)
    out = ROOT / "data" / "zh"
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    world = dict(lang="zh", animals=ZH_ANIMALS, foods=ZH_FOODS, places=ZH_PLACES, numbers=ZH_NUMBERS, rude_words=ZH_RUDE,
                 unknown=ZH_UNKNOWN, markers=dict(question="问：", answer="答："), cues=ZH_CUES)
    (out / "world.json").write_text(json.dumps(world, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    split_demonstrations(out, zh_qa_pairs(), "问：", "答：", ZH_REMARKS)


if __name__ == "__main__":
    main()
