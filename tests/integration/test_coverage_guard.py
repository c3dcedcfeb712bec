"""Request-guard paths no other test ran (found by measuring coverage): an Origin whose
user-info names localhost is judged by its real host, an unclosed IPv6 literal is refused
as a Host and as an Origin, and list entries are trimmed on both sides."""
import uuid

import requests

from test_request_guard import BLOCKED, CREATE, INVALID_HOST, SEARCH, assert_refused, experiment_exists


def name():
    return "cov-guard-" + uuid.uuid4().hex[:10]


def test_origin_user_info_does_not_make_a_foreign_host_local(server):
    """urlparse("http://localhost@evil.example").hostname is evil.example: a write from
    there is cross-origin, whatever the text before the '@' says."""
    for origin in ["http://localhost@evil.example", "http://127.0.0.1:80@evil.example",
                   "https://[::1]@evil.example:8443", "http://a@localhost@evil.example",
                   "http://[::1", "http://localhost.evil.example"]:
        exp = name()
        r = requests.post(server.url + CREATE, json={"name": exp}, headers={"Origin": origin},
                          timeout=30)
        assert_refused(r, BLOCKED)
        assert not experiment_exists(server, exp), origin
    # the user-info is not the host: a loopback host behind one is still loopback
    for origin in ["http://someone@localhost:3000", "http://evil.example@127.0.0.1",
                   "http://u:p@[::1]:8080"]:
        r = requests.post(server.url + CREATE, json={"name": name()}, headers={"Origin": origin},
                          timeout=30)
        assert r.status_code == 200, (origin, r.text)
        assert r.headers["Access-Control-Allow-Origin"] == origin


def test_an_unclosed_ipv6_host_is_refused(server):
    for host in ["[::1", "[fd00::1:5000", "["]:
        r = requests.get(server.url + SEARCH, params={"max_results": 1}, headers={"Host": host},
                         timeout=30)
        assert_refused(r, INVALID_HOST)


def test_list_entries_are_trimmed_on_both_sides(make_server):
    s = make_server(args=["--allowed-hosts", " first.example ,second.example\t, 127.0.0.1 ",
                          "--cors-allowed-origins", "https://app.example ,  https://b.example "])
    for host in ["first.example", "second.example", "127.0.0.1"]:
        r = requests.get(s.url + SEARCH, params={"max_results": 1}, headers={"Host": host},
                         timeout=30)
        assert r.status_code == 200, (host, r.text)
    r = requests.get(s.url + SEARCH, params={"max_results": 1}, headers={"Host": "third.example"},
                     timeout=30)
    assert_refused(r, INVALID_HOST)
    for origin in ["https://app.example", "https://b.example"]:
        r = requests.post(s.url + CREATE, json={"name": name()},
                          headers={"Host": "first.example", "Origin": origin}, timeout=30)
        assert r.status_code == 200, (origin, r.text)
        assert r.headers["Access-Control-Allow-Origin"] == origin
    r = requests.post(s.url + CREATE, json={"name": name()},
                      headers={"Host": "first.example", "Origin": "https://c.example"}, timeout=30)
    assert_refused(r, BLOCKED)
