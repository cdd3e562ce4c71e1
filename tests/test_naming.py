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
    assert environment_name("octo/my-app", 7) == "my-app-pr-7"
    long_a, long_b = "octo/" + "a" * 80, "other/" + "a" * 80
    assert environment_name(long_a, 7) != environment_name(long_b, 7)
    assert environment_name(long_a, 7) != environment_name(long_a, 8)
