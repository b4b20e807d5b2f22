"""The simulated panel's service catalogue: generated deterministically from a seed, mutable for sync tests."""

from __future__ import annotations

import builtins
import random
import threading
from dataclasses import dataclass, replace
from decimal import Decimal

from providers import ordertypes as ot


@dataclass(frozen=True)
class SimService:
    service_id: int
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool


@dataclass(frozen=True)
class _Kind:
    category: str
    type: str
    rate: tuple[float, float]  # per 1000 (per package for package types)
    mins: tuple[int, ...]
    maxes: tuple[int, ...]
    refill: float  # share of services with refill
    cancel: float
    dripfeed: float


def _k(category, type_=ot.DEFAULT, rate=(0.5, 5.0), mins=(10, 50, 100), maxes=(10_000, 50_000, 100_000),
       refill=0.5, cancel=0.6, dripfeed=0.0) -> _Kind:
    return _Kind(category, type_, rate, mins, maxes, refill, cancel, dripfeed)


_LIST_MINS = (1, 5, 10)
_LIST_MAXES = (100, 500, 1000)

# One row per category; every one of the 14 order types appears at least once.
KINDS: tuple[_Kind, ...] = (
    _k("Instagram Followers [Real]", rate=(1.5, 9.0), refill=0.8, dripfeed=0.5),
    _k("Instagram Followers [Bots]", rate=(0.3, 1.5), refill=0.2, dripfeed=0.5),
    _k("Instagram Followers [Refill 30 Days]", rate=(1.0, 4.0), refill=1.0, dripfeed=0.3),
    _k("Instagram Likes", rate=(0.1, 1.2), dripfeed=0.6),
    _k("Instagram Likes [Power]", rate=(0.8, 3.0), dripfeed=0.4),
    _k("Instagram Views", rate=(0.01, 0.2), mins=(100, 500), maxes=(1_000_000, 10_000_000), dripfeed=0.7),
    _k("Instagram Story Views", rate=(0.05, 0.5), mins=(100,), maxes=(100_000,)),
    _k("Instagram Reels Views", rate=(0.02, 0.3), mins=(100, 500), maxes=(5_000_000,), dripfeed=0.5),
    _k("Instagram Saves", rate=(0.05, 0.6)),
    _k("Instagram Impressions", rate=(0.02, 0.3), mins=(100,), maxes=(1_000_000,)),
    _k("Instagram Custom Comments", ot.CUSTOM_COMMENTS, (5.0, 40.0), _LIST_MINS, _LIST_MAXES, 0.1, 0.3),
    _k("Instagram Comments Packages", ot.CUSTOM_COMMENTS_PACKAGE, (1.0, 15.0), (1,), (1,), 0.0, 0.0),
    _k("Instagram Mentions [Hashtags]", ot.MENTIONS_WITH_HASHTAGS, (2.0, 12.0), (100, 500), (50_000,), 0.0, 0.2),
    _k("Instagram Mentions [Custom List]", ot.MENTIONS_CUSTOM_LIST, (2.0, 12.0), _LIST_MINS, _LIST_MAXES, 0.0, 0.2),
    _k("Instagram Mentions [Hashtag Scrape]", ot.MENTIONS_HASHTAG, (2.0, 10.0), (100, 500), (50_000,), 0.0, 0.2),
    _k("Instagram Mentions [User Followers]", ot.MENTIONS_USER_FOLLOWERS, (2.0, 10.0), (100, 500), (50_000,),
       0.0, 0.2),
    _k("Instagram Mentions [Media Likers]", ot.MENTIONS_MEDIA_LIKERS, (2.0, 10.0), (100, 500), (50_000,), 0.0, 0.2),
    _k("Instagram Comment Likes", ot.COMMENT_LIKES, (1.0, 6.0), (20, 50), (10_000, 20_000), 0.2, 0.4),
    _k("Instagram Comment Replies", ot.COMMENT_REPLIES, (8.0, 40.0), _LIST_MINS, _LIST_MAXES, 0.0, 0.2),
    _k("Instagram Auto Likes [Subscriptions]", ot.SUBSCRIPTIONS, (0.2, 2.0), (20, 50, 100), (10_000, 50_000),
       0.0, 1.0),
    _k("Instagram Auto Views [Subscriptions]", ot.SUBSCRIPTIONS, (0.02, 0.4), (100, 500), (100_000,), 0.0, 1.0),
    _k("Instagram Packages", ot.PACKAGE, (2.0, 60.0), (1,), (1,), 0.0, 0.0),
    _k("YouTube Views", rate=(0.8, 4.0), mins=(100, 500, 1000), maxes=(1_000_000, 10_000_000), dripfeed=0.3),
    _k("YouTube Likes", rate=(1.0, 6.0), refill=0.7),
    _k("YouTube Subscribers", rate=(8.0, 40.0), mins=(50, 100), maxes=(10_000, 100_000), refill=0.9),
    _k("YouTube Custom Comments", ot.CUSTOM_COMMENTS, (10.0, 60.0), _LIST_MINS, _LIST_MAXES, 0.0, 0.3),
    _k("YouTube Comment Likes", ot.COMMENT_LIKES, (2.0, 10.0), (20, 50), (10_000,), 0.3, 0.4),
    _k("YouTube Watch Time", rate=(10.0, 80.0), mins=(100, 500), maxes=(4_000, 20_000), refill=0.6),
    _k("YouTube Shorts Views", rate=(0.3, 2.0), mins=(100, 500), maxes=(1_000_000,), dripfeed=0.4),
    _k("YouTube Live Stream Views", rate=(1.0, 10.0), mins=(50, 100), maxes=(20_000,), cancel=0.2),
    _k("TikTok Followers", rate=(1.0, 8.0), refill=0.6, dripfeed=0.4),
    _k("TikTok Likes", rate=(0.1, 1.5), dripfeed=0.5),
    _k("TikTok Views", rate=(0.005, 0.1), mins=(100, 1000), maxes=(10_000_000, 100_000_000), dripfeed=0.6),
    _k("TikTok Shares", rate=(0.1, 1.0)),
    _k("TikTok Custom Comments", ot.CUSTOM_COMMENTS, (5.0, 30.0), _LIST_MINS, _LIST_MAXES, 0.0, 0.3),
    _k("TikTok Live Views", rate=(2.0, 15.0), mins=(50, 100), maxes=(10_000,), cancel=0.2),
    _k("Facebook Page Likes", rate=(1.5, 9.0), refill=0.7),
    _k("Facebook Post Likes", rate=(0.5, 4.0), dripfeed=0.4),
    _k("Facebook Followers", rate=(1.0, 7.0), refill=0.6),
    _k("Facebook Video Views", rate=(0.1, 1.5), mins=(100, 500), maxes=(1_000_000,), dripfeed=0.4),
    _k("Facebook Group Members", rate=(2.0, 12.0), refill=0.4),
    _k("Facebook Poll Votes", ot.POLL, (5.0, 25.0), (20, 50), (5_000, 10_000), 0.0, 0.3),
    _k("Twitter Followers", rate=(2.0, 15.0), refill=0.6),
    _k("Twitter Likes", rate=(0.5, 5.0), dripfeed=0.3),
    _k("Twitter Retweets", rate=(0.8, 6.0), dripfeed=0.3),
    _k("Twitter Views", rate=(0.01, 0.2), mins=(100, 1000), maxes=(10_000_000,)),
    _k("Twitter Poll Votes", ot.POLL, (4.0, 20.0), (20, 50), (10_000, 50_000), 0.0, 0.3),
    _k("Twitter Mentions", ot.MENTIONS_CUSTOM_LIST, (3.0, 15.0), _LIST_MINS, _LIST_MAXES, 0.0, 0.2),
    _k("Telegram Channel Members", rate=(0.5, 6.0), refill=0.6, dripfeed=0.3),
    _k("Telegram Post Views", rate=(0.01, 0.3), mins=(100, 500), maxes=(1_000_000,), dripfeed=0.5),
    _k("Telegram Reactions", rate=(0.1, 1.5)),
    _k("Telegram Poll Votes", ot.POLL, (1.0, 8.0), (10, 50), (50_000,), 0.0, 0.3),
    _k("Telegram Invites from Groups", ot.INVITES_FROM_GROUPS, (3.0, 20.0), (100, 500), (20_000, 50_000), 0.2, 0.3),
    _k("Telegram Auto Views [Subscriptions]", ot.SUBSCRIPTIONS, (0.01, 0.2), (100, 500), (100_000,), 0.0, 1.0),
    _k("Spotify Plays", rate=(0.3, 3.0), mins=(500, 1000), maxes=(1_000_000,), refill=0.5),
    _k("Spotify Followers", rate=(0.5, 4.0), refill=0.5),
    _k("Spotify Monthly Listeners", rate=(1.0, 8.0), mins=(500, 1000), maxes=(200_000,)),
    _k("Twitch Followers", rate=(0.5, 5.0), refill=0.4),
    _k("Twitch Live Viewers", ot.PACKAGE, (5.0, 80.0), (1,), (1,), 0.0, 0.0),
    _k("SoundCloud Plays", rate=(0.05, 0.8), mins=(100, 1000), maxes=(10_000_000,)),
    _k("Discord Members", rate=(5.0, 30.0), mins=(50, 100), maxes=(10_000,), refill=0.3),
    _k("LinkedIn Followers", rate=(10.0, 45.0), mins=(50, 100), maxes=(5_000, 20_000), refill=0.5),
    _k("Pinterest Followers", rate=(1.0, 8.0)),
    _k("Threads Followers", rate=(1.0, 9.0), refill=0.5),
    _k("Threads Likes", rate=(0.3, 3.0)),
    _k("Website Traffic [Worldwide]", rate=(0.1, 1.5), mins=(500, 1000), maxes=(1_000_000,), dripfeed=0.5),
    _k("Website Traffic [USA]", rate=(0.5, 4.0), mins=(500, 1000), maxes=(1_000_000,), dripfeed=0.5),
)

_QUALITIES = ("HQ", "Real", "Mixed", "Premium", "Cheapest", "Stable", "Non Drop", "Fast", "Targeted", "Ultra")
_SPEEDS = ("1K/Day", "5K/Day", "10K/Day", "20K/Day", "50K/Day", "100K/Day", "Instant")
_STARTS = ("0-1 Hour", "0-6 Hours", "Instant", "0-12 Hours", "0-24 Hours")


def generate_service(*, seed: int, index: int) -> SimService:
    """Service number `index` (0-based) of the catalogue for `seed`; independent of the catalogue's size."""
    rng = random.Random(seed * 1_000_003 + index)
    kind = KINDS[index % len(KINDS)]
    rate = Decimal(str(round(rng.uniform(*kind.rate), 4 if kind.rate[1] < 1 else 2)))
    if rate <= 0:
        rate = Decimal("0.001")
    min_ = rng.choice(kind.mins)
    max_ = max(min_, rng.choice(kind.maxes))
    refill = rng.random() < kind.refill
    cancel = rng.random() < kind.cancel
    dripfeed = kind.type == ot.DEFAULT and rng.random() < kind.dripfeed
    tags = [rng.choice(_QUALITIES), f"Speed {rng.choice(_SPEEDS)}", f"Start {rng.choice(_STARTS)}"]
    if refill:
        tags.append(f"Refill {rng.choice((30, 60, 90, 365))} Days")
    name = f"{kind.category.split(' [')[0]} " + " ".join(f"[{t}]" for t in tags) + f" #{index + 1}"
    return SimService(index + 1, name, kind.type, kind.category, rate, min_, max_, refill, cancel, dripfeed)


class Catalogue:
    """The generated services plus the mutations tests make (rate changes, removals, additions)."""

    def __init__(self, *, seed: int, count: int | None = None, config=None) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self._config = config  # when given, its `services_count` knob sets the size
        self._count = count if count is not None else config.services_count
        self._overrides: dict[int, dict] = {}
        self._removed: set[int] = set()
        self._added: dict[int, SimService] = {}
        self._cache: dict[int, SimService] | None = None

    # Reads -----------------------------------------------------------------------------------------------

    def resize(self, count: int) -> None:
        with self._lock:
            if count != self._count:
                self._count = count
                self._cache = None

    def _services(self) -> dict[int, SimService]:
        with self._lock:
            if self._config is not None and self._config.services_count != self._count:
                self.resize(self._config.services_count)
            if self._cache is None:
                cache: dict[int, SimService] = {}
                for index in range(self._count):
                    service_id = index + 1
                    if service_id in self._removed:
                        continue
                    service = generate_service(seed=self._seed, index=index)
                    if service_id in self._overrides:
                        service = replace(service, **self._overrides[service_id])
                    cache[service_id] = service
                cache.update(self._added)
                self._cache = cache
            return self._cache

    def all(self) -> list[SimService]:
        return list(self._services().values())

    def get(self, service_id: int | str) -> SimService | None:
        try:
            return self._services().get(int(service_id))
        except (TypeError, ValueError):
            return None

    def __len__(self) -> int:
        return len(self._services())

    def first_of_type(self, type_name: str, **where) -> SimService:
        """The first service of a type (and matching flags, e.g. dripfeed=True) — handy in tests."""
        for service in self._services().values():
            if service.type == type_name and all(getattr(service, k) == v for k, v in where.items()):
                return service
        raise LookupError(f"no {type_name} service matching {where}")

    # Mutations -------------------------------------------------------------------------------------------

    def update(self, service_id: int | str, **changes) -> SimService:
        with self._lock:
            service_id = int(service_id)
            if service_id in self._added:
                self._added[service_id] = replace(self._added[service_id], **changes)
            else:
                if self.get(service_id) is None:
                    raise KeyError(service_id)
                self._overrides.setdefault(service_id, {}).update(changes)
            self._cache = None
            return self._services()[service_id]

    def set_rate(self, service_id: int | str, rate: Decimal | str) -> SimService:
        return self.update(service_id, rate=Decimal(str(rate)))

    def remove(self, service_id: int | str) -> None:
        with self._lock:
            service_id = int(service_id)
            self._added.pop(service_id, None)
            self._removed.add(service_id)
            self._cache = None

    def add(self, *, name: str, category: str, rate: Decimal | str, type: str = ot.DEFAULT, min: int = 10,
            max: int = 10_000, refill: bool = False, cancel: bool = False, dripfeed: bool = False,
            service_id: int | None = None) -> SimService:
        with self._lock:
            if service_id is None:
                # Added services get ids far above generated ones so a resize never collides with them.
                service_id = builtins.max([900_000, *self._added]) + 1
            service = SimService(int(service_id), name, type, category, Decimal(str(rate)), min, max, refill,
                                 cancel, dripfeed)
            self._removed.discard(service.service_id)
            self._added[service.service_id] = service
            self._cache = None
            return service

    def clear(self) -> None:
        """Remove every service (an empty catalogue)."""
        with self._lock:
            self._removed.update(self._services().keys())
            self._added.clear()
            self._cache = None
