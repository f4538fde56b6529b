"""The approved WhatsApp templates notifications use outside the 24-hour window (templates.yaml
beside this module, or TEMPLATES_FILE): their names, languages, parameter order, and the body and
quick replies registered in each language (what the sandbox shows of a template)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml

DEFAULT_FILE = Path(__file__).parent / "templates.yaml"
NOTICES = ("exception.logged", "schedule.revised", "alert.broadcast", "case.assigned", "case.unacknowledged",
           "document.uploaded", "document.requested", "milestone.reached", "onboarding.pending",
           "alert.unacknowledged", "comment.added", "handoff")


class TemplatesError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Template:
    name: str
    parameters: tuple[str, ...]
    quick_replies: int
    bodies: dict[str, str] = dataclasses.field(default_factory=dict)  # language -> body with {{1}}, {{2}}, ...
    replies: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # language -> button texts

    def shown(self, language: str, values: list[str]) -> tuple[str, tuple[str, ...]]:
        """The body filled with `values` and the quick replies, as a person reading `language` sees them."""
        body = self.bodies.get(language) or self.bodies.get("en") or " · ".join(values)
        filled = re.sub(r"\{\{(\d+)\}\}", lambda m: values[int(m.group(1)) - 1] if int(m.group(1)) <= len(values) else "",
                        body)
        return filled, self.replies.get(language) or self.replies.get("en") or ()


@dataclasses.dataclass(frozen=True)
class Templates:
    languages: dict[str, str]  # contact language -> Meta's language code
    by_notice: dict[str, Template]

    def language_code(self, language: str) -> str:
        return self.languages.get(language) or self.languages.get("en") or "en"

    def language_of(self, code: str) -> str:
        """The contact language a template was sent in, from Meta's language code."""
        return next((language for language, known in self.languages.items() if known == code), "en")

    def named(self, name: str) -> Template | None:
        return next((t for t in self.by_notice.values() if t.name == name), None)


def load(path: Path | None = None) -> Templates:
    source = path or DEFAULT_FILE
    try:
        data: Any = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplatesError(f"{source}: cannot be read ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
        raise TemplatesError(f"{source}: needs a 'templates' mapping")
    found: dict[str, Template] = {}
    shipped = _shipped() if path is not None else {}
    for notice in NOTICES:
        entry = data["templates"].get(notice, shipped.get(notice))  # a file from before a notice existed
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise TemplatesError(f"{source}: templates.{notice}.name is required")
        replies = _replies(source, notice, entry.get("quick_replies"))
        counts = {len(texts) for texts in replies.values()} or {0}
        if len(counts) > 1:
            raise TemplatesError(f"{source}: templates.{notice}.quick_replies differ in number between languages")
        bodies = entry.get("body") if isinstance(entry.get("body"), dict) else {}
        found[notice] = Template(entry["name"], tuple(entry.get("parameters") or ()), counts.pop(),
                                 {str(k): str(v) for k, v in bodies.items()}, replies)
    languages = data.get("languages") or {"en": "en"}
    return Templates({str(k): str(v) for k, v in languages.items()}, found)


def _shipped() -> dict[str, Any]:
    """The templates tgwa ships with: what a TEMPLATES_FILE written for an earlier version lacks."""
    return dict(yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))["templates"])


def _replies(source: Path, notice: str, given: Any) -> dict[str, tuple[str, ...]]:
    """Quick replies by language: a mapping of lists, or one list for every language (as "en")."""
    if given is None or isinstance(given, list):
        return {"en": tuple(str(t) for t in given or ())}
    if isinstance(given, dict) and all(isinstance(v, list) for v in given.values()):
        return {str(k): tuple(str(t) for t in v) for k, v in given.items()}
    raise TemplatesError(f"{source}: templates.{notice}.quick_replies must be a list, or lists by language")
