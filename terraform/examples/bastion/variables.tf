variable "code_bucket" {
  description = "S3 bucket in this region to upload the manager's zip (dist/bootstrap.zip) to."
  type        = string
}

variable "vpc_id" {
  description = "The VPC of the bastion."
  type        = string
}

variable "subnet_ids" {
  description = "One subnet per Availability Zone the group may use."
  type        = list(string)
}

variable "private_ip_addresses" {
  description = "The bastion's fixed addresses, one in each of subnet_ids."
  type        = list(string)
}

variable "name" {
  description = "The pool's name, which the group's instances carry as their pool tag."
  type        = string
  default     = "bastion"
}

variable "image_parameter" {
  description = "SSM parameter holding the bastion's AMI id."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

variable "instance_type" {
  description = "The bastion's instance type."
  type        = string
  default     = "t3.micro"
}
