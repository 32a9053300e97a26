# The manager serves the invocation as a pool declaration: Terraform adds
# {"tf": {"action": "create" | "update" | "delete", "prev_input": ...}} to the
# input, and a refused declaration is a function error that fails the apply.
# Every property changes in place; a new function_name (or qualifier, or
# triggers: this module sets neither) replaces the resource.
resource "aws_lambda_invocation" "pool" {
  function_name   = var.service_token
  lifecycle_scope = "CRUD"
  terraform_key   = "tf"
  input           = jsonencode(local.input)

  lifecycle {
    # A replacement declares the pool again before the old declaration lets
    # it go: the manager counts the two claims and deletes the pool only on
    # the last release, so it stays whole (its interfaces and addresses,
    # Elastic IPs, data volumes). Destroy-first would delete it and make it
    # anew, keeping only the fixed private addresses. A replacement whose
    # input changed too is refused: apply the change in place first.
    create_before_destroy = true

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
