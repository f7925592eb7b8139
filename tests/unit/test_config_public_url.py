"""PUBLIC_URL also turns change notifications on: plain http is fine outside production, as in the
demo and the tests over loopback (production requires https, tests/unit/test_config.py)."""
from listening.core.config import Settings, from_env


def test_development_takes_plain_http_over_loopback():
    settings = from_env({"PUBLIC_URL": "http://127.0.0.1:5000/"})
    assert settings.public_url == "http://127.0.0.1:5000"
    settings.check()
    Settings(public_url="http://127.0.0.1:5000").check()


def test_notify_debounce_is_read_from_the_environment():
    assert from_env({}).notify_debounce == 1.0
    assert from_env({"NOTIFY_DEBOUNCE": "2.5"}).notify_debounce == 2.5
