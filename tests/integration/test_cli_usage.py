"""Usage of `mlflowd admin` and `mlflowd kserve` (README "mlflowd admin": exit status 0 = done,
1 = failed, a flag with an invalid value included, 2 = bad usage; secret flags accepted but left
out of --help): the dispatch, --help/-h, unknown options and commands, a flag without its
value, `--flag=value`, repeated-flag limits, and flags over environment variables. None of
these needs a database, S3 or Keycloak: each case ends before any connection, or at one that
cannot be made (port 1)."""
import os
import subprocess

import pytest

from conftest import BIN

UNREACHABLE = "http://127.0.0.1:1"


def run(*args, env=None, cwd=None):
    full_env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", **(env or {}))
    for name in ("MLFLOWD_KSERVE_NAMESPACE", "MLFLOW_BACKEND_STORE_URI"):
        if name not in (env or {}):
            full_env.pop(name, None)
    out = subprocess.run([BIN, *args], env=full_env, cwd=cwd, capture_output=True, text=True,
                         timeout=60)
    assert "Sanitizer" not in out.stderr and "runtime error" not in out.stderr, out.stderr
    return out


def test_admin_without_a_command_is_bad_usage():
    out = run("admin")
    assert out.returncode == 2
    assert out.stdout == "" and out.stderr.startswith("Usage: mlflowd admin COMMAND")
    for command in ("init-db", "init-bucket", "keycloak"):
        assert command in out.stderr


@pytest.mark.parametrize("word", ["--help", "help"])
def test_admin_help_goes_to_stdout_and_succeeds(word):
    out = run("admin", word)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith("Usage: mlflowd admin COMMAND")


@pytest.mark.parametrize("command", ["bogus", "init_db", "INIT-DB", "-h", ""])
def test_admin_unknown_command_is_bad_usage_and_named(command):
    out = run("admin", command)
    assert out.returncode == 2 and out.stdout == ""
    assert f"unknown command '{command}'" in out.stderr and "Usage: mlflowd admin" in out.stderr


@pytest.mark.parametrize("command,secrets", [
    ("init-db", {"--password ": "MLFLOWD_DB_PASSWORD"}),
    ("init-bucket", {"--minio-user-secret-key": "MLFLOWD_MINIO_USER_SECRET_KEY",
                     "--minio-admin-secret-key": "MLFLOWD_MINIO_ADMIN_SECRET_KEY"}),
    ("keycloak", {"--admin-client-secret": "KEYCLOAK_ADMIN_CLIENT_SECRET",
                  "--admin-password": "KEYCLOAK_ADMIN_PASSWORD",
                  "--client-secret": "MLFLOWD_KEYCLOAK_CLIENT_SECRET"}),
])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_command_help_lists_flags_but_no_secret_flag(command, secrets, flag):
    """A secret flag is left out of --help, which names its environment variable instead."""
    out = run("admin", command, flag)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith(f"Usage: mlflowd admin {command}")
    assert "Options (environment variable in brackets):" in out.stdout
    assert out.stdout.rstrip().endswith("--help\n      show this help")
    for secret, variable in secrets.items():
        assert secret not in out.stdout + "\n", secret
        assert variable in out.stdout, variable


def test_help_shows_value_flags_with_value_and_switches_without():
    text = run("admin", "init-db", "--help").stdout
    assert "  --prefix VALUE\n" in text and "[MLFLOWD_DB_PREFIX]" in text
    assert "  --no-auth-database\n" in text and "--no-auth-database VALUE" not in text
    text = run("admin", "keycloak", "--help").stdout
    assert "  --redirect-uri VALUE\n" in text and "  --no-client\n" in text


def test_help_wins_over_what_follows_but_not_over_what_precedes():
    assert run("admin", "init-db", "--help", "--no-such-flag").returncode == 0
    out = run("admin", "init-db", "--no-such-flag", "--help")
    assert out.returncode == 2 and "unknown option '--no-such-flag'" in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("args,named", [
    (["--no-such-flag"], "--no-such-flag"),
    (["positional"], "positional"),
    (["--prefi", "x"], "--prefi"),          # no prefix matching
    (["--prefixes", "x"], "--prefixes"),
    (["--help=yes"], "--help=yes"),
    (["-x"], "-x"),
    (["--no-auth-database", "yes"], "yes"),  # a switch takes no separate value
])
def test_unknown_options_are_bad_usage_with_the_usage_on_stderr(args, named):
    out = run("admin", "init-db", *args)
    assert out.returncode == 2 and out.stdout == ""
    assert f"mlflowd: unknown option '{named}'" in out.stderr
    assert "Usage: mlflowd admin init-db" in out.stderr


@pytest.mark.parametrize("command,flag", [("init-db", "--prefix"), ("init-db", "--admin-uri"),
                                          ("init-bucket", "--destination"),
                                          ("keycloak", "--redirect-uri"),
                                          ("init-db", "--password")])
def test_a_flag_without_its_value_is_bad_usage(command, flag):
    out = run("admin", command, flag)
    assert out.returncode == 2
    assert f"mlflowd: option {flag} needs a value" in out.stderr


@pytest.mark.parametrize("value", ["maybe", "2", "yess", " true", "tru"])
def test_a_switch_with_a_value_that_is_no_boolean_fails(value):
    out = run("admin", "keycloak", f"--no-client={value}")
    assert out.returncode == 1
    assert f"mlflowd: --no-client: '{value}' is not true or false" in out.stderr


@pytest.mark.parametrize("value", ["1", "TRUE", "Yes", "on", "0", "false", "NO", "Off", ""])
def test_a_switch_takes_each_spelling_of_a_boolean(value):
    """Parsing passes; the command then stops for the missing --url/--realm (2), not for the
    value."""
    out = run("admin", "keycloak", f"--no-client={value}")
    assert out.returncode == 2 and "is not true or false" not in out.stderr
    assert "--url and --realm are required" in out.stderr


def test_a_secret_flag_is_accepted_though_not_listed():
    """--password is taken (the command goes on to the unreachable server: 1, not 2)."""
    out = run("admin", "init-db", "--admin-uri", "postgresql://u@127.0.0.1:1/postgres",
              "--password", "s3cret-value")
    assert out.returncode == 1 and "unknown option" not in out.stderr, out.stderr
    assert "s3cret-value" not in out.stderr + out.stdout
    out = run("admin", "init-db", "--admin-uri=postgresql://u@127.0.0.1:1/postgres",
              "--password=s3cret-value")
    assert out.returncode == 1 and "unknown option" not in out.stderr, out.stderr


def test_a_repeatable_flag_takes_64_values_and_refuses_the_65th():
    base = ["admin", "keycloak", "--url", UNREACHABLE, "--realm", "r"]
    many = [arg for i in range(64) for arg in ("--redirect-uri", f"https://h/{i}")]
    out = run(*base, *many, env={"KEYCLOAK_ADMIN_CLIENT_ID": "x",
                                 "KEYCLOAK_ADMIN_CLIENT_SECRET": "y"})
    assert "more than 64 values" not in out.stderr and out.returncode == 1, out.stderr
    out = run(*base, *many, "--redirect-uri", "https://h/64")
    assert out.returncode == 1
    assert "mlflowd: --redirect-uri: more than 64 values" in out.stderr


# --- mlflowd kserve ------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [[], ["bogus"], ["Manifest"], ["--name", "m"]])
def test_kserve_without_manifest_or_apply_is_bad_usage(args):
    out = run("kserve", *args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("Usage: mlflowd kserve manifest|apply")


@pytest.mark.parametrize("args", [["--help"], ["help"], ["manifest", "--help"],
                                  ["apply", "-h"]])
def test_kserve_help_succeeds_on_stdout(args):
    out = run("kserve", *args)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith("Usage: mlflowd kserve")


def test_kserve_apply_help_names_apply_and_its_cluster_flags():
    text = run("kserve", "apply", "--help").stdout
    assert text.startswith("Usage: mlflowd kserve apply")
    for flag in ("--api-url VALUE", "--token-file VALUE", "--ca-file VALUE", "--namespace VALUE"):
        assert flag in text


@pytest.mark.parametrize("args", [
    ["--version", "1"],                                   # no --name
    ["--name", "", "--version", "1"],                     # an empty --name
    ["--name", "m"],                                      # neither
    ["--name", "m", "--version", "1", "--alias", "a"],    # both
    ["--name", "m", "--version", "", "--alias", ""],      # both empty: neither
    ["--name", "m", "--version"],                         # no value
])
def test_kserve_target_mistakes_are_bad_usage(args):
    out = run("kserve", "manifest", *args)
    assert out.returncode == 2, out.stderr


@pytest.mark.parametrize("version", ["x", "0", "-1", "1.5", "1x", "0x10"])
def test_kserve_version_that_is_no_version_number_fails(version, tmp_path):
    out = run("kserve", "manifest", "--name", "m", "--version", version, cwd=tmp_path)
    assert out.returncode == 1
    assert f"--version '{version}' is not a version number" in out.stderr


@pytest.mark.parametrize("output", ["xml", "YAML", "", "json "])
def test_kserve_output_other_than_yaml_or_json_fails(output, tmp_path):
    out = run("kserve", "manifest", "--name", "m", "--version", "1", "--output", output,
              cwd=tmp_path)
    assert out.returncode == 1 and f"--output '{output}': yaml or json" in out.stderr


def test_kserve_flag_wins_over_environment(tmp_path):
    """A bad namespace from the environment fails; the same with a good --namespace gets past
    the namespace (to the empty database's missing model)."""
    (tmp_path / "mlflow.db").touch()
    env = {"MLFLOWD_KSERVE_NAMESPACE": "Bad_NS"}
    out = run("kserve", "manifest", "--name", "m", "--version", "1", env=env, cwd=tmp_path)
    assert out.returncode == 1 and "'Bad_NS' is not a Kubernetes namespace name" in out.stderr
    out = run("kserve", "manifest", "--name", "m", "--version", "1", "--namespace", "good",
              env=env, cwd=tmp_path)
    assert out.returncode == 1 and "namespace" not in out.stderr, out.stderr


def test_kserve_backend_from_environment_and_flag(tmp_path):
    missing_env = tmp_path / "env.db"
    missing_flag = tmp_path / "flag.db"
    env = {"MLFLOW_BACKEND_STORE_URI": f"sqlite:///{missing_env}"}
    out = run("kserve", "manifest", "--name", "m", "--version", "1", env=env, cwd=tmp_path)
    assert out.returncode == 1 and str(missing_env) in out.stderr
    out = run("kserve", "manifest", "--name", "m", "--version", "1", "--backend-store-uri",
              f"sqlite:///{missing_flag}", env=env, cwd=tmp_path)
    assert out.returncode == 1 and str(missing_flag) in out.stderr
    assert str(missing_env) not in out.stderr
    assert not missing_env.exists() and not missing_flag.exists()


@pytest.mark.parametrize("version", ["99999999999999999999", "9223372036854775808"])
def test_kserve_version_past_int64_is_no_version_number(version, tmp_path):
    (tmp_path / "mlflow.db").touch()
    out = run("kserve", "manifest", "--name", "m", "--version", version, cwd=tmp_path)
    assert out.returncode == 1
    assert f"--version '{version}' is not a version number" in out.stderr, out.stderr


def test_kserve_on_a_database_without_schema_says_what_to_do(tmp_path):
    (tmp_path / "mlflow.db").touch()
    out = run("kserve", "manifest", "--name", "m", "--version", "1", cwd=tmp_path)
    assert out.returncode == 1
    assert "no such table" not in out.stderr, out.stderr
    assert "mlflow.db" in out.stderr, out.stderr
