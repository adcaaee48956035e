"""Human-friendly run names ('crouching-kittiwake'), as Prefect gives flow runs.

Names are for people reading logs and ``kubectl``; identity is the run's UUID.
"""

from __future__ import annotations

import random

__all__ = ["generate_slug"]

_ADJECTIVES = (
    "amber",
    "ancient",
    "agile",
    "bold",
    "brave",
    "bright",
    "calm",
    "clever",
    "cosmic",
    "crimson",
    "curious",
    "daring",
    "dazzling",
    "eager",
    "electric",
    "elegant",
    "fearless",
    "fiery",
    "gentle",
    "glossy",
    "golden",
    "graceful",
    "happy",
    "hidden",
    "humble",
    "icy",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "magnetic",
    "mellow",
    "misty",
    "nimble",
    "noble",
    "olive",
    "patient",
    "polished",
    "proud",
    "quick",
    "quiet",
    "radiant",
    "rapid",
    "roaring",
    "rustic",
    "sandy",
    "scarlet",
    "serene",
    "shiny",
    "silent",
    "silver",
    "smart",
    "snowy",
    "solid",
    "steady",
    "stellar",
    "sturdy",
    "sunny",
    "swift",
    "tidy",
    "tranquil",
    "vivid",
    "warm",
    "wild",
    "wise",
    "witty",
    "zealous",
)
_ANIMALS = (
    "albatross", "alligator", "alpaca", "antelope", "badger", "beaver", "bison", "bobcat",
    "buffalo", "camel", "caribou", "cheetah", "chipmunk", "cobra", "condor", "cougar",
    "coyote", "crane", "dingo", "dolphin", "eagle", "falcon", "ferret", "finch", "flamingo",
    "fox", "gazelle", "gecko", "gibbon", "giraffe", "gopher", "heron", "hyena", "ibis",
    "iguana", "jackal", "jaguar", "kangaroo", "kingfisher", "kittiwake", "koala", "lemur",
    "leopard", "lynx", "macaw", "mongoose", "moose", "narwhal", "ocelot", "orca", "osprey",
    "otter", "owl", "panda", "panther", "pelican", "penguin", "puffin", "quail", "raccoon",
    "raven", "reindeer", "salamander", "seal", "sparrow", "starling", "stork", "tapir",
    "tiger", "toucan", "turtle", "viper", "walrus", "weasel", "wolf", "wombat", "yak", "zebra",
)  # fmt: skip


def generate_slug(rng: random.Random | None = None) -> str:
    """Return a random ``adjective-animal`` name.

    Args:
        rng: Random source; the module-level one by default.
    """
    choose = (rng or random).choice
    return f"{choose(_ADJECTIVES)}-{choose(_ANIMALS)}"
