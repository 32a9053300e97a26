# The manager serves the invocation as a pool declaration: Terraform adds
# {"tf": {"action": "create" | "update" | "delete", "prev_input": ...}} to the
# input, and a refused declaration is a function error that fails the apply.
resource "aws_lambda_invocation" "pool" {
  function_name   = var.service_token
  lifecycle_scope = "CRUD"
  terraform_key   = "tf"
  input           = jsonencode(local.input)

  lifecycle {
    precondition {
      condition     = length(var.subnet_ids) > 0 || length(var.network_interface_ids) > 0
      error_message = "A pool needs subnet_ids, network_interface_ids or both."
    }
    precondition {
      condition     = var.interfaces_per_subnet == null || length(var.private_ip_addresses) == 0
      error_message = "Use interfaces_per_subnet or private_ip_addresses, not both."
    }
  }
}
