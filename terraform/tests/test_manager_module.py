"""The manager module against cloudformation/network-interface-manager.yaml, read at test time."""

import copy
import hashlib
import json
import re
import unittest

from terraform_files import (MANAGER_DIR, REPOSITORY, TEMPLATE_FILE, UNKNOWN, Module, OfflineRoot, expression,
                             load_template, single, sources, terraform_binary)

# Where the manager module's service token comes from: the stack's id (its
# ARN), not its outputs, and the parameter's name.
SERVICE_TOKEN_SOURCES = {("modules/manager", "aws_cloudformation_stack.manager.id"),
                         ("modules/manager", "var.service_token_parameter_name")}


class ManagerStack(unittest.TestCase):
    def setUp(self):
        module = Module(MANAGER_DIR)
        self.locals = module.locals()
        self.stack = single(module.blocks("resource"), "aws_cloudformation_stack", "manager")
        self.template_text = TEMPLATE_FILE.read_text(encoding="utf-8")
        self.template = load_template(self.template_text)

    def test_passes_every_template_parameter_and_nothing_else(self):
        self.assertEqual(set(self.locals["template_parameters"]), set(self.template["Parameters"]))
        self.assertEqual(expression(self.stack.attribute("parameters")),
                         "merge(var.extra_parameters,local.template_parameters)")

    def test_template_is_read_from_the_repository(self):
        (relative,) = re.findall(r'path\.module}/([^"]+)"', self.locals["template"])
        self.assertEqual((MANAGER_DIR / relative).resolve(), TEMPLATE_FILE.resolve())
        self.assertEqual(expression(self.stack.attribute("template_body")), "local.template_body")

    def test_replaced_code_line_occurs_once_in_the_template(self):
        self.assertEqual(self.template_text.count(self.locals["template_code_line"]), 1)

    def test_replaced_code_line_is_guarded_by_a_precondition(self):
        conditions = [expression(precondition.attribute("condition"))
                      for lifecycle in self.stack.blocks("lifecycle")
                      for precondition in lifecycle.blocks("precondition")]
        self.assertIn("local.template_code_line_count==1", conditions)
        self.assertEqual(expression(self.locals["template_code_line_count"]),
                         "length(split(local.template_code_line,local.template))-1")

    def test_stack_acknowledges_iam_capability(self):
        self.assertEqual(self.stack.attribute("capabilities"), ["CAPABILITY_IAM"])


class ManagerServiceToken(unittest.TestCase):
    """The service token is the stack's SSM parameter, read by a name tied to the stack's id."""

    def setUp(self):
        module = Module(MANAGER_DIR)
        self.outputs = {name: block for (name,), (block,) in module.blocks("output").items()}
        self.parameter = single(module.blocks("data"), "aws_ssm_parameter", "service_token")
        self.locals = module.locals()
        self.template = load_template(TEMPLATE_FILE.read_text(encoding="utf-8"))

    def test_service_token_is_the_parameter_read_by_a_name_tied_to_the_stack_id_not_its_outputs(self):
        value = self.outputs["service_token"].attribute("value")
        self.assertEqual(expression(value), "data.aws_ssm_parameter.service_token.insecure_value")
        self.assertEqual(sources(MANAGER_DIR, value), SERVICE_TOKEN_SOURCES)
        self.assertNotIn("outputs", value)

    def test_parameter_is_read_without_depends_on(self):
        self.assertFalse(self.parameter.has("depends_on"), "a depends_on defers the read whenever the stack changes")

    def test_parameter_is_the_one_the_stack_writes_its_function_arn_to(self):
        self.assertEqual(expression(self.locals["template_parameters"]["ServiceTokenParameterName"]),
                         "var.service_token_parameter_name")
        parameter = self.template["Resources"]["ServiceTokenParameter"]
        self.assertEqual(parameter["Type"], "AWS::SSM::Parameter")
        self.assertEqual(parameter["Properties"]["Name"], {"Ref": "ServiceTokenParameterName"})
        self.assertEqual(parameter["Properties"]["Value"], self.template["Outputs"]["ServiceToken"]["Value"])

    def test_stack_outputs_remain_an_output(self):
        self.assertEqual(expression(self.outputs["stack_outputs"].attribute("value")),
                         "aws_cloudformation_stack.manager.outputs")


# Stand-ins from Terraform's own provider, which needs no download: the stack
# is updated in place when its input changes and replaced with a new
# stack_name; the parameter is a data source that reads a state file by the
# parameter's name; a pool is replaced create-first when its function_name
# changes. The ways not taken: a pool on the stack's outputs (unknown after
# any change of the stack, as terraform_data's output after a change of its
# input), and one on a parameter read with depends_on on the stack.
SERVICE_TOKEN_STAND_INS = """
resource "terraform_data" "stack" {
  input            = [var.tags, var.architecture, var.code_key, var.dashboard]
  triggers_replace = var.stack_name
}

locals {
  service_token_parameter_name = "%s"
}

data "terraform_remote_state" "service_token" {
  backend = "local"
  config  = { path = "${path.module}/ssm${local.service_token_parameter_name}.tfstate" }
}

resource "terraform_data" "pool" {
  triggers_replace = data.terraform_remote_state.service_token.outputs.value
  lifecycle {
    create_before_destroy = true
  }
}

resource "terraform_data" "pool_on_stack_outputs" {
  triggers_replace = terraform_data.stack.output
  lifecycle {
    create_before_destroy = true
  }
}

data "terraform_remote_state" "service_token_after_stack" {
  depends_on = [terraform_data.stack]
  backend    = "local"
  config     = { path = "${path.module}/ssm${var.service_token_parameter_name}.tfstate" }
}

resource "terraform_data" "pool_on_depends_on" {
  triggers_replace = data.terraform_remote_state.service_token_after_stack.outputs.value
  lifecycle {
    create_before_destroy = true
  }
}
"""


@unittest.skipUnless(terraform_binary(), "no terraform (or tofu) binary on the PATH: the service token is not evaluated")
class ManagerServiceTokenEvaluated(unittest.TestCase):
    """variables.tf and the module's parameter name evaluated by Terraform,
    offline, with stand-ins for the stack, the parameter and a pool."""

    ARN = "arn:aws:lambda:eu-west-1:123456789012:function:network-interface-manager-Function-0123456789ab"
    NAME = "/network-interface-manager/service-token"
    VARIABLES = {"code_bucket": "artifacts"}

    @classmethod
    def setUpClass(cls):
        name = Module(MANAGER_DIR).locals()["service_token_parameter_name"]
        assert "aws_cloudformation_stack.manager.id" in name, name
        stand_in_name = name.replace("aws_cloudformation_stack.manager.", "terraform_data.stack.")
        state = {"version": 4, "terraform_version": "1.5.0", "serial": 1, "lineage": "parameter",
                 "outputs": {"value": {"value": cls.ARN, "type": "string"}}, "resources": []}
        cls.root = OfflineRoot(
            MANAGER_DIR, ["variables.tf"],
            {"parameter_name": "local.service_token_parameter_name",
             "service_token": "data.terraform_remote_state.service_token.outputs.value"},
            extra_files={
                "stand_ins.tf": SERVICE_TOKEN_STAND_INS % stand_in_name,
                f"ssm{cls.NAME}.tfstate": json.dumps(state),
            })
        cls.created = cls.root.planned(cls.VARIABLES)
        cls.applied = cls.root.apply(cls.VARIABLES)

    @classmethod
    def tearDownClass(cls):
        cls.root.close()

    def test_while_the_stack_is_made_the_parameter_is_read_after_it(self):
        outputs, actions = self.created
        self.assertEqual(outputs, {"parameter_name": UNKNOWN, "service_token": UNKNOWN})
        self.assertEqual(actions["data.terraform_remote_state.service_token"], ["read"])
        self.assertEqual(self.applied, {"parameter_name": self.NAME, "service_token": self.ARN})

    def test_updates_of_the_stack_in_place_plan_no_change_to_a_pool(self):
        for update in ({"tags": {"Team": "ops"}}, {"architecture": "arm64"}, {"code_key": "builds/43.zip"},
                       {"dashboard": True}):
            with self.subTest(update=update):
                outputs, actions = self.root.planned({**self.VARIABLES, **update})
                self.assertEqual(outputs, {"parameter_name": self.NAME, "service_token": self.ARN})
                self.assertEqual(actions["terraform_data.stack"], ["update"])
                self.assertEqual(actions["terraform_data.pool"], ["no-op"])
                self.assertNotIn("data.terraform_remote_state.service_token", actions, "the read waits for the apply")

    def test_a_new_stack_replaces_a_pool_create_first(self):
        outputs, actions = self.root.planned({
            **self.VARIABLES, "stack_name": "network-interface-manager-2",
            "service_token_parameter_name": "/network-interface-manager-2/service-token"})
        self.assertEqual(outputs, {"parameter_name": UNKNOWN, "service_token": UNKNOWN})
        self.assertEqual(actions["terraform_data.pool"], ["create", "delete"])
        # The pool's create-first order reaches the stack it depends on.
        self.assertEqual(actions["terraform_data.stack"], ["create", "delete"])

    def test_the_stacks_outputs_or_a_depends_on_would_replace_a_pool_on_every_update(self):
        _, actions = self.root.planned({**self.VARIABLES, "tags": {"Team": "ops"}})
        self.assertEqual(actions["terraform_data.pool_on_stack_outputs"], ["create", "delete"])
        self.assertEqual(actions["terraform_data.pool_on_depends_on"], ["create", "delete"])


@unittest.skipUnless(terraform_binary(), "no terraform (or tofu) binary on the PATH: the template body is not evaluated")
class ManagerTemplateEvaluated(unittest.TestCase):
    """variables.tf and template.tf evaluated by Terraform, offline, on the repository's template."""

    ZIP = b"stand-in for dist/bootstrap.zip"

    @classmethod
    def setUpClass(cls):
        cls.template_text = TEMPLATE_FILE.read_text(encoding="utf-8")
        cls.root = OfflineRoot(
            MANAGER_DIR, ["variables.tf", "template.tf"],
            {"template_body": "local.template_body", "parameters": "local.template_parameters"},
            {TEMPLATE_FILE.relative_to(REPOSITORY): cls.template_text.encode(), "dist/bootstrap.zip": cls.ZIP})

    @classmethod
    def tearDownClass(cls):
        cls.root.close()

    def assert_template_with_code(self, template_body, code):
        deployed = load_template(template_body)
        self.assertEqual(deployed["Resources"]["Function"]["Properties"]["Code"], code)
        original = load_template(self.template_text)
        expected = copy.deepcopy(original)
        expected["Resources"]["Function"]["Properties"]["Code"] = code
        self.assertEqual(deployed, expected)

    def test_template_body_is_the_template_with_the_uploaded_zip_as_code(self):
        outputs = self.root.apply({"code_bucket": "artifacts"})
        key = f"network-interface-manager/bootstrap-{hashlib.sha256(self.ZIP).hexdigest()}.zip"
        self.assert_template_with_code(outputs["template_body"], {"S3Bucket": "artifacts", "S3Key": key})

    def test_template_body_is_the_template_with_a_given_object_as_code(self):
        outputs = self.root.apply({"code_bucket": "artifacts", "code_key": "builds/42.zip", "code_object_version": "v7"})
        self.assert_template_with_code(outputs["template_body"],
                                       {"S3Bucket": "artifacts", "S3Key": "builds/42.zip", "S3ObjectVersion": "v7"})

    def test_parameters_default_to_the_templates_defaults(self):
        outputs = self.root.apply({"code_bucket": "artifacts"})
        defaults = {name: str(parameter["Default"]) for name, parameter in load_template(self.template_text)["Parameters"].items()}
        self.assertEqual(outputs["parameters"], defaults)


if __name__ == "__main__":
    unittest.main()
