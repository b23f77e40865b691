"""Streams and subjects: the one place that names them.

Every subject and stream name can carry a namespace (GIRLSDAY_NAMESPACE), so several platforms
(or tests) share one NATS without seeing each other's events.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

OWNED_STREAMS = {
    "registration": "REGISTRATION",
    "matching": "MATCHING",
    "surveys": "SURVEYS",
    "reporting": "REPORTING",
}
DEAD_LETTER = "DEAD_LETTER"
DEAD_LETTER_ROOT = "deadletter"
DUPLICATE_WINDOW_S = 120.0
DAY_S = 86400.0
# How long a stream keeps an event (GIRLSDAY_STREAM_RETENTION_DAYS) and a dead letter
# (GIRLSDAY_DEAD_LETTER_RETENTION_DAYS): the streams are a transport, the databases the record;
# events name pupils only by pseudonym, and their codes are purged long before (docs/privacy.md).
STREAM_RETENTION_DAYS = 400
DEAD_LETTER_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Topology:
    namespace: str = ""
    stream_retention_days: float = STREAM_RETENTION_DAYS
    dead_letter_retention_days: float = DEAD_LETTER_RETENTION_DAYS

    @classmethod
    def of(cls, settings) -> Topology:
        """The topology a platform's settings describe (namespace, retention)."""
        return cls(settings.namespace, settings.stream_retention_days, settings.dead_letter_retention_days)

    def subject(self, subject: str) -> str:
        """The wire subject for a catalogue subject such as `registration.school.registered`."""
        return f"{self.namespace}.{subject}" if self.namespace else subject

    def unqualified(self, wire_subject: str) -> str:
        prefix = f"{self.namespace}." if self.namespace else ""
        return wire_subject[len(prefix) :] if prefix and wire_subject.startswith(prefix) else wire_subject

    def stream(self, name: str) -> str:
        return f"{self.namespace.upper()}_{name}" if self.namespace else name

    def stream_of_service(self, service: str) -> str:
        return self.stream(OWNED_STREAMS[service])

    def stream_for_subject(self, subject: str) -> str:
        """The stream that stores a catalogue subject (`registration.x` -> REGISTRATION)."""
        key = subject.split(".", 1)[0]
        return self.stream(DEAD_LETTER if key == DEAD_LETTER_ROOT else OWNED_STREAMS[key])

    def dead_letter_subject(self, service: str, consumer: str, original: str | None = None) -> str:
        """`deadletter.<service>.<consumer>.<original catalogue subject>`: the original subject stays
        in it, so the copies of an event can be purged by subject (an erased pupil's codes)."""
        suffix = f".{self.unqualified(original)}" if original else ""
        return self.subject(f"{DEAD_LETTER_ROOT}.{service}.{consumer}{suffix}")

    def stream_configs(self) -> list[StreamConfig]:
        configs = [
            StreamConfig(
                name=self.stream(stream),
                subjects=[self.subject(f"{service}.>")],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
                discard=DiscardPolicy.OLD,
                max_age=self.stream_retention_days * DAY_S,
            )
            for service, stream in OWNED_STREAMS.items()
        ]
        configs.append(
            StreamConfig(
                name=self.stream(DEAD_LETTER),
                subjects=[self.subject(f"{DEAD_LETTER_ROOT}.>")],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
                max_age=self.dead_letter_retention_days * DAY_S,
            )
        )
        return configs


async def declare_streams(js, topology: Topology, replicas: int = 1) -> list[str]:
    """Create or update every stream. Idempotent; the only place streams are declared."""
    from nats.js.errors import NotFoundError

    names = []
    for config in topology.stream_configs():
        config.num_replicas = replicas
        try:
            await js.stream_info(config.name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)
        names.append(config.name)
    return names
