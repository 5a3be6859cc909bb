"""scratchllm.data.filters: every quality rule on a text made to break it
and on texts that pass, and the order in which rules are applied."""

import pytest

from scratchllm.data import filters
from scratchllm.data.filters import (
    RULES,
    digit_ratio,
    first_broken_rule,
    prose,
    repeated_line_ratio,
    symbol_ratio,
    word_count,
)

# A real paragraph of library/json.html: about 90 words, all rules pass.
GOOD = (
    "JSON (JavaScript Object Notation), specified by RFC 7159 (which obsoletes RFC 4627) and "
    "by ECMA-404, is a lightweight data interchange format inspired by JavaScript object "
    "literal syntax (although it is not a strict subset of JavaScript).\n\n"
    "Be cautious when parsing JSON data from untrusted sources. A malicious JSON string may "
    "cause the decoder to consume considerable CPU and memory resources. Limiting the size of "
    "data to be parsed is recommended.\n\n"
    "json exposes an API familiar to users of the standard library marshal and pickle "
    "modules. If ensure_ascii is true (the default), the output is guaranteed to have all "
    "incoming non-ASCII characters escaped."
)

CODE = """```
>>> import json
>>> print(json.dumps({'4': 5, '6': 7}, sort_keys=True, indent=4))
{
    "4": 5,
    "6": 7
}
>>> json.dumps([1, 2, 3, {'4': 5, '6': 7}], separators=(',', ':'))
'[1,2,3,{"4":5,"6":7}]'
```"""

RULE = {rule.name: rule for rule in RULES}

# For each rule, a text that breaks it and no rule before it.
BREAKING = {
    "too_short": "json — JSON encoder and decoder. Source code: Lib/json/__init__.py",
    "symbol_heavy": GOOD + "\n\n" + " ".join(["->", "<<=", "**=", "//=", "!=", "|=", ">>="] * 40),
    "digit_heavy": GOOD + "\n\n" + " ".join(f"3.{n}.{n + 1}" for n in range(60)),
    "repetitive": GOOD + "\n\n" + "\n".join(["| int | int |", "- see also"] * 20),
}


def test_rules_in_order():
    names = [rule.name for rule in RULES]
    assert names == ["too_short", "symbol_heavy", "digit_heavy", "repetitive"]
    assert all(rule.why for rule in RULES)


def test_good_text_passes_every_rule():
    assert word_count(GOOD) >= 50
    for rule in RULES:
        assert not rule.breaks(GOOD), rule.name
    assert first_broken_rule(GOOD) is None
    assert first_broken_rule(GOOD + "\n\n" + CODE) is None


@pytest.mark.parametrize("name", list(BREAKING))
def test_each_rule_breaks_on_its_text(name):
    text = BREAKING[name]
    assert RULE[name].breaks(text)
    assert first_broken_rule(text) is RULE[name]


def test_too_short_boundary():
    fifty = " ".join(["word"] * 50)
    assert word_count(fifty) == 50
    assert not RULE["too_short"].breaks(fifty)
    assert RULE["too_short"].breaks(" ".join(["word"] * 49))
    assert word_count("json.dumps(obj, indent=4)") == 5


def test_symbol_ratio_values():
    assert symbol_ratio("") == 0
    assert symbol_ratio("abc def") == 0
    assert symbol_ratio("a+b") == pytest.approx(1 / 3)
    assert symbol_ratio("a + b") == pytest.approx(1 / 3)  # spaces are not counted


def test_code_fences_excluded_from_symbol_ratio():
    text = GOOD + "\n\n" + "\n\n".join([CODE] * 6)
    assert symbol_ratio(CODE.replace("```", "")) > 0.25  # the code alone is symbol-heavy
    assert symbol_ratio(text) == pytest.approx(symbol_ratio(GOOD), abs=0.01)
    assert not RULE["symbol_heavy"].breaks(text)
    assert "dumps" not in prose(text) and "cautious" in prose(text)


def test_prose_outside_several_fences():
    text = "one\n```\ncode {}\n```\ntwo\n```\nmore ()\n```\nthree"
    assert prose(text).split() == ["one", "two", "three"]


def test_digit_ratio_values():
    assert digit_ratio("") == 0
    assert digit_ratio("ab12") == 0.5
    assert digit_ratio("Python 3.11.2") == pytest.approx(4 / 12)


def test_repeated_line_ratio_values():
    assert repeated_line_ratio("a\nb\nc") == 0
    assert repeated_line_ratio("a\na\na\nb") == pytest.approx(0.5)
    # Blank lines and fence markers are not lines of content.
    assert repeated_line_ratio("a\n\n\n```\nb\n```\n```\nc\n```") == 0


def test_repeated_line_ratio_of_a_text_without_lines():
    # No line repeats another when there are no lines: 0, as symbol_ratio and
    # digit_ratio give for an empty text, not 1 (every line repeated).
    assert repeated_line_ratio("") == 0
    assert repeated_line_ratio("\n\n```\n```\n") == 0


def test_first_broken_rule_returns_the_first_in_order():
    # Short, symbol-heavy, digit-heavy and repetitive at once: too_short wins.
    everything = "\n".join(["(1) + [2] | {3}"] * 4)
    broken = [rule.name for rule in RULES if rule.breaks(everything)]
    assert broken == ["too_short", "symbol_heavy", "digit_heavy", "repetitive"]
    assert first_broken_rule(everything).name == "too_short"
    # Symbol- and digit-heavy and repetitive, long enough: symbol_heavy wins.
    many = "\n".join([f"{n} + {n} = {2 * n} ;" for n in range(20)] * 3)
    assert word_count(many) >= 50
    broken = [r.name for r in RULES if r.breaks(many)]
    assert broken == ["symbol_heavy", "digit_heavy", "repetitive"]
    assert first_broken_rule(many).name == "symbol_heavy"


def test_first_broken_rule_with_custom_rules():
    rules = (RULE["repetitive"], RULE["too_short"])
    text = "\n".join(["same line"] * 5)
    assert first_broken_rule(text, rules).name == "repetitive"
    assert first_broken_rule(text, ()) is None


def test_rule_minimum_and_maximum():
    at_least = filters.Rule("min", len, 3, True, "")
    at_most = filters.Rule("max", len, 3, False, "")
    assert at_least.breaks("ab") and not at_least.breaks("abc")
    assert at_most.breaks("abcd") and not at_most.breaks("abc")
