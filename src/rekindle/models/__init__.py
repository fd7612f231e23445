"""ORM models, one module per table. Importing this package registers every table on `Base`."""

from rekindle.models.animation_attempt import AnimationAttempt
from rekindle.models.credit_ledger import CreditLedgerEntry, LedgerKind
from rekindle.models.deleted_subject import DeletedSubject
from rekindle.models.event import Event, EventTicket
from rekindle.models.orphan_object import OrphanObject
from rekindle.models.payment_event import PaymentEvent
from rekindle.models.photo import Photo, PhotoStatus
from rekindle.models.restore_attempt import AttemptStatus, RestoreAttempt
from rekindle.models.user import User

__all__ = [
    "AnimationAttempt",
    "AttemptStatus",
    "CreditLedgerEntry",
    "DeletedSubject",
    "Event",
    "EventTicket",
    "LedgerKind",
    "OrphanObject",
    "PaymentEvent",
    "Photo",
    "PhotoStatus",
    "RestoreAttempt",
    "User",
]
