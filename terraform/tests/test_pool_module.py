"""The pool module against schemas/network-interface-pool.schema.json, read at test time."""

import re
import unittest

from terraform_files import POOL_DIR, Module, OfflineRoot, expression, schema, single, terraform_binary

# CloudFormation's own properties: the function to invoke is the module's service_token.
CLOUDFORMATION_ONLY = {"ServiceToken", "ServiceTimeout"}
NOT_A_PROPERTY = {"service_token"}


def snake_case(property_name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", property_name).lower()


def pool_properties():
    properties = schema()["properties"]
    return {name: properties[name] for name in properties if name not in CLOUDFORMATION_ONLY}


def terraform_type(property_schema):
    """The variable type a property maps to; a list of {Key, Value} is a map."""
    kind = property_schema["type"]
    if kind == "array":
        items = property_schema["items"]
        if items["type"] == "object" and set(items["properties"]) == {"Key", "Value"}:
            return "map(string)"
        return f"list({terraform_type(items)})"
    return {"string": "string", "integer": "number", "number": "number", "boolean": "bool"}[kind]


def limits(property_schema):
    """Every pattern and bound in a property's schema, at any depth."""
    found = []
    for keyword, value in property_schema.items():
        if keyword in ("pattern", "minimum", "maximum", "minLength", "maxLength", "maxItems", "uniqueItems"):
            found.append((keyword, value))
        elif isinstance(value, dict):
            found.extend(limits(value))
    return found


class PoolVariables(unittest.TestCase):
    def setUp(self):
        self.variables = {name: block for (name,), (block,) in Module(POOL_DIR).blocks("variable").items()}

    def test_variables_map_one_to_one_onto_schema_properties(self):
        self.assertEqual(set(self.variables) - NOT_A_PROPERTY, {snake_case(name) for name in pool_properties()})

    def test_variable_types_match_schema_types(self):
        for name, property_schema in pool_properties().items():
            variable = snake_case(name)
            with self.subTest(property=name):
                self.assertIn(variable, self.variables)
                self.assertEqual(expression(self.variables[variable].attribute("type")), terraform_type(property_schema))

    def test_only_required_properties_have_no_default(self):
        without_default = {name for name, block in self.variables.items() if not block.has("default")}
        self.assertEqual(without_default - NOT_A_PROPERTY, {snake_case(name) for name in schema()["required"]})

    def test_validations_state_the_schemas_limits(self):
        for name, property_schema in pool_properties().items():
            variable = snake_case(name)
            conditions = " ".join(expression(validation.attribute("condition"))
                                  for validation in self.variables[variable].blocks("validation"))
            for keyword, value in limits(property_schema):
                with self.subTest(property=name, keyword=keyword, value=value):
                    if keyword == "pattern":
                        self.assertIn(value, conditions)
                    elif keyword == "uniqueItems":
                        self.assertIn("distinct(", conditions)
                    elif keyword in ("minimum", "minLength"):
                        self.assertRegex(conditions, rf">={value}(?![0-9])")
                    else:
                        self.assertRegex(conditions, rf"<={value}(?![0-9])")


class PoolInvocation(unittest.TestCase):
    def setUp(self):
        module = Module(POOL_DIR)
        self.invocation = single(module.blocks("resource"), "aws_lambda_invocation", "pool")
        self.properties = module.locals()["properties"]
        self.outputs = {name: block for (name,), (block,) in module.blocks("output").items()}

    def test_invocation_uses_crud_lifecycle_scope(self):
        self.assertEqual(self.invocation.attribute("lifecycle_scope"), "CRUD")

    def test_invocation_keeps_the_tf_key_the_manager_reads(self):
        self.assertEqual(self.invocation.attribute("terraform_key"), "tf")

    def test_invocation_calls_the_service_token(self):
        self.assertEqual(expression(self.invocation.attribute("function_name")), "var.service_token")

    def test_invocation_sends_the_json_of_the_input(self):
        self.assertEqual(expression(self.invocation.attribute("input")), "jsonencode(local.input)")

    def test_input_names_each_property_as_the_schema_does_from_its_variable(self):
        self.assertEqual(set(self.properties), set(pool_properties()))
        for name, value in self.properties.items():
            with self.subTest(property=name):
                self.assertRegex(expression(value), rf"var\.{snake_case(name)}\b")

    def test_outputs_are_the_return_values_and_the_whole_result(self):
        self.assertEqual(set(self.outputs), {"name", "network_interface_ids", "private_ip_addresses", "ordinals",
                                             "public_ip_addresses", "allocation_ids", "result"})
        for output, return_value in (("name", "Name"), ("network_interface_ids", "NetworkInterfaceIds"),
                                     ("private_ip_addresses", "PrivateIpAddresses"), ("ordinals", "Ordinals")):
            with self.subTest(output=output):
                self.assertEqual(expression(self.outputs[output].attribute("value")),
                                 'local.result["%s"]' % return_value)
        for output, return_value in (("public_ip_addresses", "PublicIpAddresses"), ("allocation_ids", "AllocationIds")):
            with self.subTest(output=output):
                self.assertEqual(expression(self.outputs[output].attribute("value")),
                                 'try(local.result["%s"],[])' % return_value)
        self.assertEqual(expression(self.outputs["result"].attribute("value")), "local.result")


@unittest.skipUnless(terraform_binary(), "no terraform (or tofu) binary on the PATH: the input is not evaluated")
class PoolInputEvaluated(unittest.TestCase):
    """variables.tf and input.tf evaluated by Terraform, offline."""

    @classmethod
    def setUpClass(cls):
        cls.root = OfflineRoot(POOL_DIR, ["variables.tf", "input.tf"], {"input": "local.input"})

    @classmethod
    def tearDownClass(cls):
        cls.root.close()

    def test_unset_and_empty_properties_are_left_out(self):
        outputs = self.root.apply({"service_token": "manager", "name": "bastion", "subnet_ids": ["subnet-0a"],
                                   "description": "", "security_group_ids": []})
        self.assertEqual(outputs["input"], {"Name": "bastion", "SubnetIds": ["subnet-0a"]})

    def test_set_properties_are_sent_json_typed_with_tags_as_key_value_list(self):
        outputs = self.root.apply({
            "service_token": "manager", "name": "nat", "subnet_ids": ["subnet-0a", "subnet-0b"],
            "interfaces_per_subnet": 2, "security_group_ids": ["sg-01"], "description": "nat",
            "source_dest_check": False, "device_index": 2, "tags": {"Team": "ops", "Cost": "net"},
            "network_interface_ids": ["eni-0c"], "public_ip": False,
        })
        self.assertEqual(outputs["input"], {
            "Name": "nat", "SubnetIds": ["subnet-0a", "subnet-0b"], "InterfacesPerSubnet": 2,
            "SecurityGroupIds": ["sg-01"], "Description": "nat", "SourceDestCheck": False, "DeviceIndex": 2,
            "Tags": [{"Key": "Cost", "Value": "net"}, {"Key": "Team", "Value": "ops"}],
            "NetworkInterfaceIds": ["eni-0c"], "PublicIp": False,
        })

    def test_values_outside_the_schema_are_refused(self):
        refused = {
            "subnet_ids": ["subnet-XYZ"],
            "private_ip_addresses": ["10.0.1.300"],
            "security_group_ids": ["sg-01", "sg-01"],
            "interfaces_per_subnet": 1.5,
            "device_index": 16,
            "tags": {"aws:cloudformation:stack-name": "x"},
            "network_interface_ids": ["i-0123"],
        }
        for variable, value in refused.items():
            with self.subTest(variable=variable):
                planned = self.root.plan({"service_token": "manager", "name": "bastion", variable: value})
                self.assertNotEqual(planned.returncode, 0, f"{variable} = {value!r} was accepted")
                self.assertIn(f"var.{variable}", planned.stderr)


if __name__ == "__main__":
    unittest.main()
