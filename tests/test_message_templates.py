"""The templates file: what tgwa sends outside the 24-hour window, and what each template says
in each language as registered with Meta."""
from __future__ import annotations

from pathlib import Path

import pytest

from app import message_templates
from app.message_templates import TemplatesError


def test_every_template_says_its_body_and_buttons_in_every_language_it_is_sent_in() -> None:
    templates = message_templates.load()
    for notice, template in templates.by_notice.items():
        for language in templates.languages:
            body, buttons = template.shown(language, [f"<{p}>" for p in template.parameters])
            assert "{{" not in body and all(f"<{p}>" in body for p in template.parameters), (notice, language)
            assert len(buttons) == template.quick_replies, (notice, language)
    assert templates.by_notice["schedule.revised"].shown("fr", ["PO-1", "3 déc.", "u"])[1] == (
        "Accepter", "Refuser", "Proposer date")


def test_one_list_of_quick_replies_serves_every_language(tmp_path: Path) -> None:
    source = message_templates.DEFAULT_FILE.read_text().replace(
        "    quick_replies:\n      en: [Answer]\n      de: [Antworten]\n      es: [Responder]\n      fr: [Répondre]\n"
        "      pt: [Responder]\n", "    quick_replies: [Reply]\n")
    path = tmp_path / "templates.yaml"
    path.write_text(source)
    template = message_templates.load(path).by_notice["exception.logged"]
    assert template.quick_replies == 1 and template.shown("de", ["a", "b", "c", "d"])[1] == ("Reply",)


def test_quick_replies_that_differ_in_number_between_languages_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(message_templates.DEFAULT_FILE.read_text().replace("de: [Antworten]", "de: [Antworten, Später]"))
    with pytest.raises(TemplatesError, match="exception.logged.quick_replies differ in number"):
        message_templates.load(path)
