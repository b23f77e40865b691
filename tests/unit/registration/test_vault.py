"""Person numbers at rest (services/registration/vault.py)."""

import pytest

from services.registration.vault import Vault, VaultError, new_key, parse_key


def test_a_sealed_number_opens_for_its_owner_only_and_never_reads_as_the_number():
    vault = Vault(parse_key(new_key()))
    sealed = vault.seal("111222333", "participant-1")
    assert "111222333" not in sealed and vault.open(sealed, "participant-1") == "111222333"
    assert vault.seal("111222333", "participant-1") != sealed  # a fresh nonce each time
    with pytest.raises(VaultError):
        vault.open(sealed, "participant-2")  # copied onto another participant, it does not open


def test_the_blind_index_recognises_a_number_only_with_the_same_key():
    key = parse_key(new_key())
    one, same, other = Vault(key), Vault(key), Vault(parse_key(new_key()))
    assert one.index("bsn", "111222333") == same.index("bsn", "111222333") != one.index("bsn", "123456782")
    assert one.index("bsn", "111222333") != other.index("bsn", "111222333")
    assert one.index("bsn", "101222331") != one.index("onderwijsnummer", "101222331")


def test_a_key_must_be_32_bytes_of_base64():
    with pytest.raises(ValueError):
        parse_key("too-short")
    with pytest.raises(VaultError):
        Vault(parse_key(new_key())).open(Vault(parse_key(new_key())).seal("1", "p"), "p")
