"""What the order form tells a customer about each field and each order type, in their words.

providers.ordertypes keeps the protocol's own descriptions ("Comments list separated by \\r\\n or \\n"), which
the API documentation shows to developers; the order page shows these instead.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from providers.models import Service
from providers.ordertypes import (
    COMMENT_LIKES,
    COMMENT_REPLIES,
    CUSTOM_COMMENTS,
    CUSTOM_COMMENTS_PACKAGE,
    MENTIONS_CUSTOM_LIST,
    MENTIONS_USER_FOLLOWERS,
    PACKAGE,
    SUBSCRIPTIONS,
)

FIELD_HELP = {
    "link": _("The address of the post, video or profile to deliver to."),
    "quantity": _("How many to deliver, between the service's minimum and maximum."),
    "runs": _("How many times the quantity is delivered."),
    "interval": _("Minutes to wait between two deliveries."),
    "comments": _("One comment per line."),
    "usernames": _("One username per line."),
    "hashtags": _("One hashtag per line."),
    "hashtag": _("The hashtag whose users are mentioned."),
    "username": _("The account's username, without @."),
    "media": _("The address of the post whose likers are mentioned."),
    "answer_number": _("The number of the answer to vote for: 1 for the first."),
    "groups": _("One group per line."),
    "min": _("The least delivered to each new post."),
    "max": _("The most delivered to each new post."),
    "posts": _("How many new posts to deliver to; leave it empty for every new post."),
    "old_posts": _("How many of the latest existing posts to deliver to as well."),
    "delay": _("Minutes to wait after a new post before delivering."),
    "expiry": _("The last day, as day/month/year (31/12/2026); leave it empty for no end."),
}

# Where a field means something particular for one type.
TYPE_FIELD_HELP = {
    (MENTIONS_USER_FOLLOWERS, "username"): _("The account whose followers are mentioned."),
    (COMMENT_LIKES, "username"): _("The username of the comment's author."),
    (COMMENT_REPLIES, "username"): _("The username of the comment's author."),
    (COMMENT_REPLIES, "comments"): _("One reply per line."),
    (SUBSCRIPTIONS, "username"): _("The account whose new posts get the delivery."),
}

TYPE_NOTES = {
    PACKAGE: _("One package per order, at the price shown."),
    CUSTOM_COMMENTS: _("The quantity is the number of comments you write."),
    CUSTOM_COMMENTS_PACKAGE: _("One package with the comments you write, at the price shown."),
    MENTIONS_CUSTOM_LIST: _("The quantity is the number of usernames you list."),
    COMMENT_REPLIES: _("The quantity is the number of replies you write."),
    SUBSCRIPTIONS: _("Delivers between the least and the most you set to each new post of the account."),
}


def field_help(name: str, order_type: str) -> str:
    return TYPE_FIELD_HELP.get((order_type, name)) or FIELD_HELP.get(name, "")


def type_note(service: Service) -> str:
    return TYPE_NOTES.get(service.type, "")
