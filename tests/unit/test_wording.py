"""Lists in messages: at most so many named, the rest counted."""

from __future__ import annotations

from shared.wording import listed, one_line


def test_a_short_list_is_named_whole() -> None:
    assert listed(["a", "b"], 3) == "a, b"
    assert listed(["a", "b", "c"], 3) == "a, b, c"
    assert listed([], 3) == ""


def test_a_long_list_names_the_first_and_counts_the_rest() -> None:
    assert listed([f"n{i}" for i in range(250)], 3) == "n0, n1, n2, and 247 more"
    assert listed(["x (why)", "y (why)", "z"], 2, "; ") == "x (why); y (why); and 1 more"


def test_text_from_elsewhere_is_made_one_line() -> None:
    assert one_line("Value cannot be null.\r\nParameter name: IfMatch") == (
        "Value cannot be null. Parameter name: IfMatch"
    )
    assert one_line("a\tb\u2028c\x85d") == "a b c d"
    assert one_line("\x1b[2Jclear\x9b31m\x00\x7f") == "[2Jclear31m"
    assert one_line("plain, é, 日本") == "plain, é, 日本"
