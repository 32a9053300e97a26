# The service token pools get: the function ARN the stack writes to its SSM
# parameter, read by a name that is known at plan once the stack exists.
#
# Not the stack's outputs: any change to the stack (a new code package, a
# parameter, tags) makes `outputs` unknown at plan [TF-CFN-OUT:
# hashicorp/terraform-provider-aws#33059], and an unknown function_name
# replaces every pool. Not a data source with depends_on on the stack: its
# read is deferred to the apply whenever the stack has changes pending
# [TF-DATA: Terraform's data source documentation], unknown again. Not the
# bare name: the first plan would read a parameter the stack has not made
# yet.
#
# The name below is the parameter's name followed by none of the stack's id
# (the stack ARN): unknown only while the stack is being created or
# replaced, so the read waits for it then, and known, unchanged, through
# every update in place, so the read happens at plan and the token is the
# one the pools already have. Not a condition on the id (id != null ? ...):
# Terraform may know that an id it does not know yet is not null, and
# decide the condition before the stack exists.
locals {
  service_token_parameter_name = "${var.service_token_parameter_name}${substr(aws_cloudformation_stack.manager.id, 0, 0)}"
}

data "aws_ssm_parameter" "service_token" {
  name = local.service_token_parameter_name
}
