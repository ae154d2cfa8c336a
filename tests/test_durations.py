import pytest

from voiceguide.durations import CEILING_MS, format_clock, format_ms, parse_age, parse_duration, parse_range


@pytest.mark.parametrize(
    "text, ms",
    [
        ("90s", 90_000),
        ("2m", 120_000),
        ("1m30s", 90_000),
        ("1.5m", 90_000),
        ("1:30", 90_000),
        ("1h", 3_600_000),
        ("250ms", 250),
        ("45", 45_000),
        (45, 45_000),
        (1.5, 1_500),
        (" 2 m ", 120_000),
        ("2min", 120_000),
        ("10sec", 10_000),
    ],
)
def test_parse_duration(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "abc", "-5s", "2x", "1m30", "m", "1:75", True, -3])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    "text, lo, hi",
    [
        ("2-3m", 120_000, 180_000),
        ("90s-2m", 90_000, 120_000),
        ("2m-3m", 120_000, 180_000),
        ("90s", 90_000, 90_000),
        ("30-45s", 30_000, 45_000),
        (60, 60_000, 60_000),
    ],
)
def test_parse_range(text, lo, hi):
    assert parse_range(text) == (lo, hi)


@pytest.mark.parametrize("text", ["3-2m", "-2-3m", "2-", "-", "2-x"])
def test_parse_range_rejects(text):
    with pytest.raises(ValueError):
        parse_range(text)


def test_formatting():
    assert format_ms(90_000) == "1m30s"
    assert format_ms(120_000) == "2m"
    assert format_ms(45_000) == "45s"
    assert format_ms(3_900_000) == "1h05m"
    assert format_clock(65_000) == "01:05"
    assert format_clock(3_725_000) == "1:02:05"


def test_clock():
    """The player's display and the tables share this one clock (moved from test_player_display)."""
    assert format_clock(0) == "00:00" and format_clock(61_999) == "01:01" and format_clock(3_726_000) == "1:02:06"
    assert format_clock(-5) == "00:00"


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("30d", 30 * 86400),
        ("1.5d", 1.5 * 86400),
        ("2w", 14 * 86400),
        (" 2 W ", 14 * 86400),
        ("12h", 43200),
        ("90m", 5400),
        ("0m", 0),
        ("90", 90),
        ("1:30", 90),
    ],
)
def test_ages_read_in_days_and_weeks_too(text, seconds):
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["banana", "", "  ", "3 days", "1y", "-2d"])
def test_what_is_no_age_gets_an_ages_examples(text):
    with pytest.raises(ValueError) as e:
        parse_age(text)
    message = str(e.value)
    assert "30d, 12h or 90m" in message or "negative" in message
    assert "90s" not in message  # a session's examples are not an age's


def test_an_age_keeps_a_durations_limit():
    with pytest.raises(ValueError, match="too long"):
        parse_age(f"{CEILING_MS // 1000 + 1}s")
