"""ORM models, one module per table. Importing this package registers every table on `Base`."""

from rekindle.models.album import Album, AlbumPhoto
from rekindle.models.animation_attempt import AnimationAttempt
from rekindle.models.auth_session import AuthSession
from rekindle.models.credit_ledger import CreditLedgerEntry, LedgerKind
from rekindle.models.deleted_subject import DeletedSubject
from rekindle.models.event import Event, EventTicket
from rekindle.models.export_ticket import ExportTicket
from rekindle.models.orphan_object import OrphanObject
from rekindle.models.payment_event import PaymentEvent
from rekindle.models.pending_signup import PendingSignup
from rekindle.models.photo import Photo, PhotoStatus
from rekindle.models.restore_attempt import AttemptStatus, RestoreAttempt
from rekindle.models.restore_batch import RestoreBatch
from rekindle.models.scan import Scan
from rekindle.models.share_link import ShareLink
from rekindle.models.user import User

__all__ = [
    "Album",
    "AlbumPhoto",
    "AnimationAttempt",
    "AttemptStatus",
    "AuthSession",
    "CreditLedgerEntry",
    "DeletedSubject",
    "Event",
    "EventTicket",
    "ExportTicket",
    "LedgerKind",
    "OrphanObject",
    "PaymentEvent",
    "PendingSignup",
    "Photo",
    "PhotoStatus",
    "RestoreAttempt",
    "RestoreBatch",
    "Scan",
    "ShareLink",
    "User",
]
