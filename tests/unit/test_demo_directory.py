"""The demo's directory: the emulator's Windows zone names become IANA names the import accepts."""
from listening.admin import directory
from tools import demo_stack as demo


def test_windows_and_iana_zone_names_become_iana_names():
    assert demo.time_zone_of({"timeZone": "Pacific Standard Time"}) == "America/Los_Angeles"
    assert demo.time_zone_of({"timeZone": "W. Europe Standard Time"}) == "Europe/Berlin"
    assert demo.time_zone_of({"timeZone": "Asia/Tokyo"}) == "Asia/Tokyo"
    assert demo.time_zone_of({"timeZone": "UTC"}) == "UTC"
    assert demo.time_zone_of({"timeZone": "Nowhere Standard Time"}) == "UTC"
    assert demo.time_zone_of({}) == "UTC"


def test_the_demo_company_csv_passes_the_real_import_rules():
    users = [{"email": "boss@contoso.com", "name": "Boss", "timeZone": "Pacific Standard Time",
              "directReports": ["ana@contoso.com"], "jobTitle": "Director"},
             {"email": "ana@contoso.com", "name": "Ana", "manager": "boss@contoso.com",
              "timeZone": "GMT Standard Time", "aliases": ["a@contoso.com"]},
             {"email": "hr@contoso.com", "name": "Hal", "jobTitle": "HR Partner"}]
    rows = {r.email: r for r in directory.parse_csv(demo.directory_csv(users))}
    assert rows["boss@contoso.com"].time_zone == "America/Los_Angeles"
    assert rows["ana@contoso.com"].time_zone == "Europe/London"
    assert (rows["boss@contoso.com"].role.value, rows["ana@contoso.com"].role.value,
            rows["hr@contoso.com"].role.value) == ("manager", "employee", "hr_admin")
    assert rows["ana@contoso.com"].aliases == ("a@contoso.com",)
