"""Word lists and the product catalog from which the retail world generator composes its records.

Everything here is plain data, written for toolgym (none of it is copied from τ-bench): people's names, US
cities with their states and zip-code ranges, street names, address-line-2 formats, card brands and 50 product
types, each with its option dimensions and a price range. The generator
(:mod:`toolgym.envs.retail.generator`) only samples from these tables, so changing the vocabulary changes the
worlds but never their schema.

Names contain ASCII letters only, because τ-bench-style user ids (``firstname_lastname_1234``) and emails
(``first.last1234@example.com``) are built by lower-casing them.
"""

from __future__ import annotations

from typing import TypedDict


class City(TypedDict):
    """A US city: its name, two-letter state code and the inclusive range of its 5-digit zip codes."""

    city: str
    state: str
    zip_low: int
    zip_high: int


class Address2Format(TypedDict):
    """A format of the second address line: ``template`` gets ``{n}``, drawn from ``low``..``high``."""

    template: str
    low: int
    high: int
    weight: float


class ProductType(TypedDict):
    """A product type of the catalog.

    ``options`` maps each option dimension to its possible values (a variant picks one value per dimension, in
    this order); ``price`` is the inclusive range of a product's base price in dollars.
    """

    name: str
    options: dict[str, tuple[str, ...]]
    price: tuple[float, float]


FIRST_NAMES: tuple[str, ...] = (
    # English-speaking countries
    "Abigail", "Alice", "Amber", "Andrew", "Benjamin", "Caleb", "Charlotte", "Chloe", "Daniel", "Dylan",
    "Eleanor", "Elijah", "Ella", "Grace", "Hannah", "Henry", "Isaac", "Jack", "Jacob", "Julia",
    "Leah", "Logan", "Madison", "Matthew", "Nathan", "Nora", "Owen", "Riley", "Ruby", "Samuel",
    "Scarlett", "Tyler", "Victoria", "Wyatt", "Zoe",
    # Spanish and Portuguese
    "Alejandro", "Camila", "Carlos", "Diego", "Elena", "Gabriel", "Javier", "Lucia", "Mateo", "Paula",
    "Rafael", "Valentina", "Ximena", "Joao", "Beatriz", "Thiago",
    # French, Italian, German, Dutch
    "Amelie", "Louis", "Margaux", "Giulia", "Lorenzo", "Matteo", "Chiara", "Lukas", "Greta", "Felix",
    "Johanna", "Sven", "Anouk", "Pieter",
    # Nordic, Slavic, Greek, Hungarian
    "Astrid", "Erik", "Ingrid", "Nikolai", "Olga", "Dmitri", "Katarina", "Milan", "Zofia", "Tomasz",
    "Nikos", "Eleni", "Bence", "Reka",
    # South Asian
    "Ananya", "Arjun", "Deepa", "Ishaan", "Kavya", "Priya", "Rohan", "Sanjay", "Vikram", "Nisha",
    # East and Southeast Asian
    "Haruto", "Yuki", "Sakura", "Kenji", "Jiwoo", "Minjun", "Seoyeon", "Wei", "Xiaoling", "Jun",
    "Linh", "Minh", "Thanh", "Siti", "Arif",
    # Middle Eastern and North African
    "Amir", "Layla", "Karim", "Nadia", "Hassan", "Leila", "Samir", "Zainab", "Tariq", "Noor",
    # Sub-Saharan African
    "Amara", "Chidi", "Kwame", "Ngozi", "Tendai", "Zuri", "Kofi", "Abena", "Sipho", "Wanjiru",
    # Turkish, Persian, Hebrew, Pacific
    "Emre", "Elif", "Dariush", "Shirin", "Noam", "Tamar", "Keanu", "Leilani", "Aroha", "Tane",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    # English-speaking countries
    "Adams", "Baker", "Bennett", "Campbell", "Carter", "Collins", "Cooper", "Edwards", "Evans", "Fisher",
    "Foster", "Graham", "Hughes", "Hunt", "Kelly", "Mitchell", "Murphy", "Parker", "Reed", "Roberts",
    "Russell", "Stewart", "Turner", "Walker", "Ward", "Wright", "Young", "Brooks", "Hayes", "Palmer",
    # Spanish and Portuguese
    "Alvarez", "Castillo", "Diaz", "Fernandez", "Flores", "Gomez", "Herrera", "Jimenez", "Mendoza", "Morales",
    "Ortiz", "Ramirez", "Reyes", "Torres", "Vargas", "Almeida", "Carvalho", "Costa", "Pereira", "Souza",
    # French, Italian, German, Dutch
    "Bernard", "Dubois", "Fontaine", "Lefebvre", "Moreau", "Bianchi", "Colombo", "Ferrari", "Ricci", "Romano",
    "Becker", "Fischer", "Hoffmann", "Schneider", "Wagner", "Bakker", "Janssen", "Visser",
    # Nordic, Slavic, Greek, Hungarian
    "Andersen", "Berg", "Lindqvist", "Nielsen", "Virtanen", "Ivanova", "Novak", "Petrov", "Horvat",
    "Kowalski", "Nowak", "Popescu", "Papadopoulos", "Nagy", "Szabo",
    # South Asian
    "Bhatt", "Chopra", "Gupta", "Iyer", "Joshi", "Kapoor", "Mehta", "Nair", "Reddy", "Sharma",
    "Singh", "Rao", "Das", "Chowdhury",
    # East and Southeast Asian
    "Chang", "Huang", "Liu", "Wang", "Zhang", "Zhou", "Wu", "Park", "Choi", "Jung",
    "Tanaka", "Sato", "Suzuki", "Yamamoto", "Watanabe", "Tran", "Pham", "Le", "Santoso", "Salazar",
    # Middle Eastern and North African
    "Haddad", "Hakimi", "Mansour", "Nasser", "Rahman", "Saleh", "Aziz", "Farouk", "Karimi", "Yilmaz",
    "Demir", "Kaya",
    # Sub-Saharan African and other
    "Adeyemi", "Okafor", "Mensah", "Mwangi", "Ndlovu", "Okoro", "Osei", "Banda", "Cohen", "Levi",
    "Kahale", "Ngata",
)  # fmt: skip

CITIES: tuple[City, ...] = (
    {"city": "Albuquerque", "state": "NM", "zip_low": 87101, "zip_high": 87199},
    {"city": "Anchorage", "state": "AK", "zip_low": 99501, "zip_high": 99530},
    {"city": "Atlanta", "state": "GA", "zip_low": 30303, "zip_high": 30399},
    {"city": "Austin", "state": "TX", "zip_low": 78701, "zip_high": 78759},
    {"city": "Baltimore", "state": "MD", "zip_low": 21201, "zip_high": 21298},
    {"city": "Birmingham", "state": "AL", "zip_low": 35203, "zip_high": 35298},
    {"city": "Boise", "state": "ID", "zip_low": 83701, "zip_high": 83799},
    {"city": "Boston", "state": "MA", "zip_low": 2108, "zip_high": 2137},
    {"city": "Charleston", "state": "SC", "zip_low": 29401, "zip_high": 29492},
    {"city": "Charlotte", "state": "NC", "zip_low": 28202, "zip_high": 28299},
    {"city": "Cheyenne", "state": "WY", "zip_low": 82001, "zip_high": 82010},
    {"city": "Chicago", "state": "IL", "zip_low": 60601, "zip_high": 60661},
    {"city": "Cleveland", "state": "OH", "zip_low": 44101, "zip_high": 44199},
    {"city": "Columbus", "state": "OH", "zip_low": 43201, "zip_high": 43240},
    {"city": "Dallas", "state": "TX", "zip_low": 75201, "zip_high": 75398},
    {"city": "Denver", "state": "CO", "zip_low": 80202, "zip_high": 80299},
    {"city": "Des Moines", "state": "IA", "zip_low": 50301, "zip_high": 50398},
    {"city": "Detroit", "state": "MI", "zip_low": 48201, "zip_high": 48243},
    {"city": "El Paso", "state": "TX", "zip_low": 79901, "zip_high": 79999},
    {"city": "Fargo", "state": "ND", "zip_low": 58102, "zip_high": 58126},
    {"city": "Fort Worth", "state": "TX", "zip_low": 76102, "zip_high": 76199},
    {"city": "Fresno", "state": "CA", "zip_low": 93701, "zip_high": 93888},
    {"city": "Hartford", "state": "CT", "zip_low": 6101, "zip_high": 6199},
    {"city": "Honolulu", "state": "HI", "zip_low": 96801, "zip_high": 96850},
    {"city": "Houston", "state": "TX", "zip_low": 77002, "zip_high": 77099},
    {"city": "Indianapolis", "state": "IN", "zip_low": 46201, "zip_high": 46278},
    {"city": "Jacksonville", "state": "FL", "zip_low": 32202, "zip_high": 32277},
    {"city": "Kansas City", "state": "MO", "zip_low": 64101, "zip_high": 64199},
    {"city": "Las Vegas", "state": "NV", "zip_low": 89101, "zip_high": 89199},
    {"city": "Little Rock", "state": "AR", "zip_low": 72201, "zip_high": 72299},
    {"city": "Los Angeles", "state": "CA", "zip_low": 90001, "zip_high": 90089},
    {"city": "Louisville", "state": "KY", "zip_low": 40202, "zip_high": 40299},
    {"city": "Madison", "state": "WI", "zip_low": 53703, "zip_high": 53794},
    {"city": "Memphis", "state": "TN", "zip_low": 38103, "zip_high": 38157},
    {"city": "Miami", "state": "FL", "zip_low": 33125, "zip_high": 33199},
    {"city": "Milwaukee", "state": "WI", "zip_low": 53202, "zip_high": 53295},
    {"city": "Minneapolis", "state": "MN", "zip_low": 55401, "zip_high": 55488},
    {"city": "Nashville", "state": "TN", "zip_low": 37201, "zip_high": 37250},
    {"city": "New Orleans", "state": "LA", "zip_low": 70112, "zip_high": 70190},
    {"city": "New York", "state": "NY", "zip_low": 10001, "zip_high": 10292},
    {"city": "Newark", "state": "NJ", "zip_low": 7101, "zip_high": 7199},
    {"city": "Oklahoma City", "state": "OK", "zip_low": 73102, "zip_high": 73199},
    {"city": "Omaha", "state": "NE", "zip_low": 68102, "zip_high": 68198},
    {"city": "Philadelphia", "state": "PA", "zip_low": 19102, "zip_high": 19155},
    {"city": "Phoenix", "state": "AZ", "zip_low": 85003, "zip_high": 85099},
    {"city": "Pittsburgh", "state": "PA", "zip_low": 15201, "zip_high": 15295},
    {"city": "Portland", "state": "OR", "zip_low": 97201, "zip_high": 97299},
    {"city": "Providence", "state": "RI", "zip_low": 2903, "zip_high": 2912},
    {"city": "Raleigh", "state": "NC", "zip_low": 27601, "zip_high": 27699},
    {"city": "Richmond", "state": "VA", "zip_low": 23219, "zip_high": 23298},
    {"city": "Sacramento", "state": "CA", "zip_low": 95811, "zip_high": 95899},
    {"city": "Salt Lake City", "state": "UT", "zip_low": 84101, "zip_high": 84199},
    {"city": "San Antonio", "state": "TX", "zip_low": 78202, "zip_high": 78266},
    {"city": "San Diego", "state": "CA", "zip_low": 92101, "zip_high": 92199},
    {"city": "San Francisco", "state": "CA", "zip_low": 94102, "zip_high": 94188},
    {"city": "San Jose", "state": "CA", "zip_low": 95110, "zip_high": 95196},
    {"city": "Seattle", "state": "WA", "zip_low": 98101, "zip_high": 98199},
    {"city": "Sioux Falls", "state": "SD", "zip_low": 57103, "zip_high": 57198},
    {"city": "Spokane", "state": "WA", "zip_low": 99201, "zip_high": 99224},
    {"city": "St. Louis", "state": "MO", "zip_low": 63101, "zip_high": 63199},
    {"city": "Tampa", "state": "FL", "zip_low": 33602, "zip_high": 33694},
    {"city": "Tucson", "state": "AZ", "zip_low": 85701, "zip_high": 85775},
    {"city": "Washington", "state": "DC", "zip_low": 20001, "zip_high": 20099},
    {"city": "Wilmington", "state": "DE", "zip_low": 19801, "zip_high": 19899},
)

STREET_NAMES: tuple[str, ...] = (
    "Acorn", "Apple Blossom", "Aspen", "Bayberry", "Beacon", "Birch", "Bluebell", "Briar", "Brook",
    "Canyon", "Cardinal", "Cherry", "Clover", "Colonial", "Cottonwood", "Creekside", "Cypress", "Dogwood",
    "Eagle", "Fairview", "Fern", "Forest", "Franklin", "Garden", "Glenwood", "Granite", "Harbor", "Hawthorn",
    "Heritage", "Holly", "Jefferson", "Juniper", "Lincoln", "Linden", "Madison", "Magnolia", "Meadow",
    "Mill", "Mission", "Mulberry", "Orchard", "Pebble", "Prairie", "Quarry", "Redwood", "Ridge", "Rosewood",
    "Sequoia", "Shady Grove", "Sierra", "Summit", "Sycamore", "Valley View", "Walnut", "Washington",
    "Westwood", "Whispering Pines", "Wildflower", "Windmill", "Woodland",
)  # fmt: skip

STREET_SUFFIXES: tuple[str, ...] = (
    "Street", "Avenue", "Drive", "Lane", "Road", "Boulevard", "Court", "Way", "Place", "Terrace", "Circle",
    "Parkway",
)  # fmt: skip

ADDRESS2_FORMATS: tuple[Address2Format, ...] = (
    # τ-bench writes every second line as "Suite NNN"; we keep that the common case so its task phrasing
    # carries over, and add apartments and units for variety.
    {"template": "Suite {n}", "low": 100, "high": 999, "weight": 0.6},
    {"template": "Apt {n}", "low": 1, "high": 499, "weight": 0.3},
    {"template": "Unit {n}", "low": 1, "high": 99, "weight": 0.1},
)

STREET_NUMBER_RANGE: tuple[int, int] = (100, 999)
"""Inclusive range of house numbers on the first address line (τ-bench uses three digits)."""

CARD_BRANDS: tuple[tuple[str, float], ...] = (
    # τ-bench only has "visa" and "mastercard" (lower case); the two others are rarer here.
    ("visa", 0.45),
    ("mastercard", 0.4),
    ("amex", 0.1),
    ("discover", 0.05),
)

EMAIL_DOMAIN = "example.com"

_SIZES_CLOTHING = ("XS", "S", "M", "L", "XL", "XXL")

PRODUCT_TYPES: tuple[ProductType, ...] = (
    # --- apparel and accessories ---
    {"name": "T-Shirt", "price": (18.0, 45.0), "options": {
        "color": ("white", "black", "heather grey", "navy", "olive", "maroon"), "size": _SIZES_CLOTHING,
        "fit": ("regular", "slim", "relaxed"), "material": ("cotton", "organic cotton", "cotton blend")}},
    {"name": "Hoodie", "price": (35.0, 90.0), "options": {
        "size": _SIZES_CLOTHING, "color": ("charcoal", "oatmeal", "forest green", "black", "burgundy"),
        "fabric": ("fleece", "french terry", "cotton blend"), "style": ("pullover", "full zip")}},
    {"name": "Jeans", "price": (40.0, 130.0), "options": {
        "waist": ("28", "30", "32", "34", "36", "38"), "inseam": ("30", "32", "34"),
        "fit": ("skinny", "slim", "straight", "relaxed"),
        "wash": ("light wash", "medium wash", "dark wash", "black")}},
    {"name": "Down Jacket", "price": (130.0, 400.0), "options": {
        "size": _SIZES_CLOTHING, "color": ("black", "olive", "cobalt blue", "rust"),
        "fill power": ("600 fill", "700 fill", "800 fill"), "length": ("hip length", "mid-thigh")}},
    {"name": "Running Shoes", "price": (80.0, 190.0), "options": {
        "size": ("6", "7", "8", "9", "10", "11", "12", "13"), "width": ("regular", "wide"),
        "color": ("white", "black", "volt green", "coral", "slate"),
        "cushioning": ("light", "moderate", "max")}},
    {"name": "Wristwatch", "price": (120.0, 1900.0), "options": {
        "case size": ("36mm", "40mm", "42mm", "44mm"),
        "strap": ("leather", "stainless steel", "nylon", "rubber"),
        "dial color": ("black", "white", "blue", "green", "champagne"),
        "movement": ("quartz", "automatic", "solar")}},
    {"name": "Sunglasses", "price": (30.0, 300.0), "options": {
        "frame style": ("aviator", "square", "round", "cat-eye", "sport wrap"),
        "lens": ("polarized", "non-polarized", "photochromic"),
        "lens color": ("grey", "brown", "green", "mirrored blue"),
        "frame material": ("acetate", "metal", "titanium")}},
    {"name": "Backpack", "price": (40.0, 190.0), "options": {
        "capacity": ("18L", "24L", "30L", "40L"), "color": ("black", "sand", "navy", "rust", "sage"),
        "material": ("ripstop nylon", "canvas", "recycled polyester", "waxed cotton"),
        "laptop sleeve": ("none", "15-inch", "17-inch")}},
    {"name": "Suitcase", "price": (90.0, 600.0), "options": {
        "size": ("carry-on 20 inch", "medium 24 inch", "large 28 inch"),
        "shell": ("polycarbonate", "aluminum", "ballistic nylon"),
        "color": ("graphite", "silver", "teal", "blush pink"), "wheels": ("2 wheels", "4 spinner wheels")}},
    # --- electronics ---
    {"name": "Laptop", "price": (650.0, 2900.0), "options": {
        "screen size": ("13.3-inch", "14-inch", "15.6-inch", "16-inch"),
        "processor": ("Ryzen 5", "Ryzen 7", "Core i5", "Core i7", "Core Ultra 9"),
        "ram": ("8GB", "16GB", "32GB"), "storage": ("256GB SSD", "512GB SSD", "1TB SSD", "2TB SSD"),
        "color": ("space grey", "silver", "midnight blue")}},
    {"name": "Smartphone", "price": (400.0, 1400.0), "options": {
        "storage": ("128GB", "256GB", "512GB", "1TB"),
        "color": ("obsidian", "porcelain", "sage", "lavender", "coral"),
        "screen size": ("6.1-inch", "6.7-inch"), "carrier": ("unlocked", "AT&T", "Verizon", "T-Mobile")}},
    {"name": "Tablet", "price": (300.0, 1300.0), "options": {
        "screen size": ("8.3-inch", "10.9-inch", "12.9-inch"), "storage": ("64GB", "128GB", "256GB", "512GB"),
        "connectivity": ("Wi-Fi", "Wi-Fi + Cellular"), "color": ("space grey", "silver", "blue", "pink")}},
    {"name": "Wireless Headphones", "price": (60.0, 400.0), "options": {
        "type": ("over-ear", "on-ear"), "color": ("black", "white", "navy", "sandstone"),
        "noise cancelling": ("yes", "no"), "battery life": ("20 hours", "30 hours", "40 hours")}},
    {"name": "Bluetooth Speaker", "price": (30.0, 300.0), "options": {
        "size": ("mini", "medium", "large"), "color": ("black", "teal", "orange", "white", "camo"),
        "water resistance": ("IPX4", "IPX5", "IP67"), "battery life": ("10 hours", "15 hours", "24 hours")}},
    {"name": "Mechanical Keyboard", "price": (70.0, 250.0), "options": {
        "layout": ("full size", "tenkeyless", "75%", "65%"),
        "switch type": ("linear", "tactile", "clicky", "silent linear"), "keycaps": ("ABS", "PBT"),
        "connectivity": ("wired", "wireless", "tri-mode")}},
    {"name": "Gaming Mouse", "price": (30.0, 160.0), "options": {
        "connectivity": ("wired", "wireless"), "sensor": ("8000 DPI", "16000 DPI", "26000 DPI"),
        "weight": ("58g", "72g", "95g"), "color": ("black", "white", "pink")}},
    {"name": "Monitor", "price": (150.0, 1300.0), "options": {
        "screen size": ("24-inch", "27-inch", "32-inch", "34-inch ultrawide"),
        "resolution": ("1080p", "1440p", "4K"), "refresh rate": ("60Hz", "144Hz", "165Hz", "240Hz"),
        "panel": ("IPS", "VA", "OLED")}},
    {"name": "Webcam", "price": (30.0, 250.0), "options": {
        "resolution": ("720p", "1080p", "2K", "4K"), "frame rate": ("30fps", "60fps"),
        "mount": ("clip mount", "tripod mount"), "microphone": ("mono", "stereo", "dual noise-cancelling")}},
    {"name": "Smart Watch", "price": (200.0, 800.0), "options": {
        "case size": ("41mm", "45mm", "49mm"), "band": ("sport band", "leather", "metal link", "nylon loop"),
        "color": ("midnight", "starlight", "silver", "graphite"), "connectivity": ("GPS", "GPS + Cellular")}},
    {"name": "Power Bank", "price": (20.0, 130.0), "options": {
        "capacity": ("5000mAh", "10000mAh", "20000mAh", "26800mAh"),
        "ports": ("USB-C", "USB-A + USB-C", "MagSafe + USB-C"), "color": ("black", "white", "blue"),
        "max output": ("18W", "30W", "65W")}},
    {"name": "Digital Camera", "price": (500.0, 3400.0), "options": {
        "sensor": ("micro four thirds", "APS-C", "full frame"),
        "resolution": ("20MP", "24MP", "33MP", "45MP"),
        "kit lens": ("body only", "18-55mm", "24-105mm"), "color": ("black", "silver")}},
    {"name": "Drone", "price": (300.0, 2000.0), "options": {
        "camera": ("2.7K", "4K", "5.1K"), "flight time": ("25 minutes", "31 minutes", "46 minutes"),
        "bundle": ("standard", "fly more combo"),
        "controller": ("standard controller", "screen controller")}},
    {"name": "Smart Thermostat", "price": (130.0, 280.0), "options": {
        "color": ("white", "black", "brushed nickel", "mirror black"),
        "ecosystem": ("Google Home", "Amazon Alexa", "Apple HomeKit", "Matter"),
        "remote sensors": ("none", "1 sensor", "2 sensors")}},
    {"name": "Robot Vacuum", "price": (200.0, 900.0), "options": {
        "navigation": ("gyroscope", "camera", "lidar"), "suction": ("2000Pa", "4000Pa", "6000Pa"),
        "dustbin": ("self-empty base", "manual empty"), "mopping": ("yes", "no"),
        "color": ("black", "white")}},
    # --- kitchen ---
    {"name": "Coffee Grinder", "price": (30.0, 350.0), "options": {
        "burr type": ("conical burr", "flat burr", "blade"),
        "grind settings": ("15 settings", "31 settings", "40 settings"),
        "color": ("matte black", "white", "stainless steel"), "hopper capacity": ("100g", "250g", "450g")}},
    {"name": "Drip Coffee Maker", "price": (40.0, 200.0), "options": {
        "capacity": ("5 cups", "10 cups", "12 cups", "14 cups"), "carafe": ("glass", "thermal"),
        "color": ("black", "white", "stainless steel"), "programmable": ("yes", "no")}},
    {"name": "Air Fryer", "price": (60.0, 230.0), "options": {
        "capacity": ("2 qt", "4 qt", "6 qt", "8 qt"), "color": ("black", "white", "sage", "cream"),
        "controls": ("analog dial", "digital touchscreen"), "baskets": ("single basket", "dual basket")}},
    {"name": "Blender", "price": (40.0, 450.0), "options": {
        "power": ("600W", "900W", "1200W", "1500W"),
        "jar material": ("glass", "BPA-free plastic", "stainless steel"),
        "jar size": ("32 oz", "48 oz", "64 oz"), "color": ("black", "red", "white")}},
    {"name": "Stand Mixer", "price": (200.0, 700.0), "options": {
        "bowl size": ("4.5 qt", "5 qt", "6 qt", "7 qt"),
        "color": ("empire red", "pistachio", "onyx black", "silver", "ink blue"),
        "bundle": ("basic", "pasta bundle", "baker's bundle"), "motor": ("300W", "500W", "1000W")}},
    {"name": "Electric Kettle", "price": (25.0, 150.0), "options": {
        "capacity": ("0.8L", "1.2L", "1.7L"), "body": ("glass", "stainless steel", "matte plastic"),
        "temperature control": ("single temperature", "variable temperature"),
        "color": ("black", "white", "copper")}},
    {"name": "Frying Pan", "price": (20.0, 180.0), "options": {
        "diameter": ("8 inch", "10 inch", "12 inch", "14 inch"),
        "material": ("cast iron", "stainless steel", "carbon steel", "ceramic nonstick"),
        "lid": ("with lid", "without lid")}},
    {"name": "Knife Set", "price": (50.0, 500.0), "options": {
        "piece count": ("3-piece", "6-piece", "8-piece", "14-piece"),
        "steel": ("German stainless", "Japanese VG-10", "high-carbon"),
        "handle": ("wood", "resin", "stainless steel"),
        "storage": ("wood block", "magnetic strip", "no block")}},
    {"name": "Water Bottle", "price": (12.0, 48.0), "options": {
        "capacity": ("350ml", "500ml", "750ml", "1000ml", "1500ml"),
        "material": ("stainless steel", "Tritan plastic", "borosilicate glass", "aluminum"),
        "color": ("black", "seafoam", "sunset orange", "lilac", "white"),
        "lid": ("straw lid", "chug cap", "flip top")}},
    # --- home ---
    {"name": "Office Chair", "price": (150.0, 650.0), "options": {
        "upholstery": ("mesh", "fabric", "bonded leather", "vegan leather"),
        "color": ("black", "charcoal", "navy", "sand"),
        "armrests": ("fixed", "2D adjustable", "4D adjustable"),
        "lumbar support": ("none", "fixed", "adjustable")}},
    {"name": "Standing Desk", "price": (250.0, 900.0), "options": {
        "top size": ("48x24 inch", "55x28 inch", "60x30 inch", "72x30 inch"),
        "top finish": ("walnut", "white oak", "bamboo", "black laminate"),
        "frame color": ("black", "white", "silver"), "motor": ("single motor", "dual motor")}},
    {"name": "Floor Lamp", "price": (50.0, 350.0), "options": {
        "style": ("arc", "tripod", "torchiere", "tree"),
        "finish": ("brushed brass", "matte black", "satin nickel", "walnut"),
        "bulb": ("LED included", "bulb not included"), "dimmable": ("yes", "no")}},
    {"name": "Area Rug", "price": (60.0, 900.0), "options": {
        "size": ("3x5 ft", "5x8 ft", "8x10 ft", "9x12 ft"),
        "pattern": ("solid", "geometric", "medallion", "striped"),
        "material": ("wool", "jute", "polypropylene", "cotton")}},
    {"name": "Sheet Set", "price": (40.0, 300.0), "options": {
        "bed size": ("twin", "full", "queen", "king", "California king"),
        "thread count": ("300", "400", "600", "800"),
        "material": ("percale cotton", "sateen cotton", "linen", "bamboo viscose"),
        "color": ("white", "ivory", "slate blue", "sage", "charcoal")}},
    {"name": "Dog Bed", "price": (30.0, 250.0), "options": {
        "size": ("small", "medium", "large", "extra large"),
        "material": ("orthopedic foam", "faux fur", "canvas", "waterproof nylon"),
        "color": ("taupe", "grey", "navy", "cream")}},
    {"name": "Cat Tree", "price": (40.0, 230.0), "options": {
        "height": ("36 inch", "52 inch", "68 inch", "72 inch"),
        "color": ("beige", "grey", "charcoal", "cream"), "levels": ("2 levels", "3 levels", "5 levels"),
        "scratching surface": ("sisal rope", "carpet", "cardboard")}},
    {"name": "Cordless Drill", "price": (60.0, 300.0), "options": {
        "voltage": ("12V", "18V", "20V MAX"), "batteries": ("tool only", "1 battery", "2 batteries"),
        "chuck size": ("3/8 inch", "1/2 inch"), "motor": ("brushed", "brushless")}},
    {"name": "Hair Dryer", "price": (30.0, 400.0), "options": {
        "power": ("1200W", "1600W", "1875W", "2000W"), "color": ("black", "rose gold", "white", "teal"),
        "attachments": ("concentrator", "diffuser", "concentrator + diffuser"),
        "technology": ("ionic", "ceramic", "tourmaline")}},
    {"name": "Electric Toothbrush", "price": (25.0, 230.0), "options": {
        "color": ("white", "black", "pink", "mint"), "brushing modes": ("2 modes", "3 modes", "5 modes"),
        "battery": ("rechargeable", "AA batteries"), "travel case": ("included", "not included")}},
    # --- sports and outdoors ---
    {"name": "Bicycle", "price": (500.0, 2500.0), "options": {
        "frame size": ("XS", "S", "M", "L", "XL"), "type": ("road", "gravel", "hybrid", "mountain"),
        "color": ("matte black", "racing red", "forest green", "white"),
        "gears": ("single speed", "8-speed", "11-speed", "21-speed")}},
    {"name": "Yoga Mat", "price": (20.0, 130.0), "options": {
        "thickness": ("3mm", "5mm", "8mm", "10mm"), "material": ("TPE", "natural rubber", "cork", "PVC"),
        "color": ("plum", "ocean blue", "charcoal", "terracotta", "mint"),
        "length": ("standard", "extra long")}},
    {"name": "Kettlebell", "price": (20.0, 140.0), "options": {
        "weight": ("8 lb", "12 lb", "16 lb", "20 lb", "25 lb", "35 lb", "44 lb", "53 lb"),
        "material": ("cast iron", "vinyl coated", "competition steel"),
        "color": ("black", "blue", "orange")}},
    {"name": "Camping Tent", "price": (80.0, 700.0), "options": {
        "capacity": ("1-person", "2-person", "4-person", "6-person"), "season": ("3-season", "4-season"),
        "color": ("olive", "orange", "grey", "sky blue"),
        "poles": ("aluminum poles", "fiberglass poles", "trekking pole")}},
    {"name": "Sleeping Bag", "price": (50.0, 500.0), "options": {
        "temperature rating": ("50F", "30F", "15F", "0F"), "fill": ("synthetic", "down"),
        "shape": ("mummy", "rectangular", "semi-rectangular"), "length": ("regular", "long")}},
    # --- music and games ---
    {"name": "Acoustic Guitar", "price": (150.0, 1300.0), "options": {
        "body shape": ("dreadnought", "concert", "parlor", "jumbo"),
        "top wood": ("spruce", "cedar", "mahogany"),
        "finish": ("natural", "sunburst", "black"), "electronics": ("acoustic only", "acoustic-electric")}},
    {"name": "Board Game", "price": (20.0, 100.0), "options": {
        "genre": ("strategy", "party", "cooperative", "family", "deduction"),
        "players": ("2 players", "2-4 players", "2-6 players", "4-10 players"),
        "edition": ("standard", "deluxe", "collector's"), "language": ("English", "Spanish")}},
)  # fmt: skip
