"""Words that reach the pages from data (statuses, ledger kinds, order types, the types table's field
labels) rather than from a template, listed so that `makemessages` puts them in the catalogue.

Templates translate them at display time with `{% translate value %}`.
"""

from django.utils.translation import gettext_noop as _

STATUS_WORDS = (
    _("Pending"), _("In progress"), _("Processing"), _("Completed"), _("Partial"), _("Canceled"),
    _("Active"), _("Paused"), _("Expired"), _("Rejected"), _("Approved"),
)

LEDGER_WORDS = (
    _("Deposit"), _("Charge"), _("Refund"), _("Adjustment"),
    _("Order"), _("Manual"), _("Payment request"), _("Failed send"), _("Subscription ended"), _("Payment"),
    _("Deposit bonus"), _("Not confirmed by the provider"),
)

DEPOSIT_WORDS = (
    _("Created"), _("Waiting for payment"), _("Paid"), _("Failed"), _("Held for review"),
)

ORDER_TYPE_WORDS = (
    _("Default"), _("Package"), _("Custom Comments"), _("Custom Comments Package"), _("Mentions with Hashtags"),
    _("Mentions Custom List"), _("Mentions Hashtag"), _("Mentions User Followers"), _("Mentions Media Likers"),
    _("Comment Likes"), _("Comment Replies"), _("Poll"), _("Invites from Groups"), _("Subscriptions"),
)

FIELD_WORDS = (
    _("Link"), _("Link to page"), _("Quantity"), _("Needed quantity"), _("Runs"),
    _("Runs to deliver (drip-feed)"), _("Interval"), _("Interval in minutes (drip-feed)"), _("Comments"),
    _("Comments list separated by \\r\\n or \\n"),
    _("Usernames"), _("Usernames list separated by \\r\\n or \\n"), _("Hashtags"),
    _("Hashtags list separated by \\r\\n or \\n"), _("Hashtag"), _("Hashtag to scrape usernames from"),
    _("Username"), _("Media URL"), _("Media URL to scrape likers from"), _("Answer number"),
    _("Answer number of the poll"), _("Groups"), _("Groups list separated by \\r\\n or \\n"), _("Quantity min"),
    _("Quantity max"), _("Posts"), _("Number of new (future) posts to deliver to; unlimited when empty"),
    _("Old posts"), _("Number of existing posts to deliver to"), _("Delay"), _("Delay in minutes"),
    _("Expiry"), _("Expiry date, d/m/Y"),
)

# Refusals and notes the orders app writes in the API's English; the pages translate them when shown.
REQUEST_WORDS = (
    _("Cancel is not available for this service"), _("The order is already finished"),
    _("Cancellation request was sent earlier"), _("The order is being sent to the provider; try again in a minute"),
    _("Incorrect order ID"), _("No answer for this order"),
)
