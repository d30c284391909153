"""The click classes of every `passerelle` command, so that what click prints — the usage,
the help, its errors — is in the operator's language, chosen as `passerelle.language`
chooses it.

The help texts of our commands and options stay English in the source: each paragraph, its
whitespace folded, is a message id of the catalogue, translated when the help is shown. Click's
own words ("Usage:", "Error: No such option") are message ids of click, looked up in the same
catalogue: click calls `gettext` and `ngettext` by the names its modules bound at import from
the `gettext` module, which reads compiled catalogues chosen by the environment alone (no
French by default, no `.mo` here); `speak_click` points those names at our catalogue."""

from __future__ import annotations

import copy
import importlib
import inspect
from typing import Any

import click

from passerelle.language import say, translate, translate_plural

# Click's modules that put words on the screen through `_` and `ngettext`.
CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types")
# The help of `--help`, as a message id of ours (click words it when the option is first made,
# in the language of that moment).
HELP_OPTION_TEXT = "Show this message and exit."


def speak_click() -> None:
    """Let click say its own words through our catalogue (idempotent)."""
    for name in CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = translate  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = translate_plural  # type: ignore[attr-defined]


def help_paragraphs(text: str | None) -> list[str]:
    """The paragraphs of a help text as message ids: up to click's form feed, each paragraph's
    whitespace folded into single spaces."""
    if not text:
        return []
    body = inspect.cleandoc(text).partition("\f")[0]
    return [" ".join(part.split()) for part in body.split("\n\n") if part.strip()]


def help_text(text: str | None) -> str:
    """A help text in the operator's language."""
    return "\n\n".join(translate(paragraph) for paragraph in help_paragraphs(text))


def shorten(text: str, limit: int) -> str:
    """The first sentence of a help text's first paragraph, cut to `limit` characters (a
    period ends a sentence unless a lowercase word follows it, as click reads it)."""
    words = text.partition("\n\n")[0].split()
    for i, word in enumerate(words):
        if word.endswith(".") and (i == len(words) - 1 or not words[i + 1][0].islower()):
            words = words[: i + 1]
            break
    sentence = " ".join(words)
    if len(sentence) <= limit:
        return sentence
    return sentence[: limit - 3].rsplit(" ", 1)[0].rstrip(" ,;:") + "..."


class SpeakingFormatter(click.HelpFormatter):
    """Click's help formatter, with its section headings ("Options:") in the operator's
    typography (a non-breaking space before the colon in French)."""

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{say('%(heading)s:', heading=heading)}\n")


class SpeakingContext(click.Context):
    formatter_class = SpeakingFormatter


class Speaking:
    """What our commands and groups add to click's: help texts translated when shown."""

    help: str | None
    short_help: str | None
    context_class: type[click.Context] = SpeakingContext

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option: click.Option | None = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = HELP_OPTION_TEXT
        return option

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help:
            return help_text(self.short_help)
        return shorten(help_text(self.help), limit)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text = help_text(self.help)
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(text)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if isinstance(param, click.Argument):
                continue
            shown = copy.copy(param)  # the command's own option keeps its English id
            shown.help = help_text(param.help) or None
            record = shown.get_help_record(ctx)
            if record is not None:
                rows.append(record)
        if rows:
            with formatter.section(translate("Options")):
                formatter.write_dl(rows)


class SpeakingCommand(Speaking, click.Command):
    """A command whose help is shown in the operator's language."""


class SpeakingGroup(Speaking, click.Group):
    """A group whose help is shown in the operator's language, as its commands' and groups'."""

    command_class = SpeakingCommand
    group_class = type  # a group made from this one is of this class too

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        speak_click()
        return super().main(*args, **kwargs)
