"""The payment providers of the running app, as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.payments.providers import PaymentProvider, make_providers


def get_providers(request: Request) -> dict[str, PaymentProvider]:
    """``app.state.payment_providers``, made from the settings on first use (tests may set it)."""
    state = request.app.state
    providers: dict[str, PaymentProvider] | None = getattr(state, "payment_providers", None)
    if providers is None:
        providers = make_providers(state.settings)
        state.payment_providers = providers
    return providers


Providers = Annotated[dict[str, PaymentProvider], Depends(get_providers)]
