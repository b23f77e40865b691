from datetime import UTC, date, datetime, timedelta

from services.surveys.domain.rules import (
    ReminderPolicy,
    Window,
    WindowPolicy,
    may_store_response,
    new_token,
    response_rate,
)

UTC = UTC


def test_tokens_are_url_safe_carry_192_bits_and_never_repeat():
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(len(t) == 32 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


def test_a_pupil_under_16_needs_parental_consent_and_one_of_16_does_not():
    assert not may_store_response(15, False)
    assert may_store_response(15, True)
    assert may_store_response(16, False)


def test_a_pupil_of_unknown_age_is_treated_as_a_minor():
    assert not may_store_response(None, False)
    assert may_store_response(None, True)


def test_pre_opens_at_placement_and_closes_when_the_event_day_starts_in_amsterdam():
    placed = datetime(2027, 3, 1, 9, tzinfo=UTC)
    w = WindowPolicy().pre(placed, date(2027, 4, 8))
    assert w.opens == placed
    assert w.closes == datetime(2027, 4, 7, 22, tzinfo=UTC)  # 00:00 CEST
    assert w.state(placed - timedelta(seconds=1)) == "not_open"
    assert w.state(placed) == "open"
    assert w.state(w.closes) == "closed"


def test_post_opens_on_the_event_date_and_closes_after_the_configured_days_or_override():
    w = WindowPolicy(post_close_days=14).post(date(2027, 1, 10))
    assert w.opens == datetime(2027, 1, 9, 23, tzinfo=UTC)  # 00:00 CET
    assert w.closes - w.opens == timedelta(days=14)
    override = datetime(2027, 2, 1, tzinfo=UTC)
    assert WindowPolicy().post(date(2027, 1, 10), override).closes == override


def test_response_rate_is_undefined_without_invitations_and_capped_at_one():
    assert response_rate(3, 0) is None
    assert response_rate(3, 4) == 0.75
    assert response_rate(5, 4) == 1.0


def test_reminder_is_due_only_when_open_near_the_close_and_below_the_threshold():
    w = Window(datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 20, tzinfo=UTC))
    policy = ReminderPolicy(threshold=0.5, lead=timedelta(days=3))
    near = datetime(2027, 1, 18, tzinfo=UTC)
    assert policy.due(w, near, responded=4, invited=10)
    assert not policy.due(w, near, responded=5, invited=10)  # at the threshold: fine
    assert not policy.due(w, datetime(2027, 1, 10, tzinfo=UTC), responded=0, invited=10)  # too early
    assert not policy.due(w, datetime(2027, 1, 20, tzinfo=UTC), responded=0, invited=10)  # closed
    assert not policy.due(w, near, responded=0, invited=0)  # nobody invited
