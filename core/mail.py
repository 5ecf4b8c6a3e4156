"""Outgoing mail: SMTP when ``CRM_MAIL_SERVER`` is set, otherwise the message is written to the log."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger("crm.mail")


def send_mail(to: str, subject: str, body: str) -> None:
    """Send a plain-text mail now. Call it from a job when the request should not wait for SMTP."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    outbox = current_app.extensions.setdefault("crm.outbox", [])
    outbox.append(message)
    del outbox[:-50]  # keep the last few for tests and the admin's "mail log"
    if not config.get("MAIL_SERVER"):
        log.warning("mail not sent (no CRM_MAIL_SERVER configured):\nTo: %s\nSubject: %s\n\n%s", to, subject, body)
        return
    smtp_class = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=30) as smtp:
        if config.get("MAIL_USE_TLS") and not config.get("MAIL_USE_SSL"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def send_mail_job(to: str, subject: str, body: str) -> None:
    """Job form of :func:`send_mail` (``enqueue("core.mail:send_mail_job", ...)``)."""
    send_mail(to, subject, body)
