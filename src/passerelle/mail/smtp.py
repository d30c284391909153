"""Sending a notice by SMTP (stdlib `smtplib`): plain text and HTML alternatives, the JSON
form attached. Every failure of the server becomes `ExternalServiceError` naming it."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from passerelle.core.errors import ExternalServiceError


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 20.0

    def send(
        self, *, to: str, subject: str, text: str, html: str, attachment: tuple[str, bytes] | None
    ) -> str:
        """Send and return the Message-ID."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        if attachment is not None:
            name, data = attachment
            message.add_attachment(data, maintype="application", subtype="json", filename=name)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username and self.password:
                    client.login(self.username, self.password)
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = "; ".join(
                f"{code} {reason.decode(errors='replace')}"
                for code, reason in exc.recipients.values()
            )
            raise ExternalServiceError(
                "the mail server refused %(to)s: %(codes)s", to=to, codes=codes
            ) from None
        except smtplib.SMTPResponseException as exc:
            reply = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise ExternalServiceError(
                "the mail server refused the notice: %(code)s %(reply)s",
                code=exc.smtp_code,
                reply=reply,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ExternalServiceError(
                "cannot reach the mail server %(server)s: %(error)s",
                server=f"{self.host}:{self.port}",
                error=exc,
            ) from None
        return str(message["Message-ID"])
