"""PUBLIC_URL: where Microsoft reaches the app; set, it turns change notifications on."""
import pytest

from listening.core.config import ConfigError, Settings, from_env
from tests.unit.test_config import PRODUCTION


def test_unset_means_polling():
    assert from_env({}).public_url is None


def test_read_without_its_trailing_slash():
    assert from_env({"PUBLIC_URL": "https://listening.example.com/"}).public_url == "https://listening.example.com"


@pytest.mark.parametrize("raw", ["listening.example.com", "ftp://x.example.com", "https://",
                                 "https://x.example.com/?a=1", "https://x.example.com/#top"])
def test_anything_but_an_absolute_address_is_refused(raw):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        from_env({"PUBLIC_URL": raw})


def test_production_needs_https_and_development_takes_http():
    Settings(**PRODUCTION, public_url="https://listening.example.com").check()
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        Settings(**PRODUCTION, public_url="http://listening.example.com").check()
    Settings(public_url="http://127.0.0.1:5000").check()
