"""The pool module against schemas/network-interface-pool.schema.json, read at test time."""

import re
import unittest

from terraform_files import (POOL_DIR, Module, OfflineRoot, bare, expression, schema, single, terraform_binary,
                             type_expression)

# CloudFormation's own properties: the function to invoke is the module's service_token.
CLOUDFORMATION_ONLY = {"ServiceToken", "ServiceTimeout"}
NOT_A_PROPERTY = {"service_token"}


def snake_case(property_name):
    """SubnetIds is subnet_ids; GiB is one word: SizeGiB is size_gib."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", property_name.replace("GiB", "Gib")).lower()


def pool_properties():
    properties = schema()["properties"]
    return {name: properties[name] for name in properties if name not in CLOUDFORMATION_ONLY}


def volume_fields():
    return schema()["properties"]["Volumes"]["items"]["properties"]


def terraform_type(property_schema):
    """The variable type a property maps to, as type_expression writes it: a
    list of {Key, Value} is a map; an object's fields are in snake_case, in
    the schema's order, optional(...) unless required."""
    kind = property_schema["type"]
    if kind == "array":
        items = property_schema["items"]
        if items["type"] == "object" and set(items["properties"]) == {"Key", "Value"}:
            return "map(string)"
        return f"list({terraform_type(items)})"
    if kind == "object":
        required = property_schema.get("required", [])
        fields = ",".join(
            f"{snake_case(name)}={terraform_type(field)}" if name in required
            else f"{snake_case(name)}=optional({terraform_type(field)})"
            for name, field in property_schema["properties"].items())
        return f"object({{{fields}}})"
    return {"string": "string", "integer": "number", "number": "number", "boolean": "bool"}[kind]


LIMIT_KEYWORDS = ("pattern", "enum", "minimum", "maximum", "minLength", "maxLength", "maxItems", "uniqueItems")


def limits(property_schema, field=None):
    """Every pattern, enumeration and bound in a property's schema, at any
    depth, as (field, keyword, value): field is the snake_case name of the
    object field it is about, None for the property itself."""
    found = []
    for keyword, value in property_schema.items():
        if keyword in LIMIT_KEYWORDS:
            found.append((field, keyword, value))
        elif keyword == "properties":
            for name, field_schema in value.items():
                found.extend(limits(field_schema, snake_case(name)))
        elif isinstance(value, dict):
            found.extend(limits(value, field))
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
                self.assertEqual(type_expression(self.variables[variable].attribute("type")),
                                 terraform_type(property_schema))

    def test_each_description_says_what_a_change_does(self):
        for name, block in self.variables.items():
            with self.subTest(variable=name):
                self.assertRegex(block.attribute("description"),
                                 r"A change [^.]*in place|A new value replaces the declaration, create-first")

    def test_name_changes_in_place(self):
        description = self.variables["name"].attribute("description")
        self.assertIn("A change renames the pool in place", description)
        self.assertNotRegex(description, r"cannot change|replace")

    def test_service_token_replaces_create_first(self):
        self.assertRegex(self.variables["service_token"].attribute("description"),
                         r"replaces the declaration, create-first")

    def test_only_required_properties_have_no_default(self):
        without_default = {name for name, block in self.variables.items() if not block.has("default")}
        self.assertEqual(without_default - NOT_A_PROPERTY, {snake_case(name) for name in schema()["required"]})

    def test_validations_state_the_schemas_limits(self):
        """A limit of an object field is in a validation that reads that field."""
        for name, property_schema in pool_properties().items():
            variable = snake_case(name)
            validations = [expression(validation.attribute("condition"))
                           for validation in self.variables[variable].blocks("validation")]
            for field, keyword, value in limits(property_schema):
                conditions = " ".join(condition for condition in validations
                                      if field is None or re.search(rf"\b{field}\b", condition))
                with self.subTest(property=name, field=field, keyword=keyword, value=value):
                    if keyword == "pattern":
                        self.assertIn(value, conditions)
                    elif keyword == "enum":
                        for member in value:
                            self.assertRegex(conditions, rf"[\"']{re.escape(member)}[\"']")
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

    def test_invocation_is_replaced_create_first(self):
        (lifecycle,) = self.invocation.blocks("lifecycle")
        self.assertIs(lifecycle.attribute("create_before_destroy"), True)

    def test_invocation_sends_the_json_of_the_input(self):
        self.assertEqual(expression(self.invocation.attribute("input")), "jsonencode(local.input)")

    def test_input_names_each_property_as_the_schema_does_from_its_variable(self):
        self.assertEqual(set(self.properties), set(pool_properties()))
        for name, value in self.properties.items():
            with self.subTest(property=name):
                self.assertRegex(expression(value), rf"var\.{snake_case(name)}\b")

    def test_input_names_each_volume_field_as_the_schema_does_from_its_field(self):
        volumes = bare(self.properties["Volumes"])
        for name in volume_fields():
            with self.subTest(field=name):
                self.assertRegex(volumes, rf"\b{name}[=:]volume\.{snake_case(name)}\b")

    def test_outputs_are_the_return_values_and_the_whole_result(self):
        self.assertEqual(set(self.outputs), {"name", "network_interface_ids", "private_ip_addresses", "ordinals",
                                             "public_ip_addresses", "allocation_ids", "result", "lifecycle_hooks"})
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


@unittest.skipUnless(terraform_binary(), "no terraform (or tofu) binary on the PATH: the hooks are not evaluated")
class PoolHooksEvaluated(unittest.TestCase):
    """hooks.tf evaluated by Terraform, offline: the manager's hooks for a group the pool serves."""

    @classmethod
    def setUpClass(cls):
        cls.root = OfflineRoot(POOL_DIR, ["variables.tf", "hooks.tf"], {"hooks": "local.lifecycle_hooks"})

    @classmethod
    def tearDownClass(cls):
        cls.root.close()

    def hooks(self, volumes):
        hooks = self.root.apply({"service_token": "manager", "name": "db", "subnet_ids": ["subnet-0a"],
                                 "volumes": volumes})["hooks"]
        return {hook["lifecycle_transition"]: hook for hook in hooks}

    def test_both_hooks_are_the_managers_and_continue(self):
        hooks = self.hooks([])
        self.assertEqual({hook["name"] for hook in hooks.values()},
                         {"network-interface-manager-launch", "network-interface-manager-terminate"})
        self.assertEqual({hook["default_result"] for hook in hooks.values()}, {"CONTINUE"})

    def test_launch_waits_ten_minutes_in_a_pool_with_volumes_two_without(self):
        launch, terminate = "autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"
        without = self.hooks([])
        with_volumes = self.hooks([{"size_gib": 10, "device_name": "/dev/sdf"}])
        self.assertEqual((without[launch]["heartbeat_timeout"], without[terminate]["heartbeat_timeout"]), (120, 120))
        self.assertEqual((with_volumes[launch]["heartbeat_timeout"], with_volumes[terminate]["heartbeat_timeout"]),
                         (600, 120))


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
                                   "description": "", "security_group_ids": [], "volumes": []})
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

    def test_volumes_are_sent_with_the_schemas_field_names_without_unset_fields(self):
        outputs = self.root.apply({
            "service_token": "manager", "name": "db", "subnet_ids": ["subnet-0a"], "delete_volumes": True,
            "volumes": [
                {"size_gib": 100, "device_name": "/dev/sdf"},
                {"size_gib": 200, "volume_type": "gp3", "iops": 6000, "throughput": 250, "device_name": "/dev/sdg"},
                {"size_gib": 50, "volume_type": "io2", "iops": 3000, "encrypted": True, "kms_key_id": "alias/data",
                 "device_name": "/dev/xvdh"},
                {"size_gib": 500, "volume_type": "st1", "encrypted": False, "device_name": "/dev/xvdi"},
            ],
        })
        self.assertEqual(outputs["input"], {
            "Name": "db", "SubnetIds": ["subnet-0a"], "DeleteVolumes": True,
            "Volumes": [
                {"SizeGiB": 100, "DeviceName": "/dev/sdf"},
                {"SizeGiB": 200, "VolumeType": "gp3", "Iops": 6000, "Throughput": 250, "DeviceName": "/dev/sdg"},
                {"SizeGiB": 50, "VolumeType": "io2", "Iops": 3000, "Encrypted": True, "KmsKeyId": "alias/data",
                 "DeviceName": "/dev/xvdh"},
                {"SizeGiB": 500, "VolumeType": "st1", "Encrypted": False, "DeviceName": "/dev/xvdi"},
            ],
        })

    def test_values_outside_the_schema_are_refused(self):
        def volume(**fields):
            return {"size_gib": 10, "device_name": "/dev/sdf", **fields}

        refused = [
            ("subnet_ids", ["subnet-XYZ"]),
            ("private_ip_addresses", ["10.0.1.300"]),
            ("security_group_ids", ["sg-01", "sg-01"]),
            ("interfaces_per_subnet", 1.5),
            ("device_index", 16),
            ("tags", {"aws:cloudformation:stack-name": "x"}),
            ("network_interface_ids", ["i-0123"]),
            ("volumes", [volume(device_name=f"/dev/sd{letter}") for letter in "fghij"]),
            ("volumes", [volume(size_gib=0)]),
            ("volumes", [volume(size_gib=1.5)]),
            ("volumes", [volume(size_gib=None)]),
            ("volumes", [{"size_gib": 10}]),
            ("volumes", [volume(device_name="/dev/sda1")]),
            ("volumes", [volume(), volume()]),
            ("volumes", [volume(volume_type="gp4")]),
            ("volumes", [volume(iops=99)]),
            ("volumes", [volume(throughput=2001)]),
            ("volumes", [volume(encrypted=True, kms_key_id="")]),
            # The manager's rules beyond the schema.
            ("volumes", [volume(volume_type="st1", iops=500)]),
            ("volumes", [volume(volume_type="io1")]),
            ("volumes", [volume(volume_type="gp2", throughput=250)]),
            ("volumes", [volume(kms_key_id="alias/data")]),
        ]
        for variable, value in refused:
            with self.subTest(variable=variable, value=value):
                planned = self.root.plan({"service_token": "manager", "name": "bastion", variable: value})
                self.assertNotEqual(planned.returncode, 0, f"{variable} = {value!r} was accepted")
                self.assertIn(f"var.{variable}", planned.stderr)


if __name__ == "__main__":
    unittest.main()
