"""The approved WhatsApp templates notifications use outside the 24-hour window (templates.yaml
beside this module, or TEMPLATES_FILE): their names, languages and parameter order."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

DEFAULT_FILE = Path(__file__).parent / "templates.yaml"
NOTICES = ("exception.logged", "schedule.revised", "alert.broadcast", "case.assigned", "case.unacknowledged",
           "document.uploaded", "document.requested", "milestone.reached", "onboarding.pending",
           "alert.unacknowledged")


class TemplatesError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Template:
    name: str
    parameters: tuple[str, ...]
    quick_replies: int


@dataclasses.dataclass(frozen=True)
class Templates:
    languages: dict[str, str]  # contact language -> Meta's language code
    by_notice: dict[str, Template]

    def language_code(self, language: str) -> str:
        return self.languages.get(language) or self.languages.get("en") or "en"


def load(path: Path | None = None) -> Templates:
    source = path or DEFAULT_FILE
    try:
        data: Any = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplatesError(f"{source}: cannot be read ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
        raise TemplatesError(f"{source}: needs a 'templates' mapping")
    found: dict[str, Template] = {}
    for notice in NOTICES:
        entry = data["templates"].get(notice)
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise TemplatesError(f"{source}: templates.{notice}.name is required")
        found[notice] = Template(entry["name"], tuple(entry.get("parameters") or ()),
                                 len(entry.get("quick_replies") or ()))
    languages = data.get("languages") or {"en": "en"}
    return Templates({str(k): str(v) for k, v in languages.items()}, found)
