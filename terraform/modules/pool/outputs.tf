locals {
  result = jsondecode(aws_lambda_invocation.pool.result)
}

output "name" {
  description = "The pool's name, as the manager declared it: the value of the tag network-interface-manager-pool for its instances."
  value       = local.result["Name"]
}

output "network_interface_ids" {
  description = "The pool's interfaces: the created ones in declaration order, then the adopted ones."
  value       = local.result["NetworkInterfaceIds"]
}

output "private_ip_addresses" {
  description = "The interfaces' private addresses, in the order of network_interface_ids."
  value       = local.result["PrivateIpAddresses"]
}

output "result" {
  description = "The manager's whole answer, decoded: the return values above and any it adds later."
  value       = local.result
}

output "ordinals" {
  description = "Each member's ordinal (1-255, its seat in a cluster), in the order of network_interface_ids."
  value       = local.result["Ordinals"]
}

output "public_ip_addresses" {
  description = "Each member's Elastic IP address, in the order of network_interface_ids; empty when the pool gives none (public_ip, elastic_ip_allocation_ids)."
  value       = try(local.result["PublicIpAddresses"], [])
}

output "allocation_ids" {
  description = "The Elastic IPs' allocation ids, in the order of public_ip_addresses."
  value       = try(local.result["AllocationIds"], [])
}
