"""BlueBubbles settings: validated when set, round-trip through storage, never show the password."""

from __future__ import annotations

import pytest

from openlinq.delivery.bluebubbles.settings import GIVE_UP_LIMIT, BlueBubblesSettings
from openlinq.jobs.runner import MAX_ATTEMPTS, MAX_BACKOFF_SECONDS

GOOD = {"url": "http://mac.local:1234", "password": "hunter2"}


def test_settings_round_trip_through_a_dict() -> None:
    settings = BlueBubblesSettings.from_dict({**GOOD, "sms_forwarding": "yes", "timeout": "5"})
    assert settings.sms_forwarding is True
    assert settings.timeout == 5.0
    assert BlueBubblesSettings.from_dict(settings.to_dict()) == settings


def test_the_password_is_a_secret_and_not_in_the_repr() -> None:
    settings = BlueBubblesSettings.from_dict(GOOD)
    assert frozenset({"password"}) == BlueBubblesSettings.SECRET_FIELDS
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"url": "http://mac.local:1234"}, "needs password"),
        ({**GOOD, "url": "mac.local:1234"}, "absolute"),
        ({**GOOD, "url": "http://mac.local/?password=x"}, "no query"),
        ({**GOOD, "colour": "blue"}, "unknown bluebubbles setting(s): colour"),
        ({**GOOD, "timeout": "soon"}, "timeout must be a number"),
        ({**GOOD, "timeout": -1}, "timeout must be between 0 and 3600"),
        ({**GOOD, "give_up_after": 3600}, "give_up_after must be between 0 and 780"),
        ({**GOOD, "sms_forwarding": "maybe"}, "true or false"),
    ],
)
def test_bad_settings_are_refused_with_one_line(data: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=r"^[^\n]*$") as refused:
        BlueBubblesSettings.from_dict(data)
    assert complaint in str(refused.value)


def test_a_message_gives_up_before_the_send_jobs_last_retry() -> None:
    """Past the last retry the job is buried and the message would stay queued for ever."""
    last_retry = sum(min(2.0**n, MAX_BACKOFF_SECONDS) for n in range(1, MAX_ATTEMPTS))
    assert last_retry > GIVE_UP_LIMIT
