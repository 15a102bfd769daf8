"""The anonymization modes a fixture header may name, and the key of the shape-mode placeholder.

Small on purpose: the fixture format reads these without importing the anonymizer (and Faker).
"""

ANONYMIZATION_MODES = ("off", "pii", "shape")
# Shape mode writes every free-text string as `{"$tokens": N}`.
SHAPE_KEY = "$tokens"
