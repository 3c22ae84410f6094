"""Images and videos (templates 9 and 14)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import InvalidRequestError
from .._validate import check_text
from ._buttons import template
from ._checks import check_items, check_url
from ._message import RichMessage, TemplateId

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Image", "Video", "images", "video"]


@dataclass(frozen=True, slots=True)
class Image:
    """One picture of `images`.

    Attributes:
        url: the image's absolute http(s) URL.
        caption: text under it.
    """

    url: str
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class Video:
    """The video of `video`.

    Attributes:
        url: a video file's URL, or a YouTube embed URL with `youtube=True`.
        caption: text under it.
        youtube: `url` is a YouTube embed (played in an iframe).
    """

    url: str
    caption: str | None = None
    youtube: bool = False


def images(text: str, pictures: Iterable[Image | str]) -> RichMessage:
    """One or more images (template 9); a str is an image URL without caption."""
    payload: list[dict[str, Any]] = []
    for picture in check_items(pictures, "images"):
        image = Image(picture) if isinstance(picture, str) else picture
        if not isinstance(image, Image):
            raise InvalidRequestError(f"an image is an Image or a URL, not {image!r}")
        item: dict[str, Any] = {}
        if image.caption is not None:
            item["caption"] = check_text(image.caption, "caption")
        item["url"] = check_url(image.url, "image url")
        payload.append(item)
    return template(text, TemplateId.IMAGE, payload)


def video(text: str, videos: Iterable[Video | str] | Video | str) -> RichMessage:
    """One or more videos (template 14); the widget plays files and embeds YouTube."""
    items = (
        [videos] if isinstance(videos, Video | str) else check_items(videos, "videos")
    )
    payload: list[dict[str, Any]] = []
    for entry in items:
        clip = Video(entry) if isinstance(entry, str) else entry
        if not isinstance(clip, Video):
            raise InvalidRequestError(f"a video is a Video or a URL, not {clip!r}")
        item: dict[str, Any] = {"url": check_url(clip.url, "video url")}
        if clip.youtube:
            item["source"] = "youtube"
        if clip.caption is not None:
            item["caption"] = check_text(clip.caption, "caption")
        payload.append(item)
    return template(text, TemplateId.VIDEO, payload)
