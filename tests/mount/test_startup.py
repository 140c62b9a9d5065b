"""Startup: bad token, no token, unreachable API, token files."""

import os

from conftest import port_outside_ephemeral_range


def test_wrong_token_refuses_to_mount(mock, mount):
    rc, err, mounted = mount.start_failure(mock, token="wrong-token-abc")
    assert not mounted, "mounted with a wrong token"
    assert rc != 0
    low = err.lower()
    assert "401" in low or "token" in low or "unauthori" in low, err
    assert "wrong-token-abc" not in err, "the token leaked into stderr"
    log = mock.requests()
    assert log and log[0]["status"] == 401


def test_no_token_refuses_to_mount(mock, mount):
    rc, err, mounted = mount.start_failure(mock, token=False)
    assert not mounted
    assert rc != 0
    assert "token" in err.lower(), err
    assert mock.requests() == [], "no request without a token"


def test_unreachable_api_refuses_to_mount(mock, mount):
    port = port_outside_ephemeral_range()
    rc, err, mounted = mount.start_failure(
        mock, base_url="http://127.0.0.1:%d/api/v1" % port)
    assert not mounted
    assert rc != 0
    assert err.strip(), "no message on stderr"


def test_wrong_path_refuses_to_mount(mock, mount):
    rc, err, mounted = mount.start_failure(mock, base_url=mock.root + "/nothing/here")
    assert not mounted
    assert rc != 0
    assert err.strip()


def test_token_file(mock, mount, tmp_path):
    tf = tmp_path / "token"
    tf.write_text(mock.token + "\n")
    os.chmod(tf, 0o600)
    mnt = mount(mock, token=False, extra_opts=["token_file=%s" % tf])
    assert "19" in os.listdir(os.path.join(mnt, "accounts"))


def test_bad_option_value(mock, mount):
    rc, err, mounted = mount.start_failure(mock, cache_ttl="abc")
    assert not mounted
    assert rc != 0
    assert "cache_ttl" in err
