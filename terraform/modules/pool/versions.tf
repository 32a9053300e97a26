terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # From 5.82 on, `result` follows an update's answer (hashicorp/terraform-provider-aws#34262).
      version = ">= 5.82"
    }
  }
}
