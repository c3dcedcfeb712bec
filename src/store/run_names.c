/* run_names.c — the random `<adjective>-<animal>-<n>` names MLflow gives to
 * runs created without one (mlflow/utils/name_utils.py: the same word lists,
 * n in 0..1000, at most 20 characters after up to 10 draws). */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runs.h"

static const char *const predicates[] = {
    "abundant",    "able",         "abrasive",   "adorable",    "adaptable",   "adventurous",
    "aged",        "agreeable",    "ambitious",  "amazing",     "amusing",     "angry",
    "auspicious",  "awesome",      "bald",       "beautiful",   "bemused",     "bedecked",
    "big",         "bittersweet",  "blushing",   "bold",        "bouncy",      "brawny",
    "bright",      "burly",        "bustling",   "calm",        "capable",     "carefree",
    "capricious",  "caring",       "casual",     "charming",    "chill",       "classy",
    "clean",       "clumsy",       "colorful",   "crawling",    "dapper",      "debonair",
    "dashing",     "defiant",      "delicate",   "delightful",  "dazzling",    "efficient",
    "enchanting",  "entertaining", "enthused",   "exultant",    "fearless",    "flawless",
    "fortunate",   "fun",          "funny",      "gaudy",       "gentle",      "gifted",
    "glamorous",   "grandiose",    "gregarious", "handsome",    "hilarious",   "honorable",
    "illustrious", "incongruous",  "indecisive", "industrious", "intelligent", "inquisitive",
    "intrigued",   "invincible",   "judicious",  "kindly",      "languid",     "learned",
    "legendary",   "likeable",     "loud",       "luminous",    "luxuriant",   "lyrical",
    "magnificent", "marvelous",    "masked",     "melodic",     "merciful",    "mercurial",
    "monumental",  "mysterious",   "nebulous",   "nervous",     "nimble",      "nosy",
    "omniscient",  "orderly",      "overjoyed",  "peaceful",    "painted",     "persistent",
    "placid",      "polite",       "popular",    "powerful",    "puzzled",     "rambunctious",
    "rare",        "rebellious",   "respected",  "resilient",   "righteous",   "receptive",
    "redolent",    "resilient",    "rogue",      "rumbling",    "salty",       "sassy",
    "secretive",   "selective",    "sedate",     "serious",     "shivering",   "skillful",
    "sincere",     "skittish",     "silent",     "smiling",     "sneaky",      "sophisticated",
    "spiffy",      "stately",      "suave",      "stylish",     "tasteful",    "thoughtful",
    "thundering",  "traveling",    "treasured",  "trusting",    "unequaled",   "upset",
    "unique",      "unleashed",    "useful",     "upbeat",      "unruly",      "valuable",
    "vaunted",     "victorious",   "welcoming",  "whimsical",   "wistful",     "wise",
    "worried",     "youthful",     "zealous",
};

static const char *const nouns[] = {
    "ant",     "ape",    "asp",    "auk",     "bass",   "bat",   "bear",     "bee",   "bird",
    "boar",    "bug",    "calf",   "carp",    "cat",    "chimp", "cod",      "colt",  "conch",
    "cow",     "crab",   "crane",  "croc",    "crow",   "cub",   "deer",     "doe",   "dog",
    "dolphin", "donkey", "dove",   "duck",    "eel",    "elk",   "fawn",     "finch", "fish",
    "flea",    "fly",    "foal",   "fowl",    "fox",    "frog",  "gnat",     "gnu",   "goat",
    "goose",   "grouse", "grub",   "gull",    "hare",   "hawk",  "hen",      "hog",   "horse",
    "hound",   "jay",    "kit",    "kite",    "koi",    "lamb",  "lark",     "loon",  "lynx",
    "mare",    "midge",  "mink",   "mole",    "moose",  "moth",  "mouse",    "mule",  "newt",
    "owl",     "ox",     "panda",  "penguin", "perch",  "pig",   "pug",      "quail", "ram",
    "rat",     "ray",    "robin",  "roo",     "rook",   "seal",  "shad",     "shark", "sheep",
    "shoat",   "shrew",  "shrike", "shrimp",  "skink",  "skunk", "sloth",    "slug",  "smelt",
    "snail",   "snake",  "snipe",  "sow",     "sponge", "squid", "squirrel", "stag",  "steed",
    "stoat",   "stork",  "swan",   "tern",    "toad",   "trout", "turtle",   "vole",  "wasp",
    "whale",   "wolf",   "worm",   "wren",    "yak",    "zebra",
};

enum { MAX_NAME_LENGTH = 20, DRAWS = 10 };

/* Uniform in [0, bound) from the CSPRNG (the modulo bias of 32 bits over a
 * few hundred values is irrelevant for names). */
static unsigned random_below(unsigned bound) {
    unsigned value = 0;
    if (RAND_bytes((unsigned char *)&value, sizeof value) != 1) {
        fputs("mlflowd: no randomness available\n", stderr);
        abort();
    }
    return value % bound;
}

const char *mfd_runs_random_name(mfd_arena *arena) {
    char *name = NULL;
    for (int draw = 0; draw < DRAWS; draw++) {
        const char *predicate = predicates[random_below(sizeof predicates / sizeof *predicates)];
        const char *noun = nouns[random_below(sizeof nouns / sizeof *nouns)];
        name = mfd_arena_sprintf(arena, "%s-%s-%u", predicate, noun, random_below(1001));
        if (strlen(name) <= MAX_NAME_LENGTH)
            return name;
    }
    name[MAX_NAME_LENGTH] = '\0';
    return name;
}
