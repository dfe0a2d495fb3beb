"""select_service: iMessage, then RCS, then SMS, as the recipients and the line allow."""

from __future__ import annotations

import pytest

from openlinq.domain.models import Service
from openlinq.domain.routing import (
    DEFAULT_CHAIN,
    Selection,
    best_service,
    chain_for,
    reach,
    select_service,
)

IM, RCS, SMS = Service.IMESSAGE, Service.RCS, Service.SMS
IPHONE = frozenset({IM, SMS})
ANDROID = frozenset({RCS, SMS})
FLIP = frozenset({SMS})
EMAIL = frozenset({IM})
EVERYTHING = frozenset({IM, RCS, SMS})
NO_RCS_LINE = frozenset({IM, SMS})


@pytest.mark.parametrize(
    ("preferred", "chain"),
    [(None, (IM, RCS, SMS)), (IM, (IM,)), (RCS, (RCS, SMS)), (SMS, (RCS, SMS))],
)
def test_the_preference_picks_the_chain(preferred: Service | None, chain: tuple[Service]) -> None:
    assert chain_for(preferred) == chain
    assert DEFAULT_CHAIN == (IM, RCS, SMS)


@pytest.mark.parametrize(
    ("recipient", "service"),
    [(IPHONE, IM), (ANDROID, RCS), (FLIP, SMS), (EMAIL, IM), (EVERYTHING, IM)],
)
def test_no_preference_takes_the_best_service_the_recipient_has(
    recipient: frozenset[Service], service: Service
) -> None:
    assert select_service(None, [recipient], EVERYTHING) == Selection(service, True)


@pytest.mark.parametrize(
    ("recipient", "selection"),
    [
        (IPHONE, Selection(IM, True)),
        (ANDROID, Selection(IM, False)),  # iMessage or nothing: no downgrade
        (FLIP, Selection(IM, False)),
    ],
)
def test_preferring_imessage_means_imessage_or_nothing(
    recipient: frozenset[Service], selection: Selection
) -> None:
    assert select_service(IM, [recipient], EVERYTHING) == selection


@pytest.mark.parametrize("preferred", [RCS, SMS])
@pytest.mark.parametrize(
    ("recipient", "selection"),
    [
        (IPHONE, Selection(SMS, True)),  # never iMessage, even to an iPhone
        (ANDROID, Selection(RCS, True)),  # RCS where the recipient has it
        (FLIP, Selection(SMS, True)),
        (EMAIL, Selection(RCS, False)),  # an email handle has no RCS or SMS
    ],
)
def test_preferring_rcs_or_sms_never_uses_imessage(
    preferred: Service, recipient: frozenset[Service], selection: Selection
) -> None:
    assert select_service(preferred, [recipient], EVERYTHING) == selection


@pytest.mark.parametrize(
    ("group", "service"),
    [
        ([IPHONE, IPHONE, EVERYTHING], IM),
        ([IPHONE, ANDROID], SMS),
        ([ANDROID, EVERYTHING], RCS),
        ([IPHONE, EMAIL], IM),
        ([IPHONE, FLIP, IPHONE], SMS),
    ],
)
def test_a_group_uses_the_best_service_every_member_has(
    group: list[frozenset[Service]], service: Service
) -> None:
    assert select_service(None, group, EVERYTHING) == Selection(service, True)


def test_a_group_with_nothing_in_common_is_undeliverable() -> None:
    assert select_service(None, [EMAIL, FLIP], EVERYTHING) == Selection(IM, False)


@pytest.mark.parametrize(
    ("preferred", "recipient", "selection"),
    [
        (None, ANDROID, Selection(SMS, True)),
        (RCS, ANDROID, Selection(SMS, True)),
        (None, IPHONE, Selection(IM, True)),
        (None, frozenset({RCS}), Selection(IM, False)),
    ],
)
def test_a_line_without_rcs_falls_back_to_sms(
    preferred: Service | None, recipient: frozenset[Service], selection: Selection
) -> None:
    assert select_service(preferred, [recipient], NO_RCS_LINE) == selection


def test_an_sms_only_line_cannot_reach_an_email_handle() -> None:
    assert select_service(None, [EMAIL], frozenset({SMS})) == Selection(IM, False)


@pytest.mark.parametrize(
    ("recipient", "line", "service"),
    [
        (IPHONE, EVERYTHING, IM),
        (ANDROID, NO_RCS_LINE, SMS),
        (frozenset({RCS}), NO_RCS_LINE, IM),  # nothing in common: the chain's head
    ],
)
def test_best_service(
    recipient: frozenset[Service], line: frozenset[Service], service: Service
) -> None:
    assert best_service(recipient, line) is service


RCS_LINE = frozenset({RCS, SMS})


@pytest.mark.parametrize(
    ("preferred", "recipients", "better", "worse"),
    [
        (None, [IPHONE], EVERYTHING, RCS_LINE),  # iMessage beats SMS
        (None, [EMAIL], NO_RCS_LINE, RCS_LINE),  # reached beats not reached at all
        (None, [ANDROID], RCS_LINE, NO_RCS_LINE),  # RCS beats SMS
        (SMS, [IPHONE], NO_RCS_LINE, RCS_LINE),  # SMS from both: iMessage later breaks the tie
        (IM, [IPHONE, EMAIL], NO_RCS_LINE, RCS_LINE),  # a group: what every member has
    ],
)
def test_reach_ranks_the_line_that_reaches_the_recipients_on_the_better_service_first(
    preferred: Service | None,
    recipients: list[frozenset[Service]],
    better: frozenset[Service],
    worse: frozenset[Service],
) -> None:
    assert reach(preferred, recipients, better) < reach(preferred, recipients, worse)


def test_lines_that_reach_alike_rank_alike() -> None:
    assert reach(None, [ANDROID], EVERYTHING) == reach(None, [ANDROID], RCS_LINE) == (1, 1)
    assert reach(IM, [FLIP], EVERYTHING) == (1, 2)  # undeliverable as asked, SMS otherwise
