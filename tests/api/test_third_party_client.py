"""A v2 client written for other panels (`safesmm` from PyPI) works against ours unchanged, over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from safesmm import SafeSMM, SafeSMMError

from orders.models import CancelRequest, Order, Stage, Status
from tests.factories import CustomerFactory, ServiceFactory


@pytest.mark.django_db(transaction=True)
def test_safesmm_client_against_a_live_panel(live_server, enqueued):
    # given
    customer = CustomerFactory(funds="10")
    service = ServiceFactory(name="Followers", rate=Decimal("2"), min=10, max=5000, refill=True, cancel=True)
    client = SafeSMM(customer.raw_api_key, api_url=live_server.url + "/api/v2", timeout=10)

    # when / then: services and balance
    services = client.services()
    assert [(s["service"], s["name"], s["rate"], s["min"], s["max"]) for s in services] == [
        (service.pk, "Followers", "2.00", "10", "5000")]
    assert client.balance() == {"balance": "10.00", "currency": "USD"}

    # when / then: an order, its status, and the charge on the balance
    order_id = client.add_order(service.pk, "https://instagram.com/p/abc", 500)["order"]
    assert isinstance(order_id, int)
    assert enqueued == [order_id]
    assert client.status(order_id) == {"charge": "1.00", "start_count": "0", "status": "Pending", "remains": "500",
                                       "currency": "USD"}
    assert client.multi_status([order_id, 999999]) == {
        str(order_id): client.status(order_id), "999999": {"error": "Incorrect order ID"}}
    assert client.balance()["balance"] == "9.00"

    # when / then: a refill once the order is completed upstream
    Order.objects.filter(pk=order_id).update(status=Status.COMPLETED, upstream_id="u1", stage=Stage.FINAL, remains=0)
    refill = client.refill(order_id)
    assert refill["refill"].isdigit()

    # when / then: errors surface as the client's own exception, with our words
    with pytest.raises(SafeSMMError, match="^Quantity less than minimal 10$"):
        client.add_order(service.pk, "https://instagram.com/p/abc", 5)
    with pytest.raises(SafeSMMError, match="^Invalid API key$"):
        SafeSMM("0" * 32, api_url=live_server.url + "/api/v2").balance()

    # when / then: cancel (list form), refused for a finished order with a reason
    assert client.cancel(order_id) == [{"order": order_id, "cancel": {"error": "The order is already finished"}}]
    assert not CancelRequest.objects.exists()
