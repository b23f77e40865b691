"""The event catalogue and its envelope."""

import json
import logging

import pytest
from pydantic import ValidationError

from shared.contracts import Contract, GroupRegistered, KpiUpdated, PupilRef, SchoolRegistered, _all_contracts, contract_for_type
from shared.envelope import CloudEvent, make_event
from shared.logs import _EventContext, current_event_id
from shared.topology import Topology

PERSONAL = ("email", "e_mail", "phone", "telephone", "birth", "first_name", "last_name", "surname", "address", "contact", "secret")


def test_every_event_type_name_is_versioned_and_unique():
    types = [contract.type_name() for contract in _all_contracts().values()]
    assert len(types) == len(set(types))
    assert all(t.startswith("nl.vhto.girlsday.") and t.rsplit(".", 1)[1].startswith("v") for t in types)


@pytest.mark.parametrize("contract", sorted(_all_contracts().values(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_no_event_carries_personal_data_fields(contract: type[Contract]):
    def field_names(model) -> set[str]:
        names = set()
        for name, field in model.model_fields.items():
            names.add(name)
            annotation = field.annotation
            for inner in getattr(annotation, "__args__", ()) + (annotation,):
                if isinstance(inner, type) and hasattr(inner, "model_fields"):
                    names |= field_names(inner)
        return names

    leaking = [name for name in field_names(contract) if any(word in name for word in PERSONAL)]
    assert leaking == []


def test_envelope_is_cloudevents_structured_json_and_round_trips():
    data = SchoolRegistered(school_id="s1", brin="12AB", name="Het Baken", level="vo", postcode="3511 AB")
    event = make_event(data, source="/girlsday/registration", subject="school/s1")
    wire = json.loads(event.to_bytes())
    assert {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "data"} <= wire.keys()
    assert wire["specversion"] == "1.0" and wire["datacontenttype"] == "application/json"
    assert CloudEvent.model_validate_json(event.to_bytes()).contract() == data


def test_unknown_type_and_bad_data_are_told_apart():
    with pytest.raises(KeyError):
        contract_for_type("nl.vhto.girlsday.nothing.v1")
    event = make_event(SchoolRegistered(school_id="s", brin="12AB", name="X", level="vo", postcode="1234 AB"), source="/t")
    with pytest.raises(ValidationError):
        event.model_copy(update={"data": {"school_id": "s"}}).contract()


def test_contracts_refuse_unknown_fields():
    with pytest.raises(ValidationError, match="extra"):
        SchoolRegistered(school_id="s", brin="12AB", name="X", level="vo", postcode="1234 AB", email="a@b.nl")


def test_consumers_read_an_event_with_fields_added_by_a_newer_producer_at_any_depth():
    group = GroupRegistered(group_id="g", school_id="s", programme_id="p", pupil_count=12, pupils=[PupilRef(pupil_ref="2b-01")])
    newer = group.model_dump(mode="json") | {"travel_mode": "bus"}
    newer["split"]["prefer_mornings"] = True
    newer["pupils"][0]["wheelchair"] = False
    assert GroupRegistered.read(newer) == group
    assert CloudEvent.model_validate_json(make_event(group, source="/t").model_copy(update={"data": newer}).to_bytes()).contract() == group
    with pytest.raises(ValidationError, match="extra"):  # producers stay strict
        GroupRegistered.model_validate(newer)


def test_partner_kpi_events_carry_the_programme_in_their_subject():
    kpi = KpiUpdated(programme_id="gd2026", as_of="2026-04-01T10:00:00Z", figures={"pupils": 120})
    assert kpi.nats_subject() == "reporting.public.gd2026.kpi.updated"


def test_namespace_prefixes_subjects_and_streams():
    topology = Topology("t1")
    assert topology.subject("registration.school.registered") == "t1.registration.school.registered"
    assert topology.stream_for_subject("matching.run.completed") == "T1_MATCHING"
    assert topology.stream_for_subject("deadletter.reporting.x") == "T1_DEAD_LETTER"
    assert Topology().subject("surveys.reminder.due") == "surveys.reminder.due"
    assert {c.name for c in Topology().stream_configs()} == {"REGISTRATION", "MATCHING", "SURVEYS", "REPORTING", "DEAD_LETTER"}


def test_log_lines_written_while_handling_an_event_carry_its_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "handled", None, None)
    token = current_event_id.set("evt-42")
    try:
        _EventContext("reporting").filter(record)
    finally:
        current_event_id.reset(token)
    assert record.event_id == "evt-42" and record.service == "reporting"
