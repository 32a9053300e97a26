output "service_token" {
  description = "The manager's function ARN: the function_name of pool declarations, the ServiceToken of Custom::NetworkInterfacePool resources. Read from the stack's SSM parameter (service_token.tf): known at plan once the stack exists and unchanged by updates of the stack, so upgrading the manager plans no change to its pools."
  value       = data.aws_ssm_parameter.service_token.insecure_value
}

output "stack_id" {
  description = "The manager stack's id."
  value       = aws_cloudformation_stack.manager.id
}

output "stack_outputs" {
  description = "Every output of the manager stack, by the template's names (ServiceToken, ServiceTokenParameter, DeadLetterQueue, ...)."
  value       = aws_cloudformation_stack.manager.outputs
}
