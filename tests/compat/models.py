"""The structured output and the tool the Python framework cases ask for (one definition for all)."""

from typing import Literal

from pydantic import BaseModel, Field


class Ingredient(BaseModel):
    """One line of a recipe."""

    item: str
    grams: float


class Recipe(BaseModel):
    """A recipe: nested objects, an array, an enum, an integer and a boolean."""

    name: str
    servings: int
    vegetarian: bool
    ingredients: list[Ingredient]
    course: Literal["starter", "main", "dessert"]


class Weather(BaseModel):
    """What get_weather takes."""

    city: str = Field(min_length=1, description="The city to look up")
    unit: Literal["celsius", "fahrenheit"]


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"]) -> str:
    """Current weather for a city."""
    return f"21 degrees {unit} in {city}"
