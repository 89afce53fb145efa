"""${VAR} interpolation and .env files, with property-based tests."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmnh_pipes import ConfigError
from lmnh_pipes.environ import InterpolationError, interpolate, read_env_file, read_env_file_text

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
values = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=20)
plain = st.text(alphabet=st.characters(blacklist_characters="$"), max_size=30)


@given(plain)
def test_text_without_dollar_is_unchanged(text):
    assert interpolate(text, {}) == text


@given(plain, names, values, plain)
def test_set_variable_is_substituted(before, name, value, after):
    assert interpolate(f"{before}${{{name}}}{after}", {name: value}) == before + value + after


@given(names, values)
def test_default_used_only_when_unset_or_empty(name, default):
    default = default.replace("}", "")
    assert interpolate(f"${{{name}:-{default}}}", {}) == default
    assert interpolate(f"${{{name}:-{default}}}", {name: ""}) == default
    assert interpolate(f"${{{name}:-{default}}}", {name: "set"}) == "set"


@given(names, plain)
def test_unset_variable_is_an_error_naming_it(name, before):
    with pytest.raises(InterpolationError, match=f"environment variable {name} is not set"):
        interpolate(f"{before}${{{name}}}", {})


@given(names, st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=20))
def test_required_message(name, message):
    with pytest.raises(InterpolationError) as exc:
        interpolate(f"${{{name}:?{message}}}", {})
    assert str(exc.value) == f"${{{name}}}: {message}"
    assert interpolate(f"${{{name}:?{message}}}", {name: "v"}) == "v"


@given(plain, names, plain)
def test_double_dollar_is_a_literal(before, name, after):
    # $${NAME} is the text ${NAME}, whether or not NAME is set.
    assert interpolate(f"{before}$${{{name}}}{after}", {name: "x"}) == f"{before}${{{name}}}{after}"


@given(st.text(max_size=40), st.dictionaries(names, values, max_size=3))
def test_never_fails_other_than_interpolation_error(text, env):
    try:
        result = interpolate(text, env)
    except InterpolationError as exc:
        assert str(exc)
    else:
        assert isinstance(result, str)


@pytest.mark.parametrize("text", ["${", "${}", "${1X}", "${A B}", "abc ${X"])
def test_malformed_references(text):
    with pytest.raises(InterpolationError):
        interpolate(text, {"X": "1"})


def test_lone_dollars_stay():
    assert interpolate("cost $5 and $HOME", {}) == "cost $5 and $HOME"


def test_env_file(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "# comment\n"
        "A=1\n"
        "export B = two words # trailing comment\n"
        'C="quoted # not a comment\\nnext"\n'
        "D='single $X'\n"
        "E=\n"
        'F="quoted" # and a comment\n'
        "G='single' # too\n"
    )
    assert read_env_file(path) == {
        "A": "1",
        "B": "two words",
        "C": "quoted # not a comment\nnext",
        "D": "single $X",
        "E": "",
        "F": "quoted",
        "G": "single",
    }


def test_a_line_that_is_not_an_assignment_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=1\n# comment\nhunter2\nMY-VAR=2\nexport B=3\npostgres://u:secret@h/db?x=1\n")
    with pytest.raises(ConfigError) as exc:
        read_env_file(path)
    assert [(p.file, p.line) for p in exc.value.problems] == [(str(path), 3), (str(path), 4), (str(path), 6)]
    text = str(exc.value)
    assert f"{path}:3: expected KEY=value, found a line without '='" in text
    assert f"{path}:4: 'MY-VAR' is not a variable name" in text
    # The line's text may be a secret: only a name-like part before '=' is shown.
    assert "hunter2" not in text
    assert "secret" not in text


def test_a_quote_that_does_not_close_is_an_error_not_part_of_the_value(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=\"unterminated\nB='x y' trailing\nC=\"closed\" # note\nD='it''s'\nE=plain 'quote\n")
    with pytest.raises(ConfigError) as exc:
        read_env_file(path)
    assert [(p.line, p.message) for p in exc.value.problems] == [
        (1, "the value of A opens a quote that does not close at the end of the line"),
        (2, "the value of B opens a quote that does not close at the end of the line"),
    ]
    assert "unterminated" not in str(exc.value)
    assert read_env_file_text("C=\"closed\" # note\nD='it''s'\nE=plain 'quote\n") == {
        "C": "closed",
        "D": "it''s",
        "E": "plain 'quote",
    }
