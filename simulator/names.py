"""Word lists for generated districts.

Names deliberately include accents, apostrophes and multi-word surnames: real rosters do, and a sync that
mangles "Zoë O'Brien" must be caught by tests.
"""

from __future__ import annotations

import unicodedata

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "José", "Zoë", "Renée", "Ángel", "Chloé", "François", "Maria", "James", "Aisha", "Wei", "Priya", "Liam",
    "Olivia", "Noah", "Emma", "Mateo", "Sofía", "Ethan", "Ava", "Lucas", "Mia", "Amir", "Fatima", "Hiroshi",
    "Yuki", "Siobhán", "Björn", "Dmitri", "Nadia", "Kwame", "Ngozi", "Carlos", "Ana", "Luis", "Grace",
    "Daniel", "Hannah", "Samuel", "Leah", "Isaac", "Ruth", "Omar", "Layla", "Jae-won", "Min", "Thảo", "Duc",
    "Raúl", "Inés", "Mariana", "Joaquín", "Patricia", "Robert", "Linda", "Michael", "Susan", "David",
    "Karen", "Brian", "Nancy", "Kevin", "Angela", "Marcus", "Tanya", "DeShawn", "Keisha", "Connor", "Molly",
)

LAST_NAMES: tuple[str, ...] = (
    "O'Brien", "D'Angelo", "Muñoz", "García", "Nguyễn", "Smith", "Johnson", "Williams", "Brown", "Jones",
    "Miller", "Davis", "Rodríguez", "Martínez", "Hernández", "López", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris",
    "Sánchez", "Clark", "Ramírez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Kim", "Patel", "Okafor", "Schröder", "Łukasiewicz", "Van der Berg", "St. John",
    "O'Neill", "McAllister", "Fitzgerald", "Nakamura", "Haddad", "Kowalski", "Ochoa", "Brennan",
)

MIDDLE_INITIALS = "ABCDEFGHJKLMNPRSTW"

PLACES: tuple[str, ...] = (
    "Pineapple", "Cedar Ridge", "Maple Grove", "Riverside", "Lincoln", "Washington", "Roosevelt", "Oak Hill",
    "Lakeview", "Sunnyvale", "Hillcrest", "Brookside", "Eastwood", "Westfield", "Northgate", "Southpoint",
    "Willow Creek", "Pine Valley", "Harbor View", "Meadowbrook", "Fairview", "Greenfield", "Highland",
    "Jefferson", "Kennedy", "Madison", "Monroe", "Jackson", "Franklin", "Adams", "César Chávez",
    "Sojourner Truth", "Rosa Parks", "Frederick Douglass", "Sally Ride", "Ellen Ochoa", "Aspen", "Birchwood",
    "Canyon", "Desert Sky", "Evergreen", "Foothill", "Golden Gate", "Hawthorne", "Ironwood", "Juniper",
)
PLACE_PREFIXES: tuple[str, ...] = (
    "", "North ", "South ", "East ", "West ", "New ", "Upper ", "Lower ", "Lake ", "Mount ", "Port ",
    "Fort ", "Glen ", "Old ", "Little ",
)

CITIES: tuple[tuple[str, str, str], ...] = (
    ("Brooklyn", "NY", "112"), ("Springfield", "IL", "627"), ("Austin", "TX", "787"),
    ("Denver", "CO", "802"), ("Portland", "OR", "972"), ("Phoenix", "AZ", "850"), ("Columbus", "OH", "432"),
    ("Raleigh", "NC", "276"),
)
STREETS: tuple[str, ...] = (
    "Main Street", "Oak Avenue", "School Road", "Park Lane", "Elm Street", "Old Beach 88th Street",
    "Pineapple Street", "Washington Blvd",
)

DISTRICT_NAMES: tuple[str, ...] = (
    "Maple Valley Unified School District", "Riverside County Public Schools",
    "Cedar Falls Independent School District", "Lakeshore Community Schools",
    "Greenfield Consolidated School District", "Harbor City Public Schools",
    "Pine Ridge Union School District", "Eastbrook Regional School District",
)

STAFF_TITLES: tuple[str | None, ...] = (
    "School Administrator", "Math Specialist", "Counselor", "", None, "Librarian", "Literacy Specialist",
    "Office Manager", "School Nurse", "Dean of Students", "Instructional Coach", "Social Worker",
    "Speech Language Pathologist", "Paraprofessional", "Registrar",
)
DISTRICT_ADMIN_TITLES: tuple[str | None, ...] = (
    "", None, "District Administrator", "Director of Curriculum", "IT Coordinator", "", "Data Manager",
)

# (course name, subject enum value, number prefix)
COURSES: tuple[tuple[str, str, str], ...] = (
    ("Algebra I", "math", "MATH"), ("Geometry", "math", "MATH"), ("Algebra II", "math", "MATH"),
    ("Pre-Calculus", "math", "MATH"), ("AP Calculus AB", "math", "MATH"), ("Mathematics", "math", "MATH"),
    ("English Language Arts", "english/language arts", "ELA"), ("English 9", "english/language arts", "ENG"),
    ("English 10", "english/language arts", "ENG"), ("American Literature", "english/language arts", "ENG"),
    ("Reading", "english/language arts", "RDG"), ("Biology", "science", "SCI"),
    ("Chemistry", "science", "SCI"), ("Physics", "science", "SCI"), ("Earth Science", "science", "SCI"),
    ("Science", "science", "SCI"), ("World History", "social studies", "SS"),
    ("U.S. History", "social studies", "SS"), ("Civics", "social studies", "SS"),
    ("Social Studies", "social studies", "SS"), ("Spanish I", "language", "LANG"),
    ("French I", "language", "LANG"), ("Mandarin I", "language", "LANG"),
    ("Homeroom", "homeroom/advisory", "HR"), ("Advisory", "homeroom/advisory", "ADV"),
    ("Reading Intervention", "interventions/online learning", "INT"),
    ("Computer Science Principles", "technology and engineering", "CS"),
    ("Engineering Design", "technology and engineering", "ENGR"),
    ("Physical Education", "PE and health", "PE"), ("Health", "PE and health", "HLTH"),
    ("Art", "arts and music", "ART"), ("Band", "arts and music", "MUS"), ("Choir", "arts and music", "MUS"),
    ("Study Hall", "other", "SH"), ("Library Skills", "", "LIB"),
)

ELEMENTARY_GRADES: tuple[str, ...] = ("Kindergarten", "1", "2", "3", "4", "5")
MIDDLE_GRADES: tuple[str, ...] = ("6", "7", "8")
HIGH_GRADES: tuple[str, ...] = ("9", "10", "11", "12")

# fmt: on


def ascii_fold(text: str) -> str:
    """'Zoë O'Brien' -> 'zoeobrien': usable as an email local part or username."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())
