"""Property tests of the credential rules of API.md."""

from __future__ import annotations

import string

from hypothesis import assume, given
from hypothesis import strategies as st

from imagerepo.domain.accounts import password_problems, username_problems, validate_credentials
from imagerepo.domain.errors import InvalidCredentialsFormat
from tests.strategies import passwords, usernames

ALLOWED = set(string.ascii_letters + string.digits + "_-.")


@given(usernames())
def test_valid_usernames_pass(name: str) -> None:
    assert username_problems(name) == []


@given(st.text(max_size=40))
def test_username_rule_is_exactly_the_contract(name: str) -> None:
    valid = 3 <= len(name) <= 32 and set(name) <= ALLOWED
    assert (username_problems(name) == []) == valid


@given(st.text(max_size=140), usernames())
def test_password_rule_is_exactly_the_contract(password: str, name: str) -> None:
    valid = (
        8 <= len(password) <= 128
        and password.casefold() != name.casefold()
        and not password.isdigit()
        and "\x00" not in password
    )
    assert (password_problems(password, name) == []) == valid


@given(usernames(), passwords())
def test_validate_returns_its_input_when_valid(name: str, password: str) -> None:
    assume(password.casefold() != name.casefold())
    assert validate_credentials(name, password) == (name, password)


@given(st.text(max_size=40), st.text(max_size=140))
def test_every_failed_rule_is_named_once(name: str, password: str) -> None:
    problems = {"username": username_problems(name), "password": password_problems(password, name)}
    try:
        validate_credentials(name, password)
    except InvalidCredentialsFormat as e:
        assert e.details == {k: v for k, v in problems.items() if v}
        for msgs in e.details.values():
            assert len(msgs) == len(set(msgs))
    else:
        assert problems == {"username": [], "password": []}
