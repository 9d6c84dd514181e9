// Template-driven English text. A template is a sentence with slots in braces, e.g.
//   "{P} moved to {C} in {Y} to work as {a} {ROLE} at {O}."
// Upper-case slots name a word list or a per-document fact (see fill_slot for the full list);
// "{a}" / "{A}" is an indefinite article that agrees with the word after it.
// Per-document facts (the main characters, the home town, the organisation, a base year) are
// drawn once, so a document talks about the same people and places throughout.
#include "textgen.h"
#include "textgen_words.h"
#include "splitmix.h"
#include "utils.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------------------------------------
// TextBuf

void textbuf_append(TextBuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + n + 1 > cap) cap *= 2;
        b->data = realloc_or_die(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void textbuf_append_str(TextBuf *b, const char *s) { textbuf_append(b, s, strlen(s)); }

void textbuf_clear(TextBuf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void textbuf_free(TextBuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

// ---------------------------------------------------------------------------------------------
// Generator state for one document.

typedef struct {
    SplitMix rng;
    TextBuf *out;
    int article_pending;   // 0 none, 1 "a"/"an", 2 "A"/"An": waits for the next word
    int capitalize_next;   // upper-case the next letter written (sentence starts)
    // The document's cast, drawn once.
    const char *p_first, *p_last, *q_first, *q_last;
    const char *country, *nationality, *region, *river;
    char city[64], org[96], company[96], brand[48], model[48], street[64];
    const char *product, *dish, *industry, *field, *role, *currency;
    int year;
} Gen;

#define PICK(g, list) ((list)[splitmix_below(&(g)->rng, COUNT_OF(list))])

static int rand_range(Gen *g, int lo, int hi) { return lo + (int)splitmix_below(&g->rng, (uint64_t)(hi - lo + 1)); }
static int chance(Gen *g, double p) { return splitmix_uniform(&g->rng) < p; }

// Write text, resolving a pending article and sentence capitalisation against its first letter.
static void put(Gen *g, const char *s, size_t n) {
    if (n == 0) return;
    if (g->article_pending) {
        int vowel = strchr("aeiouAEIOU", s[0]) != NULL;
        const char *art = g->article_pending == 2 ? (vowel ? "An " : "A ") : (vowel ? "an " : "a ");
        g->article_pending = 0;
        g->capitalize_next = 0;
        textbuf_append_str(g->out, art);
    }
    if (g->capitalize_next && isalpha((unsigned char)s[0])) {
        char c = (char)toupper((unsigned char)s[0]);
        textbuf_append(g->out, &c, 1);
        s++, n--;
    }
    g->capitalize_next = 0;
    textbuf_append(g->out, s, n);
}

static void puts_(Gen *g, const char *s) { put(g, s, strlen(s)); }

// 12345 -> "12,345"
static void format_thousands(char *buf, size_t n, long v) {
    char digits[32];
    snprintf(digits, sizeof digits, "%ld", v);
    size_t len = strlen(digits), j = 0;
    for (size_t i = 0; i < len && j + 2 < n; i++) {
        buf[j++] = digits[i];
        size_t left = len - i - 1;
        if (left > 0 && left % 3 == 0) buf[j++] = ',';
    }
    buf[j] = '\0';
}

// A town: one of the listed names, or an invented one built like English place names.
static const char *make_place(Gen *g, char *buf, size_t n) {
    if (chance(g, 0.5)) return PICK(g, W_CITIES);
    snprintf(buf, n, "%s%s", PICK(g, W_PLACE_HEADS), PICK(g, W_PLACE_TAILS));
    return buf;
}

static void make_org(Gen *g, char *buf, size_t n) {
    switch (splitmix_below(&g->rng, 4)) {
    case 0: { char place[64]; snprintf(buf, n, "%s %s", make_place(g, place, sizeof place), PICK(g, W_ORG_KINDS)); break; }
    case 1: { char place[64]; snprintf(buf, n, "the %s %s", make_place(g, place, sizeof place), PICK(g, W_ORG_KINDS)); break; }
    case 2: snprintf(buf, n, "the %s %s", PICK(g, W_LAST_NAMES), PICK(g, W_ORG_KINDS)); break;
    default: snprintf(buf, n, "the %s %s", PICK(g, W_RIVERS), PICK(g, W_ORG_KINDS)); break;
    }
}

static void make_company(Gen *g, char *buf, size_t n) {
    snprintf(buf, n, "%s %s", PICK(g, W_COMPANY_WORDS), PICK(g, W_COMPANY_KINDS));
}

// Expand one slot name (without braces) into text.
static void fill_slot(Gen *g, const char *name, size_t len) {
    char buf[160];
    const char *s = NULL;
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
    if (IS("a")) { g->article_pending = 1; return; }
    if (IS("A")) { g->article_pending = 2; return; }
    // The document's cast.
    if (IS("P")) { snprintf(buf, sizeof buf, "%s %s", g->p_first, g->p_last); s = buf; }
    else if (IS("P1")) s = g->p_first;
    else if (IS("PL")) s = g->p_last;
    else if (IS("Q")) { snprintf(buf, sizeof buf, "%s %s", g->q_first, g->q_last); s = buf; }
    else if (IS("Q1")) s = g->q_first;
    else if (IS("QL")) s = g->q_last;
    else if (IS("C")) s = g->city;
    else if (IS("CTRY")) s = g->country;
    else if (IS("NAT")) s = g->nationality;
    else if (IS("REG")) s = g->region;
    else if (IS("RIV")) s = g->river;
    else if (IS("O")) s = g->org;
    else if (IS("CO")) s = g->company;
    else if (IS("BRAND")) s = g->brand;
    else if (IS("MODEL")) s = g->model;
    else if (IS("PROD")) s = g->product;
    else if (IS("DISH")) s = g->dish;
    else if (IS("IND")) s = g->industry;
    else if (IS("FIELD")) s = g->field;
    else if (IS("ROLE")) s = g->role;
    else if (IS("ST")) s = g->street;
    else if (IS("Y")) { snprintf(buf, sizeof buf, "%d", g->year); s = buf; }
    // Fresh random details, different at every use.
    else if (IS("R")) { snprintf(buf, sizeof buf, "%s %s", PICK(g, W_FIRST_NAMES), PICK(g, W_LAST_NAMES)); s = buf; }
    else if (IS("R1")) s = PICK(g, W_FIRST_NAMES);
    else if (IS("RL")) s = PICK(g, W_LAST_NAMES);
    else if (IS("C2")) s = make_place(g, buf, sizeof buf);
    else if (IS("CTRY2")) s = PICK(g, W_COUNTRIES);
    else if (IS("RIV2")) s = PICK(g, W_RIVERS);
    else if (IS("O2")) { make_org(g, buf, sizeof buf); s = buf; }
    else if (IS("CO2")) { make_company(g, buf, sizeof buf); s = buf; }
    else if (IS("ADDR")) { snprintf(buf, sizeof buf, "%d %s %s", rand_range(g, 1, 240), PICK(g, W_LAST_NAMES), PICK(g, W_STREET_KINDS)); s = buf; }
    else if (IS("YL")) {
        // Later than the base year, never in the future.
        int span = 2024 - g->year < 30 ? 2024 - g->year : 30;
        snprintf(buf, sizeof buf, "%d", g->year + rand_range(g, span < 1 ? 0 : 1, span < 1 ? 0 : span));
        s = buf;
    }
    else if (IS("YE")) { snprintf(buf, sizeof buf, "%d", g->year - rand_range(g, 2, 90)); s = buf; }
    else if (IS("YR")) { snprintf(buf, sizeof buf, "%d", rand_range(g, 1995, 2024)); s = buf; }
    else if (IS("D")) { snprintf(buf, sizeof buf, "%d %s", rand_range(g, 1, 28), PICK(g, W_MONTHS)); s = buf; }
    else if (IS("MON")) s = PICK(g, W_MONTHS);
    else if (IS("WD")) s = PICK(g, W_WEEKDAYS);
    else if (IS("TIME")) { snprintf(buf, sizeof buf, "%d:%02d", rand_range(g, 7, 20), 5 * rand_range(g, 0, 11)); s = buf; }
    else if (IS("N")) { snprintf(buf, sizeof buf, "%d", rand_range(g, 2, 60)); s = buf; }
    else if (IS("NN")) { snprintf(buf, sizeof buf, "%d", rand_range(g, 100, 999)); s = buf; }
    else if (IS("BIG")) { format_thousands(buf, sizeof buf, rand_range(g, 1200, 98000)); s = buf; }
    else if (IS("PCT")) { snprintf(buf, sizeof buf, "%d.%d per cent", rand_range(g, 1, 89), rand_range(g, 0, 9)); s = buf; }
    else if (IS("NW")) s = PICK(g, W_NUMBER_WORDS);
    else if (IS("SCORE")) { snprintf(buf, sizeof buf, "%d", rand_range(g, 4, 10)); s = buf; }
    else if (IS("MONEY")) {
        if (chance(g, 0.5)) {
            char num[32];
            format_thousands(num, sizeof num, 50L * rand_range(g, 10, 9000));
            snprintf(buf, sizeof buf, "%s%s", g->currency, num);
        } else {
            snprintf(buf, sizeof buf, "%s%d.%d million", g->currency, rand_range(g, 1, 40), rand_range(g, 1, 9));
        }
        s = buf;
    }
    else if (IS("KM")) { snprintf(buf, sizeof buf, "%d.%d kilometres", rand_range(g, 1, 80), rand_range(g, 0, 9)); s = buf; }
    else if (IS("ADJ")) s = PICK(g, W_ADJECTIVES);
    else if (IS("NOUN")) s = PICK(g, W_NOUNS);
    else if (IS("TOPIC")) s = PICK(g, W_TOPICS);
    else if (IS("FIELD2")) s = PICK(g, W_FIELDS);
    else if (IS("ROLE2")) s = PICK(g, W_ROLES);
    else if (IS("TITLE")) s = PICK(g, W_TITLES);
    else if (IS("FOOD")) s = PICK(g, W_FOODS);
    else if (IS("ING")) s = PICK(g, W_INGREDIENTS);
    else if (IS("SMALL")) { snprintf(buf, sizeof buf, "%d", rand_range(g, 2, 5)); s = buf; }
    else if (IS("AMOUNT")) {
        // Weights and volumes come in round numbers; spoons and handfuls in ones and twos.
        const char *unit = PICK(g, W_UNITS);
        if (unit[0] == 'g' || unit[0] == 'm') snprintf(buf, sizeof buf, "%d %s", 25 * rand_range(g, 2, 20), unit);
        else snprintf(buf, sizeof buf, "%d %s", rand_range(g, 2, 6), unit);
        s = buf;
    }
    else if (IS("COOK")) s = PICK(g, W_COOK_VERBS);
    else if (IS("PROD2")) s = PICK(g, W_PRODUCTS);
    else if (IS("MAT")) s = PICK(g, W_MATERIALS);
    else if (IS("ANI")) s = PICK(g, W_ANIMALS);
    else if (IS("PLANT")) s = PICK(g, W_PLANTS);
    else if (IS("COLOR")) s = PICK(g, W_COLORS);
    else if (IS("WEATHER")) s = PICK(g, W_WEATHER);
    else if (IS("WEATHER2")) s = PICK(g, W_WEATHER2);
    else if (IS("FEEL")) s = PICK(g, W_FEELINGS);
    else if (IS("VERB")) s = PICK(g, W_VERBS_PAST);
    else if (IS("ADV")) s = PICK(g, W_ADVERBS);
    else if (IS("OBJ")) s = PICK(g, W_OBJECTS);
    else if (IS("INST")) s = PICK(g, W_INSTRUMENTS);
    else if (IS("SPORT")) s = PICK(g, W_SPORTS);
    else if (IS("EVENT")) s = PICK(g, W_EVENTS);
    else if (IS("IND2")) s = PICK(g, W_INDUSTRIES);
    else if (IS("REG2")) s = PICK(g, W_REGIONS);
#undef IS
    if (!s) {
        // A typo in a template is a bug in this file; fail loudly rather than print braces.
        fprintf(stderr, "%s: error: textgen: unknown template slot {%.*s}\n", program_name(), (int)len, name);
        abort();
    }
    puts_(g, s);
}

// Expand a template; with capitalize, its first letter is upper-cased (a sentence start).
static void expand_part(Gen *g, const char *tpl, int capitalize) {
    g->capitalize_next = capitalize;
    const char *p = tpl;
    while (*p) {
        const char *brace = strchr(p, '{');
        if (!brace) { puts_(g, p); break; }
        if (brace > p) {
            // "{a} old" leaves a space after the slot; the article carries its own space.
            if (g->article_pending && *p == ' ') p++;
            put(g, p, (size_t)(brace - p));
        }
        const char *close = strchr(brace, '}');
        if (!close) { fprintf(stderr, "%s: error: textgen: unclosed slot in \"%s\"\n", program_name(), tpl); abort(); }
        fill_slot(g, brace + 1, (size_t)(close - brace - 1));
        p = close + 1;
        if (g->article_pending && *p == ' ') p++;
    }
}

static void expand(Gen *g, const char *tpl) { expand_part(g, tpl, 1); }

// A sentence assembled from parts, "<when>, <who> <did what><ending>": the combinations run into
// the millions, which keeps long documents from repeating themselves.
static void narrative_sentence(Gen *g) {
    expand(g, PICK(g, W_WHEN));
    textbuf_append_str(g->out, ", ");
    expand_part(g, PICK(g, W_WHO), 0);
    textbuf_append_str(g->out, " ");
    expand_part(g, PICK(g, W_DID), 0);
    expand_part(g, PICK(g, W_ENDING), 0);
}

// Write between lo and hi sentences from a pool, without repeating a template inside the run;
// a share of them (narrative_share) are assembled narrative sentences instead.
static void sentences(Gen *g, const char *const *pool, int pool_size, int lo, int hi, double narrative_share) {
    int count = rand_range(g, lo, hi);
    int used[16];
    int n_used = 0;
    for (int i = 0; i < count; i++) {
        int pick, tries = 0;
        do {
            pick = (int)splitmix_below(&g->rng, (uint64_t)pool_size);
            int seen = 0;
            for (int k = 0; k < n_used; k++) if (used[k] == pick) seen = 1;
            if (!seen) break;
        } while (++tries < 8);
        if (n_used < 16) used[n_used++] = pick;
        if (i > 0) textbuf_append_str(g->out, " ");
        if (chance(g, narrative_share)) narrative_sentence(g);
        else expand(g, pool[pick]);
    }
}

static void newline(Gen *g, int n) {
    for (int i = 0; i < n; i++) textbuf_append_str(g->out, "\n");
}

// ---------------------------------------------------------------------------------------------
// Genres. Each has an opening, a pool of body sentences and a closing.

static const char *const ENCYCLOPEDIA[] = {
    "The {NOUN} at the corner of {ST} and the market place was designed by {R} and opened in {YL}.",
    "Between {YE} and {Y} the population fell by almost a third, as families left for work in {C2}.",
    "The annual {EVENT} began in {YL} as a fundraiser for the {NOUN} and now raises about {MONEY} a year.",
    "Geologists have described the cliffs north of {C} as a textbook example of {FIELD2} in {REG2}.",
    "A tramway along {ST} operated from {YL} until it was replaced by buses in {YR}.",
    "The harbour once handled {BIG} tonnes of cargo a year, mostly timber and {IND2} products.",
    "The dialect of {C} preserves several words for weather, including one for {WEATHER}.",
    "The {ANI} appears on the town crest, granted in {YL} by the {O2}.",
    "{C} lies on the banks of the {RIV}, about {KM} from {C2}.",
    "The population was recorded as {BIG} at the census of {YR}, an increase of {PCT} on the previous count.",
    "The town grew rapidly in the nineteenth century, when {IND} brought workers from across {REG}.",
    "The oldest surviving building is {a} {ADJ} {NOUN} dating from {YE}, which was {VERB} in {YL} by {O2}.",
    "Local historians trace the name to {a} {ADJ} {NOUN} that once stood near the present market square.",
    "A railway line to {C2} opened in {YL}, and the station still serves about {BIG} passengers a year.",
    "The economy now rests on tourism, light manufacturing and {IND2}, with {CO2} the largest single employer.",
    "{O} was founded in {Y} and holds a collection of more than {BIG} items relating to {IND}.",
    "The surrounding countryside is known for its {PLANT}, and the estuary is an important site for the {ANI}.",
    "In {YL} a fire destroyed much of the old quarter, including the {NOUN} on {ST}.",
    "Notable residents have included the {ROLE2} {R} and the {NAT} {ROLE2} {R}.",
    "The town council has {N} members and meets in the former {NOUN} on {ST}.",
    "Every {MON} the town hosts {a} {EVENT} that draws visitors from {C2} and beyond.",
    "The climate is mild, although {WEATHER} is common in late autumn.",
    "A stone {NOUN} across the {RIV} was completed in {YL} at a cost of {MONEY}.",
    "{C} is twinned with {C2} in {CTRY2}, a link established in {YR}.",
    "Archaeological work in {YR} uncovered {OBJ} and the foundations of {a} {ADJ} {NOUN}.",
    "The parish church contains a carved screen attributed to {R}, {a} {ROLE2} from {C2}.",
    "Schools in the town include {O2}, which had {NN} pupils in {YR}.",
    "The local football club, founded in {YL}, plays its home games beside the {RIV}.",
    "During the war years the {NOUN} was requisitioned as a store for {OBJ} and other supplies.",
    "Bus services link {C} with {C2} every {N} minutes during the day.",
    "The decline of {IND} after {YL} left much of the waterfront empty until its renovation in {YR}.",
    "The {ADJ} high street is lined with shops built of local stone, many of them listed.",
};

static const char *const BIOGRAPHY[] = {
    "{P1} spent the summer of {YL} in {C2}, cataloguing {OBJ} for {O2}.",
    "A letter from {P1} to {R}, dated {D} {YL}, sets out the argument in a single page.",
    "Money was always short, and in {YL} {P1} sold {OBJ} to pay the rent on {ST}.",
    "The obituary in the {C} newspaper called {P1} \"{ADJ}, {ADJ} and impossible to hurry\".",
    "{P1} learned {NAT} as a child and later translated {NW} books on {FIELD2}.",
    "Late in life {P1} wrote a memoir, which {Q1} edited and published in {YL}.",
    "The collection of {ANI} specimens assembled by {P1} is now kept at {O2}.",
    "{P1} refused a post at {O2} in {YL}, preferring to stay close to the {RIV}.",
    "{P} was born in {C} in {Y}, the {NW} child of {a} {ROLE2} and {a} {ROLE2}.",
    "As a student {P1} read {FIELD} at {O2}, graduating with distinction in {YL}.",
    "{P1} first attracted attention with a study of {TOPIC} published in {YL}.",
    "In {YL} {P1} joined {O} as {a} {ROLE}, a post held for {N} years.",
    "Colleagues remembered {P1} as {ADJ} and {ADJ}, with a habit of working late into the night.",
    "{P1} married {Q} in {YL}; they had {NW} children and lived for many years on {ST}.",
    "The friendship between {P1} and {R} produced a long correspondence now held by {O2}.",
    "{P1} travelled widely in {CTRY2}, and a journal of the journey was published in {YL}.",
    "A dispute with {R} over {TOPIC} in {YL} led {P1} to resign from {O2}.",
    "In later life {P1} returned to {C} and took up {SPORT} and the {INST}.",
    "{P1} received the {RL} Medal in {YL} for contributions to {FIELD}.",
    "The archive of {P} contains {BIG} letters, {NN} notebooks and {OBJ}.",
    "Critics have argued that the importance of {P1} to {FIELD} was long underestimated.",
    "During the {ADJ} winter of {YL}, {P1} nursed {Q1} through a serious illness.",
    "{P1} was elected to the council of {O2} in {YL} and served as its {TITLE}.",
    "A {ADJ} portrait of {P1} by {R} hangs in the hall of {O}.",
    "{P1} died in {C2} in {YL} at the age of {N}, and is buried beside the {RIV}.",
    "A street in {C}, {ST}, was named after {P1} in {YR}.",
    "Among the pupils of {P1} were {R} and {R}, both later known for work in {FIELD2}.",
    "The best known book by {P1}, a history of {IND2} in {REG2}, sold more than {BIG} copies.",
    "Contemporary accounts describe {P1} as {FEEL} about public attention and fond of long walks.",
    "Funding from {CO2} allowed {P1} to build {a} {ADJ} {NOUN} for experiments in {YL}.",
};

static const char *const LETTER[] = {
    "The bus to {C2} now leaves at {TIME}, which means I can be home before dark.",
    "I made {FOOD} from the recipe you sent, and {R1} asked for a second helping.",
    "Your brother rang on {WD} and sounded {FEEL}; I think the new job suits him.",
    "The {NOUN} at the end of the lane has been sold for {MONEY}, if you can believe it.",
    "I keep meaning to sort out the shed, but {WEATHER} has kept me in all week.",
    "We had {NN} people at the {EVENT}, and the tea urn broke halfway through.",
    "Give my love to everyone at {ST}, and tell {R1} I have not forgotten the book.",
    "The new {ROLE2} in the village is called {R} and comes from {CTRY2}.",
    "I hope this finds you well and that {WEATHER} has not kept you indoors.",
    "We finally {VERB} the {NOUN} last {WD}, with help from {R1} and two neighbours.",
    "Do you remember {R1} from {C2}? I saw {R1} at the {EVENT} and we talked for an hour.",
    "The garden is full of {PLANT} this month, and I have seen {a} {ANI} twice by the pond.",
    "Work at {O} has been {ADJ}; we moved to new offices on {ST} on {D}.",
    "I am sending {OBJ} with this letter, which I found in a box in the attic.",
    "My train from {C2} was {N} minutes late, so I missed the first half of the concert.",
    "Please tell {Q1} that the money for the {NOUN} roof, {MONEY} in all, has been raised.",
    "I have been reading about {TOPIC} and I would love to hear what you think of it.",
    "The doctor says my knee will mend in {NW} weeks if I stop climbing ladders.",
    "We are thinking of visiting {CTRY2} in {MON}, perhaps for {NW} weeks.",
    "Our cousin {R1} has started as {a} {ROLE2} in {C2} and seems {FEEL} about it.",
    "I was {FEEL} to hear your news about the house on {ST}.",
    "The price of coal has gone up again, and the council wants {MONEY} for the new drains.",
    "Last night we had {WEATHER}, and the lane to the village flooded as far as the {NOUN}.",
    "If you come in {MON}, we could walk along the {RIV} to the old {NOUN} at {C2}.",
    "{R1} asked me to pass on thanks for the {FOOD} you sent at Christmas.",
    "I have joined the {C} {SPORT} club, which meets on {WD} evenings at {TIME}.",
    "The children are learning the {INST} and practise in the kitchen after supper.",
    "I found your old letters from {YR} and read them all again with great pleasure.",
    "There is talk in the village about {TOPIC}, and the meeting on {D} was very lively.",
    "Write soon and tell me everything about {C2} and the people at {O2}.",
};

static const char *const NEWS[] = {
    "Traders on {ST} said footfall had fallen by {PCT} since the roadworks began in {MON}.",
    "The {O} said it would publish a full response by {D}.",
    "Firefighters from {C2} spent {NW} hours at the {NOUN} on {WD} night.",
    "Plans for {NN} new homes on the edge of {C} were withdrawn after objections from residents.",
    "{R}, {N}, has swum the length of the {RIV} to raise {MONEY} for {O2}.",
    "A {ADJ} {NOUN} dating from {YE} has been listed after a campaign by {R}.",
    "Opening hours at the {NOUN} will be cut to {NW} days a week from {MON}.",
    "Organisers expect about {BIG} visitors at the {EVENT} this year, up from {BIG} last year.",
    "Officials said the work would cost {MONEY} and take about {N} months to complete.",
    "\"We have waited a long time for this,\" said {R}, who has lived on {ST} for {N} years.",
    "{R}, {a} {ROLE2} at {O2}, said the figures showed a rise of {PCT} since {YR}.",
    "The council voted by {N} to {N} to approve the plan for {TOPIC}.",
    "Police closed {ST} for {NW} hours on {WD} after {a} {PROD2} was found on the pavement.",
    "The {EVENT} will take place on {D} in the grounds of {O2}, organisers confirmed.",
    "{CO2} announced {NN} new jobs at its site near the {RIV}, the largest investment in {C} since {YR}.",
    "Residents complained that {TOPIC} had been ignored for too long.",
    "A spokesperson for {O} said the decision was \"{ADJ} but necessary\".",
    "Figures released on {WD} showed that {BIG} people used the service last year.",
    "Campaigners gathered outside the {NOUN} on {D} to protest against {TOPIC}.",
    "The {ADJ} {NOUN} on {ST} will reopen in {MON} after repairs costing {MONEY}.",
    "{R}, aged {N}, was named {ROLE2} of the year at a ceremony in {C2}.",
    "Rescue teams were called to the {RIV} at {TIME} after reports of {a} {ANI} trapped in fishing line.",
    "Ticket sales for the {EVENT} rose by {PCT}, according to {R} of {O2}.",
    "The inquiry heard evidence from {N} witnesses over {NW} days.",
    "Heavy traffic is expected on the road to {C2} while the bridge is resurfaced.",
    "Scientists at {O2} said {WEATHER} had delayed the survey of {ANI} numbers.",
    "A petition calling for action on {TOPIC} has gathered {BIG} signatures.",
    "The {SPORT} team from {C} won their final match {N} to {N} on {WD}.",
    "{R} said: \"It is the most {ADJ} thing I have seen in {N} years of work here.\"",
    "The plan still needs approval from {O2}, which is expected to decide in {MON}.",
    "Shops on {ST} reported a busy weekend despite {WEATHER}.",
};

static const char *const REPORT[] = {
    "Table {N} sets out spending by site; the largest single item was {MONEY} for {TOPIC}.",
    "Sickness absence averaged {N} days per employee, compared with {N} days a year earlier.",
    "The {NOUN} on {ST} was closed for {NW} weeks in {MON} for safety work.",
    "Feedback from {NN} users highlighted {TOPIC} as the area most in need of improvement.",
    "Training was provided to {NN} staff, mostly in {FIELD2} and first aid.",
    "Carbon emissions were estimated at {BIG} tonnes, {PCT} lower than in {YE}.",
    "The contract for {TOPIC} was retendered and awarded to {CO2} from {D}.",
    "Two serious incidents were reported, both at the {NOUN} in {C2}, and both have been investigated.",
    "During the year ending {D} {YR}, {O} handled {BIG} requests, up {PCT} on the previous year.",
    "Income reached {MONEY}, of which {PCT} came from grants and the rest from fees.",
    "The main risk identified by the {TITLE} is the rising cost of {TOPIC}.",
    "A survey of {NN} households found that {PCT} were satisfied with the service.",
    "Staff numbers rose from {N} to {N}, including {NW} new posts in {FIELD2}.",
    "The board met {N} times and approved {NW} new policies, including one on {TOPIC}.",
    "Maintenance of the {NOUN} on {ST} cost {MONEY}, below the budget of {MONEY}.",
    "Energy use fell by {PCT} after the installation of new heating in {MON}.",
    "The pilot project in {C2} reached {BIG} people against a target of {BIG}.",
    "Recommendation {N}: the {TITLE} should review contracts with {CO2} before {MON} {YR}.",
    "Delays were caused mainly by {WEATHER} and by late deliveries of {MAT}.",
    "Partnerships with {O2} and {O2} continued to develop during the year.",
    "Volunteers gave {BIG} hours, the equivalent of {N} full-time staff.",
    "Complaints fell to {NN}, most of them about waiting times in {MON} and {MON}.",
    "The audit carried out by {R} found no material weaknesses in financial controls.",
    "A new data system, supplied by {CO2}, went live on {D} after {NW} months of testing.",
    "Attendance at public events averaged {NN} people, with the {EVENT} the most popular.",
    "The reserve fund stands at {MONEY}, enough to cover {N} months of running costs.",
    "Work on {TOPIC} will continue next year under the direction of {R}.",
    "The results for {C} were notably stronger than those for {C2}, where staffing was short.",
    "An independent review by {O2} is due to report in {MON} {YR}.",
};

static const char *const STORY[] = {
    "{Q1} poured the tea and pushed a cup across the table without a word.",
    "The {NOUN} had not changed: the same {COLOR} door, the same crack above the window.",
    "\"Did you ever go back to {C2}?\" asked {P1}. {Q1} did not answer.",
    "They ate {FOOD} in the kitchen while {WEATHER} battered the glass.",
    "{P1} found the key where it had always been, under the third stone by the {NOUN}.",
    "The bells of {C} rang {NW} times, and then the town was quiet again.",
    "Far off, the {ANI} called again, and this time {Q1} heard it too.",
    "{P1} wrote the address on the envelope: {ADDR}, {C2}.",
    "Neither of them mentioned {R1}, though both were thinking of nothing else.",
    "{P1} stood at the window and watched {WEATHER} roll in over the {RIV}.",
    "\"You should not have come back,\" said {Q1}, without looking up from {OBJ}.",
    "The {NOUN} smelled of dust and old paper, and somewhere a clock ticked {ADV}.",
    "{P1} felt {FEEL}, though it was hard to say why.",
    "They walked along {ST} in silence until they reached the {ADJ} {NOUN}.",
    "{Q1} laughed, a short sound that echoed off the walls of the {NOUN}.",
    "On the table lay {OBJ}, exactly where {R1} had left it {NW} years before.",
    "\"Tell me about {C2},\" said {P1}. \"Tell me everything.\"",
    "A {ANI} called from the reeds, and {P1} stopped to listen.",
    "By {TIME} the lamps were lit and the street below had emptied.",
    "{Q1} {VERB} the {NOUN} {ADV}, as if it might break.",
    "It had been {N} years since the {EVENT}, and {P1} still remembered the music.",
    "{P1} opened the letter from {O2} and read it twice before folding it away.",
    "The road to {C2} climbed through {PLANT} and past the ruins of {a} {NOUN}.",
    "\"We have until {WD},\" said {Q1}. \"After that, the {NOUN} belongs to {R}.\"",
    "{P1} thought of {R1}, who had played the {INST} every evening in the old house.",
    "Rain drummed on the roof of the {NOUN} while they waited for the ferry.",
    "Nobody in {C} spoke about what happened in {YE}, least of all {QL}'s family.",
    "{Q1} handed over {OBJ} and said nothing more.",
    "The {ADJ} light of the afternoon turned the water the colour of {COLOR} glass.",
    "{P1} counted the coins again: {N} in all, not nearly enough for the fare.",
    "Somewhere beyond the {NOUN}, a dog barked and a door slammed shut.",
    "\"I kept {OBJ} for you,\" {Q1} said {ADV}. \"I always meant to return it.\"",
};

static const char *const RECIPE[] = {
    "Toast the {ING} in a dry pan until fragrant, about {N} minutes, then set aside.",
    "Line a baking tray with paper and spread the {ING} over it in a single layer.",
    "You can make the base up to {NW} days ahead and keep it covered in the fridge.",
    "If you cannot find {ING}, {ING} works almost as well.",
    "Stir the {ING} through at the very end so that it keeps its colour.",
    "Bring to the boil, then reduce the heat and simmer for {N} minutes with the lid ajar.",
    "I first ate something like this at a small restaurant in {C2} in {YR}.",
    "Let the tin cool for {N} minutes before turning out onto a wire rack.",
    "Heat {SMALL} tablespoons of olive oil in a wide pan over a medium flame.",
    "{COOK} the {ING} and cook for {N} minutes, stirring now and then.",
    "Season with {ING} and a little {ING}, tasting as you go.",
    "Meanwhile, preheat the oven to {NN} degrees and grease a round tin about {N} centimetres across.",
    "{COOK} {AMOUNT} {ING} and let everything simmer gently.",
    "Leave to rest for {N} minutes before slicing, so that the juices settle.",
    "If the mixture looks too thick, loosen it with a splash of {ING}.",
    "My old neighbour {R1} always added {ING} at this stage, and I still do.",
    "This dish keeps well in the fridge for {NW} days and freezes for a month.",
    "Serve with {FOOD} and a green salad, or simply with warm bread.",
    "For a vegetarian version, replace the {ING} with {ING}.",
    "Bake for {N} minutes, until golden on top and bubbling at the edges.",
    "Chop the {ING} finely and set aside in a small bowl.",
    "The recipe was given to me by {R}, who ran a cafe on {ST} in {C2}.",
    "Beat the {ING} with the {ING} until pale and fluffy.",
    "We first made this during {WEATHER} in {MON}, and it has been a favourite since.",
    "Scatter with {ING} just before serving for colour and crunch.",
    "Use {a} {ADJ} pan with a heavy base, or the bottom may catch.",
    "In {C} the dish is traditionally eaten on {WD} evenings with {FOOD}.",
    "Cover and cook on a low heat for {N} minutes, checking once or twice.",
    "Pour into the tin, smooth the top and tap it on the counter to release air bubbles.",
};

static const char *const REVIEW[] = {
    "The first unit I received had a faulty switch, but {CO} replaced it within {NW} days.",
    "Battery life is about {N} hours, which is fine for a weekend away.",
    "The packaging is mostly cardboard, and the {MAT} parts are wrapped in paper rather than plastic.",
    "After a month the {MAT} has started to mark, although only where it rubs against the shelf.",
    "Friends in {C2} own the previous model and say this one is a clear improvement.",
    "It comes in {COLOR}, {COLOR} and {COLOR}; I chose the {COLOR} one.",
    "If you use {a} {PROD} every day, the extra {MONEY} over the basic model is worth paying.",
    "I contacted the shop in {C2} about a discount and was offered {PCT} off.",
    "I bought the {BRAND} {MODEL} in {MON} after my old {PROD} finally gave up.",
    "The body is made of {MAT} and feels {ADJ} in the hand.",
    "At {MONEY}, it is not the cheapest {PROD} on the market, but it is far from the dearest.",
    "Setting it up took about {N} minutes, and the instructions were clear.",
    "After {NW} weeks of daily use, the only fault I have found is a loose {COLOR} trim.",
    "My partner {R1} thinks it is too heavy, and I can see the point.",
    "Compared with the model from {CO2}, this one is quieter and noticeably better made.",
    "Delivery from {C2} took {NW} days and the box arrived undamaged.",
    "Customer service at {CO} answered my email within {N} hours.",
    "The {COLOR} finish shows fingerprints, which is {a} {ADJ} annoyance.",
    "I took it on a trip to {CTRY2} and it survived {WEATHER} without complaint.",
    "It weighs {N} hundred grams, which is about average for {a} {PROD} of this size.",
    "The warranty lasts {NW} years, and spare parts are sold separately.",
    "Score: {SCORE} out of 10 for build quality, {SCORE} out of 10 for value.",
    "A friend who works as {a} {ROLE2} in {C2} recommended it, and I am glad I listened.",
    "On the downside, the manual is only available online, and the website is slow.",
    "It replaced {a} {ADJ} old {PROD} that I had used since {YE}.",
    "Overall I would call it {a} {ADJ} and dependable purchase rather than an exciting one.",
    "The {MAT} handle stays cool, and the controls are easy to reach.",
    "Other reviewers complain about the noise, but I measured it at {N} decibels at one metre.",
    "I have since bought a second one as a present for {R1}.",
};

static const char *const MEETING[] = {
    "{R1} gave an update on the lease of the {NOUN}; the landlord has asked for {MONEY} a year.",
    "The {TITLE} confirmed that the accounts for {YR} had been filed with {O2}.",
    "It was noted that the {EVENT} clashes with the {EVENT} in {C2}; {R1} will propose a new date.",
    "{R1} raised the question of {TOPIC}; members agreed to seek advice from {R}.",
    "The committee approved spending of up to {MONEY} on new chairs for the {NOUN}.",
    "Volunteer numbers were discussed; {N} people have signed up since {MON}.",
    "Action: the {TITLE} to write to {CO2} about the unpaid invoice of {MONEY}.",
    "{R1} thanked members for their work during {WEATHER} in {MON}.",
    "{R1} reported that {TOPIC} was now {N} weeks behind schedule.",
    "The {TITLE} presented the accounts: income {MONEY}, spending {MONEY}.",
    "It was agreed that {R1} would contact {O2} about {TOPIC} before {D}.",
    "{R1} asked whether the {NOUN} on {ST} could be used for the {EVENT}; this was agreed.",
    "The committee discussed {TOPIC} at length; no decision was reached.",
    "Action: {R1} to circulate the draft report by {WD}.",
    "{R1} noted that {N} complaints had been received since the last meeting.",
    "A quote of {MONEY} from {CO2} for repairs was accepted, with {N} votes in favour.",
    "The minutes of the meeting held on {D} were approved without amendment.",
    "{R1} proposed a small working group on {TOPIC}; {R1} and {R1} volunteered.",
    "Members thanked {R1} for organising the {EVENT}, which raised {MONEY}.",
    "The insurance renewal is due in {MON}; the {TITLE} will compare three quotes.",
    "Concern was raised about {WEATHER} damaging the roof of the {NOUN}.",
    "{R1} will ask {R} of {O2} to speak at the next meeting.",
    "Membership stands at {NN}, an increase of {N} since {MON}.",
    "The grant application to {O2} for {MONEY} was submitted on {D}.",
    "Any other business: {R1} reminded members that the car park closes at {TIME}.",
    "It was agreed to defer the item on {TOPIC} until the {MON} meeting.",
    "{R1} reported that the new website had {BIG} visits in its first month.",
    "The chair asked members to send comments on the {TOPIC} plan to {R1}.",
};

typedef struct {
    const char *name;
    const char *const *pool;
    int pool_size;
    double narrative_share;   // fraction of sentences built by narrative_sentence()
} Genre;

static const Genre GENRES[] = {
    {"encyclopedia", ENCYCLOPEDIA, COUNT_OF(ENCYCLOPEDIA), 0.3},
    {"biography", BIOGRAPHY, COUNT_OF(BIOGRAPHY), 0.3},
    {"letter", LETTER, COUNT_OF(LETTER), 0.3},
    {"news", NEWS, COUNT_OF(NEWS), 0.25},
    {"report", REPORT, COUNT_OF(REPORT), 0.1},
    {"story", STORY, COUNT_OF(STORY), 0.35},
    {"recipe", RECIPE, COUNT_OF(RECIPE), 0.0},
    {"review", REVIEW, COUNT_OF(REVIEW), 0.0},
    {"meeting_notes", MEETING, COUNT_OF(MEETING), 0.05},
};
enum { G_ENCYCLOPEDIA, G_BIOGRAPHY, G_LETTER, G_NEWS, G_REPORT, G_STORY, G_RECIPE, G_REVIEW, G_MEETING };

int textgen_num_genres(void) { return COUNT_OF(GENRES); }

const char *textgen_genre_name(int genre) {
    if (genre < 0 || genre >= COUNT_OF(GENRES)) return "unknown";
    return GENRES[genre].name;
}

// Titles and openings: the first lines of each kind of document.
static void opening(Gen *g, int genre) {
    switch (genre) {
    case G_ENCYCLOPEDIA:
        expand(g, "{C}");
        newline(g, 2);
        expand(g, "{C} is {a} {ADJ} town in {REG} of {CTRY}, known for {IND} and for its {ADJ} {NOUN}.");
        break;
    case G_BIOGRAPHY:
        expand(g, "{P} ({Y} to {YL})");
        newline(g, 2);
        expand(g, "{P} was {a} {NAT} {ROLE} whose work on {TOPIC} changed the practice of {FIELD} in {REG}.");
        break;
    case G_LETTER:
        expand(g, "{ADDR}");
        newline(g, 1);
        expand(g, "{C}");
        newline(g, 1);
        expand(g, "{D} {Y}");
        newline(g, 2);
        expand(g, "Dear {Q1},");
        newline(g, 2);
        expand(g, "Thank you for your letter of {D}, which arrived on {WD} with the {ADJ} postcard from {C2}.");
        break;
    case G_NEWS:
        expand(g, "{C} approves {MONEY} plan for {TOPIC}");
        newline(g, 2);
        expand(g, "{C}, {D} {Y}. Members of {O} voted on {WD} to go ahead with a plan for {TOPIC}, ending {NW} years of debate.");
        break;
    case G_REPORT:
        expand(g, "{O}: annual report {Y}");
        newline(g, 2);
        expand(g, "Summary. This report describes the work of {O} in {C} during {Y}, prepared by {P}, {TITLE}.");
        break;
    case G_STORY:
        expand(g, "Chapter {NW}");
        newline(g, 2);
        expand(g, "The last ferry from {C2} reached {C} just after {TIME}, and {P1} {PL} was the only passenger.");
        break;
    case G_RECIPE:
        expand(g, "{DISH} from {C}");
        newline(g, 2);
        expand(g, "Serves {NW}. Preparation {N} minutes, cooking {N} minutes. This recipe for {DISH} comes from {P}, who cooks it every {MON}.");
        newline(g, 2);
        expand(g, "Ingredients:");
        for (int i = 0, n = rand_range(g, 5, 9); i < n; i++) {
            newline(g, 1);
            expand(g, "- {AMOUNT} {ING}");
        }
        newline(g, 2);
        expand(g, "Method:");
        break;
    case G_REVIEW:
        expand(g, "Review: {BRAND} {MODEL} {PROD}");
        newline(g, 2);
        expand(g, "Rating: {SCORE} out of 10. Reviewed by {P} from {C} on {D} {Y}.");
        break;
    case G_MEETING:
        expand(g, "Minutes of the meeting of {O}, held on {WD} {D} {Y} at {TIME} in {C}");
        newline(g, 2);
        expand(g, "Present: {P} (chair), {Q}, {R}, {R} and {R}. Apologies: {R}.");
        break;
    }
}

static void closing(Gen *g, int genre) {
    newline(g, 2);
    switch (genre) {
    case G_LETTER: expand(g, "With love and best wishes,"); newline(g, 1); expand(g, "{P1}"); break;
    case G_NEWS: expand(g, "Reporting by {R} in {C}."); break;
    case G_REPORT: expand(g, "Approved by the board of {O} on {D} {YL}."); break;
    case G_STORY: expand(g, "{P1} closed the door and did not look back."); break;
    case G_RECIPE: expand(g, "Enjoy, and let me know how it turns out."); break;
    case G_REVIEW: expand(g, "Verdict: recommended, with small reservations."); break;
    case G_MEETING: expand(g, "The meeting closed at {TIME}. Next meeting: {WD} {D}."); break;
    default: expand(g, "See also: {O2}; {IND2} in {REG2}; the {RIV2} valley."); break;
    }
}

void textgen_document(TextBuf *out, int genre, uint64_t seed, size_t min_chars) {
    if (genre < 0 || genre >= COUNT_OF(GENRES)) genre = 0;
    Gen g;
    memset(&g, 0, sizeof g);
    g.rng = splitmix_derive(seed, 0x7465787467656eull, (uint64_t)genre);
    g.out = out;
    g.p_first = PICK(&g, W_FIRST_NAMES);
    g.p_last = PICK(&g, W_LAST_NAMES);
    do { g.q_first = PICK(&g, W_FIRST_NAMES); } while (g.q_first == g.p_first);
    g.q_last = PICK(&g, W_LAST_NAMES);
    char place[64];
    snprintf(g.city, sizeof g.city, "%s", make_place(&g, place, sizeof place));
    g.country = PICK(&g, W_COUNTRIES);
    g.nationality = PICK(&g, W_NATIONALITIES);
    g.region = PICK(&g, W_REGIONS);
    g.river = PICK(&g, W_RIVERS);
    make_org(&g, g.org, sizeof g.org);
    make_company(&g, g.company, sizeof g.company);
    snprintf(g.brand, sizeof g.brand, "%s", PICK(&g, W_COMPANY_WORDS));
    snprintf(g.model, sizeof g.model, "%c%c-%d", 'A' + (int)splitmix_below(&g.rng, 26), 'A' + (int)splitmix_below(&g.rng, 26),
             rand_range(&g, 10, 990));
    snprintf(g.street, sizeof g.street, "%s %s", PICK(&g, W_LAST_NAMES), PICK(&g, W_STREET_KINDS));
    g.product = PICK(&g, W_PRODUCTS);
    g.dish = PICK(&g, W_FOODS);
    g.industry = PICK(&g, W_INDUSTRIES);
    g.field = PICK(&g, W_FIELDS);
    g.role = PICK(&g, W_ROLES);
    static const char *const currencies[] = {"£", "$", "€"};
    g.currency = PICK(&g, currencies);
    // Histories are set in the past; everything else is recent.
    g.year = genre == G_ENCYCLOPEDIA || genre == G_BIOGRAPHY ? rand_range(&g, 1820, 1950) : rand_range(&g, 1990, 2023);

    size_t start = out->len;
    opening(&g, genre);
    const Genre *G = &GENRES[genre];
    while (out->len - start < min_chars) {
        newline(&g, 2);
        sentences(&g, G->pool, G->pool_size, 3, 6, G->narrative_share);
    }
    closing(&g, genre);
}
