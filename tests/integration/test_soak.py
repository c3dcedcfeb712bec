"""A brief soak in CI (bench/soak.py; `make soak` is the long one): 20,000 mixed reads
and writes over 64 keep-alive connections against the ASan build, a fixed request
count, and then:

  * no request failed (every answer a 200, no reset, no timeout);
  * RSS stayed flat: after a warm-up, the last quarter's largest VmRSS is at most the
    first quarter's x 1.5 + 8 MB;
  * the server stops cleanly on SIGTERM with no LeakSanitizer (or other sanitizer)
    report — the make_server fixture checks that at teardown.

ASan's quarantine of freed memory is kept small (bench/soak.py SOAK_ASAN_OPTIONS) so
that it fills in the warm-up instead of reading as growth."""
import importlib.util
import os

SOAK_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "soak.py")
spec = importlib.util.spec_from_file_location("mlflowd_soak", SOAK_PATH)
soak = importlib.util.module_from_spec(spec)
spec.loader.exec_module(soak)

CONNECTIONS = 64
REQUESTS = 20000


def test_mixed_load_has_no_errors_and_flat_memory(make_server):
    server = make_server(args=["--quiet"], env={"ASAN_OPTIONS": soak.SOAK_ASAN_OPTIONS})
    result = soak.run_soak(server.port, pid=server.proc.pid, connections=CONNECTIONS,
                           requests=REQUESTS, seed=7)
    soak.print_result(result)
    assert result["requests"] == REQUESTS, result["errors"][:5]
    assert not result["errors"], result["errors"][:10]
    assert result["rss_first_quarter_max_kb"], "no RSS samples"
    assert result["ok"], result["problems"]
    # the server still answers after the load
    assert server.get("/health").status_code == 200
