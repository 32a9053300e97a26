# One variable per property of schemas/network-interface-pool.schema.json,
# in snake_case, with its constraints; unset ones are left out of the input,
# so the manager's defaults apply.
#
# Each description says what a change does in Terraform: made in place (an
# update, every property, the name included), a create-first replacement
# (service_token), or refused by the manager: the apply fails with its
# reason and nothing changes, but the state keeps the refused input (the
# plugin SDK writes a failed update's planned values [TF-SDK476:
# hashicorp/terraform-plugin-sdk#476]), so the next plan shows no change;
# applying a corrected input fixes it.

variable "service_token" {
  description = "The manager's function ARN (the manager module's service_token output, or the ServiceToken export or SSM parameter of a manager stack). A new value replaces the declaration, create-first: the new function claims the pool, then the old one (still there) releases it, and the pool stays whole. Refused when a property changes in the same apply: apply the property first, then the new value."
  type        = string
}

variable "name" {
  description = "The pool's name: the value of the tag network-interface-manager-pool on its interfaces and on its instances. A change renames the pool in place: its interfaces are retagged, and running instances that carry the former name keep their members until they leave. Refused when interfaces outside the pool carry the new name, and while instances that carry the name before the current one still run (the pool serves one former name)."
  type        = string

  validation {
    condition     = length(var.name) >= 1 && length(var.name) <= 255
    error_message = "name has 1 to 255 characters."
  }
}

variable "subnet_ids" {
  description = "Subnets to create interfaces in: interfaces_per_subnet in each, or one per fixed address in the subnet whose range holds it. A change is made in place: an added subnet's interfaces are created, a removed subnet's deleted."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids are subnet ids (subnet-0123abcd)."
  }
  validation {
    condition     = length(distinct(var.subnet_ids)) == length(var.subnet_ids) && length(var.subnet_ids) <= 64
    error_message = "subnet_ids are at most 64, each once."
  }
}

variable "interfaces_per_subnet" {
  description = "How many interfaces to create in each subnet, addresses chosen by EC2 (the manager's default: 1). Not together with private_ip_addresses. A change is made in place: more creates interfaces, fewer deletes the extra ones."
  type        = number
  default     = null

  validation {
    condition     = var.interfaces_per_subnet == null ? true : var.interfaces_per_subnet >= 0 && var.interfaces_per_subnet <= 64 && floor(var.interfaces_per_subnet) == var.interfaces_per_subnet
    error_message = "interfaces_per_subnet is a whole number from 0 to 64."
  }
}

variable "private_ip_addresses" {
  description = "Fixed private IPv4 addresses, one interface each, each inside one of subnet_ids. Not together with interfaces_per_subnet. A change is made in place: an added address gets an interface, a removed one's interface is deleted and the address is free. Refused when an interface outside the pool holds an added address."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for address in var.private_ip_addresses : can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", address)) && can(cidrhost("${address}/32", 0))])
    error_message = "private_ip_addresses are IPv4 addresses (10.0.1.10)."
  }
  validation {
    condition     = length(distinct(var.private_ip_addresses)) == length(var.private_ip_addresses) && length(var.private_ip_addresses) <= 64
    error_message = "private_ip_addresses are at most 64, each once."
  }
}

variable "security_group_ids" {
  description = "Security groups of the created interfaces (empty: the VPC's default group on create; kept as they are on update). A change is made in place."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "security_group_ids are security group ids (sg-0123abcd)."
  }
  validation {
    condition     = length(distinct(var.security_group_ids)) == length(var.security_group_ids) && length(var.security_group_ids) <= 16
    error_message = "security_group_ids are at most 16, each once."
  }
}

variable "description" {
  description = "Description of the created interfaces. A change is made in place."
  type        = string
  default     = null

  validation {
    condition     = var.description == null ? true : length(var.description) <= 255
    error_message = "description has at most 255 characters."
  }
}

variable "source_dest_check" {
  description = "Whether EC2 drops traffic not addressed to the interfaces (the manager's default: true); false for NAT and routing appliances. A change is made in place."
  type        = bool
  default     = null
}

variable "device_index" {
  description = "The device index the interfaces take on an instance when it is free there, else the lowest free one (the manager's default: 1). A change is made in place, for the attachments that follow."
  type        = number
  default     = null

  validation {
    condition     = var.device_index == null ? true : var.device_index >= 1 && var.device_index <= 15 && floor(var.device_index) == var.device_index
    error_message = "device_index is a whole number from 1 to 15."
  }
}

variable "tags" {
  description = "More tags for the created interfaces, sent as the Tags list of {Key, Value}. A change is made in place: the interfaces are retagged."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = length(var.tags) <= 40
    error_message = "tags are at most 40."
  }
  validation {
    condition     = alltrue([for key, value in var.tags : length(key) >= 1 && length(key) <= 127 && length(value) <= 255])
    error_message = "tags have keys of 1 to 127 characters and values of at most 255."
  }
  validation {
    condition     = alltrue([for key in keys(var.tags) : !can(regex("^(aws:|network-interface-manager-)", key))])
    error_message = "tags may not have keys starting with aws: or network-interface-manager-: those are AWS's and the manager's."
  }
}

variable "network_interface_ids" {
  description = "Existing interfaces to adopt into the pool: they are tagged, and untagged again (never deleted) when the pool is destroyed. A change is made in place: an added interface is adopted, a removed one untagged. Refused, naming it, for an interface attached to an instance outside the pool, a primary, another AWS service's, or another pool's."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.network_interface_ids : can(regex("^eni-[0-9a-f]+$", id))])
    error_message = "network_interface_ids are network interface ids (eni-0123abcd)."
  }
  validation {
    condition     = length(distinct(var.network_interface_ids)) == length(var.network_interface_ids) && length(var.network_interface_ids) <= 64
    error_message = "network_interface_ids are at most 64, each once."
  }
}

variable "public_ip" {
  description = "Whether each member gets a public address: an Elastic IP allocated for it where elastic_ip_allocation_ids gives none, following it from instance to instance and released when the pool is destroyed (the manager's default: false). A change is made in place: true allocates, false releases what the pool allocated."
  type        = bool
  default     = null
}

variable "elastic_ip_allocation_ids" {
  description = "Existing Elastic IPs for the members, one per member in the order of private_ip_addresses: adopted and associated, never released (only disassociated and untagged when the pool is destroyed). A change is made in place. Refused, naming it, for an allocation that does not exist, is associated outside the pool, or is another pool's."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.elastic_ip_allocation_ids : can(regex("^eipalloc-[0-9a-f]+$", id))])
    error_message = "elastic_ip_allocation_ids are Elastic IP allocation ids (eipalloc-0123abcd)."
  }
  validation {
    condition     = length(distinct(var.elastic_ip_allocation_ids)) == length(var.elastic_ip_allocation_ids) && length(var.elastic_ip_allocation_ids) <= 32
    error_message = "elastic_ip_allocation_ids are at most 32, each once."
  }
}

variable "public_ipv4_pool" {
  description = "The address pool (BYOIP) that public_ip allocates from; Amazon's when null. A change is made in place, for the addresses allocated afterwards."
  type        = string
  default     = null

  validation {
    condition     = var.public_ipv4_pool == null ? true : can(regex("^ipv4pool-ec2-[0-9a-f]+$", var.public_ipv4_pool))
    error_message = "public_ipv4_pool is an address pool id (ipv4pool-ec2-0123abcd)."
  }
}

variable "volumes" {
  description = "Data volumes that follow each member from instance to instance: one EBS volume per member and entry, made in the member's Availability Zone, attached at device_name to the instance that holds the member, never detached from a running instance. Kept when the pool is destroyed, unless delete_volumes. Unset fields take the manager's defaults (volume_type gp3, encrypted false). A change is made in place: a new entry, or a new member, gets its volumes; an existing volume keeps its size and type (a new size needs a new entry)."
  type = list(object({
    size_gib    = number
    volume_type = optional(string)
    iops        = optional(number)
    throughput  = optional(number)
    encrypted   = optional(bool)
    kms_key_id  = optional(string)
    device_name = string
  }))
  default  = []
  nullable = false

  validation {
    condition     = length(var.volumes) <= 4
    error_message = "volumes are at most 4."
  }
  validation {
    condition     = alltrue([for volume in var.volumes : volume.size_gib == null ? false : volume.size_gib >= 1 && volume.size_gib <= 16384 && floor(volume.size_gib) == volume.size_gib])
    error_message = "volumes have a size_gib, a whole number from 1 to 16384."
  }
  validation {
    condition     = alltrue([for volume in var.volumes : volume.volume_type == null ? true : contains(["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"], volume.volume_type)])
    error_message = "volumes have a volume_type of gp3, gp2, io1, io2, st1, sc1 or standard."
  }
  validation {
    condition     = alltrue([for volume in var.volumes : volume.iops == null ? true : volume.iops >= 100 && volume.iops <= 256000 && floor(volume.iops) == volume.iops])
    error_message = "volumes have iops, when set, a whole number from 100 to 256000."
  }
  validation {
    condition     = alltrue([for volume in var.volumes : volume.throughput == null ? true : volume.throughput >= 125 && volume.throughput <= 2000 && floor(volume.throughput) == volume.throughput])
    error_message = "volumes have a throughput (MiB/s), when set, a whole number from 125 to 2000."
  }
  validation {
    condition     = alltrue([for volume in var.volumes : volume.kms_key_id == null ? true : length(volume.kms_key_id) >= 1 && length(volume.kms_key_id) <= 2048])
    error_message = "volumes have a kms_key_id, when set, of 1 to 2048 characters."
  }
  validation {
    condition     = alltrue([for volume in var.volumes : can(regex("^/dev/(sd|xvd)[f-p]$", volume.device_name))])
    error_message = "volumes have a device_name from /dev/sdf to /dev/sdp or /dev/xvdf to /dev/xvdp."
  }
  validation {
    condition     = length(distinct([for volume in var.volumes : volume.device_name])) == length(var.volumes)
    error_message = "volumes have a device_name each, each once."
  }
  # What the schema cannot say, and the manager refuses: which settings go
  # with which type (gp3 when unset), and the key with encryption.
  validation {
    condition     = alltrue([for volume in var.volumes : volume.iops == null ? !contains(["io1", "io2"], coalesce(volume.volume_type, "gp3")) : contains(["gp3", "io1", "io2"], coalesce(volume.volume_type, "gp3"))])
    error_message = "volumes have iops only with gp3, io1 or io2, and always with io1 and io2."
  }
  validation {
    condition     = alltrue([for volume in var.volumes : volume.throughput == null ? true : coalesce(volume.volume_type, "gp3") == "gp3"])
    error_message = "volumes have a throughput only with gp3."
  }
  validation {
    condition     = alltrue([for volume in var.volumes : volume.kms_key_id == null ? true : volume.encrypted == true])
    error_message = "volumes have a kms_key_id only with encrypted = true."
  }
}

variable "delete_volumes" {
  description = "Whether destroying the pool deletes its members' data volumes (those not attached to a running instance); otherwise they are kept, out of the pool and tagged network-interface-manager-released (the manager's default: false). Apply it before the destroy, which sends the last apply's input. A change is made in place."
  type        = bool
  default     = null
}
