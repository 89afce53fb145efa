"""The Terraform module in deploy/terraform.

``terraform validate`` needs the AWS provider, which no registry this machine reaches serves, so the module is
checked in two other ways. Parsed with python-hcl2: variables used and declared, secrets sensitive, references,
the database's security group, the template's variables. Evaluated by Terraform itself where no provider is
needed: ``terraform fmt``, and ``terraform console`` on a copy holding only the variables and main.tf's locals
(the database's address faked), which runs the variables' validation rules and renders the first-boot script
with the repository's files; that script then goes through ``bash -n`` and shellcheck, and the files it would
write are loaded back into lmnh-pipes.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest

import lmnh_pipes
from lmnh_pipes.environ import read_env_file

from .common import DEPLOY, EXAMPLES, MUSEUM_NAMES, UNIT, need, pipeline_variables

TF = DEPLOY / "terraform"
Tree = dict[str, dict[str, Any]]


def need_terraform() -> str:
    path = shutil.which("terraform") or shutil.which("tofu")
    if path is None:
        pytest.skip(
            "neither terraform nor tofu is installed, and no registry this project reaches serves a current one"
        )
    return path


# -- parsed --


def strings(node: Any) -> Iterator[str]:
    """Every string in a python-hcl2 tree (where expressions are strings), comments left out."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if not key.startswith("__"):
                yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def unquote(name: str) -> str:
    return name.strip('"')


@pytest.fixture(scope="module")
def tf() -> Tree:
    trees = {}
    for path in sorted(TF.glob("*.tf")):
        with path.open() as f:
            trees[path.name] = hcl2.load(f)
    return trees


def blocks(tf: Tree, kind: str) -> dict[str, Any]:
    """``variable`` and ``output`` blocks by name; ``resource`` and ``data`` blocks by "type.name"."""
    found: dict[str, Any] = {}
    for doc in tf.values():
        for entry in doc.get(kind, []):
            for name, body in entry.items():
                if kind in ("resource", "data"):
                    found.update({f"{unquote(name)}.{unquote(inner)}": b for inner, b in body.items()})
                else:
                    found[unquote(name)] = body
    return found


def local_values(tf: Tree) -> dict[str, Any]:
    return {k: v for doc in tf.values() for entry in doc.get("locals", []) for k, v in entry.items()}


def test_module_files_are_all_there(tf: Tree) -> None:
    assert {p.name for p in TF.iterdir()} >= {
        "variables.tf",
        "main.tf",
        "outputs.tf",
        "user_data.sh.tftpl",
        "README.md",
    }
    (providers,) = tf["versions.tf"]["terraform"][0]["required_providers"]
    assert unquote(providers["aws"]["source"]) == "hashicorp/aws"


def test_every_variable_used_is_declared_and_every_declared_one_is_used(tf: Tree) -> None:
    declared = set(blocks(tf, "variable"))
    elsewhere = [doc for name, doc in tf.items() if name != "variables.tf"]  # not the validation rules
    used = {m for s in strings(elsewhere) for m in re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", s)}
    assert used - declared == set(), "used, not declared"
    assert declared - used == set(), "declared, never used"
    museum = {"region", "DB_ID", "DB_USERNAME", "DB_PASSWORD", "DB_NAME", "SG_NAME", "VPC_ID", "VPC_NAME"}
    museum |= {"SUBNET_IDS", "INSTANCE_TYPE", "KEY_NAME", "BOOTSTRAP_SERVERS", "SECURITY_PROTOCOL", "SASL_MECHANISM"}
    museum |= {"USERNAME", "PASSWORD", "TOPIC", "G_ID"}
    assert museum <= declared


def test_secrets_are_sensitive(tf: Tree) -> None:
    variables = blocks(tf, "variable")
    for name in ("DB_PASSWORD", "PASSWORD", "USERNAME"):
        assert variables[name].get("sensitive") is True, name


def test_every_reference_names_something_declared(tf: Tree) -> None:
    resources, data, locals_ = set(blocks(tf, "resource")), set(blocks(tf, "data")), set(local_values(tf))
    for s in strings(list(tf.values())):
        for kind, name in re.findall(r"(?<![\w.])(aws_[a-z0-9_]+)\.([a-z0-9_]+)\b", s):
            assert f"{kind}.{name}" in resources, s
        for kind, name in re.findall(r"\bdata\.(aws_[a-z0-9_]+)\.([a-z0-9_]+)\b", s):
            assert f"{kind}.{name}" in data, s
        for name in re.findall(r"\blocal\.([a-z0-9_]+)\b", s):
            assert name in locals_, s
    outputs = blocks(tf, "output")
    assert outputs
    assert all(re.search(r"aws_\w+\.\w+", o["value"]) for o in outputs.values())


def test_database_accepts_5432_from_the_instance_security_group_only(tf: Tree) -> None:
    resources = blocks(tf, "resource")
    (db,) = [body for key, body in resources.items() if key.startswith("aws_db_instance.")]
    (instance,) = [body for key, body in resources.items() if key.startswith("aws_instance.")]
    (db_sg,) = db["vpc_security_group_ids"]
    (instance_sg,) = instance["vpc_security_group_ids"]
    assert db_sg != instance_sg
    assert db["publicly_accessible"] is False
    sg = re.fullmatch(r"\$\{(aws_security_group\.\w+)\.id\}", db_sg)
    assert sg is not None
    assert "ingress" not in resources[sg[1]]
    assert not [k for k in resources if k.startswith("aws_security_group_rule.")]
    rules = [
        body
        for key, body in resources.items()
        if key.startswith("aws_vpc_security_group_ingress_rule.") and body["security_group_id"] == db_sg
    ]
    assert len(rules) == 1
    (rule,) = rules
    assert (rule["from_port"], rule["to_port"], unquote(rule["ip_protocol"])) == (5432, 5432, "tcp")
    assert rule["referenced_security_group_id"] == instance_sg
    assert not {"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} & set(rule)


def test_template_gets_every_variable_it_uses_and_no_other(tf: Tree) -> None:
    call = local_values(tf)["user_data"]
    m = re.fullmatch(r'\$\{templatefile\("\$\{path\.module\}/([^"]+)", \{(.*)\}\)\}', call, re.DOTALL)
    assert m is not None, call
    passed = set(re.findall(r"(?:^|, )([a-z_][a-z0-9_]*) = ", m[2]))
    text = (TF / m[1]).read_text()
    loops = re.findall(r"%\{~?\s*for\s+(\w+)\s*(?:,\s*(\w+))?\s+in\s+(\w+)", text)
    loop_names = {n for key, value, _ in loops for n in (key, value) if n}
    used = set(re.findall(r"(?<!\$)\$\{\s*([A-Za-z_]\w*)", text)) - loop_names
    used |= {collection for *_, collection in loops}
    assert used == passed


def test_files_the_module_reads_exist(tf: Tree) -> None:
    bases = {"path.module": TF, "local.examples": EXAMPLES}
    read = [
        m for s in strings(list(tf.values())) for m in re.findall(r'file(?:base64)?\("\$\{([\w.]+)\}/([^"$]+)"\)', s)
    ]
    assert len(read) >= 4
    for base, rel in read:
        assert (bases[base] / rel).is_file(), f"{base}/{rel}"


def test_env_file_of_the_instance_holds_every_variable_of_the_museum_pipeline(tf: Tree) -> None:
    names = set(re.findall(r"\b([A-Z][A-Z_]*) = ", local_values(tf)["museum_env"]))
    assert names >= MUSEUM_NAMES
    assert names >= pipeline_variables(EXAMPLES / "pipeline.yaml")


# -- evaluated by Terraform (no provider needed: only variables and locals) --

TFVARS = {
    "DB_ID": "museum-db",
    "DB_USERNAME": "lmnh",
    "DB_PASSWORD": "s3cret!pass#word",
    "SG_NAME": "museum-sg",
    "VPC_ID": "vpc-0123456789abcdef0",
    "VPC_NAME": "c-vpc",
    "SUBNET_IDS": ["subnet-a", "subnet-b"],
    "LMNH_PIPES_SPEC": "lmnh-pipes==0.1.0",
    "BOOTSTRAP_SERVERS": "b-1.example.com:9092,b-2.example.com:9096",
    "USERNAME": "API-KEY",
    "PASSWORD": 'it\'s a #secret, "quoted" \\ too',
    "G_ID": "museum-group",
}
DB = {"address": "museum-db.abc.eu-west-2.rds.amazonaws.com", "port": 5432}


def terraform(workdir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    (workdir / "cli.tfrc").write_text("")  # no provider mirrors, no credentials: the machine's config is not read
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(workdir / "cli.tfrc"), "CHECKPOINT_DISABLE": "1"}
    return subprocess.run(
        [need_terraform(), *args], cwd=workdir, input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def evaluable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A provider-free copy of the module: its variables, and main.tf's locals with the database faked."""
    need_terraform()
    workdir = tmp_path_factory.mktemp("tf")
    shutil.copy(TF / "variables.tf", workdir)
    m = re.search(r"(?ms)^locals \{\n.*?^\}\n", (TF / "main.tf").read_text())
    assert m is not None
    block = m[0].replace("path.module", json.dumps(str(TF))).replace("aws_db_instance.museum.", "local.fake_db.")
    fake = f'locals {{\n  fake_db = {{ address = "{DB["address"]}", port = {DB["port"]} }}\n}}\n'
    (workdir / "locals.tf").write_text(block + fake)
    (workdir / "test.auto.tfvars.json").write_text(json.dumps(TFVARS))
    return workdir


@pytest.fixture(scope="module")
def rendered(evaluable: Path) -> dict[str, Any]:
    wanted = "{user_data = local.user_data, env = local.museum_env, kafka_ports = local.kafka_ports}"
    done = terraform(evaluable, "console", "-no-color", stdin=f"nonsensitive(base64encode(jsonencode({wanted})))")
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr, done.stderr
    result: dict[str, Any] = json.loads(base64.b64decode(json.loads(done.stdout)))
    return result


def test_module_is_formatted(tmp_path: Path) -> None:
    done = terraform(tmp_path, "fmt", "-check", "-recursive", "-diff", str(TF))
    assert done.returncode == 0, done.stdout + done.stderr


def test_variable_validation_refuses_what_rds_would(evaluable: Path, tmp_path: Path) -> None:
    bad = {**TFVARS, "DB_PASSWORD": "has@and space", "SUBNET_IDS": ["subnet-a"], "BOOTSTRAP_SERVERS": "no-port"}
    (tmp_path / "bad.tfvars.json").write_text(json.dumps(bad))
    done = terraform(evaluable, "console", "-no-color", f"-var-file={tmp_path / 'bad.tfvars.json'}", stdin="1")
    for message in ("DB_PASSWORD: 8 to 128", "SUBNET_IDS: RDS needs", "BOOTSTRAP_SERVERS: host:port"):
        assert message in done.stderr, done.stderr


def test_kafka_egress_opens_each_bootstrap_port(rendered: dict[str, Any]) -> None:
    assert sorted(rendered["kafka_ports"]) == ["9092", "9096"]


def test_instance_env_file_reads_back_as_the_variables(rendered: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "museum.env").write_text(rendered["env"])
    assert read_env_file(tmp_path / "museum.env") == {
        **{k: v for k, v in TFVARS.items() if k in MUSEUM_NAMES},
        **{"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "PLAIN", "TOPIC": "lmnh", "DB_NAME": "museum"},
        **{"DB_HOST": DB["address"], "DB_PORT": str(DB["port"]), "CATALOGUE": "/etc/lmnh-pipes/exhibitions"},
    }


def test_user_data_fits_ec2_and_is_valid_bash(rendered: dict[str, Any], tmp_path: Path) -> None:
    script = rendered["user_data"]
    assert len(gzip.compress(script.encode())) < 16 * 1024  # EC2's limit; main.tf gzips the script
    (tmp_path / "user_data.sh").write_text(script)
    done = subprocess.run(["bash", "-n", str(tmp_path / "user_data.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_user_data_passes_shellcheck(rendered: dict[str, Any], tmp_path: Path) -> None:
    tool = need("shellcheck", "apt-get install -y shellcheck")
    (tmp_path / "user_data.sh").write_text(rendered["user_data"])
    done = subprocess.run([tool, "--shell=bash", str(tmp_path / "user_data.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_user_data_writes_the_repository_files_and_they_load(rendered: dict[str, Any], tmp_path: Path) -> None:
    script = rendered["user_data"]
    files = {
        path: base64.b64decode(b64) for path, b64 in re.findall(r"put 0644 \"([^\"]+)\" '([A-Za-z0-9+/=]+)'", script)
    }
    (env,) = re.findall(r"printf '%s' '([A-Za-z0-9+/=]+)' \| base64 -d > \"\$conf/\$instance.env\"", script)
    assert base64.b64decode(env).decode() == rendered["env"]
    assert files.pop("$conf/$instance.yaml") == (EXAMPLES / "pipeline.yaml").read_bytes()
    assert files.pop("$conf/catalogue.yaml") == (EXAMPLES / "catalogue.yaml").read_bytes()
    assert files.pop("$conf/schema.sql") == (EXAMPLES / "schema.sql").read_bytes()
    assert files.pop("/etc/systemd/system/lmnh-pipes@.service") == UNIT.read_bytes()
    catalogue = tmp_path / "exhibitions"
    catalogue.mkdir()
    for path in sorted((EXAMPLES / "exhibitions").glob("lmnh_exhibition_*.json")):
        (catalogue / path.name).write_bytes(files.pop(f"$conf/exhibitions/{path.name}"))
        assert (catalogue / path.name).read_bytes() == path.read_bytes()
    assert files == {}
    # Load them as the service and the catalogue step do (the catalogue moved from /etc/lmnh-pipes to here).
    (tmp_path / "museum.yaml").write_bytes((EXAMPLES / "pipeline.yaml").read_bytes())
    (tmp_path / "museum.env").write_text(rendered["env"])
    pipeline = lmnh_pipes.load(
        tmp_path / "museum.yaml", env_file=tmp_path / "museum.env", environ={"CATALOGUE": str(catalogue)}
    )
    assert pipeline.name == "kiosk-to-postgres"
    assert (pipeline.source.username, pipeline.source.password) == (TFVARS["USERNAME"], TFVARS["PASSWORD"])
    # The catalogue step reads the same env file as the service.
    loaded = lmnh_pipes.load(
        EXAMPLES / "catalogue.yaml", env_file=tmp_path / "museum.env", environ={"CATALOGUE": str(catalogue)}
    )
    assert (loaded.sink.host, loaded.sink.dbname) == (DB["address"], "museum")  # type: ignore[attr-defined]
    assert '"$conf/catalogue.yaml" --env-file "$conf/$instance.env"' in script
