"""The bastion example: the modules it uses and the group that serves the pool."""

import unittest

from terraform_files import BASTION_DIR, MANAGER_DIR, POOL_DIR, Caller, Module, expression, single, sources


class BastionExample(unittest.TestCase):
    def setUp(self):
        self.module = Module(BASTION_DIR)
        self.group = single(self.module.blocks("resource"), "aws_autoscaling_group", "bastion")

    def test_uses_the_manager_and_pool_modules(self):
        modules = self.module.blocks("module")
        for name, folder in (("manager", MANAGER_DIR), ("pool", POOL_DIR)):
            with self.subTest(module=name):
                source = single(modules, name).attribute("source")
                self.assertEqual((BASTION_DIR / source).resolve(), folder.resolve())

    def test_pool_declares_one_fixed_address_per_subnet(self):
        pool = single(self.module.blocks("module"), "pool")
        self.assertEqual(expression(pool.attribute("subnet_ids")), "var.subnet_ids")
        self.assertEqual(expression(pool.attribute("private_ip_addresses")), "var.private_ip_addresses")
        self.assertEqual(expression(pool.attribute("service_token")), "module.manager.service_token")

    def test_pool_function_name_comes_from_the_manager_stack_id_not_its_outputs(self):
        """Known at plan once the stack exists, and unchanged by its updates
        in place, so a manager upgrade plans no change to the pool."""
        invocation = single(Module(POOL_DIR).blocks("resource"), "aws_lambda_invocation", "pool")
        pool = single(self.module.blocks("module"), "pool")
        self.assertEqual(sources(POOL_DIR, invocation.attribute("function_name"), Caller(BASTION_DIR, pool, None)),
                         {("modules/manager", "aws_cloudformation_stack.manager.id"),
                          ("modules/manager", "var.service_token_parameter_name")})

    def test_manager_has_no_depends_on(self):
        """A depends_on on the module call would defer its parameter read
        whenever the dependency changes, and replace the pool."""
        self.assertFalse(single(self.module.blocks("module"), "manager").has("depends_on"))

    def test_group_declares_the_pool_modules_hooks_field_by_field(self):
        (hooks,) = self.group.labelled("dynamic", "initial_lifecycle_hook")
        self.assertEqual(expression(hooks.attribute("for_each")), "module.pool.lifecycle_hooks")
        (content,) = hooks.blocks("content")
        fields = ("name", "lifecycle_transition", "default_result", "heartbeat_timeout")
        self.assertEqual(sorted(content.names()), sorted(fields))
        for field in fields:
            with self.subTest(field=field):
                self.assertEqual(expression(content.attribute(field)), f"initial_lifecycle_hook.value.{field}")

    def test_group_propagates_the_pool_tag_at_launch(self):
        (tag,) = [tag for tag in self.group.blocks("tag") if tag.attribute("key") == "network-interface-manager-pool"]
        self.assertEqual(expression(tag.attribute("value")), "module.pool.name")
        self.assertIs(tag.attribute("propagate_at_launch"), True)


if __name__ == "__main__":
    unittest.main()
