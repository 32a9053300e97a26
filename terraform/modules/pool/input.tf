locals {
  # The pool's properties as the schema names them, JSON-typed.
  properties = {
    Name                   = var.name
    SubnetIds              = var.subnet_ids
    InterfacesPerSubnet    = var.interfaces_per_subnet
    PrivateIpAddresses     = var.private_ip_addresses
    SecurityGroupIds       = var.security_group_ids
    Description            = var.description
    SourceDestCheck        = var.source_dest_check
    DeviceIndex            = var.device_index
    Tags                   = [for key, value in var.tags : { Key = key, Value = value }]
    NetworkInterfaceIds    = var.network_interface_ids
    PublicIp               = var.public_ip
    ElasticIpAllocationIds = var.elastic_ip_allocation_ids
    PublicIpv4Pool         = var.public_ipv4_pool
    DeleteVolumes          = var.delete_volumes
    # Each volume's unset fields are left out too.
    Volumes = [for volume in var.volumes : { for field, value in {
      SizeGiB    = volume.size_gib
      VolumeType = volume.volume_type
      Iops       = volume.iops
      Throughput = volume.throughput
      Encrypted  = volume.encrypted
      KmsKeyId   = volume.kms_key_id
      DeviceName = volume.device_name
    } : field => value if value != null }]
  }

  # Unset and empty properties are left out, as if not written: the manager's defaults apply.
  input = { for property, value in local.properties : property => value if value != null && try(length(value) > 0, true) }
}
