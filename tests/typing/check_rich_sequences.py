"""Static checks (mypy and pyright, both strict): the rich builders' stored
sequences take a list as well as a tuple (nothing here runs)."""

from __future__ import annotations

from kommunicate_async.rich import (
    Button,
    Card,
    Choice,
    Link,
    LinkButton,
    Options,
    QuickReply,
)


def cards() -> list[Card]:
    buttons: list[Button | LinkButton] = [
        Button("Buy", Link("https://shop.example/1")),
        LinkButton("More", "https://shop.example"),
    ]
    return [
        Card("Shirt", buttons=buttons),
        Card("Hat", buttons=[Button("Ask", QuickReply("Ask about the hat"))]),
        Card("Socks", buttons=(LinkButton("See", "https://shop.example/3"),)),
    ]


def options() -> Options:
    return Options("radio", "Size", options=["S", Choice("M", selected=True)])
