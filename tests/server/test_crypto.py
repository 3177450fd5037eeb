from __future__ import annotations

import base64

import pytest

from docg_server.crypto import DecryptionError, KeyConfigError, KeyRing, generate_key

CREDENTIALS = {"access_token": "tok-123", "refresh_token": "ref-456", "scopes": ["crm.read"]}


def ring(*kids: str) -> KeyRing:
    return KeyRing.parse(",".join(generate_key(kid) for kid in kids))


def test_round_trip() -> None:
    keys = ring("k1")
    token = keys.encrypt_json(CREDENTIALS, "connection-1")
    assert keys.decrypt_json(token, "connection-1") == CREDENTIALS


def test_the_token_names_its_version_and_key_and_hides_the_plaintext() -> None:
    token = ring("k1").encrypt_json(CREDENTIALS, "connection-1")
    version, kid, data = token.split(".")
    assert (version, kid) == ("v1", "k1")
    assert "tok-123" not in token
    assert base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))  # base64url


def test_each_encryption_uses_a_fresh_nonce() -> None:
    keys = ring("k1")
    assert keys.encrypt_json(CREDENTIALS, "c") != keys.encrypt_json(CREDENTIALS, "c")


def test_a_ciphertext_copied_to_another_row_fails() -> None:
    keys = ring("k1")
    token = keys.encrypt_json(CREDENTIALS, "connection-1")
    with pytest.raises(DecryptionError, match=r"authentication failed.*another row"):
        keys.decrypt_json(token, "connection-2")


def test_a_tampered_ciphertext_fails() -> None:
    keys = ring("k1")
    token = keys.encrypt_json(CREDENTIALS, "connection-1")
    prefix, data = token.rsplit(".", 1)
    flipped = data[:-2] + ("A" if data[-2] != "A" else "B") + data[-1]
    with pytest.raises(DecryptionError, match="authentication failed"):
        keys.decrypt_json(f"{prefix}.{flipped}", "connection-1")


def test_a_token_relabelled_with_another_key_id_fails() -> None:
    keys = ring("new", "old")
    token = keys.encrypt_json(CREDENTIALS, "c")
    with pytest.raises(DecryptionError, match="authentication failed"):
        keys.decrypt_json(token.replace("v1.new.", "v1.old."), "c")


def test_an_unknown_key_id_is_named() -> None:
    token = ring("gone").encrypt_json(CREDENTIALS, "c")
    with pytest.raises(DecryptionError, match=r"key id 'gone'.*it holds: k1"):
        ring("k1").decrypt_json(token, "c")


@pytest.mark.parametrize(
    "token", ["", "v1.k1", "v2.k1.AAAA", "plain text", "v1.k1.!!!!", "v1.k1.AAAA"]
)
def test_a_malformed_token_is_a_decryption_error(token: str) -> None:
    with pytest.raises(DecryptionError):
        ring("k1").decrypt_json(token, "c")


def test_rotation_old_key_still_decrypts_and_the_new_one_encrypts() -> None:
    old_spec = generate_key("old")
    old = KeyRing.parse(old_spec)
    legacy = old.encrypt_json(CREDENTIALS, "c")

    rotated = KeyRing.parse(f"{generate_key('new')},{old_spec}")
    assert rotated.primary_kid == "new"
    assert rotated.decrypt_json(legacy, "c") == CREDENTIALS
    assert rotated.needs_rotation(legacy)

    fresh = rotated.reencrypt(legacy, "c")
    assert fresh.startswith("v1.new.")
    assert not rotated.needs_rotation(fresh)
    assert rotated.decrypt_json(fresh, "c") == CREDENTIALS
    assert rotated.reencrypt(fresh, "c") == fresh


def test_generate_key_makes_a_256_bit_key() -> None:
    assert len(base64.b64decode(generate_key())) == 32
    kid, _, key = generate_key("k9").partition(":")
    assert kid == "k9" and len(base64.b64decode(key)) == 32


def test_urlsafe_and_unpadded_keys_are_accepted() -> None:
    raw = bytes(range(256))[-32:]
    spec = "k1:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert KeyRing.parse(spec).kids == ("k1",)


SECRET_B64 = base64.b64encode(b"s" * 31).decode()  # one byte short


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "ENCRYPTION_KEY is empty"),
        (f"{generate_key()}", "entry 1 has no key id"),
        (f"k1:{SECRET_B64}", r"entry 1 \('k1'\): the key decodes to 31 bytes; AES-256 needs 32"),
        ("k1:not base64!", r"entry 1 \('k1'\): the key is not valid base64"),
        (f"bad.kid:{generate_key()}", "key id 'bad.kid' is invalid"),
        (f"k1:{generate_key()},,k2:{generate_key()}", "entry 2 is empty"),
        (f"k1:{generate_key()},k1:{generate_key()}", "key id 'k1' appears twice"),
    ],
)
def test_a_malformed_encryption_key_is_rejected_clearly(spec: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message) as caught:
        KeyRing.parse(spec)
    assert SECRET_B64 not in str(caught.value)
    for entry in spec.split(","):
        key = entry.partition(":")[2]
        if key:
            assert key not in str(caught.value)


def test_the_key_ring_never_shows_its_keys() -> None:
    spec = generate_key("k1")
    assert repr(KeyRing.parse(spec)) == "KeyRing(kids=['k1'])"
