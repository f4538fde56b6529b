"""The directory file: phones in any notation, and every problem reported with its line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app import directory
from tests.conftest import FIXTURES


@pytest.mark.parametrize("raw,country,digits", [
    ("+49 151 2345 6789", None, "4915123456789"),
    ("0049 151 2345 6789", None, "4915123456789"),
    ("+49 (0)151 2345-6789", None, "4915123456789"),
    ("0151 23456789", "DE", "4915123456789"),
    ("(415) 555-0134", "US", "14155550134"),
    ("415.555.0134", "US", "14155550134"),
    ("+1-415-555-0134", "DE", "14155550134"),
    ("4915123456789", None, "4915123456789"),
    (4915123456789, None, "4915123456789"),
    ("+81 90-1234-5678", None, "819012345678"),
])
def test_phones_in_any_common_notation(raw, country, digits) -> None:  # type: ignore[no-untyped-def]
    assert directory.normalise_phone(raw, country) == digits


@pytest.mark.parametrize("raw", ["", "call me", "+12", "12", None, True, "+49 151 2345 6789 0000 1111"])
def test_things_that_are_not_phones(raw) -> None:  # type: ignore[no-untyped-def]
    assert directory.normalise_phone(raw) is None


def test_the_fixture_loads_with_people_by_number() -> None:
    loaded = directory.load(FIXTURES / "directory.yaml")
    jana = loaded.person("4915123456789")
    assert jana is not None and jana.name == "Jana Weber" and jana.partner_id == "ACME"
    assert loaded.person("14155550134").partner_id == "GLOBEX"
    assert loaded.person("447700900123").id == "u.smith"
    assert [s.id for s in loaded.group_members("support")] == ["u.smith", "r.patel"]
    assert loaded.person("999") is None


BROKEN = """\
partners:
  - id: ACME
    name: Acme
    country: DE
    contacts:
      - name: Jana
        phone: "+49 151 2345 6789"
        roles: [exceptions, sales]
        milestones: [teleported]
      - name: Copy
        phone: "0151 2345 6789"
        opt_in: maybe
  - id: ACME
    name: Again
    country: XX
staff:
  - id: u.smith
    name: Una
    phone: "not a phone"
groups:
  - id: support
    members: [u.smith, nobody]
extra: 1
"""


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(BROKEN)
    found = [(p.line, p.path) for p in directory.check(path)]
    assert found == [
        (8, "partners[0].contacts[0].roles[1]"),
        (9, "partners[0].contacts[0].milestones[0]"),
        (11, "partners[0].contacts[1].phone"),
        (12, "partners[0].contacts[1].opt_in"),
        (13, "partners[1].id"),
        (15, "partners[1].country"),
        (19, "staff[0].phone"),
        (22, "groups[0].members[1]"),
        (23, "extra"),
    ]
    messages = {p.path: p.message for p in directory.check(path)}
    assert messages["partners[0].contacts[1].phone"] == "+4915123456789 is also the phone of partners[0].contacts[0]"
    assert "unknown role 'sales'" in messages["partners[0].contacts[0].roles[1]"]
    with pytest.raises(directory.DirectoryError):
        directory.load(path)


def test_a_trading_address_names_one_partner(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text("partners:\n  - {id: A, name: A, country: DE, trading_addresses: [\"ZZ:ONE\"]}\n"
                    "  - {id: B, name: B, country: DE, trading_addresses: \"zz:one\"}\n")
    messages = {p.path: p.message for p in directory.check(path)}
    assert messages == {"partners[1].trading_addresses": "must be a list of words"}
    path.write_text(path.read_text().replace('\"zz:one\"}', '[\"zz:one\"]}'))
    assert [(p.path, p.message) for p in directory.check(path)] == [
        ("partners[1].trading_addresses[0]", "'zz:one' is also a trading address of A")]
    path.write_text(path.read_text().replace('"zz:one"', '"ZZ:TWO"'))
    loaded = directory.load(path)
    assert loaded.partner_trading_as(("SOMEONE", "zz:two")).id == "B" and loaded.partner_trading_as(("X",)) is None


@pytest.mark.parametrize("text,expected", [
    ("partners: [\n", "is not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
])
def test_unreadable_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(text)
    assert expected in str(directory.check(path)[0])
    assert "cannot be read" in str(directory.check(tmp_path / "missing.yaml")[0])


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=60)


def test_directory_check_command(tmp_path: Path) -> None:
    good = run_cli("directory", "check", str(FIXTURES / "directory.yaml"))
    assert good.returncode == 0 and "OK (2 partners, 3 contacts, 2 staff, 1 groups)" in good.stdout
    path = tmp_path / "bad.yaml"
    path.write_text(BROKEN)
    bad = run_cli("directory", "check", str(path))
    assert bad.returncode == 1
    lines = bad.stdout.strip().splitlines()
    assert len(lines) == 9 and lines[0].startswith(f"{path}:line 8: partners[0].contacts[0].roles[1]:")
    assert "Traceback" not in bad.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text(text)
    return path


NORWAY = """partners:
  - id: 0012
    name: Fjord Freight AS
    country: NO
    contacts:
      - {name: Ola Nordmann, phone: "+47 412 34 567", language: no, opt_in: true, roles: [exceptions]}
staff: []
groups: []
"""


def test_codes_and_ids_stay_the_text_that_was_written(tmp_path: Path) -> None:
    """YAML 1.1 reads NO and no as false and 0012 as the number 10; a directory means the text."""
    loaded = directory.load(write(tmp_path, NORWAY))
    [partner] = loaded.partners.values()
    assert (partner.id, partner.country) == ("0012", "NO")
    assert partner.contacts[0].language == "no" and partner.contacts[0].opt_in is True


def test_an_alias_bomb_is_refused_in_one_line_at_once(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    path = write(tmp_path, "\n".join(lines + ["partners: *a9", "staff: []", "groups: []"]) + "\n")
    [problem] = directory.check(path)  # 9**10 values if expanded: minutes and gigabytes
    assert problem.line == 1 and "aliases expand it to" in problem.message and "alias bomb" in problem.message


def test_a_recursive_alias_is_one_problem_not_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "app.cli", "directory", "check",
                           str(write(tmp_path, "partners: &p [*p]\nstaff: []\ngroups: []\n"))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout.strip().endswith(": an alias refers to a value that contains it (recursive)")
    assert ":line 1: " in done.stdout


def test_anchors_and_merge_keys_people_really_use_still_work(tmp_path: Path) -> None:
    text = """defaults: &contact {roles: [exceptions, documents], language: de, opt_in: true}
partners:
  - id: ACME
    name: Acme
    country: DE
    contacts:
      - {<<: *contact, name: Jana Weber, phone: "+49 151 2345 6789"}
      - {<<: *contact, name: Otto Keller, phone: "+49 151 1111 2222", opt_in: false}
staff: []
groups: []
"""
    problems = directory.check(write(tmp_path, text))
    assert [p.message for p in problems] == ["unknown section (known: partners, staff, groups)"]
    assert problems[0].line == 1
