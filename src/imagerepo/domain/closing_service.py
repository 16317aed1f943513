"""Closing an account: the owner deletes it with everything it holds."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from imagerepo.domain.accounts import Account, normalize_username
from imagerepo.domain.errors import ValidationFailed
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.people_service import PeopleService
from imagerepo.ports.account_repository import AccountRepository
from imagerepo.ports.identity_link_repository import IdentityLinkRepository
from imagerepo.ports.session_repository import SessionRepository


@attrs.frozen
class ClosedAccount:
    images: int
    faces: int


class AccountClosingService:
    """Deletes an account: its faces, people and crops, its images with their blobs, analyses and
    fingerprints, its provider links, its sessions and API tokens, then the account itself.

    The owner confirms by typing the username (accounts made by an identity provider have no
    password they know). Each step is safe to repeat, so a close that failed half way (database
    restart) is finished by asking again; blobs a refusing store kept are left to the sweeper,
    whose signed URLs already die with their image rows.
    """

    def __init__(self, accounts: AccountRepository, sessions: SessionRepository, links: IdentityLinkRepository,
                 images: ImageService, people: PeopleService,
                 forget_elsewhere: Callable[[Account], None] | None = None) -> None:
        """``forget_elsewhere``: removes what entry points keep of the account outside the ports
        (the bulk import's journal of file paths and hashes)."""
        self._forget_elsewhere = forget_elsewhere
        self._accounts = accounts
        self._sessions = sessions
        self._links = links
        self._images = images
        self._people = people

    def close(self, account: Account, confirm: object) -> ClosedAccount:
        """ValidationFailed (and nothing changes) unless ``confirm`` is the account's username."""
        if not isinstance(confirm, str) or normalize_username(confirm.strip()) != normalize_username(account.username):
            raise ValidationFailed("Type your username to confirm that the account and every image go for good.",
                                   {"username": ["must be your own username, to confirm"]})
        faces = self._people.forget(account.id)
        images = self._images.delete_all(account)
        self._links.delete_for(account.id)
        self._sessions.delete_for_account(account.id)
        self._accounts.delete(account.id)
        # An upload that was already past its checks when the close began lands now: remove it too.
        images += self._images.delete_all(account)
        faces += self._people.forget(account.id)
        if self._forget_elsewhere is not None:
            self._forget_elsewhere(account)
        return ClosedAccount(images=images, faces=faces)
