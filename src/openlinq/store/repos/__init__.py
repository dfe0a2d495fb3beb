"""Repositories: every query the domain needs, scoped by account where it matters."""

from __future__ import annotations

from collections.abc import Callable

from openlinq.store.engine import DbConnection
from openlinq.store.repos.accounts import AccountRepo
from openlinq.store.repos.agentpay import AgentPayRepo
from openlinq.store.repos.attachments import AttachmentRepo
from openlinq.store.repos.blocked import BlockedRepo
from openlinq.store.repos.cards import ContactCardRepo
from openlinq.store.repos.carrier_refs import CarrierRefRepo
from openlinq.store.repos.chats import ChatRepo
from openlinq.store.repos.events import EventRepo
from openlinq.store.repos.jobs import JobRepo
from openlinq.store.repos.limits import RateRepo
from openlinq.store.repos.line_carriers import LineCarrierRepo
from openlinq.store.repos.lines import LineRepo
from openlinq.store.repos.locations import LocationRepo
from openlinq.store.repos.locks import LockRepo
from openlinq.store.repos.messages import MessageRepo
from openlinq.store.repos.monitoring import MonitoringRepo
from openlinq.store.repos.optouts import OptOutRepo
from openlinq.store.repos.payment_requests import PaymentRequestRepo
from openlinq.store.repos.polls import PollRepo
from openlinq.store.repos.reputation import ReputationRepo
from openlinq.store.repos.settings import SettingsRepo
from openlinq.store.repos.simulator import SimDeviceRepo
from openlinq.store.repos.webhooks import WebhookRepo


class Repos:
    """All repositories bound to one connection, i.e. to one transaction."""

    def __init__(self, conn: DbConnection, after_commit: list[Callable[[], None]]) -> None:
        self.conn = conn
        self._after_commit = after_commit
        self.accounts = AccountRepo(conn)
        self.lines = LineRepo(conn)
        self.line_carriers = LineCarrierRepo(conn)
        self.carrier_refs = CarrierRefRepo(conn)
        self.chats = ChatRepo(conn)
        self.messages = MessageRepo(conn)
        self.jobs = JobRepo(conn)
        self.events = EventRepo(conn)
        self.settings = SettingsRepo(conn)
        self.sim_devices = SimDeviceRepo(conn)
        self.locks = LockRepo(conn)
        self.webhooks = WebhookRepo(conn)
        self.attachments = AttachmentRepo(conn)
        self.rates = RateRepo(conn)
        self.contact_cards = ContactCardRepo(conn)
        self.locations = LocationRepo(conn)
        self.opt_outs = OptOutRepo(conn)
        self.monitoring = MonitoringRepo(conn)
        self.polls = PollRepo(conn)
        self.reputation = ReputationRepo(conn)
        self.blocked = BlockedRepo(conn)
        self.agentpay = AgentPayRepo(conn)
        self.payment_requests = PaymentRequestRepo(conn)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)
