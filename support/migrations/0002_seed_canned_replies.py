"""A few ready answers for the most common questions; staff edit or add more in the admin."""

from django.db import migrations

CANNED_REPLIES = [
    ("Order in progress",
     "Your order is in progress: the provider is delivering it, and the status on the order's page follows "
     "their progress. Large orders can take a few days. We will write here if anything goes wrong."),
    ("Order pending",
     "Your order has been received and is waiting to start at the provider. It usually starts within a few "
     "hours; nothing is needed from you."),
    ("Refill requested",
     "We have asked the provider for a refill of your order. Refills usually start within 24-72 hours; you "
     "can follow it under Refills."),
    ("Canceled and refunded",
     "Your order has been canceled and what was not delivered has been refunded to your balance. You can see "
     "the refund under Transactions."),
    ("Payment credited",
     "Your payment has been credited to your balance. Thank you!"),
    ("Need the order ID",
     "Could you send us the ID of the order you are asking about? You can find it on the Orders page."),
    ("Link must be public",
     "The link of your order must point to a public profile or post while the order runs; the provider cannot "
     "deliver to a private or removed one. Please check the link and let us know."),
]


def seed(apps, schema_editor):
    CannedReply = apps.get_model("support", "CannedReply")
    for title, body in CANNED_REPLIES:
        CannedReply.objects.get_or_create(title=title, defaults={"body": body})


def unseed(apps, schema_editor):
    CannedReply = apps.get_model("support", "CannedReply")
    CannedReply.objects.filter(title__in=[title for title, _body in CANNED_REPLIES]).delete()


class Migration(migrations.Migration):

    dependencies = [("support", "0001_tickets")]

    operations = [migrations.RunPython(seed, unseed)]
