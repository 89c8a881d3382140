"""
A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps the messages it receives,
for the tests of email alerts.

    with SMTPReceiver() as smtp:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        ...
        wait_until(lambda: smtp.messages)
"""

from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from testing.sockets import free_port


class _Handler:
    def __init__(self):
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


class SMTPReceiver:
    def __init__(self):
        self.handler = _Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[tuple[list[str], Message]]:
        """(recipients, message) of each email received."""
        return self.handler.messages

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
