variable "stack_name" {
  description = "Name of the CloudFormation stack that holds the manager; its export is <stack_name>-ServiceToken. A new name is a new stack, which Terraform makes before it deletes the old one when pools depend on it (their create-first order reaches what they depend on): give it a new service_token_parameter_name in the same apply, as two stacks cannot hold one parameter. The pools are then replaced create-first, through the new function."
  type        = string
  default     = "network-interface-manager"
}

variable "code_bucket" {
  description = "S3 bucket, in the stack's region (Lambda reads code only from there), that holds the function's zip."
  type        = string
}

variable "bootstrap_zip" {
  description = "Local path of the zip to upload to code_bucket; null means the repository's dist/bootstrap.zip, which `make zip` builds. Ignored when code_key is set."
  type        = string
  default     = null
}

variable "code_key_prefix" {
  description = "Prefix of the uploaded zip's key; the key ends with the zip's SHA-256, so a new build updates the function."
  type        = string
  default     = "network-interface-manager/"
}

variable "code_key" {
  description = "Key of a zip already in code_bucket, to deploy it instead of uploading one. Use a new key (or code_object_version) for each build: the function changes only when the template does."
  type        = string
  default     = null
}

variable "code_object_version" {
  description = "S3 object version of code_key, for a versioned bucket; null takes the latest."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the stack, which CloudFormation puts on the resources it creates."
  type        = map(string)
  default     = {}
}

# The template's parameters, with its defaults and constraints.

variable "architecture" {
  description = "The architecture the zip was built for (`make zip` builds x86_64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture is x86_64 or arm64."
  }
}

variable "log_retention_in_days" {
  description = "Days the function's log group keeps its logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 180, 365], var.log_retention_in_days)
    error_message = "log_retention_in_days is one of 1, 3, 5, 7, 14, 30, 60, 90, 180, 365."
  }
}

variable "reserved_concurrency" {
  description = "Invocations the function may run at once, reserved from the account's pool; -1 reserves none (new accounts often cannot spare any)."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrency >= -1 && floor(var.reserved_concurrency) == var.reserved_concurrency
    error_message = "reserved_concurrency is a whole number, -1 or more."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's metrics (EMF on standard output)."
  type        = string
  default     = "NetworkInterfaceManager"
}

variable "alarm_topic_arn" {
  description = "SNS topic for the alarms; empty creates no alarms."
  type        = string
  default     = ""
  nullable    = false
}

variable "standby_holds_member" {
  description = "Whether Auto Scaling instances in Standby keep (and get) a member."
  type        = bool
  default     = true
}

variable "ec2_share" {
  description = "The share of each EC2 API request bucket the manager may draw; above 1 only for accounts whose EC2 limits AWS raised."
  type        = string
  default     = "0.5"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?$", var.ec2_share))
    error_message = "ec2_share is a decimal number such as 0.5."
  }
}

variable "volume_kms_key_arns" {
  description = "ARNs of the customer-managed KMS keys pools' data volumes use (their kms_key_id, and the account's EBS default key when it is customer-managed); the role may use them only through EC2. Empty: AWS-managed keys only."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.volume_kms_key_arns : can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", arn))])
    error_message = "volume_kms_key_arns are KMS key ARNs (arn:aws:kms:us-east-1:123456789012:key/...)."
  }
}

variable "service_token_parameter_name" {
  description = "SSM parameter that publishes the service token, the same name in every account and region; the output service_token is read from it. A plan reads it by name, so a new name on a deployed stack fails the plan until the stack has made it: apply the stack alone first (-target on this module's aws_cloudformation_stack.manager), then the rest."
  type        = string
  default     = "/network-interface-manager/service-token"

  validation {
    condition     = can(regex("^/[a-zA-Z0-9_.\\-/]+$", var.service_token_parameter_name))
    error_message = "service_token_parameter_name is an SSM parameter path starting with /."
  }
}

variable "dashboard" {
  description = "Whether to create the operators' CloudWatch dashboard (members held and free per pool and AZ, waiting instances, the account's throttled calls and failures)."
  type        = bool
  default     = false
}

variable "extra_parameters" {
  description = "Template parameters this module has no variable for yet, by the template's names; they cannot override the ones it has."
  type        = map(string)
  default     = {}
  nullable    = false
}
