output "service_token" {
  description = "The manager's function ARN: the function_name of pool declarations, the ServiceToken of Custom::NetworkInterfacePool resources."
  value       = aws_cloudformation_stack.manager.outputs["ServiceToken"]
}

output "stack_id" {
  description = "The manager stack's id."
  value       = aws_cloudformation_stack.manager.id
}

output "stack_outputs" {
  description = "Every output of the manager stack, by the template's names (ServiceToken, ServiceTokenParameter, DeadLetterQueue, ...)."
  value       = aws_cloudformation_stack.manager.outputs
}
