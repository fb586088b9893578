"""Inbound rules: small named checks that decide whether mail may open a request (chain.py)."""

from postroom.inbound.rules.auto_reply import AutoReply
from postroom.inbound.rules.base import Rule, RuleContext
from postroom.inbound.rules.bounce import Bounce
from postroom.inbound.rules.chain import CHAIN, VERDICTS, Verdict, run_chain, verdict
from postroom.inbound.rules.list_mail import ListMail
from postroom.inbound.rules.oversize import Oversize, human_size
from postroom.inbound.rules.own_mail import OUTBOX_HEADER, OwnMail
from postroom.inbound.rules.sender_rate import SenderRate

__all__ = [
    "CHAIN",
    "OUTBOX_HEADER",
    "VERDICTS",
    "AutoReply",
    "Bounce",
    "ListMail",
    "Oversize",
    "OwnMail",
    "Rule",
    "RuleContext",
    "SenderRate",
    "Verdict",
    "human_size",
    "run_chain",
    "verdict",
]
