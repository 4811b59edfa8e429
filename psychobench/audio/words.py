"""Word lists for the synthetic word-recognition task and the running speech of babble maskers."""

from __future__ import annotations

#: The closed vocabulary of the word-recognition experiments (64 common English words, chosen to
#: be familiar and mostly two-syllable, like the word tokens of Kell et al. 2018).
VOCABULARY: tuple[str, ...] = (
    "apple", "baby", "basket", "butter", "candle", "carpet", "chicken", "circle",
    "coffee", "cotton", "dinner", "doctor", "dragon", "engine", "finger", "forest",
    "garden", "guitar", "hammer", "happy", "island", "jacket", "kitten", "ladder",
    "lemon", "letter", "magnet", "market", "monkey", "morning", "number", "orange",
    "paper", "pencil", "people", "pepper", "picture", "pocket", "rabbit", "river",
    "rocket", "salad", "silver", "sister", "spider", "summer", "table", "tiger",
    "tomato", "tunnel", "turkey", "umbrella", "valley", "velvet", "wagon", "water",
    "window", "winter", "yellow", "zebra", "blanket", "cheese", "horse", "seven",
)

#: Sentences for running speech (babble, envelope of modulated noise); none contains a
#: vocabulary word, so a babble talker never says the target.
BABBLE_SENTENCES: tuple[str, ...] = (
    "the old clock on the wall stopped at noon last week",
    "she found a small key under the mat near the door",
    "we walked along the beach until the sun went down",
    "bring the red box to the kitchen before lunch",
    "the train was late because of snow on the tracks",
    "he painted the fence white in less than an hour",
    "a cold wind blew across the field all night",
    "they bought fresh bread and milk at the corner shop",
    "the children sang loudly in the back of the bus",
    "please close the gate when you leave the yard",
    "the lamp in the hall needs a new bulb",
    "my friend wrote a long note on the back of a card",
    "the boat drifted slowly toward the far shore",
    "our neighbour keeps bees in a shed behind the house",
    "the book fell off the shelf and landed on the floor",
    "it rained so hard that the road turned to mud",
)
