"""A message a person reads later: an English message id and its values, kept apart.

What a job or a service records for people to read (a partner's sync log, a sending that
failed, what a re-check saw) is stored as its message id and values, and put into words only
when it is shown, in the reader's language. Rows recorded before messages were stored this way
hold an English sentence: they come back as a message marked `before_translation`, shown as
they are. The translation function is passed in, so the core needs no catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from passerelle.core.errors import PasserelleError

Translate = Callable[[str], str]
UNEXPECTED = "unexpected error: %(error)s"
# A whole number said with its thousands grouped as the reader writes them: the message made
# by `grouped`, stored as any other; its separator is the catalogue's translation of ",".
NUMBER = "%(number)s"
THOUSANDS_SEPARATOR = ","


@dataclass(frozen=True, slots=True)
class Message:
    """An English message id and its values: a number, a text put in as it is, or another
    message (translated in its turn)."""

    template: str
    params: Mapping[str, str | int | float | bool | Message] = field(default_factory=dict)
    before_translation: bool = False  # an English sentence recorded before message ids

    def __str__(self) -> str:
        return self.english()

    def english(self) -> str:
        """The message in English (the message ids are English): for logs and the CLI's
        machine-readable lines."""
        return self.render(lambda text: text)

    def render(self, translate: Translate) -> str:
        """The message in the language of `translate` (a catalogue's gettext); its English
        words when the translation does not fit its values."""
        if self.before_translation:
            return self.template
        if self.template == NUMBER and _is_whole(number := self.params.get("number")):
            return format(number, ",").replace(",", translate(THOUSANDS_SEPARATOR))
        values = {
            name: value.render(translate) if isinstance(value, Message) else value
            for name, value in self.params.items()
        }
        if not values:
            return translate(self.template)
        try:
            return translate(self.template) % values
        except (KeyError, ValueError, TypeError):
            try:
                return self.template % values
            except (KeyError, ValueError, TypeError):
                return self.template

    def as_dict(self) -> dict[str, Any]:
        """The stored form: `{"message": id, "values": {...}}` (values that are messages
        nested in the same form)."""
        values = {
            name: value.as_dict() if isinstance(value, Message) else value
            for name, value in self.params.items()
        }
        return {"message": self.template, "values": values}


def grouped(number: int) -> Message:
    """A whole number as a message's value, its thousands grouped in the reader's language
    (1,174,405,193 in English, 1 174 405 193 in French, a narrow no-break space between them),
    rather than a text formatted once in English."""
    return Message(NUMBER, {"number": number})


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def message_of(error: BaseException) -> Message:
    """What an error says, as a message: its message id and values for the product's errors,
    the error's own text (not translated) put in a generic message for any other."""
    if isinstance(error, PasserelleError) and error.template:
        return Message(error.template, {k: _value(v) for k, v in error.params.items()})
    return Message(UNEXPECTED, {"error": str(error) or type(error).__name__})


def joined(messages: Sequence[Message]) -> Message:
    """Several messages said one after the other (`first; then`, in the reader's typography)."""
    if not messages:
        return Message("no reason given")
    found = messages[0]
    for then in messages[1:]:
        found = Message("%(first)s; %(then)s", {"first": found, "then": then})
    return found


def _value(value: object) -> str | int | float | bool | Message:
    if isinstance(value, Message):
        return value
    if isinstance(value, PasserelleError):
        return message_of(value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def dump_message(message: Message) -> str:
    """The JSON stored in a `*_json` column."""
    return json.dumps(message.as_dict(), ensure_ascii=False, sort_keys=True)


def is_message_dict(value: object) -> bool:
    """Whether a recorded value (an audit event's detail) is a stored message."""
    return (
        isinstance(value, dict)
        and set(value) == {"message", "values"}
        and isinstance(value["message"], str)
        and isinstance(value["values"], dict)
    )


def message_from_dict(value: Mapping[str, Any]) -> Message:
    params: dict[str, str | int | float | bool | Message] = {}
    for name, item in dict(value.get("values") or {}).items():
        if is_message_dict(item):
            params[str(name)] = message_from_dict(item)
        elif isinstance(item, bool | int | float | str):
            params[str(name)] = item
        else:
            params[str(name)] = json.dumps(item, ensure_ascii=False)
    return Message(str(value.get("message", "")), params)


def load_message(stored: str | None, english: str | None) -> Message | None:
    """A message from its stored JSON; from the English sentence recorded before message ids
    when there is no JSON (marked as such); None when neither was recorded."""
    if stored:
        try:
            parsed = json.loads(stored)
        except ValueError:
            parsed = None
        if is_message_dict(parsed):
            return message_from_dict(parsed)
    if english is None:
        return None
    return Message(english, before_translation=True)
