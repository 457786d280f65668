"""The demo's world, made through the server's own services (the rules real requests go through):
a platform admin, a merchant with its owner and a gate operator, a venue with zones, an event with
ticket types, box-office orders paid in cash (their tickets issued and put on the gates'
allowlist by the fleet's signal receivers), some tickets already checked in at the counter, some
refunded (revoked, so the revocation list carries them), and gates with one-time enrollment
tokens. Kiosks redeem the tokens over HTTP later (:mod:`server.demo.kiosks`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from server.accounts import auth
from server.accounts import repository as accounts_repo
from server.accounts import service as accounts
from server.accounts.models import MerchantRole
from server.catalog import service as catalog
from server.catalog.schemas import EventCreate, TicketTypeCreate, VenueCreate, ZoneCreate
from server.checkin import service as checkin
from server.checkin.models import CheckinMethod, CheckinSource, Direction
from server.db import Database
from server.fleet import service as fleet
from server.fleet.models import GateDirection
from server.fleet.settings import FleetSettings
from server.payments.providers import make_providers
from server.sales import service as sales
from server.sales.settings import SalesSettings
from server.settings import Settings
from server.tickets import service as tickets
from server.tickets.keys import keyring_for_merchant
from server.tickets.models import Ticket

ADMIN_PHONE = "+8613800000001"
OWNER_PHONE = "+8613800000002"
OPERATOR_PHONE = "+8613800000003"
VENUE_SLUG = "demo-park"
GENERAL_ZONE = "General"
VIP_ZONE = "VIP lounge"


@dataclass(frozen=True)
class SeedSizes:
    """How much the seed makes. Orders hold 1-3 tickets; the rest of each pool is valid."""

    tickets: int = 300
    checked_in_at_counter: int = 20
    refunded_before: int = 20
    refunded_live: int = 10
    vip_tickets: int = 15


@dataclass(frozen=True)
class SeededTicket:
    ticket_id: int
    order_id: int
    order_item_id: int
    credential: str
    code: str


@dataclass(frozen=True)
class GateToken:
    gate_id: int
    key: str
    token: str


@dataclass
class DemoSeed:
    """What the seed made, and the secrets the demo prints or hands to kiosks."""

    admin_phone: str
    admin_password: str
    owner_phone: str
    owner_password: str
    operator_phone: str
    operator_token: str
    merchant_id: int
    owner_user_id: int
    venue_id: int
    venue_slug: str
    event_id: int
    #: the zone every demo gate guards
    general_zone_id: int
    #: public key texts by key id: what the gates trust (forgeries are made against it)
    trusted_keys: dict[int, str]
    valid: list[SeededTicket] = field(default_factory=list)
    checked_in_at_counter: list[SeededTicket] = field(default_factory=list)
    refunded: list[SeededTicket] = field(default_factory=list)
    #: paid now, refunded while the gates run (the revocation travels as a live delta)
    to_refund_live: list[SeededTicket] = field(default_factory=list)
    #: tickets for the VIP zone only; the general gates refuse them (``wrong_zone``)
    vip: list[SeededTicket] = field(default_factory=list)
    gates: list[GateToken] = field(default_factory=list)


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class DemoSeeder:
    """Runs the seed steps in order against ``database``; each step is one transaction."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        fleet_settings: FleetSettings,
        *,
        now: Callable[[], datetime],
        rng: random.Random,
        admin_password: str,
        owner_password: str,
        progress: Progress = _quiet,
        venue_slug: str = VENUE_SLUG,
    ) -> None:
        """``venue_slug`` is the MQTT site id, and with it the kiosks' client ids: runs that
        share one broker need different slugs, or their kiosks take each other's sessions."""
        self.database = database
        self.venue_slug = venue_slug
        self.settings = settings
        self.fleet_settings = fleet_settings
        self.now = now
        self.rng = rng
        self.admin_password = admin_password
        self.owner_password = owner_password
        self.progress = progress
        self.sales_settings = SalesSettings()

    def seed(self, sizes: SeedSizes, gate_count: int) -> DemoSeed:
        demo = self._people()
        general_type, vip_type = self._catalog(demo, sizes)
        self.progress(f"selling {sizes.tickets} tickets at the box office")
        tickets = self._sell(demo, general_type, sizes.tickets)
        demo.vip = self._sell(demo, vip_type, sizes.vip_tickets)
        self.rng.shuffle(tickets)
        counter, tickets = _split(tickets, sizes.checked_in_at_counter)
        refunded, tickets = _split(tickets, sizes.refunded_before)
        demo.to_refund_live, demo.valid = _split(tickets, sizes.refunded_live)
        self.progress(f"checking in {len(counter)} tickets at the counter")
        self._check_in_at_counter(demo, counter)
        demo.checked_in_at_counter = counter
        self.progress(f"refunding {len(refunded)} tickets")
        self.refund(demo, refunded)
        demo.refunded = refunded
        with self.database.sessions.begin() as session:
            demo.trusted_keys = keyring_for_merchant(session, demo.merchant_id, self.now())
        self.progress(f"registering {gate_count} gates")
        demo.gates = self._gates(demo, gate_count)
        return demo

    def _people(self) -> DemoSeed:
        self.progress("creating the platform admin, the merchant and its staff")
        now = self.now()
        with self.database.sessions.begin() as session:
            accounts.ensure_platform_admin(
                session, phone=ADMIN_PHONE, password=self.admin_password, now=now
            )
            made = accounts.create_merchant(
                session,
                self.settings,
                name="Demo Park 演示乐园",
                owner_phone=OWNER_PHONE,
                owner_password=self.owner_password,
                contact_name="Demo owner",
                events_public=True,
                now=now,
            )
            merchant_id, owner_id = made.merchant.id, made.owner.id
            operator = accounts_repo.get_user_by_phone(
                session, OPERATOR_PHONE
            ) or accounts_repo.add_user(
                session, phone=OPERATOR_PHONE, now=now, display_name="Gate operator"
            )
            membership = accounts.bind_staff(
                session,
                merchant_id,
                phone=OPERATOR_PHONE,
                role=MerchantRole.GATE_OPERATOR,
                now=now,
            )
            token = auth.issue_token(session, self.settings, operator, membership, now).token
        return DemoSeed(
            admin_phone=ADMIN_PHONE,
            admin_password=self.admin_password,
            owner_phone=OWNER_PHONE,
            owner_password=self.owner_password,
            operator_phone=OPERATOR_PHONE,
            operator_token=token,
            merchant_id=merchant_id,
            owner_user_id=owner_id,
            venue_id=0,
            venue_slug=self.venue_slug,
            event_id=0,
            general_zone_id=0,
            trusted_keys={},
        )

    def _catalog(self, demo: DemoSeed, sizes: SeedSizes) -> tuple[int, int]:
        """Venue, zones, event and the two ticket types; returns (general, VIP) type ids."""
        self.progress("creating the venue, zones, event and ticket types")
        now = self.now()
        merchant_id = demo.merchant_id
        with self.database.sessions.begin() as session:
            venue = catalog.create_venue(
                session,
                merchant_id,
                VenueCreate(slug=self.venue_slug, name="Demo Park", address="1 Demo Road"),
                now,
            )
            general = catalog.create_zone(
                session, merchant_id, venue.id, ZoneCreate(name=GENERAL_ZONE), now
            )
            vip = catalog.create_zone(
                session, merchant_id, venue.id, ZoneCreate(name=VIP_ZONE), now
            )
            event = catalog.create_event(
                session,
                merchant_id,
                EventCreate(
                    venue_id=venue.id,
                    name="Spring lantern fair 春季灯会",
                    starts_at=now - timedelta(hours=1),
                    ends_at=now + timedelta(days=1),
                    category="festival",
                ),
                now,
            )
            general_type = catalog.create_ticket_type(
                session,
                merchant_id,
                event.id,
                TicketTypeCreate(
                    name="Adult 成人票",
                    price_fen=8800,
                    stock=sizes.tickets,
                    zone_ids=[general.id],
                ),
                now,
            )
            vip_type = catalog.create_ticket_type(
                session,
                merchant_id,
                event.id,
                TicketTypeCreate(
                    name="VIP lounge 贵宾票",
                    price_fen=28800,
                    stock=sizes.vip_tickets,
                    zone_ids=[vip.id],
                ),
                now,
            )
            demo.venue_id, demo.event_id = venue.id, event.id
            demo.general_zone_id = general.id
            return general_type.id, vip_type.id

    def _sell(self, demo: DemoSeed, ticket_type_id: int, count: int) -> list[SeededTicket]:
        """Box-office orders of 1-3 tickets, each paid in cash (which issues the tickets)."""
        sold: list[SeededTicket] = []
        while len(sold) < count:
            size = min(self.rng.randint(1, 3), count - len(sold))
            holder = self.rng.randrange(10_000_000)
            requests = [
                sales.TicketRequest(
                    ticket_type_id=ticket_type_id,
                    holder_name=f"Visitor {holder + n}",
                    holder_phone=f"+86137{holder + n:08d}",
                )
                for n in range(size)
            ]
            now = self.now()
            with self.database.sessions.begin() as session:
                orders = sales.place_orders(session, None, requests, now, self.sales_settings)
                sales.pay_in_cash(
                    session,
                    demo.merchant_id,
                    [order.id for order in orders],
                    staff_user_id=demo.owner_user_id,
                    now=now,
                )
                for order in orders:
                    sold.extend(
                        _seeded(t)
                        for t in tickets.staff_order_tickets(session, demo.merchant_id, order.id)
                    )
        return sold

    def _check_in_at_counter(self, demo: DemoSeed, tickets: Sequence[SeededTicket]) -> None:
        if not tickets:
            return
        now = self.now()
        actor = checkin.Actor(source=CheckinSource.BACKOFFICE, checker_user_id=demo.owner_user_id)
        attempt = checkin.Attempt(
            method=CheckinMethod.TICKET, direction=Direction.IN, scanned_at=now, received_at=now
        )
        with self.database.sessions.begin() as session:
            outcomes = checkin.check_tickets(
                session, demo.merchant_id, actor, [t.ticket_id for t in tickets], attempt
            )
        refused = [o.record.reason for o in outcomes if not o.admitted]
        if refused:
            raise RuntimeError(f"counter check-in refused: {refused}")

    def refund(self, demo: DemoSeed, tickets: Sequence[SeededTicket]) -> None:
        """Refund these tickets' order items (revoking the tickets), one refund per order."""
        by_order: dict[int, list[int]] = {}
        for ticket in tickets:
            by_order.setdefault(ticket.order_id, []).append(ticket.order_item_id)
        providers = make_providers(self.settings)
        for order_id, item_ids in sorted(by_order.items()):
            with self.database.sessions.begin() as session:
                sales.refund_order(
                    session,
                    demo.merchant_id,
                    order_id,
                    item_ids=item_ids,
                    reason="demo refund",
                    staff_user_id=demo.owner_user_id,
                    providers=providers,
                    now=self.now(),
                )

    def _gates(self, demo: DemoSeed, count: int) -> list[GateToken]:
        gates: list[GateToken] = []
        for number in range(1, count + 1):
            with self.database.sessions.begin() as session:
                issued = fleet.create_gate_with_token(
                    session,
                    self.fleet_settings,
                    merchant_id=demo.merchant_id,
                    venue_id=demo.venue_id,
                    key=f"gate-{number}",
                    name=f"Gate {number} 入口{number}",
                    zone_ids=[demo.general_zone_id],
                    direction=GateDirection.IN,
                    now=self.now(),
                )
                gates.append(GateToken(issued.gate.id, issued.gate.key, issued.token))
        return gates


def _seeded(ticket: Ticket) -> SeededTicket:
    return SeededTicket(
        ticket.id, ticket.order_id, ticket.order_item_id, ticket.credential, ticket.code
    )


def _split(items: list[SeededTicket], count: int) -> tuple[list[SeededTicket], list[SeededTicket]]:
    return items[:count], items[count:]
