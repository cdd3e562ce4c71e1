"""Environment names are DNS-1035 labels for any repository name and PR number."""

from __future__ import annotations

import pytest

from streamlit_preview.naming import DNS_1035, environment_name


@pytest.mark.parametrize(
    "repository",
    [
        "octo/my-app", "octo/My.App_v2", "octo/123-numbers", "octo/---", "octo/" + "x" * 200,
        "/srv/git/app.git", "file:///tmp/x/Repo.git", "git@github.com:o/ünïcode.git", "octo/.github",
    ],
)  # fmt: skip
@pytest.mark.parametrize("pr", [1, 42, 999999])
def test_names_are_dns_1035_labels(repository, pr):
    name = environment_name(repository, pr)
    assert DNS_1035.match(name), name
    assert name.endswith(f"-pr-{pr}")


def test_readable_and_distinct():
    assert environment_name("octo/my-app", 7) == "octo-my-app-pr-7"
    assert environment_name("Octo/My-App", 7) == "octo-my-app-pr-7", "GitHub's names ignore case"
    long_a, long_b = "octo/" + "a" * 80, "other/" + "a" * 80
    assert environment_name(long_a, 7) != environment_name(long_b, 7)
    assert environment_name(long_a, 7) != environment_name(long_a, 8)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("alice/app", "bob/app"),  # same name, two owners
        ("octo/my.app", "octo/my_app"),  # characters DNS drops
        ("octo/my-app", "octo/my.app"),
        ("a-b/c", "a/b-c"),  # the hyphen could be the separator
        ("octo/ünïcode", "octo/ünïcöde"),  # non-ASCII collapses
        ("/srv/one/app.git", "/srv/two/app.git"),  # paths
        ("https://github.com/o/app.git", "https://gitlab.com/o/app.git"),  # hosts
    ],
)
def test_names_are_unique_per_repository(one, other):
    assert environment_name(one, 7) != environment_name(other, 7)
