"""Console pages, one module an area; each view a few lines over the services."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from postroom.web.views import (
        activities,
        app_only,
        contacts,
        fetch_now,
        found,
        observe,
        outbox,
        people,
        profile,
        providers,
        servers,
        settings,
        signin,
        sync_settings,
        system_mailbox_edit,
        webhooks,
        work,
    )

    return [
        signin.router,
        servers.router,
        settings.router,
        system_mailbox_edit.router,
        app_only.router,
        providers.router,
        profile.router,
        work.router,
        people.router,
        found.router,
        webhooks.router,
        outbox.router,
        fetch_now.router,
        observe.router,
        sync_settings.router,
        contacts.router,
        activities.router,
    ]
