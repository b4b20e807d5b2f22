"""The upstream simulator as pytest fixtures, for every test directory (see tests/conftest.py)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from providers.client import close_sessions
from providers.simulator import Simulator

_keys = itertools.count(1)


@pytest.fixture
def simulator():
    """A fresh upstream panel on a free loopback port. Time moves only by `simulator.advance(seconds)`
    (speed 0), so every order's progress in a test is decided by the test and the seed, not the clock."""
    sim = Simulator(speed=0, seed=1234)
    sim.start()
    yield sim
    sim.stop()
    close_sessions()


@pytest.fixture
def simulator_provider(db, simulator):
    """A Provider pointing at the simulator with its own API key (balance 1000)."""
    from tests.factories import ProviderFactory

    key = f"sim-key-{next(_keys)}-secret"
    simulator.add_key(key, Decimal("1000"))
    return ProviderFactory(api_url=simulator.url, api_key=key, timeout_seconds=Decimal("5"))


def sample_fields(service) -> dict[str, str]:
    """Valid v2 fields for an order of `service` (a SimService), `quantity` at the service's minimum."""
    from providers import ordertypes as ot

    lines = "\n".join(f"item {n}" for n in range(max(service.min, 1)))
    quantity = str(service.min)
    by_type = {
        ot.DEFAULT: {"link": "https://instagram.com/p/abc", "quantity": quantity},
        ot.PACKAGE: {"link": "https://instagram.com/acme"},
        ot.CUSTOM_COMMENTS: {"link": "https://instagram.com/p/abc", "comments": lines},
        ot.CUSTOM_COMMENTS_PACKAGE: {"link": "https://instagram.com/p/abc", "comments": "nice\r\ngreat"},
        ot.MENTIONS_WITH_HASHTAGS: {"link": "https://instagram.com/p/abc", "quantity": quantity,
                                    "usernames": "alice\nbob", "hashtags": "#sun\n#sea"},
        ot.MENTIONS_CUSTOM_LIST: {"link": "https://instagram.com/p/abc", "usernames": lines},
        ot.MENTIONS_HASHTAG: {"link": "https://instagram.com/p/abc", "quantity": quantity, "hashtag": "#sun"},
        ot.MENTIONS_USER_FOLLOWERS: {"link": "https://instagram.com/p/abc", "quantity": quantity,
                                     "username": "natgeo"},
        ot.MENTIONS_MEDIA_LIKERS: {"link": "https://instagram.com/p/abc", "quantity": quantity,
                                   "media": "https://instagram.com/p/xyz"},
        ot.COMMENT_LIKES: {"link": "https://instagram.com/p/abc", "quantity": quantity, "username": "alice"},
        ot.COMMENT_REPLIES: {"link": "https://instagram.com/p/abc", "username": "alice", "comments": lines},
        ot.POLL: {"link": "https://t.me/channel/12", "quantity": quantity, "answer_number": "2"},
        ot.INVITES_FROM_GROUPS: {"link": "https://t.me/mygroup", "quantity": quantity, "groups": "t.me/a\nt.me/b"},
        ot.SUBSCRIPTIONS: {"username": "natgeo", "min": str(service.min), "max": str(service.min * 2),
                           "delay": "30", "posts": "5"},
    }
    return dict(by_type[service.type])
