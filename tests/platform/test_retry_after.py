"""An error that passes says when to come back, once, in one place: the Retry-After
header and the problem's retry_after member always agree."""

from __future__ import annotations

import json

from scaispeak.platform.errors import DatabaseUnavailable, ServiceError, answer_to
from scaispeak.platform.storage.base import StorageUnavailable
from scaispeak.speak.errors import ServerBusy
from scaispeak.speak.jobs.service import TooManyJobs
from scaispeak.speak.voices.errors import TenantAnalysesBusy, TooManyVoiceBuilds


def header_and_member(error: ServiceError) -> tuple[str | None, object]:
    problem = answer_to(error, "/x")
    body = json.loads(problem.response("/x").body)
    return (problem.headers or {}).get("Retry-After"), body.get("retry_after")


def test_a_class_default_reaches_the_header_and_the_body() -> None:
    """Some errors set the header only, others the body too: clients saw either."""
    for error, seconds in [
        (DatabaseUnavailable(), 5),
        (StorageUnavailable("down"), 5),
        (ServerBusy("full"), 1),
        (TooManyJobs(3), 30),
        (TenantAnalysesBusy(2), 5),
        (TooManyVoiceBuilds(2), 60),
    ]:
        assert header_and_member(error) == (str(seconds), seconds), type(error).__name__


def test_one_errors_own_figure_overrides_its_class_default() -> None:
    busy = ServerBusy("full", retry_after=12)
    assert header_and_member(busy) == ("12", 12)
    assert ServerBusy.retry_after == 1  # the class default is left alone
    later = ServiceError("later")
    later.come_back_in(7)
    assert header_and_member(later) == ("7", 7)


def test_an_error_that_will_not_pass_says_nothing() -> None:
    assert header_and_member(ServiceError("no")) == (None, None)
