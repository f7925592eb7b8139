"""Settings: production refuses demo and plain-HTTP identity endpoints; numbers are checked."""
import pytest

from listening.core.config import DEMO_AUTHORITY, ConfigError, Settings, from_env

PRODUCTION = dict(env="production", secret_key="s", database_url="postgresql://x/y",
                  redis_url="redis://x", keys="k1:key", ms_client_id="id", ms_client_secret="secret",
                  ms_authority="https://login.microsoftonline.com",
                  graph_url="https://graph.microsoft.com/v1.0", public_url="https://listening.example.com")


def test_production_with_real_endpoints_starts():
    Settings(**PRODUCTION).check()  # raises on any refusal


@pytest.mark.parametrize("field, value", [
    ("ms_authority", DEMO_AUTHORITY),
    ("ms_authority", "http://login.example.com"),
    ("graph_url", DEMO_AUTHORITY + "/v1.0"),
    ("graph_url", "http://graph.example.com/v1.0"),
])
def test_production_refuses_the_emulator_and_plain_http(field, value):
    with pytest.raises(ConfigError, match=field.upper()):
        Settings(**{**PRODUCTION, field: value}).check()


def test_development_accepts_the_emulator():
    Settings(env="development").check()
    assert Settings().ms_authority == DEMO_AUTHORITY


def test_trusted_proxies_and_timeout_are_read_from_the_given_environment():
    settings = from_env({"TRUSTED_PROXIES": "2", "HTTP_TIMEOUT": "3.5"})
    assert settings.trusted_proxies == 2 and settings.http_timeout == 3.5
    assert from_env({}).trusted_proxies == 0


@pytest.mark.parametrize("name, raw", [("TRUSTED_PROXIES", "one"), ("TRUSTED_PROXIES", "-1"),
                                       ("TRUSTED_PROXIES", "1.5"), ("HTTP_TIMEOUT", "0"),
                                       ("HTTP_TIMEOUT", "soon"), ("HTTP_TIMEOUT", "nan"),
                                       ("HTTP_TIMEOUT", "inf")])
def test_bad_numbers_are_refused_with_the_variable_named(name, raw):
    with pytest.raises(ConfigError, match=name):
        from_env({name: raw})


@pytest.mark.parametrize("value", [None, "http://listening.example.com"])
def test_production_needs_an_https_public_url(value):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        Settings(**{**PRODUCTION, "public_url": value}).check()


@pytest.mark.parametrize("raw", ["listening.example.com", "https://x.example/app", "https://x.example/?a=1",
                                 "ftp://x.example", "https://user:pw@x.example"])
def test_a_public_url_is_scheme_host_and_port_only(raw):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        from_env({"PUBLIC_URL": raw})
    assert from_env({"PUBLIC_URL": "https://Listening.Example.com:8443/"}).public_url == \
        "https://listening.example.com:8443"


@pytest.mark.parametrize("name", ["RATE_LIMIT_CHECK", "API_RATE_LIMIT"])
def test_a_rate_that_is_not_one_is_refused_from_the_environment_or_create_app(name):
    with pytest.raises(ConfigError, match=name):
        from_env({name: "often"})
    with pytest.raises(ConfigError, match=name):
        from_env({}, **{name.lower(): "often"})
    assert from_env({name: "5/minute"})
