"""The manager module against cloudformation/network-interface-manager.yaml, read at test time."""

import copy
import hashlib
import re
import unittest

from terraform_files import (MANAGER_DIR, REPOSITORY, TEMPLATE_FILE, Module, OfflineRoot, expression, load_template,
                             single, terraform_binary)


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
