"""Signing keys per merchant (seam 4): first key on need, rotation, retirement."""

from __future__ import annotations

import pytest

from protocol.signing import Keyring, VerifiedTicket, verify_ticket
from server.clock import ManualClock
from server.db import Database
from server.errors import Conflict
from server.tickets import keys, service
from server.tickets.models import SigningKeyState
from tests.server.helpers import AccountFactory
from tests.server.tickets.orders import issue


def _keyring(database: Database, merchant_id: int) -> Keyring:
    with database.sessions.begin() as session:
        entries = keys.keyring_for_merchant(session, merchant_id)
    return Keyring.from_dict({str(key_id): text for key_id, text in entries.items()})


def test_the_first_key_and_salt_are_made_once_per_merchant(
    database: Database, accounts: AccountFactory
) -> None:
    shop, other = accounts.merchant(), accounts.merchant()
    with database.sessions.begin() as session:
        first = keys.keyring_for_merchant(session, shop.merchant_id)
        salt = keys.code_salt_for_merchant(session, shop.merchant_id)
    with database.sessions.begin() as session:
        assert keys.keyring_for_merchant(session, shop.merchant_id) == first
        assert keys.code_salt_for_merchant(session, shop.merchant_id) == salt
        assert keys.keyring_for_merchant(session, other.merchant_id) != first
        assert keys.code_salt_for_merchant(session, other.merchant_id) != salt
    assert list(first) == [keys.FIRST_KEY_ID]


def test_rotation_signs_new_tickets_with_the_new_key_and_keeps_the_old_trusted(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    (old_ticket,) = issue(database, shop.merchant_id, now=clock())
    with database.sessions.begin() as session:
        new_key = service.rotate_key(session, shop.merchant_id, clock())
    (new_ticket,) = issue(database, shop.merchant_id, now=clock())

    assert (old_ticket.key_id, new_ticket.key_id) == (1, new_key.key_id) == (1, 2)
    keyring = _keyring(database, shop.merchant_id)
    assert isinstance(verify_ticket(old_ticket.credential, keyring), VerifiedTicket)
    assert isinstance(verify_ticket(new_ticket.credential, keyring), VerifiedTicket)
    with database.sessions() as session:
        states = {
            k.key_id: k.state for k in service.signing_keys(session, shop.merchant_id, clock())
        }
    assert states == {1: SigningKeyState.TRUSTED, 2: SigningKeyState.ACTIVE}


def test_retiring_a_key_re_signs_its_valid_tickets_and_drops_it_from_the_keyring(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    (ticket,) = issue(database, shop.merchant_id, now=clock())
    with database.sessions.begin() as session:
        service.rotate_key(session, shop.merchant_id, clock())
    with database.sessions.begin() as session:
        assert service.retire_key(session, shop.merchant_id, 1, clock()) == 1
    with database.sessions() as session:
        resigned = service.staff_ticket(session, shop.merchant_id, ticket.id)
    keyring = _keyring(database, shop.merchant_id)
    assert 1 not in keyring
    assert verify_ticket(ticket.credential, keyring).reason == "unknown_key"  # type: ignore[union-attr]
    assert isinstance(verify_ticket(resigned.credential, keyring), VerifiedTicket)


def test_the_active_key_cannot_be_retired(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    with database.sessions.begin() as session, pytest.raises(Conflict) as raised:
        service.retire_key(session, shop.merchant_id, 1, clock())
    assert raised.value.code == "tickets.key_active"


def test_the_keyring_cache_reuses_a_keyring_until_its_keys_change_or_it_ages(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    ticks = [0.0]
    cache = keys.KeyringCache(ttl=30.0, clock=lambda: ticks[0])
    with database.sessions.begin() as session:
        first = cache.get(session, shop.merchant_id, clock())
        assert cache.get(session, shop.merchant_id, clock()) is first
        assert sorted(first.keyring) == [keys.FIRST_KEY_ID]
    ticks[0] = 31.0
    with database.sessions.begin() as session:
        aged = cache.get(session, shop.merchant_id, clock())
    assert aged is not first
    with database.sessions.begin() as session:
        cache.invalidate_on_commit(session, shop.merchant_id)
        rotated = keys.rotate_key(session, shop.merchant_id, clock())
    with database.sessions.begin() as session:
        fresh = cache.get(session, shop.merchant_id, clock())
    assert fresh is not aged
    assert sorted(fresh.keyring) == [keys.FIRST_KEY_ID, rotated.key_id]


def test_rotating_a_key_drops_the_process_cache_of_that_merchant(
    database: Database, accounts: AccountFactory, clock: ManualClock
) -> None:
    shop = accounts.merchant()
    with database.sessions.begin() as session:
        before = keys.trusted_keyrings.get(session, shop.merchant_id, clock())
        rotated = keys.rotate_key(session, shop.merchant_id, clock())
    with database.sessions.begin() as session:
        after = keys.trusted_keyrings.get(session, shop.merchant_id, clock())
    assert after is not before
    assert rotated.key_id in after.keyring
