// Word lists for the offline text generator (llmc/textgen.c). Written for memlens; each list is
// plain data, so anyone can extend it. Names and places mix real-sounding and invented ones so
// the documents are full of specific details without describing real people or events.
#ifndef LLMC_TEXTGEN_WORDS_H
#define LLMC_TEXTGEN_WORDS_H

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const W_FIRST_NAMES[] = {
    "Aurelia", "Bashir", "Cormac", "Delphine", "Eamon", "Femi", "Gwendolyn", "Hamish",
    "Ilse", "Jasper", "Kirsten", "Lorcan", "Marisol", "Nadia", "Orla", "Piotr",
    "Rhiannon", "Sebastian", "Tamsin", "Ulrich", "Valentina", "Wendell", "Xavier", "Yara",
    "Zoltan", "Annika", "Bram", "Cosima", "Duncan", "Elspeth", "Fraser", "Giulia",
    "Horatio", "Isolde", "Jarrah", "Kofi", "Lorenzo", "Maeve", "Nils", "Odette",
    "Perpetua", "Ragnar", "Sunita", "Thaddeus", "Ursula", "Vikram", "Wilhelmina", "Ansel",
    "Bettina", "Cyrus", "Dagny", "Evander", "Fenella", "Gideon", "Hollis", "Ingeborg",
    "Jethro", "Kalinda", "Leopold",
    "Amelia", "Oliver", "Priya", "Tomasz", "Grace", "Mateo", "Hannah", "Kwame", "Ingrid", "Rafael",
    "Sofia", "Declan", "Mei", "Jonas", "Leila", "Samuel", "Aoife", "Viktor", "Naomi", "Arjun",
    "Clara", "Felix", "Yasmin", "Ewan", "Lucia", "Bernard", "Ruth", "Kenji", "Isabel", "Anton",
    "Esther", "Callum", "Maya", "Henrik", "Zainab", "Patrick", "Elena", "Tobias", "Fatima", "Gareth",
    "Rosalind", "Dmitri", "Alice", "Marcus", "Beatrice", "Oscar", "Chiara", "Nikhil", "Margaret", "Lars",
    "Imogen", "Hugo", "Noor", "Stefan", "Olivia", "Emeka", "Harriet", "Luca", "Agnes", "Desmond",
    "Freya", "Ibrahim", "Catherine", "Wilhelm", "Mira", "Rowan", "Theresa", "Julian", "Anika", "Conrad",
    "Eleanor", "Sipho", "Vera", "Ambrose", "Lena", "Niall", "Hazel", "Rashid", "Ottilie", "Graham",
    "Paloma", "Edmund", "Saoirse", "Ivan", "Martha", "Benedict", "Yuki", "Frances", "Carlos", "Louisa",
    "Alistair", "Wanjiru", "Philippa", "Soren", "Dorothy", "Elias", "Ayesha", "Reuben", "Juno", "Cedric",
    "Thandiwe", "Magnus", "Rosa", "Quentin", "Lydia", "Dev", "Winifred", "Milo", "Ines", "Barnaby",
    "Keiko", "Florian", "Adaeze", "Silas", "Helena", "Ravi", "Bridget", "Otto", "Celeste", "Fergus",
};

static const char *const W_LAST_NAMES[] = {
    "Abercrombie", "Bjornsson", "Castellanos", "Dewhurst", "Etherington", "Falconer", "Grimshaw", "Hallworth",
    "Ingleby", "Jablonski", "Kettering", "Loxley", "Macready", "Nightingale", "Oldroyd", "Pettigrew",
    "Quartermaine", "Rowntree", "Satterthwaite", "Trelawney", "Umberto", "Villiers", "Wainwright", "Yardley",
    "Zamora", "Ackroyd", "Birtwistle", "Calloway", "Daventry", "Eastwood", "Fothergill", "Gatenby",
    "Hebblethwaite", "Isherwood", "Jessop", "Kilbride", "Lamberti", "Mottram", "Nakashima", "Ormerod",
    "Pilkington", "Rasmussen", "Scarborough", "Thackeray", "Uttley", "Vance", "Whitelaw", "Yeoman",
    "Agarwal", "Brightman", "Cordero", "Dimitriou", "Engstrom", "Fairclough", "Goldsworthy", "Hargreaves",
    "Iwobi", "Jorgensen",
    "Hartley", "Okafor", "Lindqvist", "Marchetti", "Pemberton", "Nakamura", "Delacroix", "Brennan", "Sokolova", "Whitcombe",
    "Achterberg", "Ramaswamy", "Fairbanks", "Castellano", "Dunmore", "Kowalczyk", "Ashworth", "Mbeki", "Halloran", "Vasquez",
    "Thornbury", "Eriksen", "Gallagher", "Moreau", "Penhallow", "Adeyemi", "Blackwood", "Rossetti", "Ferreira", "Lockhart",
    "Winterbourne", "Haddad", "Greenhalgh", "Novak", "Carrington", "Osei", "Kingsley", "Albrecht", "Quigley", "Tanaka",
    "Merriweather", "Sandoval", "Holloway", "Petrov", "Strand", "Abernethy", "Iyer", "Featherstone", "Dubois", "McAllister",
    "Harrowgate", "Kaminski", "Thistlewood", "Oyelaran", "Beaumont", "Lindgren", "Crowther", "Esposito", "Mwangi", "Radcliffe",
    "Van der Berg", "Yilmaz", "Cartwright", "Szabo", "Hawthorne", "Okonkwo", "Bellamy", "Fitzgerald", "Ishikawa", "Morland",
    "Coventry", "Alvarez", "Drummond", "Kristiansen", "Pickering", "Nwosu", "Waverley", "Bertolini", "Ellery", "Gunawardena",
    "Ravensworth", "Salazar", "Tremayne", "Hollis", "Varga", "Aldridge", "Mensah", "Underwood", "Costa", "Fenwick",
    "Langford", "Chaudhry", "Rutherford", "Oduya", "Sinclair", "Weatherby", "Moreno", "Prescott", "Zielinski", "Ainsworth",
};

static const char *const W_CITIES[] = {
    "Harrowfield", "Kestrel Bay", "Marlow Cross", "Vennington", "Ashby Vale", "Port Elsbury", "Greyhaven", "Wickford",
    "Lindenmoor", "Castleridge", "Oldbury", "Fennick", "Stonebridge", "Amberley", "Northwick", "Rivermead",
    "Halden", "Brackenfield", "Saltmarsh", "Thornwick", "Coldharbour", "Millbrook", "Eastwater", "Dunhollow",
    "Larkspur", "Westmere", "Copperton", "Ravensholt", "Bellhaven", "Foxley", "Glenmorrow", "Hollins Ford",
    "Kingsmere", "Lowther", "Merriton", "Nettlecombe", "Orchard Hill", "Pendlemoor", "Quarry Bank", "Redwater",
    "Sandhurst Green", "Tidewell", "Upperford", "Valemont", "Windermoor", "Yarrowby", "Aldgate Heath", "Birchmouth",
    "Calderbridge", "Deepdale", "Elmstead", "Fairhaven", "Goldcliff", "Highgrove", "Ironbridge", "Juniper Falls",
    "Kirkhallam", "Longmarsh", "Moorfield", "Newhaven Cross", "Otterburn", "Pinecrest", "Rookwood", "Sheldon Keys",
    "Tarnside", "Underhill", "Violet Springs", "Wrexley", "Ashcombe", "Bramblewick", "Corrowby", "Draycott",
};

static const char *const W_REGIONS[] = {
    "the northern uplands", "the river valley", "the eastern coastal plain", "the lake district", "the western hills",
    "the southern downs", "the central lowlands", "the border country", "the marshlands", "the high plateau",
    "the wine country", "the old mining district", "the forested interior", "the island chain", "the delta region",
};

static const char *const W_COUNTRIES[] = {
    "Norway", "Portugal", "Canada", "Kenya", "Chile", "New Zealand", "Ireland", "Japan", "Austria", "Ghana",
    "Scotland", "Peru", "Finland", "Morocco", "Vietnam", "Uruguay", "Estonia", "Malaysia", "Iceland", "Tasmania",
    "Wales", "Argentina", "Denmark", "Sri Lanka", "Croatia", "Namibia", "Belgium", "Slovenia", "Tanzania", "Colombia",
};

static const char *const W_NATIONALITIES[] = {
    "Norwegian", "Portuguese", "Canadian", "Kenyan", "Chilean", "Irish", "Japanese", "Austrian", "Ghanaian", "Scottish",
    "Peruvian", "Finnish", "Moroccan", "Danish", "Welsh", "Argentine", "Croatian", "Belgian", "Estonian", "Colombian",
};

static const char *const W_RIVERS[] = {
    "Aldwater", "Kennet", "Sorrel", "Brae", "Ouseburn", "Tamsin", "Lyde", "Caldew", "Wenning", "Ferrow",
    "Hollin", "Marren", "Dove", "Eskmere", "Rother", "Sable", "Tilden", "Wyvern", "Lune", "Carron",
};

static const char *const W_STREET_KINDS[] = {
    "Street", "Road", "Lane", "Avenue", "Close", "Terrace", "Crescent", "Way", "Row", "Square", "Gardens", "Hill",
};

static const char *const W_ORG_KINDS[] = {
    "Institute", "Foundation", "Trust", "Council", "Cooperative", "Laboratory", "Association", "Museum",
    "Building Society", "Engineering Works", "Partners", "Historical Society", "Hospital", "Library",
    "Rowing Club", "Choral Society", "Observatory", "Seed Bank", "Housing Trust", "Port Authority",
    "Water Company", "Brewery", "Textile Mill", "Polytechnic", "Botanic Garden", "Ferry Company",
};

static const char *const W_COMPANY_WORDS[] = {
    "Northstar", "Bluegate", "Harbourline", "Kiln & Co", "Meridian", "Copperleaf", "Brightwell", "Oakhurst",
    "Tidemark", "Silverbirch", "Lantern", "Greystone", "Fieldmouse", "Ironwood", "Saltire", "Quillon",
    "Redfern", "Wayfarer", "Clearwater", "Halcyon", "Marigold", "Bellwether", "Foxglove", "Keystone",
};

static const char *const W_COMPANY_KINDS[] = {
    "Logistics", "Analytics", "Foods", "Shipping", "Instruments", "Publishing", "Textiles", "Pharmaceuticals",
    "Energy", "Robotics", "Ceramics", "Insurance", "Software", "Furniture", "Optics", "Seeds",
};

static const char *const W_FIELDS[] = {
    "hydrology", "medieval history", "marine biology", "structural engineering", "linguistics", "soil science",
    "astronomy", "economics", "public health", "ornithology", "materials science", "archaeology", "botany",
    "geology", "statistics", "urban planning", "musicology", "epidemiology", "glaciology", "agronomy",
    "cartography", "textile conservation", "acoustics", "forestry", "mycology", "seismology", "paleontology",
};

static const char *const W_ROLES[] = {
    "saddler", "cooper", "wheelwright", "ferryman", "chandler", "typesetter", "dressmaker", "ropemaker",
    "bargeman", "gamekeeper", "schoolmistress", "telegraphist", "apothecary", "draughtsman", "mapmaker", "tidewaiter",
    "engineer", "archivist", "harbour master", "botanist", "schoolteacher", "surveyor", "journalist",
    "pharmacist", "architect", "carpenter", "violinist", "economist", "nurse", "cartographer", "geologist",
    "librarian", "translator", "shipwright", "beekeeper", "civil servant", "midwife", "potter", "chemist",
    "lighthouse keeper", "stonemason", "bookbinder", "statistician", "physician", "glassblower", "magistrate",
    "clockmaker", "printer", "agronomist", "veterinarian", "photographer", "organist", "baker", "pilot",
};

static const char *const W_TITLES[] = {
    "project coordinator", "head of operations", "chief financial officer", "facilities manager",
    "senior analyst", "programme director", "treasurer", "secretary", "research lead", "quality manager",
    "site supervisor", "communications officer", "procurement lead", "data manager", "chair",
};

static const char *const W_ADJECTIVES[] = {
    "crooked", "gleaming", "draughty", "stately", "ramshackle", "whitewashed", "half-timbered", "moss-covered",
    "cavernous", "low-ceilinged", "sun-bleached", "rain-soaked", "forgotten", "celebrated", "notorious", "unremarkable",
    "well-kept", "dilapidated", "charming", "austere", "airy", "gloomy", "sprawling", "squat",
    "lofty", "rickety", "pristine", "shabby",
    "quiet", "narrow", "ancient", "bright", "crowded", "remote", "modest", "elegant", "weathered", "steep",
    "generous", "careful", "ambitious", "sturdy", "fragile", "lively", "sheltered", "unusual", "prosperous",
    "rugged", "gentle", "distant", "familiar", "impressive", "humble", "peculiar", "cheerful", "solemn",
    "spacious", "cramped", "restless", "tidy", "ornate", "plain", "vivid", "muddy", "windswept", "fertile",
    "sunlit", "overgrown", "renovated", "abandoned", "bustling", "isolated", "handsome", "sparse", "dense",
    "curious", "reliable", "clumsy", "patient", "stubborn", "graceful", "restored", "sprawling", "compact",
};

static const char *const W_NOUNS[] = {
    "almshouse", "bandstand", "bell foundry", "boatyard", "brewhouse", "corn exchange", "customs house", "drill hall",
    "dye works", "engine house", "fish market", "gasworks", "guildhall", "ice house", "lido", "lime kiln",
    "malt house", "mission hall", "pumping station", "rope walk", "salt store", "sawmill", "tithe barn", "toll house",
    "water tower", "windmill", "assembly rooms", "coaching inn", "drying shed", "net loft",
    "bridge", "orchard", "warehouse", "chapel", "market", "harbour", "library", "mill", "garden", "school",
    "station", "quarry", "lighthouse", "workshop", "farmhouse", "granary", "canal", "observatory", "theatre",
    "bakery", "tannery", "foundry", "dockyard", "pavilion", "boathouse", "greenhouse", "courthouse", "inn",
    "clock tower", "signal box", "ferry terminal", "printing press", "weir", "viaduct", "cottage", "barn",
};

static const char *const W_TOPICS[] = {
    "the ferry subsidy", "pothole repairs", "the village hall roof", "dog fouling", "the new health centre", "the closure of the post office", "second homes", "the wind farm proposal",
    "litter on the beach", "the footpath diversion", "the swimming pool refurbishment", "speeding on the high street", "the market charter", "the loss of the bank branch", "the harbour wall", "tree preservation orders",
    "the school catchment area", "the care home closure", "noise from the quarry", "the community shop",
    "coastal erosion", "rural broadband", "flood defences", "the school meals programme", "river water quality",
    "bus timetables", "the heritage railway", "hedgerow restoration", "the night market", "affordable housing",
    "the library archive", "cycle lanes", "the community orchard", "energy prices", "the harbour dredging",
    "the annual regatta", "wildflower verges", "the recycling scheme", "youth football", "the bridge repairs",
    "the summer festival", "apprenticeships", "the museum extension", "street lighting", "the beekeeping course",
    "the wetland survey", "the tram proposal", "parking charges", "the choir competition", "the allotment waiting list",
};

static const char *const W_FOODS[] = {
    "leek and potato soup", "treacle tart", "bubble and squeak", "Cornish pasties", "kedgeree", "Eccles cakes", "shepherd's pie", "fish stew",
    "oatcakes", "rhubarb fool", "Welsh rarebit", "cullen skink", "bread pudding", "Bakewell tart", "pease pudding", "lamb hotpot",
    "scones", "damson jam",
    "barley soup", "lemon tart", "spiced lentils", "roast squash", "mushroom risotto", "apple crumble",
    "smoked trout", "fennel salad", "beef stew", "sourdough", "plum cake", "chickpea curry", "potato gratin",
    "herb omelette", "pear chutney", "rye bread", "onion tart", "pea soup", "ginger biscuits", "fish pie",
};

static const char *const W_INGREDIENTS[] = {
    "plain flour", "unsalted butter", "caster sugar", "free-range eggs", "whole milk", "double cream",
    "red onions", "garlic cloves", "fresh thyme", "bay leaves", "smoked paprika", "ground cumin",
    "cinnamon", "nutmeg", "lemon zest", "olive oil", "sea salt", "black pepper", "carrots", "celery",
    "leeks", "potatoes", "chickpeas", "red lentils", "tinned tomatoes", "vegetable stock", "chicken stock",
    "pearl barley", "brown rice", "arborio rice", "chestnut mushrooms", "spinach", "kale", "parsley",
    "coriander", "fresh ginger", "honey", "maple syrup", "dark chocolate", "rolled oats", "walnuts",
    "almonds", "raisins", "dried apricots", "cooking apples", "pears", "plums", "rhubarb", "butternut squash",
    "fennel bulbs", "shallots", "white wine", "cider vinegar", "mustard seeds", "crème fraîche", "feta",
    "mature cheddar", "parmesan", "yoghurt", "baking powder", "bicarbonate of soda", "vanilla extract",
};

static const char *const W_UNITS[] = {
    "grams of", "tablespoons of", "teaspoons of", "millilitres of", "cups of", "handfuls of", "pinches of",
};

static const char *const W_COOK_VERBS[] = {
    "Stir in", "Fold in", "Add", "Whisk in", "Scatter over", "Sprinkle in", "Mix in", "Toss through", "Grate in",
};

static const char *const W_PRODUCTS[] = {
    "kettle", "bicycle", "pair of walking boots", "desk lamp", "rucksack", "coffee grinder", "tent",
    "bread maker", "electric drill", "rain jacket", "sewing machine", "radio", "fountain pen", "camera",
    "office chair", "cast-iron pan", "pair of headphones", "garden hose", "sleeping bag", "wall clock",
    "kayak paddle", "telescope", "food processor", "standing desk", "thermos flask", "lawnmower",
};

static const char *const W_MATERIALS[] = {
    "oak", "brushed steel", "recycled plastic", "waxed canvas", "aluminium", "walnut", "stoneware",
    "bamboo", "leather", "cast iron", "glass", "copper", "wool felt", "ash", "carbon fibre",
};

static const char *const W_ANIMALS[] = {
    "otter", "heron", "red kite", "badger", "barn owl", "hare", "kingfisher", "grey seal", "curlew",
    "pine marten", "dormouse", "peregrine falcon", "water vole", "lapwing", "roe deer", "puffin",
    "salmon", "natterjack toad", "stag beetle", "swift", "hedgehog", "skylark", "osprey", "eel",
};

static const char *const W_PLANTS[] = {
    "bluebells", "wild garlic", "foxgloves", "heather", "sea kale", "hawthorn", "marsh marigolds",
    "oxeye daisies", "bracken", "meadowsweet", "cowslips", "gorse", "yellow rattle", "orchids",
    "willowherb", "sphagnum moss", "juniper", "primroses", "sea thrift", "elderflower",
};

static const char *const W_COLORS[] = {
    "blue", "green", "ochre", "crimson", "grey", "pale yellow", "dark red", "cream", "slate", "amber",
    "navy", "olive", "rust", "white", "charcoal",
};

static const char *const W_WEATHER[] = {
    "a cold wind from the north", "steady rain", "low fog", "bright sunshine", "a sudden hailstorm",
    "heavy snow", "a warm southerly breeze", "thick cloud", "a hard frost", "drizzle", "thunder in the hills",
    "an unusually mild spell",
};

static const char *const W_FEELINGS[] = {
    "relieved", "uneasy", "delighted", "exhausted", "curious", "embarrassed", "grateful", "anxious",
    "amused", "restless", "proud", "puzzled", "hopeful", "irritated", "nostalgic", "determined",
};

static const char *const W_VERBS_PAST[] = {
    "repaired", "inspected", "photographed", "measured", "sketched", "cleaned", "painted", "catalogued",
    "surveyed", "rebuilt", "visited", "described", "restored", "mapped", "recorded", "examined",
    "documented", "dismantled", "replaced", "reinforced", "sold", "borrowed", "delivered", "planted",
};

static const char *const W_ADVERBS[] = {
    "slowly", "carefully", "briefly", "eventually", "quietly", "suddenly", "reluctantly", "cheerfully",
    "thoroughly", "patiently", "abruptly", "gradually", "promptly", "nervously", "firmly", "openly",
};

static const char *const W_OBJECTS[] = {
    "a shoebox of ration books", "a brass doorknocker", "an unsigned watercolour", "a ship's bell", "a bundle of telegrams", "a chipped enamel sign", "a cartographer's compass", "a tin trunk",
    "a cracked violin", "a stack of punch cards", "a set of lantern slides", "a moth-eaten uniform", "a cigar box of fossils", "a wedding veil", "a ledger bound in green cloth", "a jar of old coins",
    "a hand-bell", "a pocket watch without hands", "a pressed flower album", "a surveyor's notebook",
    "a ledger of ship arrivals", "a box of glass negatives", "a brass compass", "three wooden crates",
    "a hand-drawn map", "a faded photograph", "a bundle of letters", "a broken barometer", "a set of keys",
    "an old tide table", "a leather satchel", "a porcelain teapot", "a surveyor's chain", "a child's kite",
    "a tin of buttons", "a wind-up gramophone", "a parish register", "a model steam engine", "a quilt",
    "a jar of seeds", "a signal lamp", "a typewriter", "a stack of seed catalogues", "a copper kettle",
};

static const char *const W_INSTRUMENTS[] = {
    "cello", "clarinet", "piano", "fiddle", "harp", "trumpet", "accordion", "oboe", "guitar", "bassoon",
};

static const char *const W_SPORTS[] = {
    "rowing", "cricket", "cycling", "hockey", "netball", "rugby", "swimming", "fell running", "sailing",
    "football", "tennis", "athletics",
};

static const char *const W_EVENTS[] = {
    "flower show", "book fair", "ploughing match", "jazz weekend", "lantern parade", "food festival",
    "science fair", "boat race", "harvest supper", "charity auction", "open studios weekend", "folk festival",
    "craft market", "film season", "half marathon", "brass band contest",
};

static const char *const W_MONTHS[] = {
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
};

static const char *const W_WEEKDAYS[] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

static const char *const W_NUMBER_WORDS[] = {
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
};

static const char *const W_INDUSTRIES[] = {
    "shipbuilding", "wool weaving", "salt production", "slate quarrying", "brewing", "fishing", "paper making",
    "lace making", "tin mining", "glass making", "fruit growing", "boat repair", "rope making", "pottery",
};

// Invented place names: a head and a tail, as English place names are built ("Ash" + "combe").
static const char *const W_PLACE_HEADS[] = {
    "Ash", "Brack", "Cold", "Dun", "Elder", "Fen", "Grey", "Hather", "Kings", "Lang", "Marsh", "North",
    "Oak", "Pen", "Rother", "Sal", "Thorn", "Wold", "Yarl", "Bram", "Chal", "Dray", "Ember", "Frith",
    "Gos", "Holm", "Ick", "Kel", "Lud", "Mel", "Nether", "Orm", "Pils", "Quen", "Rams", "Stan",
};
static const char *const W_PLACE_TAILS[] = {
    "combe", "ley", "ford", "bury", "wick", "thorpe", "stead", "mouth", "ham", "field", "by", "dale",
    "moor", "haven", "bridge", "holme", "well", "worth", "ton", "gate", "hurst", "marsh", "wood", "cross",
};

// Pieces of a generic narrative sentence: "<when>, <who> <did what><how it ended>".
static const char *const W_WHEN[] = {
    "In the spring of {YR}", "Later that week", "Early on {WD} morning", "By the end of {MON}",
    "Some {NW} years later", "Shortly after {TIME}", "During the {EVENT}", "On {D}", "That autumn",
    "For most of {MON}", "Around midnight", "At first light", "Within a fortnight", "In {MON} {YE}",
    "After the flood of {YE}", "Towards the end of the summer", "On the evening of {D}",
    "Two days before the {EVENT}", "In the winter of {YL}", "Not long afterwards", "Every {WD}",
    "Once the {NOUN} had reopened", "While the {TITLE} was away in {C2}", "At about {TIME}",
};
static const char *const W_WHO[] = {
    "{R}", "{a} {ADJ} {ROLE2} from {C2}", "the {TITLE} of {O2}", "a group of {NN} volunteers",
    "the {ROLE2} {R1} {RL}", "{a} {NAT} {ROLE2} named {R}", "the old {ROLE2} who lived on {ST}",
    "a delegation from {C2}", "{NW} students from {O2}", "half the street", "{R1}, who had trained as {a} {ROLE2},",
    "the staff of {CO2}", "a retired {ROLE2} called {R1}", "{R1} and {R1}", "the new owner of the {NOUN}",
    "a visiting {ROLE2} from {CTRY2}", "the committee of {O2}", "a young {ROLE2}, {R},",
};
static const char *const W_DID[] = {
    "{VERB} {OBJ}", "{VERB} the {ADJ} {NOUN} on {ST}", "{VERB} the {NOUN} near the {RIV2}",
    "wrote a long report on {TOPIC}", "raised {MONEY} for the {NOUN}", "spoke for {N} minutes about {TOPIC}",
    "recorded {NN} sightings of the {ANI}", "walked the {KM} from {C2} to the coast", "sold {OBJ} to {R}",
    "found {OBJ} under the floor of the {NOUN}", "opened {a} {ADJ} shop selling {PROD2}s", "planted {PLANT} along the {RIV2}",
    "argued with {R} about {TOPIC}", "painted the {NOUN} {COLOR}", "published a pamphlet on {IND2}",
    "measured the depth of the {RIV2} at {N} places", "took over the lease of the {NOUN} for {MONEY}",
    "gave {OBJ} to the museum in {C2}", "photographed every {NOUN} between {C2} and {C2}",
    "repaired {NN} metres of wall around the {NOUN}", "organised {a} {EVENT} for {BIG} visitors",
    "taught {N} children to play the {INST}", "kept a diary of the {WEATHER2}", "baked {FOOD} for the whole village",
};
static const char *const W_ENDING[] = {
    ".", ".", ".", ", much to the surprise of {R1}.", " despite {WEATHER}.", " with help from {O2}.",
    " before moving on to {C2}.", " for the first time since {YE}.", ", according to {R}.",
    " and said little about it afterwards.", ", which took {NW} weeks.", " at a cost of {MONEY}.",
    ", as {R1} later recalled.", " without asking anyone's permission.", " in front of {NN} onlookers.",
};
static const char *const W_WEATHER2[] = {
    "long dry summer", "great storm", "wettest spring on record", "hard winter", "late frosts", "autumn gales",
};

#endif
