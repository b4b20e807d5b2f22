"""The one table of v2 order types and their fields.

The API's `add`, the browser's order form, the API docs page, the upstream client and the simulator
all read this table, so what a type needs cannot drift between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT = "Default"
PACKAGE = "Package"
CUSTOM_COMMENTS = "Custom Comments"
CUSTOM_COMMENTS_PACKAGE = "Custom Comments Package"
MENTIONS_WITH_HASHTAGS = "Mentions with Hashtags"
MENTIONS_CUSTOM_LIST = "Mentions Custom List"
MENTIONS_HASHTAG = "Mentions Hashtag"
MENTIONS_USER_FOLLOWERS = "Mentions User Followers"
MENTIONS_MEDIA_LIKERS = "Mentions Media Likers"
COMMENT_LIKES = "Comment Likes"
COMMENT_REPLIES = "Comment Replies"
POLL = "Poll"
INVITES_FROM_GROUPS = "Invites from Groups"
SUBSCRIPTIONS = "Subscriptions"

# Minutes a subscription may wait before delivering on a new post (the union of the documents' lists).
SUBSCRIPTION_DELAYS = (0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420,
                       480, 540, 600)

# Fields that carry one item per line; for a type without `quantity`, their line count is the quantity.
LIST_FIELDS = ("comments", "usernames", "hashtags", "groups")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str  # "url", "int", "text", "lines", "choice", "date"
    help: str = ""
    max_length: int = 0


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("link", "Link", "url", "Link to page", 2000),
        FieldSpec("quantity", "Quantity", "int", "Needed quantity"),
        FieldSpec("runs", "Runs", "int", "Runs to deliver (drip-feed)"),
        FieldSpec("interval", "Interval", "int", "Interval in minutes (drip-feed)"),
        FieldSpec("comments", "Comments", "lines", "Comments list separated by \\r\\n or \\n", 100_000),
        FieldSpec("usernames", "Usernames", "lines", "Usernames list separated by \\r\\n or \\n", 100_000),
        FieldSpec("hashtags", "Hashtags", "lines", "Hashtags list separated by \\r\\n or \\n", 100_000),
        FieldSpec("hashtag", "Hashtag", "text", "Hashtag to scrape usernames from", 300),
        FieldSpec("username", "Username", "text", "Username", 300),
        FieldSpec("media", "Media URL", "url", "Media URL to scrape likers from", 2000),
        FieldSpec("answer_number", "Answer number", "text", "Answer number of the poll", 30),
        FieldSpec("groups", "Groups", "lines", "Groups list separated by \\r\\n or \\n", 100_000),
        FieldSpec("min", "Quantity min", "int", "Quantity min"),
        FieldSpec("max", "Quantity max", "int", "Quantity max"),
        FieldSpec("posts", "Posts", "int", "Number of new (future) posts to deliver to; unlimited when empty"),
        FieldSpec("old_posts", "Old posts", "int", "Number of existing posts to deliver to"),
        FieldSpec("delay", "Delay", "choice", "Delay in minutes"),
        FieldSpec("expiry", "Expiry", "date", "Expiry date, d/m/Y", 10),
    )
}


@dataclass(frozen=True)
class OrderType:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # Where there is no `quantity` field: the list field whose line count is the quantity,
    # or None for packages (one package is the unit priced at the rate).
    quantity_from: str | None = None
    per_package: bool = False
    notes: str = ""
    all_fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_fields", self.required + self.optional)

    @property
    def has_quantity(self) -> bool:
        return "quantity" in self.required


ORDER_TYPES: dict[str, OrderType] = {
    t.name: t
    for t in (
        OrderType(DEFAULT, ("link", "quantity"), ("runs", "interval"),
                  notes="Drip-feed: `runs` deliveries of `quantity`, every `interval` minutes."),
        OrderType(PACKAGE, ("link",), per_package=True, notes="One package; charged the rate per package."),
        OrderType(CUSTOM_COMMENTS, ("link", "comments"), quantity_from="comments",
                  notes="Quantity is the number of comments."),
        OrderType(CUSTOM_COMMENTS_PACKAGE, ("link", "comments"), per_package=True,
                  notes="One package of the given comments; charged the rate per package."),
        OrderType(MENTIONS_WITH_HASHTAGS, ("link", "quantity", "usernames", "hashtags")),
        OrderType(MENTIONS_CUSTOM_LIST, ("link", "usernames"), quantity_from="usernames",
                  notes="Quantity is the number of usernames."),
        OrderType(MENTIONS_HASHTAG, ("link", "quantity", "hashtag")),
        OrderType(MENTIONS_USER_FOLLOWERS, ("link", "quantity", "username"),
                  notes="`username`: the account whose followers are mentioned."),
        OrderType(MENTIONS_MEDIA_LIKERS, ("link", "quantity", "media"),
                  notes="`media`: URL of the media whose likers are mentioned."),
        OrderType(COMMENT_LIKES, ("link", "quantity", "username"), notes="`username`: owner of the comment."),
        OrderType(COMMENT_REPLIES, ("link", "username", "comments"), quantity_from="comments",
                  notes="Quantity is the number of replies."),
        OrderType(POLL, ("link", "quantity", "answer_number")),
        OrderType(INVITES_FROM_GROUPS, ("link", "quantity", "groups")),
        OrderType(SUBSCRIPTIONS, ("username", "min", "max", "delay"), ("posts", "old_posts", "expiry"),
                  notes="Delivers `min`..`max` to each new post of `username`."),
    )
}

TYPE_CHOICES = [(name, name) for name in ORDER_TYPES]


def split_lines(value: str) -> list[str]:
    """Items of a list field: one per line (\\n or \\r\\n), blank lines dropped."""
    return [line.strip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
