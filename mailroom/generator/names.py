"""Static vocabularies the sample world draws from (names, places, catalogue words)."""

from __future__ import annotations

# country -> (share of people, time zones, currency, phone country code)
COUNTRIES: dict[str, tuple[float, tuple[str, ...], str, str]] = {
    "GB": (0.38, ("Europe/London",), "GBP", "44"),
    "DE": (0.20, ("Europe/Berlin",), "EUR", "49"),
    "FR": (0.14, ("Europe/Paris",), "EUR", "33"),
    "NL": (0.10, ("Europe/Amsterdam",), "EUR", "31"),
    "US": (0.18, ("America/New_York", "America/Chicago", "America/Los_Angeles"), "USD", "1"),
}

# How each system spells a country (staging maps them all to ISO alpha-2).
COUNTRY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "GB": ("GB", "UK", "United Kingdom", "gb", "Great Britain"),
    "DE": ("DE", "Germany", "Deutschland", "de"),
    "FR": ("FR", "France", "fr"),
    "NL": ("NL", "Netherlands", "The Netherlands", "nl"),
    "US": ("US", "USA", "United States", "us"),
}

# Units of each currency per 1 EUR (the reporting currency); mirrored by seeds/fx_rates.csv.
FX_PER_EUR = {"EUR": 1.0, "GBP": 0.85, "USD": 1.08}

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "GB": (
        "Oliver", "George", "Harry", "Jack", "Jacob", "Noah", "Charlie", "Thomas", "Oscar", "James",
        "William", "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Mia", "Poppy",
        "Ella", "Lily", "Chloë", "Jessica", "Daniel", "Samuel", "Joseph", "Emma", "Lucy", "Ruby",
        "Aoife", "Siân", "Niamh", "Ewan", "Callum", "Rhys", "Priya", "Aisha", "Mohammed", "Zoë",
    ),
    "DE": (
        "Lukas", "Leon", "Finn", "Jonas", "Paul", "Felix", "Maximilian", "Elias", "Ben", "Noah",
        "Mia", "Emma", "Hannah", "Sophia", "Lena", "Lea", "Anna", "Marie", "Jürgen", "Jörg",
        "Björn", "Sören", "Zoë", "Lara", "Laura", "Julia", "Katharina", "Stefan", "Andreas", "Tobias",
    ),
    "FR": (
        "Gabriel", "Léo", "Raphaël", "Louis", "Lucas", "Hugo", "Arthur", "Jules", "Adam", "Maël",
        "Jade", "Louise", "Emma", "Alice", "Chloé", "Lina", "Léa", "Manon", "Inès", "Camille",
        "Hélène", "Anaïs", "Zoé", "François", "Théo", "Noémie", "Céline", "Jérôme", "Benoît", "Amélie",
    ),
    "NL": (
        "Daan", "Sem", "Lucas", "Levi", "Finn", "Milan", "Bram", "Luuk", "Jesse", "Thijs",
        "Emma", "Julia", "Sophie", "Tess", "Anna", "Fleur", "Sanne", "Lieke", "Femke", "Noor",
        "Jan", "Pieter", "Joost", "Marloes", "Anouk", "Maartje", "Kees", "Henk", "Ilse", "Roos",
    ),
    "US": (
        "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry", "Alexander",
        "Olivia", "Emma", "Charlotte", "Amelia", "Ava", "Sophia", "Isabella", "Mia", "Evelyn", "Harper",
        "Michael", "David", "John", "Robert", "Jennifer", "Linda", "Maria", "José", "Ashley", "Tyler",
        "Jessica", "Sarah", "Christopher", "Matthew", "Joshua", "Brittany", "Kayla", "Madison", "Ethan", "Mason",
    ),
}

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "GB": (
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
        "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
        "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill",
        "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen",
        "O'Brien", "McDonald", "Khan", "Singh", "Murphy", "Kelly", "Scott", "Young", "Mitchell", "Phillips",
    ),
    "DE": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
        "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
        "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
    ),
    "FR": (
        "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
        "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
        "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Müller", "Lefebvre", "Faure", "André",
    ),
    "NL": (
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer",
        "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
        "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    ),
    "US": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
        "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
        "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    ),
}

CITIES: dict[str, tuple[str, ...]] = {
    "GB": ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol", "Edinburgh", "Cardiff", "Liverpool", "Belfast"),
    "DE": ("Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf", "Leipzig"),
    "FR": ("Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Strasbourg", "Bordeaux"),
    "NL": ("Amsterdam", "Rotterdam", "Den Haag", "Utrecht", "Eindhoven", "Groningen", "Tilburg"),
    "US": ("New York", "Chicago", "Los Angeles", "Houston", "Phoenix", "Seattle", "Boston", "Denver", "Austin", "Atlanta"),
}

STREETS: dict[str, tuple[str, ...]] = {
    "GB": ("High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Manor Road", "Park Avenue", "Mill Lane"),
    "DE": ("Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße", "Lindenstraße"),
    "FR": ("Rue de la Paix", "Rue Victor Hugo", "Avenue Jean Jaurès", "Rue Pasteur", "Rue de la République", "Boulevard Voltaire"),
    "NL": ("Kerkstraat", "Dorpsstraat", "Schoolstraat", "Molenweg", "Stationsweg", "Julianastraat", "Beatrixlaan"),
    "US": ("Main St", "Oak St", "Maple Ave", "Cedar Ln", "Elm St", "Washington Blvd", "Lake Dr", "Pine St"),
}

EMAIL_DOMAINS: dict[str, tuple[tuple[str, float], ...]] = {
    "GB": (("gmail.com", 0.40), ("hotmail.co.uk", 0.18), ("yahoo.co.uk", 0.12), ("outlook.com", 0.15), ("icloud.com", 0.10), ("btinternet.com", 0.05)),
    "DE": (("gmail.com", 0.30), ("gmx.de", 0.25), ("web.de", 0.25), ("t-online.de", 0.10), ("outlook.de", 0.10)),
    "FR": (("gmail.com", 0.40), ("orange.fr", 0.20), ("free.fr", 0.15), ("hotmail.fr", 0.15), ("laposte.net", 0.10)),
    "NL": (("gmail.com", 0.45), ("hotmail.nl", 0.20), ("ziggo.nl", 0.15), ("outlook.com", 0.10), ("kpnmail.nl", 0.10)),
    "US": (("gmail.com", 0.45), ("yahoo.com", 0.18), ("outlook.com", 0.12), ("icloud.com", 0.15), ("aol.com", 0.05), ("comcast.net", 0.05)),
}

WORK_DOMAINS = ("acme-corp.com", "globex.io", "initech.net", "umbrella.co", "hooli.com", "stark-ind.com")

# Placeholders people and staff type when a field is mandatory.
PLACEHOLDER_EMAILS = ("test@test.com", "noreply@example.com", "none@none.com", "no@email.com", "na@na.com")
PLACEHOLDER_PHONES = ("0000000000", "1234567890", "9999999999")
# A store-counter address staff type on guest orders of walk-in customers.
STORE_EMAIL = "orders@northwind-store.example"

# category -> (brands, median price in EUR, consumable)
CATEGORIES: dict[str, tuple[tuple[str, ...], float, bool]] = {
    "Women's Clothing": (("Aurora", "Linen & Co", "Vela", "Mistral"), 45.0, False),
    "Men's Clothing": (("Northline", "Tailor Fox", "Vela", "Granite"), 50.0, False),
    "Shoes": (("Stride", "Pavement", "Cloudstep", "Northline"), 80.0, False),
    "Accessories": (("Mistral", "Aurora", "Brass & Bone"), 30.0, False),
    "Beauty": (("Glow Lab", "Petal", "Pure Skin"), 22.0, True),
    "Home": (("Hearth", "Nordhaus", "Linen & Co"), 40.0, False),
    "Kitchen": (("Hearth", "Copperpot", "Nordhaus"), 35.0, False),
    "Sports": (("Cloudstep", "Peak", "Granite"), 55.0, False),
    "Kids": (("Little Fox", "Petal", "Peak"), 25.0, False),
    "Electronics": (("Voltline", "Pixelo", "Soundwave"), 120.0, False),
    "Pet": (("Happy Paws", "Pet Pantry"), 18.0, True),
    "Grocery": (("Pantry Co", "Green Basket", "Pet Pantry"), 12.0, True),
}

PRODUCT_NOUNS: dict[str, tuple[str, ...]] = {
    "Women's Clothing": ("Wrap Dress", "Linen Shirt", "Knit Cardigan", "Wide-leg Trousers", "Silk Blouse"),
    "Men's Clothing": ("Oxford Shirt", "Chino", "Wool Jumper", "Denim Jacket", "Polo Shirt"),
    "Shoes": ("Running Shoe", "Leather Boot", "Canvas Sneaker", "Loafer", "Sandal"),
    "Accessories": ("Leather Belt", "Scarf", "Tote Bag", "Wallet", "Sunglasses"),
    "Beauty": ("Face Serum", "Moisturiser", "Lip Balm", "Shampoo", "Body Lotion"),
    "Home": ("Throw Blanket", "Cushion", "Scented Candle", "Vase", "Bath Towel"),
    "Kitchen": ("Chef's Knife", "Frying Pan", "Coffee Grinder", "Mixing Bowl", "Teapot"),
    "Sports": ("Yoga Mat", "Training Top", "Water Bottle", "Gym Bag", "Running Shorts"),
    "Kids": ("Puzzle", "Pyjamas", "Rain Jacket", "Backpack", "Plush Toy"),
    "Electronics": ("Wireless Earbuds", "Bluetooth Speaker", "Phone Charger", "Smart Lamp", "Headphones"),
    "Pet": ("Dog Treats", "Cat Food", "Chew Toy", "Pet Shampoo", "Litter"),
    "Grocery": ("Ground Coffee", "Green Tea", "Olive Oil", "Granola", "Dark Chocolate"),
}

USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15",
)
# Apple Mail Privacy Protection pre-fetches every image: a machine open, not a human one.
MPP_USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) AppleMailPrivacyProxy"
