"""The two ways a notice leaves tapir: email through an SMTP server (smtplib) and a webhook
(HTTP POST of a JSON document, urllib). Each raises ``DeliveryFailed`` with one sentence naming
the server or URL; the notifier records it and goes on (a notice never fails a job).

Blocking network calls, bounded by the settings' timeout; call from the notifier's thread.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from engine.notify.config import SmtpSettings

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 10.0
"""A receiver slower than this is treated as down: the tick must not stall on it."""
USER_AGENT = "tapir-notify/1"


class DeliveryFailed(Exception):
    """A notice that did not get through; ``str()`` names where it was going and why."""

    code = "notify.delivery"


def send_email(
    smtp: SmtpSettings | None, to: Sequence[str], subject: str, body: str, *, source: str = ""
) -> None:
    """One plain-text message to ``to`` through ``smtp``."""
    if smtp is None:
        where = f" in {source}" if source else ""
        raise DeliveryFailed(f"email to {', '.join(to)}: no [smtp] server is configured{where}.")
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    msg.set_content(body)
    timeout = smtp.timeout.total_seconds()
    server = f"{smtp.host}:{smtp.port}"
    try:
        if smtp.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, os.environ.get(smtp.password_env or "", ""))
            client.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"email to {', '.join(to)} via {server}: {_why(exc)}") from exc


def post_json(url: str, payload: dict[str, Any], *, timeout_s: float = WEBHOOK_TIMEOUT_S) -> None:
    """POST ``payload`` as JSON; any answer but 2xx is a failure."""
    data = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(
            f"webhook {url}: the receiver answered {exc.code} {exc.reason}"
        ) from exc
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DeliveryFailed(f"webhook {url}: {_why(reason)}") from exc


def _why(exc: object) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        return f"the server answered {exc.smtp_code} {text}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def deliver(channel: str, to: str, send: Callable[[], None]) -> dict[str, Any]:
    """Run one delivery; its outcome as recorded (a failure is logged, never raised)."""
    try:
        send()
    except DeliveryFailed as exc:
        log.warning("notification not delivered: %s", exc)
        return {"channel": channel, "to": to, "ok": False, "error": str(exc)}
    except Exception as exc:  # a bug in a channel must not stop the other notices
        log.exception("notification to %s failed unexpectedly", to)
        return {"channel": channel, "to": to, "ok": False, "error": f"{to}: {exc!r}"}
    return {"channel": channel, "to": to, "ok": True, "error": None}
