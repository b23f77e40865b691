"""Teacher links: a per-school, per-programme key signed with the service's secret.

VHTO (admin) fetches the link of a school and mails it to the teacher contact that registration
knows; the teacher needs no account or password. No school secret or hash ever travels in an event.
"""

from __future__ import annotations

import hashlib
import hmac


class TeacherKeys:
    def __init__(self, secret: str) -> None:
        self._secret = hashlib.sha256(f"girlsday-surveys-teacher-link\n{secret}".encode()).digest()

    def key(self, programme_id: str, school_id: str) -> str:
        message = f"{programme_id}\n{school_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]  # 128 bits

    def valid(self, programme_id: str, school_id: str, key: str | None) -> bool:
        return bool(key) and hmac.compare_digest(self.key(programme_id, school_id).encode(), key.encode())
