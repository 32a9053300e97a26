output "pool_name" {
  description = "The bastion pool's name."
  value       = module.pool.name
}

output "private_ip_addresses" {
  description = "The bastion's fixed addresses, one per interface."
  value       = module.pool.private_ip_addresses
}

output "network_interface_ids" {
  description = "The bastion pool's interfaces."
  value       = module.pool.network_interface_ids
}

output "service_token" {
  description = "The manager's function ARN, for more pools."
  value       = module.manager.service_token
}
