"""Quality filters: named rules in the spirit of Gopher's (Rae et al.,
2021), tuned for documentation, where code is legitimate content, and a
set of their own for source files, which are all code.

A rule is a function from a document's text to a measured value and a
limit; the document is dropped by the first rule it breaks, and the corpus
manifest counts documents and characters removed by each rule.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass


def prose(text: str) -> str:
    """The text outside ``` code fences (code has its own symbol statistics)."""
    return re.sub(r"```.*?```", " ", text, flags=re.S)


def word_count(text: str) -> float:
    return len(re.findall(r"\w+", text))


def symbol_ratio(text: str) -> float:
    """Share of prose characters that are neither letters, digits nor spaces."""
    chars = [c for c in prose(text) if not c.isspace()]
    return sum(not c.isalnum() for c in chars) / max(len(chars), 1)


def digit_ratio(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isdigit() for c in chars) / max(len(chars), 1)


def repeated_line_ratio(text: str) -> float:
    """Share of non-empty lines that repeat an earlier line exactly
    (boilerplate, tables of the same row, generated listings)."""
    lines = text.split("\n")
    content = [line for line in lines if line.strip() not in ("", "```")]
    return 1 - len(set(content)) / len(content) if content else 0.0


@dataclass(frozen=True)
class Rule:
    name: str
    measure: Callable[[str], float]
    limit: float
    keep_above: bool  # True: a minimum; False: a maximum
    why: str

    def breaks(self, text: str) -> bool:
        value = self.measure(text)
        return value < self.limit if self.keep_above else value > self.limit


TOO_SHORT = Rule(
    "too_short",
    word_count,
    50,
    True,
    "fewer than 50 words: a stub page or a bare signature teaches little",
)
SYMBOL_HEAVY = Rule(
    "symbol_heavy",
    symbol_ratio,
    0.25,
    False,
    "over 25% of prose characters are symbols: tables of operators, "
    "markup debris",
)
DIGIT_HEAVY = Rule(
    "digit_heavy",
    digit_ratio,
    0.15,
    False,
    "over 15% digits: number tables and version lists",
)
REPETITIVE = Rule(
    "repetitive",
    repeated_line_ratio,
    0.3,
    False,
    "over 30% repeated lines: generated or boilerplate text",
)
# In a source file, lines such as "else:" or "return None" repeat by nature:
# a third of the lines of one file in ten do (the standard library's tests).
REPETITIVE_CODE = Rule(
    "repetitive_code",
    repeated_line_ratio,
    0.6,
    False,
    "over 60% repeated lines of code: a pattern copied, not code written",
)
RULES = (TOO_SHORT, SYMBOL_HEAVY, DIGIT_HEAVY, REPETITIVE)
# Symbols are the syntax of code, not debris: code has no symbol rule.
CODE_RULES = (TOO_SHORT, DIGIT_HEAVY, REPETITIVE_CODE)


def first_broken_rule(text: str, rules=RULES) -> Rule | None:
    """The first of ``rules`` that ``text`` breaks, or None if it passes."""
    return next((rule for rule in rules if rule.breaks(text)), None)
