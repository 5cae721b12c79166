"""What the demo world is made of: its tasks and their steps, narration templates and fillers,
and the shapes, colours, motions and backgrounds that give each step its look (eao.demo.world
draws from these with the world's seed)."""

from __future__ import annotations

# (title, steps); a step is (verb synonyms, object synonyms). The first verb and the last word
# of the first object make the step's short label (Mining YouTube style 'verb_object').
TASK_CATALOGUE: list[tuple[str, list[tuple[list[str], list[str]]]]] = [
    (
        "Make a Salad",
        [
            (["wash", "rinse", "clean"], ["the lettuce", "the salad leaves", "the greens"]),
            (["chop", "dice", "cut"], ["the tomatoes", "a ripe tomato", "the tomato"]),
            (["slice", "cut up", "shave"], ["the cucumber", "a cucumber", "the cucumbers"]),
            (["add", "pour on", "drizzle"], ["the dressing", "some vinaigrette", "the sauce"]),
            (["toss", "mix", "combine"], ["the salad", "everything in the bowl", "the bowl"]),
        ],
    ),
    (
        "Make Pancakes",
        [
            (["crack", "break", "open"], ["the eggs", "two eggs", "an egg"]),
            (["whisk", "beat", "stir"], ["the batter", "the flour and milk", "the mixture"]),
            (["pour", "ladle", "spoon"], ["the batter into the pan", "some batter", "the batter"]),
            (["flip", "turn over", "toss"], ["the pancake", "the pancake carefully", "it"]),
            (["serve", "plate", "stack"], ["the pancakes", "them with syrup", "the stack"]),
        ],
    ),
    (
        "Change a Tire",
        [
            (["loosen", "unscrew", "crack loose"], ["the lug nuts", "the nuts", "the wheel nuts"]),
            (["jack up", "raise", "lift"], ["the car", "the vehicle", "the car with the jack"]),
            (["remove", "pull off", "take off"], ["the flat tire", "the wheel", "the old tire"]),
            (["mount", "put on", "fit"], ["the spare tire", "the spare", "the new wheel"]),
            (["tighten", "screw on", "secure"], ["the lug nuts", "the bolts", "the nuts again"]),
        ],
    ),
    (
        "Make Lemonade",
        [
            (["squeeze", "juice", "press"], ["the lemons", "fresh lemons", "a lemon"]),
            (["add", "measure", "sprinkle"], ["the sugar", "a cup of sugar", "some sugar"]),
            (["pour", "fill", "add"], ["cold water", "the water", "water into the jug"]),
            (["stir", "mix", "blend"], ["the lemonade", "the jug", "it all together"]),
        ],
    ),
    (
        "Build a Shelf",
        [
            (["measure", "mark", "level"], ["the wall", "the spot on the wall", "the height"]),
            (["drill", "bore", "make"], ["the holes", "two holes", "pilot holes"]),
            (["insert", "tap in", "push in"], ["the anchors", "wall plugs", "the plugs"]),
            (["attach", "screw on", "fix"], ["the brackets", "the metal brackets", "a bracket"]),
            (["place", "lay", "set"], ["the board", "the wooden plank", "the shelf board"]),
        ],
    ),
    (
        "Make Coffee",
        [
            (["grind", "mill", "crush"], ["the beans", "the coffee beans", "fresh beans"]),
            (["boil", "heat", "warm"], ["the water", "the kettle", "some water"]),
            (["brew", "steep", "press"], ["the coffee", "the grounds", "a pot of coffee"]),
            (["froth", "foam", "steam"], ["the milk", "some milk", "the cream"]),
            (["pour", "add", "top with"], ["the milk", "the foam", "milk into the cup"]),
        ],
    ),
]

TEMPLATES = [
    "now we {v} {o}",
    "next you want to {v} {o}",
    "okay so i {v} {o} like this",
    "then {v} {o}",
    "the next step is to {v} {o}",
    "go ahead and {v} {o}",
    "here i {v} {o}",
    "you just {v} {o} right here",
]

FILLERS = [
    "welcome back to my channel",
    "so yeah",
    "don't forget to like and subscribe",
    "this is really easy",
    "let me know in the comments",
    "alright guys",
    "that looks pretty good",
    "um okay",
    "thanks for watching",
]

SHAPES = ["circle", "square", "triangle", "ring", "cross", "diamond"]
COLOURS = [
    (230, 40, 40),
    (40, 200, 60),
    (40, 90, 230),
    (240, 210, 40),
    (200, 60, 220),
    (40, 210, 220),
    (250, 140, 30),
    (140, 80, 30),
    (250, 250, 250),
    (20, 20, 20),
]
MOTIONS = ["horizontal", "vertical", "orbit", "diagonal"]
BACKGROUNDS = [
    (120, 140, 110),
    (150, 120, 100),
    (100, 110, 140),
    (140, 140, 90),
    (110, 90, 120),
    (90, 130, 130),
]
