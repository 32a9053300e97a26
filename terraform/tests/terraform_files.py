"""The Terraform files, the schema and the template as the tests read them.

`hcl2` comes in two distributions with different output: python-hcl2
(strings and labels keep their quotes) and checkov's fork bc-python-hcl2
(every attribute value wrapped in a one-item list). Both install the same
`hcl2` package; this module reads either into plain values.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, Optional

import hcl2
import yaml

TERRAFORM_DIR = Path(__file__).resolve().parents[1]
REPOSITORY = TERRAFORM_DIR.parent
SCHEMA_FILE = REPOSITORY / "schemas" / "network-interface-pool.schema.json"
TEMPLATE_FILE = REPOSITORY / "cloudformation" / "network-interface-manager.yaml"
MANAGER_DIR = TERRAFORM_DIR / "modules" / "manager"
POOL_DIR = TERRAFORM_DIR / "modules" / "pool"
BASTION_DIR = TERRAFORM_DIR / "examples" / "bastion"

# How many labels each top-level block type has (resource "type" "name").
LABEL_COUNTS = {"variable": 1, "output": 1, "module": 1, "provider": 1, "check": 1,
                "resource": 2, "data": 2, "locals": 0, "terraform": 0}
METADATA_KEYS = {"__start_line__", "__end_line__", "__is_block__"}


def _dialect():
    probe = hcl2.loads('probe = "x"\n')["probe"]
    if probe == ["x"]:
        return "wrapped"
    if probe == '"x"':
        return "quoted"
    raise RuntimeError(f"this hcl2 reads a string attribute as {probe!r}; teach terraform_files.py its output")


DIALECT = _dialect()


def _unquote(value):
    if DIALECT == "quoted" and isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _plain(value):
    if isinstance(value, dict):
        return {_unquote(key): _plain(item) for key, item in value.items() if key not in METADATA_KEYS}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return _unquote(value)


def expression(value):
    """An attribute's expression as text, without spaces and without the ${...}
    around it: the dialects space expressions differently, and python-hcl2
    leaves a bare keyword such as `string` unwrapped."""
    text = re.sub(r"\s+", "", value)
    if text.startswith("${") and text.endswith("}") and _closing_brace(text, 1) == len(text) - 1:
        return text[2:-1]
    return text


def bare(value):
    """An expression as text without spaces, quotes and ${...} at any depth:
    inside an object the dialects quote and wrap keys and values differently."""
    text = re.sub(r"\s+", "", value)
    while (opening := text.find("${")) >= 0:
        closing = _closing_brace(text, opening + 1)
        text = text[:opening] + text[opening + 2:closing] + text[closing + 1:]
    return re.sub(r"[\"']", "", text)


def type_expression(value):
    """A variable's type as text, alike in both dialects: one reads an object
    type's attributes as `name = type`, the other as `'name': '${type}'`."""
    return bare(value).replace(":", "=")


def _closing_brace(text, opening):
    depth = 0
    for index in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return None


class Block:
    """A block's body: attributes by name, nested blocks by type."""

    def __init__(self, body):
        self._body = body

    def has(self, name):
        return name in self._body

    def names(self):
        return [name for name in self._body if name not in METADATA_KEYS]

    def attribute(self, name):
        value = self._body[name]
        if DIALECT == "wrapped":
            (value,) = value
        return _plain(value)

    def blocks(self, block_type):
        return [Block(body) for body in self._body.get(block_type, [])]

    def labelled(self, block_type, label):
        """The nested blocks of a type with one label, as `dynamic "name"`."""
        return [Block(inner) for body in self._body.get(block_type, [])
                for name, inner in body.items() if _unquote(name) == label]


class Module:
    """The .tf files of one folder, parsed."""

    def __init__(self, folder):
        self.folder = folder
        self.files = sorted(folder.glob("*.tf"))
        self.documents = [parse(path) for path in self.files]

    def blocks(self, block_type):
        """Blocks of a type by their labels: ("name",) for a variable, ("type", "name") for a resource."""
        found = {}
        for document in self.documents:
            for item in document.get(block_type, []):
                _collect(item, LABEL_COUNTS[block_type], (), found)
        return found

    def locals(self):
        merged = {}
        for block in self.blocks("locals").get((), []):
            merged.update({name: block.attribute(name) for name in block.names()})
        return merged


def _collect(node, labels_left, labels, found):
    if labels_left == 0:
        found.setdefault(labels, []).append(Block(node))
        return
    for label, inner in node.items():
        if label not in METADATA_KEYS:
            _collect(inner, labels_left - 1, labels + (_unquote(label),), found)


@lru_cache(maxsize=None)
def parsed(folder):
    """A folder's module, parsed once."""
    return Module(folder)


# A reference in an expression: var.x, local.x, module.m.output,
# data.type.name[.attribute], type.name.attribute of a managed resource.
REFERENCE = re.compile(r"\b(?:var|local)\.\w+|\bmodule\.\w+\.\w+|\bdata\.\w+\.\w+(?:\.\w+)?|\b[a-z0-9]+_\w+\.\w+\.\w+")


class Caller(NamedTuple):
    """A module block that calls a module: its folder, the block, and its own caller."""
    folder: Path
    block: Block
    caller: Optional["Caller"]


def sources(folder, value, caller=None):
    """What an expression in a module takes its value from, as (module
    folder relative to terraform/, reference): it follows variables (to the
    caller's argument when it sets one), locals, module outputs and a data
    source's arguments, and ends at managed resources' attributes and
    variables no caller sets."""
    found = set()
    for reference in REFERENCE.findall(str(value)):
        parts = reference.split(".")
        if parts[0] == "var" and caller is not None and caller.block.has(parts[1]):
            found |= sources(caller.folder, caller.block.attribute(parts[1]), caller.caller)
        elif parts[0] == "local":
            found |= sources(folder, parsed(folder).locals()[parts[1]], caller)
        elif parts[0] == "module":
            block = single(parsed(folder).blocks("module"), parts[1])
            called = (folder / block.attribute("source")).resolve()
            output = single(parsed(called).blocks("output"), parts[2])
            found |= sources(called, output.attribute("value"), Caller(folder, block, caller))
        elif parts[0] == "data":
            data = single(parsed(folder).blocks("data"), parts[1], parts[2])
            for argument in data.names():
                found |= sources(folder, data.attribute(argument), caller)
        else:
            found.add((str(folder.relative_to(TERRAFORM_DIR)), reference))
    return found


def parse(path):
    with open(path, encoding="utf-8") as file:
        return hcl2.load(file)


def single(blocks, *labels):
    (block,) = blocks[labels]
    return block


def tf_files():
    return sorted(path for path in TERRAFORM_DIR.rglob("*.tf") if ".terraform" not in path.parts)


def module_folders():
    return sorted({path.parent for path in tf_files()})


def schema():
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, ...) read as their long forms."""


def _short_form(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _short_form)


def load_template(text):
    return yaml.load(text, Loader=CloudFormationLoader)


def terraform_binary():
    """Terraform, or OpenTofu, from the PATH; None when neither is there."""
    return shutil.which("terraform") or shutil.which("tofu")


def run_terraform(folder, *arguments):
    environment = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_INPUT="0")
    return subprocess.run([terraform_binary(), *arguments], cwd=folder, env=environment,
                          capture_output=True, text=True, timeout=300)


UNKNOWN = "(known after apply)"


class OfflineRoot:
    """Files of a module copied into a root module of their own, at the same
    place relative to a copy of the repository files they read, with outputs
    of the expressions under test. Without resources, or with only those of
    Terraform's own provider (terraform_data, terraform_remote_state), it
    needs no provider to download, so Terraform evaluates the module's
    variables and locals offline."""

    def __init__(self, module_folder, files, outputs, repository_files=(), extra_files=()):
        self._directory = tempfile.TemporaryDirectory(prefix="terraform-offline-")
        top = Path(self._directory.name)
        self.folder = top / module_folder.relative_to(REPOSITORY)
        self.folder.mkdir(parents=True)
        for name in files:
            shutil.copy(module_folder / name, self.folder / name)
        for relative, content in dict(repository_files).items():
            (top / relative).parent.mkdir(parents=True, exist_ok=True)
            (top / relative).write_bytes(content)
        for relative, text in dict(extra_files).items():
            (self.folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (self.folder / relative).write_text(text)
        (self.folder / "offline_outputs.tf").write_text("".join(
            f'output "{name}" {{\n  value = {expression}\n}}\n' for name, expression in outputs.items()))
        initialized = run_terraform(self.folder, "init", "-no-color")
        if initialized.returncode != 0:
            self.close()
            raise RuntimeError(initialized.stdout + initialized.stderr)

    def _variables_file(self, variables):
        path = self.folder / "test.tfvars.json"
        path.write_text(json.dumps(variables))
        return f"-var-file={path.name}"

    def apply(self, variables):
        """The outputs' values after an apply with these variables."""
        applied = run_terraform(self.folder, "apply", "-auto-approve", "-no-color", self._variables_file(variables))
        if applied.returncode != 0:
            raise AssertionError(applied.stdout + applied.stderr)
        shown = run_terraform(self.folder, "output", "-json", "-no-color")
        return {name: output["value"] for name, output in json.loads(shown.stdout).items()}

    def plan(self, variables):
        return run_terraform(self.folder, "plan", "-no-color", self._variables_file(variables))

    def planned(self, variables):
        """A plan with these variables: the outputs' planned values (UNKNOWN
        where known only after apply) and each resource's actions, by address."""
        planned = run_terraform(self.folder, "plan", "-no-color", "-out=planned.tfplan", self._variables_file(variables))
        if planned.returncode != 0:
            raise AssertionError(planned.stdout + planned.stderr)
        plan = json.loads(run_terraform(self.folder, "show", "-json", "-no-color", "planned.tfplan").stdout)
        outputs = {name: UNKNOWN if change["after_unknown"] is True else change["after"]
                   for name, change in plan.get("output_changes", {}).items()}
        actions = {change["address"]: change["change"]["actions"] for change in plan.get("resource_changes", [])}
        return outputs, actions

    def close(self):
        self._directory.cleanup()
