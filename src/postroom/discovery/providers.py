"""The built-in provider table: the major providers' published settings, as data.

Hosts and ports are each provider's own help pages; `mx_suffixes` let a custom domain hosted
there (its MX record) be recognised. Admins override any of it with their own table.
"""

from __future__ import annotations

from dataclasses import dataclass

from postroom.discovery.model import ServerSetting
from postroom.domain.settings import LoginFormat, OAuthProvider, Protocol, Security

TLS, STARTTLS = Security.TLS, Security.STARTTLS
ADDRESS, LOCAL_PART = LoginFormat.ADDRESS, LoginFormat.LOCAL_PART


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    domains: tuple[str, ...]
    servers: tuple[ServerSetting, ...]
    mx_suffixes: tuple[str, ...] = ()
    oauth: OAuthProvider | None = None
    note: str = ""


def imap(
    host: str, port: int = 993, security: Security = TLS, login: LoginFormat = ADDRESS
) -> ServerSetting:
    return ServerSetting(Protocol.IMAP, host, port, security, login)


def pop3(
    host: str, port: int = 995, security: Security = TLS, login: LoginFormat = ADDRESS
) -> ServerSetting:
    return ServerSetting(Protocol.POP3, host, port, security, login)


def smtp(
    host: str, port: int = 465, security: Security = TLS, login: LoginFormat = ADDRESS
) -> ServerSetting:
    return ServerSetting(Protocol.SMTP, host, port, security, login)


GRAPH = ServerSetting(Protocol.GRAPH, "graph.microsoft.com", 443, TLS)
GMAIL_API = ServerSetting(Protocol.GMAIL, "gmail.googleapis.com", 443, TLS)
MICROSOFT_IMAP_POP = (imap("outlook.office365.com"), pop3("outlook.office365.com"))

BUILT_IN: tuple[Provider, ...] = (
    Provider(
        "google",
        "Google / Gmail",
        ("gmail.com", "googlemail.com"),
        (
            GMAIL_API,
            imap("imap.gmail.com"),
            pop3("pop.gmail.com"),
            smtp("smtp.gmail.com"),
            smtp("smtp.gmail.com", 587, STARTTLS),
        ),
        mx_suffixes=("google.com", "googlemail.com"),
        oauth=OAuthProvider.GOOGLE,
    ),
    Provider(
        "microsoft365",
        "Microsoft 365",
        (),
        (GRAPH, *MICROSOFT_IMAP_POP, smtp("smtp.office365.com", 587, STARTTLS)),
        mx_suffixes=("mail.protection.outlook.com", "protection.outlook.com"),
        oauth=OAuthProvider.MICROSOFT,
    ),
    Provider(
        "outlook",
        "Outlook.com / Hotmail / Live",
        (
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "passport.com",
            "outlook.de",
            "outlook.fr",
            "outlook.es",
            "outlook.it",
            "hotmail.co.uk",
            "hotmail.fr",
            "hotmail.de",
            "hotmail.it",
            "hotmail.es",
            "live.co.uk",
            "live.fr",
            "live.de",
            "live.nl",
            "live.it",
        ),
        (GRAPH, *MICROSOFT_IMAP_POP, smtp("smtp-mail.outlook.com", 587, STARTTLS)),
        mx_suffixes=("olc.protection.outlook.com",),
        oauth=OAuthProvider.MICROSOFT,
    ),
    Provider(
        "yahoo",
        "Yahoo Mail",
        (
            "yahoo.com",
            "ymail.com",
            "rocketmail.com",
            "yahoo.co.uk",
            "yahoo.fr",
            "yahoo.de",
            "yahoo.es",
            "yahoo.it",
            "yahoo.ca",
            "yahoo.com.au",
            "yahoo.com.br",
            "yahoo.in",
        ),
        (
            imap("imap.mail.yahoo.com"),
            pop3("pop.mail.yahoo.com"),
            smtp("smtp.mail.yahoo.com"),
            smtp("smtp.mail.yahoo.com", 587, STARTTLS),
        ),
        mx_suffixes=("yahoodns.net",),
        note="Yahoo needs an app password for IMAP, POP3 and SMTP.",
    ),
    Provider(
        "yahoo-japan",
        "Yahoo! JAPAN Mail",
        ("yahoo.co.jp",),
        (
            imap("imap.mail.yahoo.co.jp"),
            pop3("pop.mail.yahoo.co.jp"),
            smtp("smtp.mail.yahoo.co.jp"),
        ),
        mx_suffixes=("mail.yahoo.co.jp",),
        note="IMAP and POP3 must first be allowed in Yahoo! JAPAN's mail settings.",
    ),
    Provider(
        "aol",
        "AOL Mail",
        ("aol.com", "aim.com", "love.com", "games.com", "wow.com"),
        (imap("imap.aol.com"), pop3("pop.aol.com"), smtp("smtp.aol.com")),
        note="AOL needs an app password for IMAP, POP3 and SMTP.",
    ),
    Provider(
        "icloud",
        "iCloud Mail",
        ("icloud.com", "me.com", "mac.com"),
        (imap("imap.mail.me.com", login=LOCAL_PART), smtp("smtp.mail.me.com", 587, STARTTLS)),
        mx_suffixes=("mail.icloud.com",),
        note="iCloud needs an app-specific password; IMAP signs in with the name before @.",
    ),
    Provider(
        "fastmail",
        "Fastmail",
        (
            "fastmail.com",
            "fastmail.fm",
            "fastmail.net",
            "fastmail.org",
            "fastmail.us",
            "messagingengine.com",
            "sent.com",
        ),
        (
            imap("imap.fastmail.com"),
            pop3("pop.fastmail.com"),
            smtp("smtp.fastmail.com"),
            smtp("smtp.fastmail.com", 587, STARTTLS),
        ),
        mx_suffixes=("messagingengine.com",),
        note="Fastmail needs an app password.",
    ),
    Provider(
        "zoho",
        "Zoho Mail",
        ("zoho.com", "zohomail.com"),
        (
            imap("imap.zoho.com"),
            pop3("pop.zoho.com"),
            smtp("smtp.zoho.com"),
            smtp("smtp.zoho.com", 587, STARTTLS),
        ),
        mx_suffixes=("zoho.com",),
    ),
    Provider(
        "zoho-eu",
        "Zoho Mail (EU)",
        ("zoho.eu", "zohomail.eu"),
        (imap("imap.zoho.eu"), pop3("pop.zoho.eu"), smtp("smtp.zoho.eu")),
        mx_suffixes=("zoho.eu",),
    ),
    Provider(
        "gmx",
        "GMX (Germany, Austria, Switzerland)",
        ("gmx.de", "gmx.net", "gmx.at", "gmx.ch"),
        (imap("imap.gmx.net"), pop3("pop.gmx.net"), smtp("mail.gmx.net", 587, STARTTLS)),
        mx_suffixes=("gmx.net",),
        note="IMAP and POP3 must first be allowed in GMX's settings.",
    ),
    Provider(
        "gmx-com",
        "GMX Mail",
        ("gmx.com", "gmx.us", "gmx.co.uk", "gmx.fr", "gmx.es"),
        (imap("imap.gmx.com"), pop3("pop.gmx.com"), smtp("mail.gmx.com", 587, STARTTLS)),
        mx_suffixes=("gmx.com",),
    ),
    Provider(
        "web-de",
        "WEB.DE",
        ("web.de",),
        (imap("imap.web.de"), pop3("pop3.web.de"), smtp("smtp.web.de", 587, STARTTLS)),
        mx_suffixes=("web.de",),
    ),
    Provider(
        "yandex",
        "Yandex Mail",
        ("yandex.ru", "yandex.com", "ya.ru", "yandex.by", "yandex.kz", "yandex.ua"),
        (imap("imap.yandex.com"), pop3("pop.yandex.com"), smtp("smtp.yandex.com")),
        mx_suffixes=("yandex.net", "yandex.ru"),
        note="Yandex needs an app password for mail clients.",
    ),
    Provider(
        "mail-ru",
        "Mail.ru",
        ("mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru"),
        (imap("imap.mail.ru"), pop3("pop.mail.ru"), smtp("smtp.mail.ru")),
        mx_suffixes=("mail.ru",),
        note="Mail.ru needs an app password for mail clients.",
    ),
    Provider(
        "proton",
        "Proton Mail (through Proton Mail Bridge)",
        ("proton.me", "protonmail.com", "protonmail.ch", "pm.me"),
        (imap("127.0.0.1", 1143, STARTTLS), smtp("127.0.0.1", 1025, STARTTLS)),
        mx_suffixes=("protonmail.ch",),
        note="Proton Mail speaks IMAP and SMTP only through Proton Mail Bridge running beside "
        "postroom; use the host, ports and password the Bridge shows.",
    ),
    Provider(
        "mailbox-org",
        "mailbox.org",
        ("mailbox.org",),
        (imap("imap.mailbox.org"), pop3("pop3.mailbox.org"), smtp("smtp.mailbox.org")),
        mx_suffixes=("mailbox.org",),
    ),
)

BY_KEY: dict[str, Provider] = {p.key: p for p in BUILT_IN}
BY_DOMAIN: dict[str, Provider] = {d: p for p in BUILT_IN for d in p.domains}


def for_domain(domain: str) -> Provider | None:
    return BY_DOMAIN.get(domain.lower().rstrip("."))


def for_host(host: str) -> Provider | None:
    """The provider a host name belongs to: one of its own servers, or an MX exchange under
    one of its suffixes, the longest suffix winning (so Outlook.com's MX is not taken for
    Microsoft 365's)."""
    name = host.lower().rstrip(".")
    best: tuple[int, Provider] | None = None
    for provider in BUILT_IN:
        if any(s.host == name for s in provider.servers):
            return provider
        for suffix in provider.mx_suffixes:
            if (name == suffix or name.endswith("." + suffix)) and (
                best is None or len(suffix) > best[0]
            ):
                best = (len(suffix), provider)
    return best[1] if best else None
