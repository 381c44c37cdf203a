from __future__ import annotations

from agent_service.errors import Conflict, Forbidden, InvalidRequest, RateLimited, Unauthenticated


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("Wrong email or password.")


class InvalidAccessToken(Unauthenticated):
    code = "invalid_token"

    def __init__(self) -> None:
        super().__init__("The bearer token is invalid or expired; log in again.")


class EmailNotVerified(Forbidden):
    code = "email_not_verified"

    def __init__(self) -> None:
        super().__init__("Verify your email first: open the link in the mail we sent you.")


class AccountDisabled(Forbidden):
    code = "account_disabled"

    def __init__(self) -> None:
        super().__init__("This account is disabled; ask an administrator.")


class EmailAlreadyVerified(Conflict):
    code = "email_already_verified"

    def __init__(self) -> None:
        super().__init__("This address is already verified: this link was used. Sign in.")


class InvalidMailToken(InvalidRequest):
    code = "invalid_token"

    def __init__(self) -> None:
        super().__init__("This link is invalid, expired or already used; ask for a new one.")


class CurrentPasswordRequired(Forbidden):
    code = "current_password_required"

    def __init__(self) -> None:
        super().__init__(
            "Changing your own password or email needs your current password in 'current_password'."
        )


class WrongCurrentPassword(Unauthenticated):
    code = "invalid_current_password"

    def __init__(self) -> None:
        super().__init__("'current_password' is not your current password; nothing was changed.")


class TooManyAttempts(RateLimited):
    code = "too_many_attempts"

    def __init__(self, wait_s: int) -> None:
        self.wait_s = wait_s
        unit = "second" if wait_s == 1 else "seconds"
        super().__init__(
            f"Too many failed logins; try again in {wait_s} {unit}.",
            headers={"Retry-After": str(wait_s)},
        )


class InvalidRefreshCookie(Unauthenticated):
    code = "invalid_refresh"

    def __init__(self) -> None:
        super().__init__("No valid sign-in cookie (missing, expired, signed out or revoked).")


class CrossSiteRequest(Forbidden):
    code = "cross_site_request"

    def __init__(self) -> None:
        super().__init__(
            "This route needs the header 'X-Requested-With: agent-service' and a same-origin Origin."
        )
