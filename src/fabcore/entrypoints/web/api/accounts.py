"""Signing up, in and out; the signed-in person; staff and API keys (owners)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, delete, get, post, put
from litestar.datastructures import Cookie
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from fabcore.app.identity import SESSION_TTL, SignedIn
from fabcore.domain.accounts import Role, Secret
from fabcore.entrypoints.web import auth
from fabcore.entrypoints.web.api.common import (
    DEPENDENCIES,
    ActorDep,
    CallerDep,
    Core,
    WebDep,
    account_out,
    documented,
    shop_actor,
)
from fabcore.entrypoints.web.dto import (
    AccountOut,
    ApiKeyIn,
    ApiKeyOut,
    EmailIn,
    InvitationIn,
    IssuedKeyOut,
    Message,
    PasswordChangeIn,
    SessionOut,
    SignInIn,
    SignUpIn,
    StaffIn,
    TokenIn,
)
from fabcore.entrypoints.web.settings import WebSettings

_SENT = "if the address belongs to an account of the shop, a mail with a link is on its way"


def _session(signed_in: SignedIn, web: WebSettings) -> Response[SessionOut]:
    """The session in the body (widgets, services) and as cookies (the back office)."""
    csrf = auth.csrf_token(signed_in.token)
    body = SessionOut(signed_in.token, csrf, signed_in.expires_at, account_out(signed_in.account))
    age = int(SESSION_TTL.total_seconds())
    return Response(
        body,
        cookies=[
            Cookie(
                key=web.session_cookie,
                value=signed_in.token,
                max_age=age,
                httponly=True,
                secure=web.secure_cookies,
                samesite="lax",
                path="/",
            ),
            Cookie(
                key=web.csrf_cookie,
                value=csrf,
                max_age=age,
                httponly=False,
                secure=web.secure_cookies,
                samesite="lax",
                path="/",
            ),
        ],
    )


@post("/shops/{shop:str}/sign-up", status_code=HTTP_202_ACCEPTED, sync_to_thread=True)
def sign_up(
    shop: FromPath[str], data: JSONBody[SignUpIn], core: Core, request: Request[Any, Any, Any]
) -> Message:
    """Create a customer account; a mail asks to confirm the address.

    The answer is the same when the address already has an account (its
    owner is mailed a sign-in link instead). Sign in with the password at once.
    """
    core.sign_up(
        shop,
        name=data.name,
        email=data.email,
        password=data.password,
        company=data.company,
        tax_id=data.tax_id,
        billing_address=data.billing_address.to_domain() if data.billing_address else None,
        billing_contact=data.billing_contact.to_domain() if data.billing_contact else None,
        network_address=auth.network_address(request),
    )
    return Message("check your mail to confirm your address; you can sign in now")


@post("/shops/{shop:str}/sign-in", status_code=200, sync_to_thread=True)
def sign_in(
    shop: FromPath[str],
    data: JSONBody[SignInIn],
    core: Core,
    web_settings: WebDep,
    request: Request[Any, Any, Any],
) -> Response[SessionOut]:
    """Sign in with e-mail address and password (throttled; 401 without saying which was wrong)."""
    signed_in = core.sign_in(shop, data.email, data.password, auth.network_address(request))
    return _session(signed_in, web_settings)


@post("/shops/{shop:str}/sign-in-link", status_code=HTTP_202_ACCEPTED, sync_to_thread=True)
def sign_in_link(
    shop: FromPath[str], data: JSONBody[EmailIn], core: Core, request: Request[Any, Any, Any]
) -> Message:
    """Mail a single-use sign-in link (the answer is the same for every address)."""
    core.request_sign_in_link(shop, data.email, auth.network_address(request))
    return Message(_SENT)


@post("/links/sign-in", status_code=200, sync_to_thread=True)
def redeem_sign_in_link(
    data: JSONBody[TokenIn], core: Core, web_settings: WebDep
) -> Response[SessionOut]:
    """Sign in with the token of a mailed sign-in or confirmation link (once)."""
    return _session(core.sign_in_with_link(data.token), web_settings)


@post("/links/invitation", status_code=200, sync_to_thread=True)
def accept_invitation(
    data: JSONBody[InvitationIn], core: Core, web_settings: WebDep
) -> Response[SessionOut]:
    """New staff choose their password with the invitation's token, and are signed in."""
    return _session(core.accept_invitation(data.token, data.password), web_settings)


@post("/sign-out", status_code=200, sync_to_thread=True)
def sign_out(caller: CallerDep, core: Core, web_settings: WebDep) -> Response[Message]:
    """End the session (the cookies are cleared too)."""
    if caller is not None and caller.account is not None:
        core.sign_out(caller.token)
    return Response(
        Message("signed out"),
        cookies=[
            Cookie(key=web_settings.session_cookie, value="", max_age=0, httponly=True,
                   secure=web_settings.secure_cookies, samesite="lax", path="/"),
            Cookie(key=web_settings.csrf_cookie, value="", max_age=0,
                   secure=web_settings.secure_cookies, samesite="lax", path="/"),
        ],
    )


@get("/me", sync_to_thread=True)
def me(actor: ActorDep, core: Core) -> AccountOut:
    """The signed-in person's account."""
    return account_out(core.account_of(actor))


@post("/me/password", status_code=HTTP_204_NO_CONTENT, sync_to_thread=True)
def change_password(data: JSONBody[PasswordChangeIn], actor: ActorDep, core: Core) -> None:
    """Change the password; every other session ends."""
    core.change_password(actor, data.current, data.new)


@get("/shops/{shop:str}/staff", sync_to_thread=True)
def list_staff(shop: FromPath[str], actor: ActorDep, core: Core) -> list[AccountOut]:
    return [account_out(a) for a in core.list_staff(shop_actor(actor, shop))]


@post("/shops/{shop:str}/staff", sync_to_thread=True)
def invite_staff(
    shop: FromPath[str], data: JSONBody[StaffIn], actor: ActorDep, core: Core
) -> AccountOut:
    """Owners invite a staff member or owner; they get a mail to choose a password."""
    account = core.invite_staff(
        shop_actor(actor, shop), email=data.email, name=data.name, role=Role(data.role)
    )
    return account_out(account)


@delete(
    "/shops/{shop:str}/staff/{account_id:str}", status_code=HTTP_204_NO_CONTENT, sync_to_thread=True
)
def remove_staff(
    shop: FromPath[str], account_id: FromPath[str], actor: ActorDep, core: Core
) -> None:
    """Owners take a staff member's access back (the shop's last owner stays)."""
    core.disable_staff(shop_actor(actor, shop), account_id)


def _key_out(secret: Secret) -> ApiKeyOut:
    return ApiKeyOut(secret.digest, secret.label, secret.created_at, secret.revoked_at)


@get("/shops/{shop:str}/api-keys", sync_to_thread=True)
def list_api_keys(shop: FromPath[str], actor: ActorDep, core: Core) -> list[ApiKeyOut]:
    return [_key_out(k) for k in core.list_api_keys(shop_actor(actor, shop))]


@post("/shops/{shop:str}/api-keys", sync_to_thread=True)
def create_api_key(
    shop: FromPath[str], data: JSONBody[ApiKeyIn], actor: ActorDep, core: Core
) -> IssuedKeyOut:
    """Owners issue a key for a service: shown once, acts as the shop's automation."""
    issued = core.create_api_key(shop_actor(actor, shop), data.name)
    return IssuedKeyOut(issued.key, _key_out(issued.secret))


@put("/shops/{shop:str}/api-keys/{digest:str}/revoked", sync_to_thread=True)
def revoke_api_key(
    shop: FromPath[str], digest: FromPath[str], actor: ActorDep, core: Core
) -> ApiKeyOut:
    return _key_out(core.revoke_api_key(shop_actor(actor, shop), digest))


router = Router(
    path="/api/v1",
    route_handlers=documented(
        [
            sign_up,
            sign_in,
            sign_in_link,
            redeem_sign_in_link,
            accept_invitation,
            sign_out,
            me,
            change_password,
            list_staff,
            invite_staff,
            remove_staff,
            list_api_keys,
            create_api_key,
            revoke_api_key,
        ]
    ),
    dependencies=DEPENDENCIES,
    tags=["accounts"],
)
