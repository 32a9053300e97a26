"""Every Terraform file: it parses, it documents itself, it is formatted."""

import unittest

from terraform_files import TERRAFORM_DIR, Module, module_folders, parse, run_terraform, terraform_binary, tf_files


class EveryFile(unittest.TestCase):
    def test_every_tf_file_parses(self):
        self.assertTrue(tf_files(), "no .tf file found")
        for path in tf_files():
            with self.subTest(path=str(path.relative_to(TERRAFORM_DIR))):
                self.assertIsInstance(parse(path), dict)

    def test_every_variable_and_output_has_a_description(self):
        for folder in module_folders():
            module = Module(folder)
            for block_type in ("variable", "output"):
                for (name,), blocks in module.blocks(block_type).items():
                    with self.subTest(folder=str(folder.relative_to(TERRAFORM_DIR)), block=f"{block_type} {name}"):
                        (block,) = blocks
                        self.assertTrue(block.has("description"), "no description")
                        self.assertTrue(str(block.attribute("description")).strip(), "empty description")

    @unittest.skipUnless(terraform_binary(), "no terraform (or tofu) binary on the PATH: fmt not checked")
    def test_terraform_fmt_check_passes(self):
        checked = run_terraform(TERRAFORM_DIR, "fmt", "-check", "-recursive", "-no-color")
        self.assertEqual(checked.returncode, 0, f"not formatted (run terraform fmt -recursive terraform):\n{checked.stdout}")


if __name__ == "__main__":
    unittest.main()
