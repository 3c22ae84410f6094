from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate


async def test_plugin_fixtures_talk_to_each_other(
    kommunicate_fake: FakeKommunicate, kommunicate_session: KommunicateSession
) -> None:
    chat = await kommunicate_session.conversations.create(["u"])
    await kommunicate_session.messages.send(chat, "hello")
    assert [m.text for m in kommunicate_fake.messages(chat.id)] == ["hello"]
    assert kommunicate_session.config.base_url == kommunicate_fake.url
